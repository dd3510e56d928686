/** Agents in D1, versioned like flows: create, list, get, new version (PUT), versions, delete. */
import { and, desc, eq, isNull, lt, sql } from 'drizzle-orm';
import { agents, agentVersions } from '../db/schema';
import { auditInsert, auditInsertWhere, previousStatementChanged } from '../identity/audit';
import type { ServiceCtx } from '../lib/context';
import { newId } from '../lib/ids';
import { decodeCursor, type PageInput, toPage } from '../lib/pagination';
import { AppError, pointerOf } from '../lib/problem';
import type { AgentSpec } from './contract';
import type { AgentBodyInput } from './schemas';
import { resolveTools, type SpecProblem, specProblems } from './toolbox';

type AgentRow = typeof agents.$inferSelect;
type VersionRow = typeof agentVersions.$inferSelect;

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

function view(a: AgentRow, spec?: AgentSpec) {
  const { name: _name, ...fields } = spec ?? ({} as Partial<AgentSpec>);
  return {
    id: a.id,
    name: a.name,
    description: a.description,
    version: a.latestVersion,
    createdBy: a.createdBy,
    createdAt: a.createdAt,
    updatedAt: a.updatedAt,
    ...(spec ? fields : {}),
  };
}

async function row(ctx: ServiceCtx, id: string): Promise<AgentRow> {
  const a = (await ctx.scope.select(agents, and(eq(agents.id, id), isNull(agents.deletedAt))).get()) as AgentRow | undefined;
  if (!a) throw new AppError('not_found', `Agent ${id} not found.`);
  return a;
}

export async function createAgent(ctx: ServiceCtx, input: AgentBodyInput) {
  const spec = specOf(input);
  await checkReferences(ctx, spec);
  const id = newId('agt');
  const at = ctx.now.toISOString();
  await ctx.db.batch([
    ctx.scope.insert(agents, {
      id,
      name: spec.name,
      description: input.description ?? null,
      latestVersion: 1,
      createdBy: ctx.actor.id,
      createdAt: at,
      updatedAt: at,
    }),
    ctx.scope.insert(agentVersions, {
      agentId: id,
      version: 1,
      spec: spec as unknown as Record<string, unknown>,
      createdBy: ctx.actor.id,
      createdAt: at,
    }),
    auditInsert(ctx.scope, ctx.actor, 'agent.created', { type: 'agent', id }, ctx, { name: spec.name, version: 1 }),
  ]);
  return view(await row(ctx, id), spec);
}

/** PUT: a new immutable version (agent nodes pin a version or follow the latest). */
export async function putAgent(ctx: ServiceCtx, input: AgentBodyInput & { id: string }) {
  const { id, ...body } = input;
  const current = await row(ctx, id);
  const spec = specOf(body);
  await checkReferences(ctx, spec, id);
  const version = current.latestVersion + 1;
  const at = ctx.now.toISOString();
  const [claimed] = await ctx.db
    .batch([
      ctx.scope.update(
        agents,
        { latestVersion: version, name: spec.name, description: input.description ?? null, updatedAt: at },
        and(eq(agents.id, id), eq(agents.latestVersion, current.latestVersion), isNull(agents.deletedAt)),
      ),
      ctx.scope.insert(agentVersions, {
        agentId: id,
        version,
        spec: spec as unknown as Record<string, unknown>,
        createdBy: ctx.actor.id,
        createdAt: at,
      }),
      // Only with the version this request claimed.
      auditInsertWhere(
        ctx.scope,
        ctx.actor,
        'agent.updated',
        { type: 'agent', id },
        ctx,
        { version },
        sql`EXISTS (SELECT 1 FROM agents WHERE id = ${id} AND latest_version = ${version} AND updated_at = ${at})`,
      ),
    ])
    .catch((err: unknown) => {
      if (/UNIQUE|PRIMARY KEY/i.test(String((err as Error)?.message) + String((err as { cause?: unknown })?.cause)))
        throw new AppError('conflict', `Agent ${id} was changed concurrently; retry.`);
      throw err;
    });
  if (claimed.meta.changes !== 1) throw new AppError('conflict', `Agent ${id} was changed concurrently; retry.`);
  return view(await row(ctx, id), spec);
}

export async function getAgent(ctx: ServiceCtx, { id, version }: { id: string; version?: number | undefined }) {
  const a = await row(ctx, id);
  const v = (await ctx.scope
    .select(agentVersions, and(eq(agentVersions.agentId, id), eq(agentVersions.version, version ?? a.latestVersion)))
    .get()) as VersionRow | undefined;
  if (!v) throw new AppError('not_found', `Agent ${id} has no version ${version}.`);
  return { ...view(a, v.spec as unknown as AgentSpec), version: v.version, latestVersion: a.latestVersion };
}

export async function listAgents(ctx: ServiceCtx, { limit, cursor }: PageInput) {
  const after = decodeCursor(cursor);
  const rows = (await ctx.scope
    .select(agents, and(isNull(agents.deletedAt), after ? lt(agents.id, after) : undefined))
    .orderBy(desc(agents.id))
    .limit(limit + 1)
    .all()) as AgentRow[];
  const page = toPage(rows, limit, (r) => r.id);
  return { data: page.data.map((a) => view(a)), nextCursor: page.nextCursor };
}

/** An agent's versions, newest first, one page at a time (the cursor is the last version seen). */
export async function listAgentVersions(ctx: ServiceCtx, { id, limit, cursor }: PageInput & { id: string }) {
  await row(ctx, id);
  const after = decodeCursor(cursor);
  const below = after === undefined ? undefined : Number(after);
  if (below !== undefined && !(Number.isInteger(below) && below > 0))
    throw new AppError('validation_failed', 'The cursor is not valid.', {
      errors: [{ in: 'query', path: 'cursor', pointer: '/cursor', message: 'Invalid cursor', code: 'invalid_cursor' }],
    });
  const rows = (await ctx.scope
    .select(agentVersions, and(eq(agentVersions.agentId, id), below !== undefined ? lt(agentVersions.version, below) : undefined))
    .orderBy(desc(agentVersions.version))
    .limit(limit + 1)
    .all()) as VersionRow[];
  const page = toPage(rows, limit, (v) => String(v.version));
  return {
    data: page.data.map((v) => ({
      version: v.version,
      createdBy: v.createdBy,
      createdAt: v.createdAt,
      spec: v.spec as unknown as AgentSpec,
    })),
    nextCursor: page.nextCursor,
  };
}

/** Soft delete: runs that already loaded it keep going; new agent nodes and delegations to it fail. */
export async function deleteAgent(ctx: ServiceCtx, { id }: { id: string }): Promise<void> {
  await row(ctx, id);
  await ctx.db.batch([
    ctx.scope.update(agents, { deletedAt: ctx.now.toISOString() }, and(eq(agents.id, id), isNull(agents.deletedAt))),
    auditInsertWhere(ctx.scope, ctx.actor, 'agent.deleted', { type: 'agent', id }, ctx, {}, previousStatementChanged),
  ]);
}
