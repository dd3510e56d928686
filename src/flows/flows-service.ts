/** Flow definitions in D1: create, list, get, new version (PUT), versions, delete, validate. */
import { flows, flowVersions } from '../db/schema';
import { type HeadRow, headView, versionedResource } from '../db/versioned-resource';
import type { ServiceCtx } from '../lib/context';
import type { PageInput } from '../lib/pagination';
import { AppError, pointerOf } from '../lib/problem';
import { checkDefinition, type DefinitionProblem, DefinitionSchema, type FlowDefinition } from './definition';
import { forgetFlowHead } from './version-cache';

export interface FlowInput {
  name: string;
  description?: string | null | undefined;
  definition: unknown;
}

/** Parses and checks a definition; 422 listing every problem with its path. */
export function validateDefinition(raw: unknown): FlowDefinition {
  const parsed = DefinitionSchema.safeParse(raw);
  const problems: DefinitionProblem[] = parsed.success
    ? checkDefinition(parsed.data)
    : dedupe([
        ...parsed.error.issues.map((i) => ({
          path: i.path
            .map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`))
            .join('')
            .replace(/^\./, ''),
          message: i.message,
          code: i.code,
        })),
        ...looseGraphCheck(raw),
      ]);
  if (problems.length) throw invalidDefinition(problems);
  return (parsed as { data: FlowDefinition }).data;
}

/**
 * When the shape is wrong somewhere (say, a bad retry policy), the graph may still be checkable:
 * run the graph checks on whatever nodes and edges are well-formed, so one problem never hides another.
 */
function looseGraphCheck(raw: unknown): DefinitionProblem[] {
  if (!raw || typeof raw !== 'object') return [];
  const r = raw as { nodes?: unknown; edges?: unknown };
  if (!Array.isArray(r.nodes)) return [];
  const nodes = r.nodes.map((n) => {
    const o = (n && typeof n === 'object' ? n : {}) as Record<string, unknown>;
    return {
      id: typeof o.id === 'string' ? o.id : '',
      type: typeof o.type === 'string' ? o.type : '',
      config: o.config && typeof o.config === 'object' ? (o.config as Record<string, unknown>) : {},
    };
  });
  const edges = (Array.isArray(r.edges) ? r.edges : []).flatMap((e) => {
    const o = (e && typeof e === 'object' ? e : {}) as Record<string, unknown>;
    return typeof o.from === 'string' && typeof o.to === 'string'
      ? [{ from: o.from, to: o.to, ...(typeof o.when === 'string' ? { when: o.when } : {}) }]
      : [];
  });
  try {
    return checkDefinition({
      input: { type: 'object' },
      vars: {},
      nodes,
      edges,
      policy: { onFailure: 'fail_fast', timeoutMs: 86_400_000, maxParallel: 64 },
    } as FlowDefinition).filter((p) => !(p.code === 'unknown_type' && nodes[Number(/nodes\[(\d+)\]/.exec(p.path)?.[1])]?.type === ''));
  } catch {
    return [];
  }
}

function dedupe(problems: DefinitionProblem[]): DefinitionProblem[] {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const key = `${p.path}|${p.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function invalidDefinition(problems: DefinitionProblem[]): AppError {
  return new AppError(
    'validation_failed',
    `The flow definition has ${problems.length} problem(s): ${problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`,
    {
      errors: problems.map((p) => {
        const path = `definition.${p.path}`.replace(/\.\[/g, '[');
        return { in: 'body' as const, path, pointer: pointerOf(path), message: p.message, code: p.code };
      }),
    },
  );
}

export function problemsOf(raw: unknown): DefinitionProblem[] {
  try {
    validateDefinition(raw);
    return [];
  } catch (err) {
    if (err instanceof AppError && err.errors)
      return err.errors.map((e) => ({ path: e.path.replace(/^definition\./, ''), message: e.message, code: e.code }));
    throw err;
  }
}

function view(f: HeadRow, definition?: FlowDefinition) {
  return { ...headView(f), ...(definition ? { definition } : {}) };
}

const store = versionedResource<FlowDefinition>({
  head: flows,
  versions: flowVersions,
  owner: 'flowId',
  body: 'definition',
  noun: 'Flow',
  idPrefix: 'flw',
  audit: { type: 'flow', created: 'flow.created', updated: 'flow.updated', deleted: 'flow.deleted' },
});

export async function createFlow(ctx: ServiceCtx, input: FlowInput) {
  const definition = validateDefinition(input.definition);
  return view(await store.create(ctx, { name: input.name, description: input.description ?? null, body: definition }), definition);
}

/** PUT: a new immutable version (runs pin the version they started with). */
export async function putFlow(ctx: ServiceCtx, input: FlowInput & { id: string }) {
  const current = await store.row(ctx, input.id);
  const definition = validateDefinition(input.definition);
  await store.put(ctx, current, { name: input.name, description: input.description ?? null, body: definition });
  forgetFlowHead(ctx.tenantId, input.id);
  return view(await store.row(ctx, input.id), definition);
}

export async function getFlow(ctx: ServiceCtx, { id, version }: { id: string; version?: number | undefined }) {
  const v = await store.get(ctx, id, version);
  return { ...view(v.head, v.body), version: v.version, latestVersion: v.head.latestVersion };
}

export async function listFlows(ctx: ServiceCtx, page: PageInput) {
  const { data, nextCursor } = await store.list(ctx, page);
  return { data: data.map((f) => view(f)), nextCursor };
}

/** A flow's versions, newest first, one page at a time (the cursor is the last version seen). */
export async function listVersions(ctx: ServiceCtx, { id, ...page }: PageInput & { id: string }) {
  const { data, nextCursor } = await store.versions(ctx, id, page);
  return { data: data.map(({ body, ...v }) => ({ ...v, definition: body })), nextCursor };
}

/** Soft delete: existing runs keep their pinned version; new runs are refused. */
export async function deleteFlow(ctx: ServiceCtx, { id }: { id: string }): Promise<void> {
  await store.remove(ctx, id);
  forgetFlowHead(ctx.tenantId, id);
}
