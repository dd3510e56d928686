/** Real-time sync of the tenant's change log: a page over HTTP, or the hub's WebSocket. */
import type { ServiceCtx } from '../lib/context';
import { tenantHubStub } from '../lib/stubs';

/** Changes after `since`, in order, with no gap. */
export async function changesSince(ctx: ServiceCtx, { since, limit }: { since: number; limit: number }) {
  return tenantHubStub(ctx.env, ctx.tenantId).changesSince(ctx.tenantId, since, limit);
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
  });
  if (ctx.credential.expiresAt) headers.set('x-edgecrew-expires', String(ctx.credential.expiresAt));
  return tenantHubStub(ctx.env, ctx.tenantId).fetch(new Request(url, { headers })) as unknown as Response;
}
