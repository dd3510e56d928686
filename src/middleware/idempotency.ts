/**
 * `Idempotency-Key` on every POST (draft-ietf-httpapi-idempotency-key-header):
 * the first response to a key is stored for 24 h and replayed, with
 * `Idempotent-Replayed: true`, for a retry with the same body; the same key with
 * another body (or route) is a 422; a retry while the first is in flight is a 409.
 *
 * Scope: the tenant and the calling principal (the API key, or the user behind
 * an access token, so a retry after refreshing the token still matches). The
 * records live in the tenant's TenantHub (its own SQLite, one writer, so
 * claiming a key is race-free) rather than D1: no D1 round trip per POST, and
 * none at all without the header. Unauthenticated POSTs (signup, login,
 * refresh, logout, accept) have no tenant: the header is accepted and ignored
 * there (docs/api.md explains why each is safe to retry or not).
 *
 * Stored: any response below 500 except 429. 5xx and 429 release the key, so
 * the retry runs again. Bodies above 256 KiB and streams are not stored.
 */

import { createMiddleware } from 'hono/factory';
import { AppError } from '../lib/problem';
import { tenantHubStub } from '../lib/stubs';
import type { AppEnv } from '../types';
import { headerCredential } from './auth';

const HEADER = 'idempotency-key';
const KEY = /^[\x21-\x7e]{1,255}$/;
const TTL_MS = 24 * 3600_000;
/** A claim older than this counts as abandoned (the Worker died mid-request) and may be taken over. */
const LEASE_MS = 60_000;
const MAX_STORED_BYTES = 256 * 1024;
const REPLAYED_HEADERS = ['content-type', 'location', 'etag'];

async function fingerprint(method: string, path: string, body: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(`${method} ${path}\n${body}`));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

export function idempotency() {
  return createMiddleware<AppEnv>(async function idempotency(c, next) {
    const key = c.req.header(HEADER);
    if (c.req.method !== 'POST' || key === undefined) return next();
    if (!KEY.test(key)) {
      throw new AppError('validation_failed', 'Idempotency-Key must be 1 to 255 visible ASCII characters.', {
        errors: [
          {
            in: 'header',
            path: 'Idempotency-Key',
            pointer: '/Idempotency-Key',
            message: 'Invalid idempotency key',
            code: 'invalid_format',
          },
        ],
      });
    }
    // The route's own `authenticate` answers 401 for a bad credential; here we only need the scope.
    const resolved = headerCredential(c.get('credential'));
    if (!resolved?.ok) return next();
    const auth = resolved.auth;

    const scoped = `${auth.actorId}:${key}`;
    const print = await fingerprint(c.req.method, c.req.path, await c.req.text());
    const hub = tenantHubStub(c.env, auth.tenantId);
    const begun = await hub.idempotencyBegin(auth.tenantId, scoped, print, { leaseMs: LEASE_MS, ttlMs: TTL_MS });
    if (begun.state === 'mismatch') {
      throw new AppError(
        'idempotency_key_reused',
        'This Idempotency-Key was already used with a different request (method, path or body).',
      );
    }
    if (begun.state === 'in_flight') {
      throw new AppError('conflict', 'A request with this Idempotency-Key is still in progress; retry after it completes.', {
        headers: { 'retry-after': '1' },
      });
    }
    if (begun.state === 'replay') {
      const { status, headers, body } = begun.response;
      return new Response(status === 204 ? null : body, { status, headers: { ...headers, 'idempotent-replayed': 'true' } });
    }

    await next();
    const res = c.res;
    const type = res.headers.get('content-type') ?? '';
    const storable = res.status < 500 && res.status !== 429 && !type.startsWith('text/event-stream');
    const body = storable ? await res.clone().text() : '';
    if (storable && body.length <= MAX_STORED_BYTES) {
      const headers = Object.fromEntries(REPLAYED_HEADERS.flatMap((h) => (res.headers.has(h) ? [[h, res.headers.get(h)!]] : [])));
      // Awaited: a client retrying the moment it has this response must already get the replay, not a 409.
      await hub.idempotencyComplete(auth.tenantId, scoped, print, { status: res.status, headers, body });
    } else {
      await hub.idempotencyRelease(auth.tenantId, scoped, print);
    }
  });
}
