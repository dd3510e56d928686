/**
 * Standard Webhooks signatures (https://www.standardwebhooks.com, spec
 * "Signature scheme"): `v1,` + base64(HMAC-SHA256(key, `${id}.${timestamp}.${body}`))
 * where key is the base64 part of `whsec_…`. Several signatures are separated by
 * spaces, which is how a rotation overlap signs with both secrets.
 */

export const SECRET_PREFIX = 'whsec_';
const SECRET_BYTES = 32;

function toBase64(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

function fromBase64(b64: string): Uint8Array {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** A new signing secret: `whsec_` + base64 of 32 random bytes. */
export function newSigningSecret(): string {
  return SECRET_PREFIX + toBase64(crypto.getRandomValues(new Uint8Array(SECRET_BYTES)));
}

/**
 * HMAC keys imported once per secret in this isolate (non-extractable, sign only), not once per
 * delivery: an endpoint's deliveries are all signed with the same one or two secrets (issue 20). The
 * decrypted secrets are already kept per endpoint row (src/events/attempt.ts); this holds no more.
 * Bounded: past KEYS_KEPT the oldest key is dropped and imported again when next needed. The key is
 * kept, not the import's promise: a promise begun in one request's context is not shared with another.
 */
const KEYS_KEPT = 256;
const hmacKeys = new Map<string, CryptoKey>();

async function hmacKey(secret: string): Promise<CryptoKey> {
  const known = hmacKeys.get(secret);
  if (known !== undefined) return known;
  const raw = fromBase64(secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret);
  const key = await crypto.subtle.importKey('raw', raw, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  if (hmacKeys.size >= KEYS_KEPT) hmacKeys.delete(hmacKeys.keys().next().value!);
  hmacKeys.set(secret, key);
  return key;
}

async function signOne(secret: string, content: Uint8Array): Promise<string> {
  return `v1,${toBase64(new Uint8Array(await crypto.subtle.sign('HMAC', await hmacKey(secret), content)))}`;
}

/** The three Standard Webhooks headers for `body`, signed with every secret given (current first). */
export async function signatureHeaders(
  secrets: readonly string[],
  id: string,
  timestampS: number,
  body: string,
): Promise<Record<string, string>> {
  const content = new TextEncoder().encode(`${id}.${timestampS}.${body}`);
  const signatures = await Promise.all(secrets.map((s) => signOne(s, content)));
  return { 'webhook-id': id, 'webhook-timestamp': String(timestampS), 'webhook-signature': signatures.join(' ') };
}
