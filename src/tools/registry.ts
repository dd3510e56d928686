/**
 * The tool registry: tenant-scoped CRUD over `tools` and their immutable
 * `tool_versions`. Every change of code, schemas, runtime or limits appends a
 * version; name and description are the tool's own and change in place.
 */
import { and, desc, eq, lt, type SQL } from 'drizzle-orm';
import { type StoredJsonSchema, type StoredToolNetwork, toolInvocations, tools, toolVersions } from '../db/schema';
import type { TenantScope } from '../db/tenant-scope';
import { auditInsert, auditInsertWhere, previousStatementChanged } from '../identity/audit';
import type { ServiceCtx } from '../lib/context';
import { newId } from '../lib/ids';
import { decodeCursor, type PageInput, toPage } from '../lib/pagination';
import { AppError, type FieldError } from '../lib/problem';
import { checkSchema } from './json-schema';
import { type CreateToolInput, type UpdateToolInput, VERSIONED_FIELDS } from './model';
import { invocationView, toolSummaryView, toolVersionView, toolView } from './views';

type ToolRow = typeof tools.$inferSelect;
type VersionRow = typeof toolVersions.$inferSelect;

function schemaErrors(input: { inputSchema?: unknown; outputSchema?: unknown }): void {
  const errors: FieldError[] = [];
  if (input.inputSchema !== undefined) errors.push(...checkSchema(input.inputSchema, 'inputSchema'));
  if (input.outputSchema !== undefined && input.outputSchema !== null) errors.push(...checkSchema(input.outputSchema, 'outputSchema'));
  if (errors.length > 0) throw new AppError('validation_failed', 'The tool has an invalid JSON Schema.', { errors });
}

function isUniqueViolation(err: unknown): boolean {
  const text = `${(err as Error)?.message ?? ''} ${String((err as { cause?: unknown })?.cause ?? '')}`;
  return /UNIQUE constraint failed|PRIMARY KEY|SQLITE_CONSTRAINT/i.test(text);
}

function nameTaken(name: string): AppError {
  return new AppError('conflict', `A tool named '${name}' already exists in this tenant.`, {
    errors: [{ in: 'body', path: 'name', pointer: '/name', message: 'Already in use', code: 'conflict' }],
  });
}

/** The tool joined with one of its versions (its latest unless `version` is given), tenant-scoped. */
async function loadTool(scope: TenantScope, id: string, version?: number): Promise<{ tool: ToolRow; v: VersionRow } | undefined> {
  const row = await scope.db
    .select({ tool: tools, v: toolVersions })
    .from(tools)
    .innerJoin(toolVersions, and(eq(toolVersions.toolId, tools.id), eq(toolVersions.version, version ?? tools.latestVersion)))
    .where(scope.where(tools, eq(tools.id, id)))
    .get();
  return row ?? undefined;
}

async function requireTool(scope: TenantScope, id: string): Promise<{ tool: ToolRow; v: VersionRow }> {
  const found = await loadTool(scope, id);
  if (!found) throw new AppError('not_found', `Tool ${id} not found.`);
  return found;
}

export async function createTool(ctx: ServiceCtx, input: CreateToolInput) {
  schemaErrors(input);
  const { db, scope } = ctx;
  const id = newId('tol');
  const now = ctx.now.toISOString();
  try {
    await db.batch([
      scope.insert(tools, {
        id,
        name: input.name,
        description: input.description,
        latestVersion: 1,
        createdBy: ctx.actor.id,
        createdAt: now,
        updatedAt: now,
      }),
      scope.insert(toolVersions, {
        toolId: id,
        version: 1,
        runtime: input.runtime,
        code: input.code,
        inputSchema: input.inputSchema as StoredJsonSchema,
        outputSchema: (input.outputSchema ?? null) as StoredJsonSchema | null,
        timeoutMs: input.timeoutMs,
        memoryMb: input.memoryMb,
        network: input.network as StoredToolNetwork,
        createdBy: ctx.actor.id,
        createdAt: now,
      }),
      auditInsert(scope, ctx.actor, 'tool.created', { type: 'tool', id }, ctx, { name: input.name, version: 1 }),
    ]);
  } catch (err) {
    if (isUniqueViolation(err)) throw nameTaken(input.name);
    throw err;
  }
  const { tool, v } = await requireTool(scope, id);
  return toolView(tool, v);
}

export async function listTools(ctx: ServiceCtx, { limit, cursor }: PageInput) {
  const after = decodeCursor(cursor);
  const rows = await ctx.db
    .select({ tool: tools, v: toolVersions })
    .from(tools)
    .innerJoin(toolVersions, and(eq(toolVersions.toolId, tools.id), eq(toolVersions.version, tools.latestVersion)))
    .where(ctx.scope.where(tools, after ? lt(tools.id, after) : undefined))
    .orderBy(desc(tools.id))
    .limit(limit + 1)
    .all();
  const page = toPage(rows, limit, (r) => r.tool.id);
  return { data: page.data.map((r) => toolSummaryView(r.tool, r.v)), nextCursor: page.nextCursor };
}

export async function getTool(ctx: ServiceCtx, { id }: { id: string }) {
  const { tool, v } = await requireTool(ctx.scope, id);
  return toolView(tool, v);
}

const same = (a: unknown, b: unknown) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);

