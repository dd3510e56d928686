/** Real-time sync of the tenant's change log: a page over HTTP, the hub's WebSocket, and the snapshot a resync reloads from. */
import type { ResyncSignal, SnapshotPage, SnapshotPosition } from '../../durable-objects/tenant-hub/sync-log';
import type { ServiceCtx } from '../lib/context';
import { decodeCursor, encodeCursor, type PageInput } from '../lib/pagination';
import { AppError } from '../lib/problem';
import { tenantHubStub } from '../lib/stubs';

const SNAPSHOT_PATH = '/v1/sync/snapshot';

/** The documented resync signal over HTTP: 410 `resync_required` with the version to reload at. */
function resyncRequired(signal: { reason: string; version: number }): AppError {
  return new AppError(
    'resync_required',
    `The change log no longer holds everything after this version (tombstones are kept for a horizon); reload from ${SNAPSHOT_PATH}.`,
    { extensions: { reason: signal.reason, version: signal.version, snapshot: SNAPSHOT_PATH } },
  );
}

/** Changes after `since`, in order, with no gap; a `since` past the tombstone horizon is told to resync. */
export async function changesSince(ctx: ServiceCtx, { since, limit }: { since: number; limit: number }) {
  const page = await tenantHubStub(ctx.env, ctx.tenantId).changesSince(ctx.tenantId, since, limit);
  if ('resync' in page) throw resyncRequired(page);
  return page;
}

function snapshotPosition(cursor: string | undefined): SnapshotPosition | null {
  const raw = decodeCursor(cursor);
  if (raw === undefined) return null;
  const m = /^(\d{1,15}):(task|notification|feedback):(.*)$/.exec(raw);
  if (!m)
    throw new AppError('validation_failed', 'The cursor is not valid.', {
      errors: [{ in: 'query', path: 'cursor', pointer: '/cursor', message: 'Invalid cursor', code: 'invalid_cursor' }],
    });
  return { version: Number(m[1]), entity: m[2] as SnapshotPosition['entity'], after: m[3]! };
}

/** One page of the current tasks, notifications and feedback, and the version to continue the change log from. */
export async function snapshot(ctx: ServiceCtx, { limit, cursor }: PageInput) {
  // RPC types cannot express the `unknown` fields of a feedback item; the shape is SnapshotPage.
  const page = (await tenantHubStub(ctx.env, ctx.tenantId).syncSnapshot(ctx.tenantId, snapshotPosition(cursor), limit)) as unknown as
    | SnapshotPage
    | ResyncSignal;
  if ('resync' in page) throw resyncRequired(page);
  const next = page.next;
  return {
    data: page.data,
    version: page.version,
    nextCursor: next ? encodeCursor(`${next.version}:${next.entity}:${next.after}`) : null,
  };
}

/** Hands a WebSocket upgrade for `url` to the tenant's hub, with the caller it serves (the credential never crosses). */
export async function openSyncSocket(ctx: ServiceCtx, input: { url: string }): Promise<Response> {
  const url = new URL(input.url);
  url.searchParams.delete('ticket');
  const headers = new Headers({
    upgrade: 'websocket',
    'x-edgecrew-tenant': ctx.tenantId,
    'x-edgecrew-actor': ctx.actor.id,
    'x-edgecrew-role': ctx.role,
    'x-edgecrew-actor-type': ctx.actor.type,
    'x-edgecrew-credential': ctx.credential.id,
    'x-edgecrew-plan': ctx.credential.plan,
  });
  if (ctx.credential.expiresAt) headers.set('x-edgecrew-expires', String(ctx.credential.expiresAt));
  return tenantHubStub(ctx.env, ctx.tenantId).fetch(new Request(url, { headers })) as unknown as Response;
}
