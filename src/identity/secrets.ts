/**
 * Opaque secrets (API keys, refresh tokens, invitation tokens): random, shown
 * once, stored only as HMAC-SHA-256(pepper, secret). High-entropy secrets need
 * no slow hash; the pepper keeps a leaked table useless without the Worker secret.
 */
import { toB64Url } from './encoding';

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

const HEX = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, '0'));

/** Hex HMAC-SHA-256 of `secret` under `pepper`; the lookup key stored in D1. */
export async function hashSecret(secret: string, pepper: string): Promise<string> {
  const sig = new Uint8Array(await crypto.subtle.sign('HMAC', await hmacKey(pepper), encoder.encode(secret)));
  let hex = '';
  for (const b of sig) hex += HEX[b];
  return hex;
}

/** Secrets presented on every request (API keys) whose hashes this isolate has computed. */
const MEMO_MAX = 10_000;
const memo = new Map<string, { pepper: string; hash: string }>();

/**
 * hashSecret for a secret presented again and again (an API key on every request): the hash is
 * kept in this isolate's memory, so a warm key costs a map lookup, not an HMAC (issue 20). The
 * memory already holds each request's headers; nothing leaves the isolate. Bounded, oldest out.
 */
export async function hashPresentedSecret(secret: string, pepper: string): Promise<string> {
  const known = memo.get(secret);
  if (known !== undefined && known.pepper === pepper) return known.hash;
  const hash = await hashSecret(secret, pepper);
  if (memo.size >= MEMO_MAX) memo.delete(memo.keys().next().value!);
  memo.set(secret, { pepper, hash });
  return hash;
}

/** Constant-time comparison of two byte arrays (length leak only). */
export function timingSafeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}
