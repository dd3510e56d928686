/**
 * The storage half of a versioned resource (flows, agents): a head row (`versionedHead()` in schema.ts) that
 * names its latest version, plus immutable version rows. Create writes version 1; PUT claims the next version
 * with a compare-and-set on `latest_version` (a losing request leaves nothing behind and gets 409); GET reads the
 * latest or a given version; lists page newest first; delete is soft. Each domain keeps its own validation,
 * view and audit actions in its service and passes them in.
 */
import { and, desc, eq, isNull, lt, sql } from 'drizzle-orm';
import type { SQLiteColumn } from 'drizzle-orm/sqlite-core';
import { type AuditAction, auditInsert, auditInsertWhere, previousStatementChanged } from '../identity/audit';
import type { ServiceCtx } from '../lib/context';
import { newId } from '../lib/ids';
import { decodeCursor, type PageInput, toPage } from '../lib/pagination';
import { AppError } from '../lib/problem';
import type { agents, agentVersions, flows, flowVersions } from './schema';

type HeadTable = typeof flows | typeof agents;
type VersionTable = typeof flowVersions | typeof agentVersions;
export type HeadRow = HeadTable['$inferSelect'];

export interface VersionedKind {
  head: HeadTable;
  versions: VersionTable;
  /** The version table's column naming its head (`flowId`), and the one holding the stored body (`definition`). */
  owner: 'flowId' | 'agentId';
  body: 'definition' | 'spec';
  /** `Flow`, in messages. */
  noun: string;
  idPrefix: string;
  audit: { type: string; created: AuditAction; updated: AuditAction; deleted: AuditAction };
}

/** What a create or PUT stores: the head's name and description, and the version's body. */
export interface VersionInput<Body> {
  name: string;
  description: string | null;
  body: Body;
}

/** The head fields every versioned resource shows (`version` is the latest). */
export function headView(h: HeadRow) {
  return {
    id: h.id,
    name: h.name,
    description: h.description,
    version: h.latestVersion,
    createdBy: h.createdBy,
    createdAt: h.createdAt,
    updatedAt: h.updatedAt,
  };
}

