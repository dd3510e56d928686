/** Flow definitions in D1: create, list, get, new version (PUT), versions, delete, validate. */
import { and, desc, eq, isNull, lt, sql } from 'drizzle-orm';
import { flows, flowVersions } from '../db/schema';
import { auditInsert, auditInsertWhere, previousStatementChanged } from '../identity/audit';
import type { ServiceCtx } from '../lib/context';
import { newId } from '../lib/ids';
import { decodeCursor, type PageInput, toPage } from '../lib/pagination';
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

type FlowRow = typeof flows.$inferSelect;

function view(f: FlowRow, definition?: FlowDefinition) {
  return {
    id: f.id,
    name: f.name,
    description: f.description,
    version: f.latestVersion,
    createdBy: f.createdBy,
    createdAt: f.createdAt,
    updatedAt: f.updatedAt,
    ...(definition ? { definition } : {}),
  };
}

async function row(ctx: ServiceCtx, id: string): Promise<FlowRow> {
  const f = (await ctx.scope.select(flows, and(eq(flows.id, id), isNull(flows.deletedAt))).get()) as FlowRow | undefined;
  if (!f) throw new AppError('not_found', `Flow ${id} not found.`);
  return f;
}

export async function createFlow(ctx: ServiceCtx, input: FlowInput) {
  const definition = validateDefinition(input.definition);
  const id = newId('flw');
  const at = ctx.now.toISOString();
  await ctx.db.batch([
    ctx.scope.insert(flows, {
      id,
      name: input.name,
      description: input.description ?? null,
      latestVersion: 1,
      createdBy: ctx.actor.id,
      createdAt: at,
      updatedAt: at,
    }),
    ctx.scope.insert(flowVersions, {
      flowId: id,
      version: 1,
      definition: definition as unknown as Record<string, unknown>,
      createdBy: ctx.actor.id,
      createdAt: at,
    }),
    auditInsert(ctx.scope, ctx.actor, 'flow.created', { type: 'flow', id }, ctx, { name: input.name, version: 1 }),
  ]);
  return view(await row(ctx, id), definition);
}

/** PUT: a new immutable version (runs pin the version they started with). */
export async function putFlow(ctx: ServiceCtx, input: FlowInput & { id: string }) {
  const { id } = input;
  const current = await row(ctx, id);
  const definition = validateDefinition(input.definition);
  const version = current.latestVersion + 1;
  const at = ctx.now.toISOString();
  const [claimed] = await ctx.db
    .batch([
      ctx.scope.update(
        flows,
        { latestVersion: version, name: input.name, description: input.description ?? null, updatedAt: at },
        and(eq(flows.id, id), eq(flows.latestVersion, current.latestVersion)),
      ),
      ctx.scope.insert(flowVersions, {
        flowId: id,
        version,
        definition: definition as unknown as Record<string, unknown>,
        createdBy: ctx.actor.id,
        createdAt: at,
      }),
      // Only with the version this request claimed.
      auditInsertWhere(
        ctx.scope,
        ctx.actor,
        'flow.updated',
        { type: 'flow', id },
        ctx,
        { version },
        sql`EXISTS (SELECT 1 FROM flows WHERE id = ${id} AND latest_version = ${version} AND updated_at = ${at})`,
      ),
    ])
    .catch((err: unknown) => {
      if (/UNIQUE|PRIMARY KEY/i.test(String((err as Error)?.message) + String((err as { cause?: unknown })?.cause)))
        throw new AppError('conflict', `Flow ${id} was changed concurrently; retry.`);
      throw err;
    });
  if (claimed.meta.changes !== 1) throw new AppError('conflict', `Flow ${id} was changed concurrently; retry.`);
  forgetFlowHead(ctx.tenantId, id);
  return view(await row(ctx, id), definition);
}

export async function getFlow(ctx: ServiceCtx, { id, version }: { id: string; version?: number | undefined }) {
  const f = await row(ctx, id);
  const v = (await ctx.scope
    .select(flowVersions, and(eq(flowVersions.flowId, id), eq(flowVersions.version, version ?? f.latestVersion)))
    .get()) as typeof flowVersions.$inferSelect | undefined;
  if (!v) throw new AppError('not_found', `Flow ${id} has no version ${version}.`);
  return { ...view(f, v.definition as unknown as FlowDefinition), version: v.version, latestVersion: f.latestVersion };
}

export async function listFlows(ctx: ServiceCtx, { limit, cursor }: PageInput) {
  const after = decodeCursor(cursor);
  const rows = (await ctx.scope
    .select(flows, and(isNull(flows.deletedAt), after ? lt(flows.id, after) : undefined))
    .orderBy(desc(flows.id))
    .limit(limit + 1)
    .all()) as FlowRow[];
  const page = toPage(rows, limit, (r) => r.id);
  return { data: page.data.map((f) => view(f)), nextCursor: page.nextCursor };
}

/** A flow's versions, newest first, one page at a time (the cursor is the last version seen). */
export async function listVersions(ctx: ServiceCtx, { id, limit, cursor }: PageInput & { id: string }) {
  await row(ctx, id);
  const after = decodeCursor(cursor);
  const below = after === undefined ? undefined : Number(after);
  if (below !== undefined && !(Number.isInteger(below) && below > 0))
    throw new AppError('validation_failed', 'The cursor is not valid.', {
      errors: [{ in: 'query', path: 'cursor', pointer: '/cursor', message: 'Invalid cursor', code: 'invalid_cursor' }],
    });
  const rows = (await ctx.scope
    .select(flowVersions, and(eq(flowVersions.flowId, id), below !== undefined ? lt(flowVersions.version, below) : undefined))
    .orderBy(desc(flowVersions.version))
    .limit(limit + 1)
    .all()) as (typeof flowVersions.$inferSelect)[];
  const page = toPage(rows, limit, (v) => String(v.version));
  return {
    data: page.data.map((v) => ({ version: v.version, createdBy: v.createdBy, createdAt: v.createdAt, definition: v.definition })),
    nextCursor: page.nextCursor,
  };
}

/** Soft delete: existing runs keep their pinned version; new runs are refused. */
export async function deleteFlow(ctx: ServiceCtx, { id }: { id: string }): Promise<void> {
  await row(ctx, id);
  await ctx.db.batch([
    ctx.scope.update(flows, { deletedAt: ctx.now.toISOString() }, and(eq(flows.id, id), isNull(flows.deletedAt))),
    auditInsertWhere(ctx.scope, ctx.actor, 'flow.deleted', { type: 'flow', id }, ctx, {}, previousStatementChanged),
  ]);
  forgetFlowHead(ctx.tenantId, id);
}
