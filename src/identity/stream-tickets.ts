/**
 * Stream tickets: a browser that cannot set headers on an EventSource or a
 * WebSocket handshake trades its credential (sent in a header) for a ticket
 * valid 60 s, once, for one stream path, and puts only that in the URL.
 * Credentials themselves are refused in query strings (URLs end up in logs).
 * A ticket names its tenant (`stk_<tenant>.<secret>`), so redeeming it is one
 * call to that tenant's hub, which keeps only the hash.
 */
import type { Config } from '../config';
import type { ServiceCtx } from '../lib/context';
import { AppError } from '../lib/problem';
import { tenantHubStub } from '../lib/stubs';
import type { AuthContext } from '../types';
import { pepperOf } from './context';
import { hashSecret, newSecret } from './secrets';

export const TICKET_TTL_MS = 60_000;
const PREFIX = 'stk_';
/** The stream routes a ticket can open. */
const STREAM_PATHS = [/^\/v1\/sync\/ws$/, /^\/v1\/runs\/[^/]{1,160}\/(events|ws)$/, /^\/v1\/chat\/[A-Za-z0-9_-]{1,128}\/(stream|ws)$/];

export function isStreamPath(path: string): boolean {
  return STREAM_PATHS.some((p) => p.test(path));
}

export async function createStreamTicket(ctx: ServiceCtx, { path }: { path: string }) {
  if (!isStreamPath(path)) {
    throw new AppError('validation_failed', 'path must be a stream: /v1/sync/ws, /v1/runs/{runId}/events or /v1/runs/{runId}/ws.', {
      errors: [{ in: 'body', path: 'path', pointer: '/path', message: 'Not a stream path', code: 'invalid_path' }],
    });
  }
  const ticket = `${PREFIX}${ctx.tenantId}.${newSecret('')}`;
  const expiresAt = ctx.now.getTime() + TICKET_TTL_MS;
  await tenantHubStub(ctx.env, ctx.tenantId).issueStreamTicket(
    ctx.tenantId,
    await hashSecret(ticket, pepperOf(ctx.config)),
    path,
    {
      actorId: ctx.actor.id,
      actorType: ctx.actor.type,
      role: ctx.role,
      credentialId: ctx.credential.id,
      plan: ctx.credential.plan,
      expiresAt: ctx.credential.expiresAt,
    },
    expiresAt,
  );
  return { ticket, path, expiresAt: new Date(expiresAt).toISOString() };
}

const badTicket = () =>
  new AppError(
    'unauthorized',
    'The stream ticket is invalid, used, expired or for another path; get a new one from POST /v1/stream-tickets.',
    {
      headers: { 'www-authenticate': 'Bearer error="invalid_token"' },
    },
  );

/** Spends `ticket` for `path`: the caller it was issued to, or a 401. */
export async function redeemStreamTicket(deps: { env: Env; config: Config }, ticket: string, path: string): Promise<AuthContext> {
  const m = /^stk_([A-Za-z0-9_-]{1,64})\.[A-Za-z0-9_-]{20,64}$/.exec(ticket);
  if (!m || !isStreamPath(path)) throw badTicket();
  const tenantId = m[1]!;
  const caller = await tenantHubStub(deps.env, tenantId).redeemStreamTicket(
    tenantId,
    await hashSecret(ticket, pepperOf(deps.config)),
    path,
  );
  if (!caller) throw badTicket();
  return { tenantId, ...caller };
}