export function versionedResource<Body>(kind: VersionedKind) {
  const { head, versions, noun, audit } = kind;
  const owner = (versions as unknown as Record<string, SQLiteColumn>)[kind.owner] as SQLiteColumn;
  type VersionRow = { version: number; createdBy: string; createdAt: string } & Record<string, unknown>;
  const versionValues = (id: string, version: number, body: Body, ctx: ServiceCtx, at: string) =>
    ({ [kind.owner]: id, version, [kind.body]: body, createdBy: ctx.actor.id, createdAt: at }) as never;
  const conflict = (id: string) => new AppError('conflict', `${noun} ${id} was changed concurrently; retry.`);

  /** The live head, else 404 (another tenant's id is unknown too). */
  async function row(ctx: ServiceCtx, id: string): Promise<HeadRow> {
    const h = (await ctx.scope.select(head, and(eq(head.id, id), isNull(head.deletedAt))).get()) as HeadRow | undefined;
    if (!h) throw new AppError('not_found', `${noun} ${id} not found.`);
    return h;
  }

  return {
    row,

    async create(ctx: ServiceCtx, input: VersionInput<Body>): Promise<HeadRow> {
      const id = newId(kind.idPrefix);
      const at = ctx.now.toISOString();
      await ctx.db.batch([
        ctx.scope.insert(head, {
          id,
          name: input.name,
          description: input.description,
          latestVersion: 1,
          createdBy: ctx.actor.id,
          createdAt: at,
          updatedAt: at,
        }),
        ctx.scope.insert(versions, versionValues(id, 1, input.body, ctx, at)),
        auditInsert(ctx.scope, ctx.actor, audit.created, { type: audit.type, id }, ctx, { name: input.name, version: 1 }),
      ]);
      return row(ctx, id);
    },

    /** Stores the version after `current` (the head the caller validated against); 409 when another request got there first. */
    async put(ctx: ServiceCtx, current: HeadRow, input: VersionInput<Body>): Promise<void> {
      const { id } = current;
      const version = current.latestVersion + 1;
      const at = ctx.now.toISOString();
      const [claimed] = await ctx.db
        .batch([
          ctx.scope.update(
            head,
            { latestVersion: version, name: input.name, description: input.description, updatedAt: at },
            and(eq(head.id, id), eq(head.latestVersion, current.latestVersion), isNull(head.deletedAt)),
          ),
          ctx.scope.insert(versions, versionValues(id, version, input.body, ctx, at)),
          // Only with the version this request claimed.
          auditInsertWhere(
            ctx.scope,
            ctx.actor,
            audit.updated,
            { type: audit.type, id },
            ctx,
            { version },
            sql`EXISTS (SELECT 1 FROM ${head} WHERE id = ${id} AND latest_version = ${version} AND updated_at = ${at})`,
          ),
        ])
        .catch((err: unknown) => {
          if (/UNIQUE|PRIMARY KEY/i.test(String((err as Error)?.message) + String((err as { cause?: unknown })?.cause))) throw conflict(id);
          throw err;
        });
      if (claimed.meta.changes !== 1) throw conflict(id);
    },

    /** The head and its latest (or the given) version's body. */
    async get(ctx: ServiceCtx, id: string, version?: number) {
      const h = await row(ctx, id);
      const v = (await ctx.scope.select(versions, and(eq(owner, id), eq(versions.version, version ?? h.latestVersion))).get()) as
        | VersionRow
        | undefined;
      if (!v) throw new AppError('not_found', `${noun} ${id} has no version ${version}.`);
      return { head: h, version: v.version, body: v[kind.body] as Body };
    },

    /** Live heads, newest first. */
    async list(ctx: ServiceCtx, { limit, cursor }: PageInput) {
      const after = decodeCursor(cursor);
      const rows = (await ctx.scope
        .select(head, and(isNull(head.deletedAt), after ? lt(head.id, after) : undefined))
        .orderBy(desc(head.id))
        .limit(limit + 1)
        .all()) as HeadRow[];
      return toPage(rows, limit, (r) => r.id);
    },

    /** The versions, newest first, one page at a time (the cursor is the last version seen). */
    async versions(ctx: ServiceCtx, id: string, { limit, cursor }: PageInput) {
      await row(ctx, id);
      const after = decodeCursor(cursor);
      const below = after === undefined ? undefined : Number(after);
      if (below !== undefined && !(Number.isInteger(below) && below > 0))
        throw new AppError('validation_failed', 'The cursor is not valid.', {
          errors: [{ in: 'query', path: 'cursor', pointer: '/cursor', message: 'Invalid cursor', code: 'invalid_cursor' }],
        });
      const rows = (await ctx.scope
        .select(versions, and(eq(owner, id), below !== undefined ? lt(versions.version, below) : undefined))
        .orderBy(desc(versions.version))
        .limit(limit + 1)
        .all()) as VersionRow[];
      const page = toPage(rows, limit, (v) => String(v.version));
      return {
        data: page.data.map((v) => ({ version: v.version, createdBy: v.createdBy, createdAt: v.createdAt, body: v[kind.body] as Body })),
        nextCursor: page.nextCursor,
      };
    },

    /** Soft delete (404 when already gone); the audit entry only with the change. */
    async remove(ctx: ServiceCtx, id: string): Promise<void> {
      await row(ctx, id);
      await ctx.db.batch([
        ctx.scope.update(head, { deletedAt: ctx.now.toISOString() }, and(eq(head.id, id), isNull(head.deletedAt))),
        auditInsertWhere(ctx.scope, ctx.actor, audit.deleted, { type: audit.type, id }, ctx, {}, previousStatementChanged),
      ]);
    },
  };
}
