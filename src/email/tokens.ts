/**
 * Signed, single-purpose email tokens (HMAC-SHA-256 under TOKEN_PEPPER with a purpose prefix, like
 * src/feedback/tokens.ts): stateless, and a token made for one purpose is refused by every other.
 * - unsubscribe: `eu1_<base64url(JSON {t, u, a})>.<hex>` in the List-Unsubscribe URL; no expiry
 *   (RFC 8058 links must keep working), it can only turn that member's email off.
 * - reply: the Reply-To local part `reply+<deliveryId>.<hex 32>`: lower case only, because mail
 *   systems may fold the case of a local part.
 */
import { fromB64, toB64Url } from '../identity/encoding';
import { hashSecret, timingSafeEqual } from '../identity/secrets';

const UNSUB = 'edgecrew.email-unsubscribe.v1.';
const REPLY = 'edgecrew.email-reply.v1.';
const enc = new TextEncoder();

export interface UnsubscribeClaims {
  tenantId: string;
  userId: string;
  address: string;
}

function same(a: string, b: string): boolean {
  return timingSafeEqual(enc.encode(a), enc.encode(b));
}

export async function signUnsubscribe(pepper: string, c: UnsubscribeClaims): Promise<string> {
  const payload = toB64Url(enc.encode(JSON.stringify({ t: c.tenantId, u: c.userId, a: c.address })));
  return `eu1_${payload}.${await hashSecret(UNSUB + payload, pepper)}`;
}

/** The claims of a genuine token; null for anything else (the route answers 404). */
export async function verifyUnsubscribe(pepper: string, token: string): Promise<UnsubscribeClaims | null> {
  const m = /^eu1_([A-Za-z0-9_-]{10,1000})\.([0-9a-f]{64})$/.exec(token);
  if (!m) return null;
  const payload = m[1]!;
  if (!same(await hashSecret(UNSUB + payload, pepper), m[2]!)) return null;
  try {
    const w = JSON.parse(new TextDecoder().decode(fromB64(payload))) as { t?: unknown; u?: unknown; a?: unknown };
    if (typeof w.t !== 'string' || typeof w.u !== 'string' || typeof w.a !== 'string') return null;
    return { tenantId: w.t, userId: w.u, address: w.a };
  } catch {
    return null;
  }
}

async function replySignature(pepper: string, deliveryId: string): Promise<string> {
  return (await hashSecret(REPLY + deliveryId, pepper)).slice(0, 32);
}

/** `reply+<deliveryId>.<sig>@<domain>`. */
export async function replyAddress(pepper: string, deliveryId: string, domain: string): Promise<string> {
  return `reply+${deliveryId}.${await replySignature(pepper, deliveryId)}@${domain}`;
}

/** The delivery a reply address names, when its signature is genuine. */
export async function verifyReplyAddress(pepper: string, address: string): Promise<string | null> {
  const m = /^reply\+([a-z]{3}_[0-9a-z]{26})\.([0-9a-f]{32})@/.exec(address.trim().toLowerCase());
  if (!m) return null;
  return same(await replySignature(pepper, m[1]!), m[2]!) ? m[1]! : null;
}
