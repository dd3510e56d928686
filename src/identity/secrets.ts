/**
 * Opaque secrets (API keys, refresh tokens, invitation tokens): random, shown
 * once, stored only as HMAC-SHA-256(pepper, secret). High-entropy secrets need
 * no slow hash; the pepper keeps a leaked table useless without the Worker secret.
 */
import { TtlCache } from './credential-cache';
import { toB64Url, toHex } from './encoding';

const encoder = new TextEncoder();

/** `prefix` + 32 random bytes in base64url (256 bits). */
export function newSecret(prefix: string): string {
  return prefix + toB64Url(crypto.getRandomValues(new Uint8Array(32)));
}

const keyCache = new Map<string, Promise<CryptoKey>>();

function hmacKey(pepper: string): Promise<CryptoKey> {
  let key = keyCache.get(pepper);
  if (!key) {
    key = crypto.subtle.importKey('raw', encoder.encode(pepper), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
    keyCache.set(pepper, key);
  }
  return key;
}

/** Hex HMAC-SHA-256 of `secret` under `pepper`; the lookup key stored in D1. */
export async function hashSecret(secret: string, pepper: string): Promise<string> {
  return toHex(await crypto.subtle.sign('HMAC', await hmacKey(pepper), encoder.encode(secret)));
}

/** Hashes of secrets presented again and again (API keys), per isolate: bounded, oldest out, no expiry needed. */
const presented = new TtlCache<{ pepper: string; hash: string }>(Number.POSITIVE_INFINITY);

/**
 * hashSecret for a secret presented on every request (an API key): the hash is kept in this
 * isolate's memory, so a warm key costs a map lookup, not an HMAC (issue 20). The memory already
 * holds each request's headers; nothing leaves the isolate.
 */
export async function hashPresentedSecret(secret: string, pepper: string): Promise<string> {
  const known = presented.get(secret);
  if (known !== undefined && known.pepper === pepper) return known.hash;
  const hash = await hashSecret(secret, pepper);
  presented.set(secret, { pepper, hash });
  return hash;
}

/** Constant-time comparison of two byte arrays (length leak only). */
export function timingSafeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}