export async function updateTool(ctx: ServiceCtx, { id, patch }: { id: string; patch: UpdateToolInput }) {
  schemaErrors(patch);
  const { db, scope } = ctx;
  const { tool, v } = await requireTool(scope, id);
  const now = ctx.now.toISOString();
  const changesVersion = VERSIONED_FIELDS.some((k) => patch[k] !== undefined && !same(patch[k], v[k]));
  const next = changesVersion ? v.version + 1 : v.version;
  const meta = {
    ...(patch.name !== undefined ? { name: patch.name } : {}),
    ...(patch.description !== undefined ? { description: patch.description } : {}),
  };
  // Compare-and-set on latest_version: of two concurrent edits, the second's version insert collides and fails the batch.
  const update = scope.update(
    tools,
    { ...meta, latestVersion: next, updatedAt: now },
    and(eq(tools.id, id), eq(tools.latestVersion, v.version)) as SQL,
  );
  const fields = { fields: Object.keys(patch).filter((k) => patch[k as keyof UpdateToolInput] !== undefined), version: next };
  // With a new version, a lost compare-and-set fails the whole batch (the version insert collides).
  const audit = auditInsert(scope, ctx.actor, 'tool.updated', { type: 'tool', id }, ctx, fields);
  try {
    if (changesVersion) {
      await db.batch([
        update,
        scope.insert(toolVersions, {
          toolId: id,
          version: next,
          runtime: patch.runtime ?? v.runtime,
          code: patch.code ?? v.code,
          inputSchema: (patch.inputSchema ?? v.inputSchema) as StoredJsonSchema,
          outputSchema: (patch.outputSchema === undefined ? v.outputSchema : patch.outputSchema) as StoredJsonSchema | null,
          timeoutMs: patch.timeoutMs ?? v.timeoutMs,
          memoryMb: patch.memoryMb ?? v.memoryMb,
          network: (patch.network ?? v.network) as StoredToolNetwork,
          createdBy: ctx.actor.id,
          createdAt: now,
        }),
        audit,
      ]);
    } else {
      const [res] = await db.batch([
        update,
        auditInsertWhere(scope, ctx.actor, 'tool.updated', { type: 'tool', id }, ctx, fields, previousStatementChanged),
      ]);
      if (res.meta.changes !== 1) throw new AppError('conflict', `Tool ${id} was changed concurrently; read it again and retry.`);
    }
  } catch (err) {
    if (err instanceof AppError) throw err;
    if (isUniqueViolation(err)) {
      if (patch.name !== undefined && patch.name !== tool.name && (await nameInUse(scope, patch.name, id))) throw nameTaken(patch.name);
      throw new AppError('conflict', `Tool ${id} was changed concurrently; read it again and retry.`);
    }
    throw err;
  }
  const updated = await requireTool(scope, id);
  return toolView(updated.tool, updated.v);
}

async function nameInUse(scope: TenantScope, name: string, exceptId: string): Promise<boolean> {
  const row = await scope.select(tools, eq(tools.name, name)).get();
  return row !== undefined && (row as ToolRow).id !== exceptId;
}

export async function deleteTool(ctx: ServiceCtx, { id }: { id: string }): Promise<void> {
  const { db, scope } = ctx;
  const [, res] = await db.batch([
    scope.delete(toolVersions, eq(toolVersions.toolId, id)),
    scope.delete(tools, eq(tools.id, id)),
    auditInsertWhere(scope, ctx.actor, 'tool.deleted', { type: 'tool', id }, ctx, {}, previousStatementChanged),
  ]);
  if (res.meta.changes !== 1) throw new AppError('not_found', `Tool ${id} not found.`);
}

export async function listVersions(ctx: ServiceCtx, { id, limit, cursor }: PageInput & { id: string }) {
  await requireTool(ctx.scope, id);
  const after = decodeCursor(cursor);
  const below = after === undefined ? undefined : Number(after);
  const rows = (await ctx.scope
    .select(
      toolVersions,
      and(eq(toolVersions.toolId, id), below !== undefined && Number.isInteger(below) ? lt(toolVersions.version, below) : undefined),
    )
    .orderBy(desc(toolVersions.version))
    .limit(limit + 1)
    .all()) as VersionRow[];
  const page = toPage(rows, limit, (r) => String(r.version));
  return { data: page.data.map(toolVersionView), nextCursor: page.nextCursor };
}

/** The version to run: a pinned one or the latest. Throws not_found for an unknown tool or version. */
export async function resolveVersion(scope: TenantScope, id: string, version: number | 'latest'): Promise<VersionRow> {
  const found = await loadTool(scope, id, version === 'latest' ? undefined : version);
  if (!found) throw new AppError('not_found', version === 'latest' ? `Tool ${id} not found.` : `Tool ${id} has no version ${version}.`);
  return found.v;
}

export async function listInvocations(ctx: ServiceCtx, { id, limit, cursor }: PageInput & { id: string }) {
  await requireTool(ctx.scope, id);
  const after = decodeCursor(cursor);
  const rows = (await ctx.scope
    .select(toolInvocations, and(eq(toolInvocations.toolId, id), after ? lt(toolInvocations.id, after) : undefined))
    .orderBy(desc(toolInvocations.id))
    .limit(limit + 1)
    .all()) as (typeof toolInvocations.$inferSelect)[];
  const page = toPage(rows, limit, (r) => r.id);
  return { data: page.data.map(invocationView), nextCursor: page.nextCursor };
}
