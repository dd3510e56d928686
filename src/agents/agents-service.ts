/** Agents in D1, versioned like flows: create, list, get, new version (PUT), versions, delete. */
import { agents, agentVersions } from '../db/schema';
import { type HeadRow, headView, versionedResource } from '../db/versioned-resource';
import type { ServiceCtx } from '../lib/context';
import type { PageInput } from '../lib/pagination';
import { AppError, pointerOf } from '../lib/problem';
import type { AgentSpec } from './contract';
import type { AgentBodyInput } from './schemas';
import { resolveTools, type SpecProblem, specProblems } from './toolbox';

function specOf(input: AgentBodyInput): AgentSpec {
  const { description: _description, ...spec } = input;
  return spec;
}

/** Every problem of a definition that needs the tenant's data (tools, flows, agents, providers): 422 with paths. */
async function checkReferences(ctx: ServiceCtx, spec: AgentSpec, selfId?: string): Promise<void> {
  const [resolved, other] = await Promise.all([
    resolveTools(ctx.db, ctx.tenantId, spec.tools, selfId),
    specProblems(ctx.db, ctx.tenantId, spec),
  ]);
  const problems: SpecProblem[] = [...other, ...resolved.problems];
  if (problems.length === 0) return;
  throw new AppError(
    'validation_failed',
    `The agent has ${problems.length} problem(s): ${problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`,
    { errors: problems.map((p) => ({ in: 'body' as const, path: p.path, pointer: pointerOf(p.path), message: p.message, code: p.code })) },
  );
}

function view(a: HeadRow, spec?: AgentSpec) {
  const { name: _name, ...fields } = spec ?? ({} as Partial<AgentSpec>);
  return { ...headView(a), ...(spec ? fields : {}) };
}

const store = versionedResource<AgentSpec>({
  head: agents,
  versions: agentVersions,
  owner: 'agentId',
  body: 'spec',
  noun: 'Agent',
  idPrefix: 'agt',
  audit: { type: 'agent', created: 'agent.created', updated: 'agent.updated', deleted: 'agent.deleted' },
});

export async function createAgent(ctx: ServiceCtx, input: AgentBodyInput) {
  const spec = specOf(input);
  await checkReferences(ctx, spec);
  return view(await store.create(ctx, { name: spec.name, description: input.description ?? null, body: spec }), spec);
}

/** PUT: a new immutable version (agent nodes pin a version or follow the latest). */
export async function putAgent(ctx: ServiceCtx, input: AgentBodyInput & { id: string }) {
  const { id, ...body } = input;
  const current = await store.row(ctx, id);
  const spec = specOf(body);
  await checkReferences(ctx, spec, id);
  await store.put(ctx, current, { name: spec.name, description: input.description ?? null, body: spec });
  return view(await store.row(ctx, id), spec);
}

export async function getAgent(ctx: ServiceCtx, { id, version }: { id: string; version?: number | undefined }) {
  const v = await store.get(ctx, id, version);
  return { ...view(v.head, v.body), version: v.version, latestVersion: v.head.latestVersion };
}

export async function listAgents(ctx: ServiceCtx, page: PageInput) {
  const { data, nextCursor } = await store.list(ctx, page);
  return { data: data.map((a) => view(a)), nextCursor };
}

/** An agent's versions, newest first, one page at a time (the cursor is the last version seen). */
export async function listAgentVersions(ctx: ServiceCtx, { id, ...page }: PageInput & { id: string }) {
  const { data, nextCursor } = await store.versions(ctx, id, page);
  return { data: data.map(({ body, ...v }) => ({ ...v, spec: body })), nextCursor };
}

/** Soft delete: runs that already loaded it keep going; new agent nodes and delegations to it fail. */
export async function deleteAgent(ctx: ServiceCtx, { id }: { id: string }): Promise<void> {
  await store.remove(ctx, id);
}
