/**
 * `Idempotency-Key` on every POST (draft-ietf-httpapi-idempotency-key-header):
 * the first response to a key is stored for 24 h and replayed, with
 * `Idempotent-Replayed: true`, for a retry with the same body; the same key with
 * another body (or route) is a 422; a retry while the first is in flight is a 409.
 *
 * It runs inside the route guard, after `authenticate` and `requirePermission`
 * (src/routes/deps.ts), so a replay passes the same authentication, rate limit
 * and permission check as the first request: a demoted admin cannot replay a
 * key creation to read the key again (issue 13). Routes without a guard (sign
 * up, login, refresh, logout, invitation accept) never store anything: their
 * answers carry sessions, and they have no tenant to scope a key by.
 *
 * Scope: the tenant and the calling principal (the API key, or the user behind
 * an access token, so a retry after refreshing the token still matches). The
 * records live in the tenant's TenantHub (its own SQLite, one writer, so
 * claiming a key is race-free) rather than D1: no D1 round trip per POST, and
 * none at all without the header.
 *
 * Stored: any response below 500 except 429, its body sealed with the secret
 * box (responses may carry one-time secrets: API keys, `whsec_…`, invitation
 * tokens), bound to the tenant and key. 5xx and 429 release the key, so the
 * retry runs again. Bodies above 256 KiB and streams are not stored, except that
 * a route answering a stream may name the answer a replay gives instead
 * (`replayAnswer`: a run started with `Accept: text/event-stream` replays as the
 * run's JSON, so a retry never starts it twice). The claim
 * (lease) outlasts the longest request any route makes, so a retry never runs a
 * slow request twice; if storing the answer fails, the committed answer is still
 * returned (the claim then expires and a retry is told 409 until it does).
 */

import { createMiddleware } from 'hono/factory';
import { sha256Hex } from '../identity/encoding';
import { AppError } from '../lib/problem';
import { secretBox } from '../lib/secret-box';
import { tenantHubStub } from '../lib/stubs';
import { errorFields } from '../observability/log';
import { MAX_TOOL_REQUEST_MS } from '../tools/model';
import type { AppEnv } from '../types';

const HEADER = 'idempotency-key';
const KEY = /^[\x21-\x7e]{1,255}$/;
const TTL_MS = 24 * 3600_000;
/**
 * A claim older than this counts as abandoned (the Worker died mid-request) and may be taken over.
 * It must outlast the longest request a route can make (a tool invocation), or a retry would run it twice.
 */
export const LEASE_MS = MAX_TOOL_REQUEST_MS + 30_000;
const MAX_STORED_BYTES = 256 * 1024;
const REPLAYED_HEADERS = ['content-type', 'location', 'etag'];

// The pepper is always configured (API keys need it); HKDF's info keeps this key apart from its other uses.
const box = secretBox({ secretName: 'TOKEN_PEPPER', info: 'edgecrew idempotency response v1' });

async function fingerprint(method: string, path: string, body: string): Promise<string> {
  return sha256Hex(`${method} ${path}\n${body}`);
}

/** Route middleware, after the guard: replays or records the answer to a keyed POST. */
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
    const auth = c.get('auth');
    if (!auth) return next();

    const scoped = `${auth.actorId}:${key}`;
    const aad = `${auth.tenantId}:${scoped}`;
    const pepper = c.get('config').TOKEN_PEPPER;
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
      const plain = status === 204 ? null : await box.open(pepper, aad, body);
      return new Response(plain, { status, headers: { ...headers, 'idempotent-replayed': 'true' } });
    }

    await next();
    const res = c.res;
    const type = res.headers.get('content-type') ?? '';
    const instead = c.get('replayAnswer');
    const storable = res.status < 500 && res.status !== 429 && (instead !== undefined || !type.startsWith('text/event-stream'));
    const body = !storable ? '' : instead !== undefined ? instead.body : await res.clone().text();
    try {
      if (storable && body.length <= MAX_STORED_BYTES) {
        const headers =
          instead?.headers ?? Object.fromEntries(REPLAYED_HEADERS.flatMap((h) => (res.headers.has(h) ? [[h, res.headers.get(h)!]] : [])));
        const status = instead?.status ?? res.status;
        const sealed = status === 204 ? '' : await box.seal(pepper, aad, body);
        // Awaited: a client retrying the moment it has this response must already get the replay, not a 409.
        await hub.idempotencyComplete(auth.tenantId, scoped, print, { status, headers, body: sealed });
      } else {
        await hub.idempotencyRelease(auth.tenantId, scoped, print);
      }
    } catch (err) {
      // The write behind `res` committed: answering 500 now would invite a retry of a done thing.
      c.get('log').error('idempotency record failed; answering the committed response', { key: scoped, ...errorFields(err) });
    }
  });
}
