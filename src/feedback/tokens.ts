/**
 * Presigned feedback tokens: let an app's end users rate one output from the browser with no API
 * key. A token names its tenant, its target, an optional end-user subject and its expiry, signed
 * with HMAC-SHA-256 under the Worker's TOKEN_PEPPER (src/identity/secrets.ts) with a purpose
 * prefix, so it is stateless (no row per token) and cannot be altered or used for anything else.
 * Format: `fbt_<base64url(JSON claims)>.<hex HMAC>`. Pure apart from WebCrypto; the clock is passed in.
 */
import { fromB64, toB64Url } from '../identity/encoding';
import { hashSecret, timingSafeEqual } from '../identity/secrets';
import type { FeedbackTarget, TargetType } from './model';

export const FEEDBACK_TOKEN_TTL_MS = 7 * 24 * 3600_000;
const PREFIX = 'fbt_';
/** Separates these signatures from every other use of the pepper. */
const PURPOSE = 'edgecrew.feedback-token.v1.';

export interface FeedbackTokenClaims {
  tenantId: string;
  target: FeedbackTarget;
  /** The app's id for its end user: each subject keeps its own rating of the target. */
  subject?: string | undefined;
  /** ms since epoch. */
  expiresAt: number;
}

interface Wire {
  v: 1;
  t: string;
  y: TargetType;
  i: string;
  n?: string;
  c?: string;
  s?: string;
  e: number;
}

export async function signFeedbackToken(pepper: string, claims: FeedbackTokenClaims): Promise<string> {
  const wire: Wire = { v: 1, t: claims.tenantId, y: claims.target.type, i: claims.target.id, e: claims.expiresAt };
  if (claims.target.nodeId !== undefined) wire.n = claims.target.nodeId;
  if (claims.target.chatId !== undefined) wire.c = claims.target.chatId;
  if (claims.subject !== undefined) wire.s = claims.subject;
  const payload = toB64Url(new TextEncoder().encode(JSON.stringify(wire)));
  return `${PREFIX}${payload}.${await hashSecret(PURPOSE + payload, pepper)}`;
}

export type TokenCheck = { ok: true; claims: FeedbackTokenClaims } | { ok: false; reason: 'invalid' | 'expired' };

/** The claims of a genuine, unexpired token. The signature is checked before anything in the payload is believed. */
export async function verifyFeedbackToken(pepper: string, token: string, now: number): Promise<TokenCheck> {
  const m = /^fbt_([A-Za-z0-9_-]{10,2000})\.([0-9a-f]{64})$/.exec(token);
  if (!m) return { ok: false, reason: 'invalid' };
  const [, payload, signature] = m as unknown as [string, string, string];
  const expected = await hashSecret(PURPOSE + payload, pepper);
  const enc = new TextEncoder();
  if (!timingSafeEqual(enc.encode(expected), enc.encode(signature))) return { ok: false, reason: 'invalid' };
  let wire: Wire;
  try {
    wire = JSON.parse(new TextDecoder().decode(fromB64(payload))) as Wire;
  } catch {
    return { ok: false, reason: 'invalid' };
  }
  if (wire.v !== 1 || typeof wire.t !== 'string' || typeof wire.i !== 'string' || typeof wire.e !== 'number')
    return { ok: false, reason: 'invalid' };
  if (now >= wire.e) return { ok: false, reason: 'expired' };
  return {
    ok: true,
    claims: {
      tenantId: wire.t,
      target: {
        type: wire.y,
        id: wire.i,
        ...(wire.n !== undefined ? { nodeId: wire.n } : {}),
        ...(wire.c !== undefined ? { chatId: wire.c } : {}),
      },
      ...(wire.s !== undefined ? { subject: wire.s } : {}),
      expiresAt: wire.e,
    },
  };
}

/** Two targets are the same output. */
export function sameTarget(a: FeedbackTarget, b: FeedbackTarget): boolean {
  return a.type === b.type && a.id === b.id && (a.nodeId ?? null) === (b.nodeId ?? null) && (a.chatId ?? null) === (b.chatId ?? null);
}
