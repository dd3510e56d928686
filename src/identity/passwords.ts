/**
 * Password hashing: argon2id (RFC 9106) with OWASP's minimum parameters
 * (m = 19 MiB, t = 2, p = 1), stored as a PHC string that carries its parameters
 * so hashes are upgraded on login when the policy rises.
 *
 * Workers refuse to compile WebAssembly from bytes at run time, so the WASM is
 * imported as a module (bundled by wrangler as CompiledWasm) and instantiated here.
 */

import noSimdWasm from 'argon2id/dist/no-simd.wasm';
import simdWasm from 'argon2id/dist/simd.wasm';
import setupWasm from 'argon2id/lib/setup.js';
import { fromB64, toB64 } from './encoding';
import { timingSafeEqual } from './secrets';

export interface Argon2Params {
  m: number; // KiB
  t: number;
  p: number;
}

/** OWASP Password Storage Cheat Sheet: argon2id, m=19456 KiB, t=2, p=1. */
export const CURRENT_PARAMS: Argon2Params = { m: 19456, t: 2, p: 1 };
const TAG_BYTES = 32;
const SALT_BYTES = 16;

type Hasher = (params: {
  password: Uint8Array;
  salt: Uint8Array;
  parallelism: number;
  passes: number;
  memorySize: number;
  tagLength: number;
  secret?: Uint8Array;
}) => Uint8Array;

let hasher: Promise<Hasher> | undefined;

function loadHasher(): Promise<Hasher> {
  hasher ??= setupWasm(
    async (imports: WebAssembly.Imports) => ({ instance: await WebAssembly.instantiate(simdWasm, imports), module: simdWasm }),
    async (imports: WebAssembly.Imports) => ({ instance: await WebAssembly.instantiate(noSimdWasm, imports), module: noSimdWasm }),
  ) as Promise<Hasher>;
  return hasher;
}

const encoder = new TextEncoder();

function compute(h: Hasher, password: string, salt: Uint8Array, p: Argon2Params, pepper: Uint8Array | undefined): Uint8Array {
  return h({
    password: encoder.encode(password.normalize('NFKC')),
    salt,
    parallelism: p.p,
    passes: p.t,
    memorySize: p.m,
    tagLength: TAG_BYTES,
    ...(pepper ? { secret: pepper } : {}),
  });
}

/** Hashes a password into `$argon2id$v=19$m=…,t=…,p=…$salt$hash` (base64 without padding). */
export async function hashPassword(password: string, pepper?: Uint8Array, params: Argon2Params = CURRENT_PARAMS): Promise<string> {
  const h = await loadHasher();
  const salt = crypto.getRandomValues(new Uint8Array(SALT_BYTES));
  const tag = compute(h, password, salt, params, pepper);
  return `$argon2id$v=19$m=${params.m},t=${params.t},p=${params.p}$${toB64(salt)}$${toB64(tag)}`;
}

interface ParsedHash {
  params: Argon2Params;
  salt: Uint8Array;
  tag: Uint8Array;
}

export function parseHash(stored: string): ParsedHash | null {
  const m = /^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/.exec(stored);
  if (!m) return null;
  return {
    params: { m: Number(m[1]), t: Number(m[2]), p: Number(m[3]) },
    salt: fromB64(m[4]!),
    tag: fromB64(m[5]!),
  };
}

/** Constant-time verification; a malformed stored hash simply fails. */
export async function verifyPassword(password: string, stored: string, pepper?: Uint8Array): Promise<boolean> {
  const parsed = parseHash(stored);
  const h = await loadHasher();
  if (!parsed) {
    // Burn comparable time so a broken row does not stand out.
    compute(h, password, new Uint8Array(SALT_BYTES), CURRENT_PARAMS, pepper);
    return false;
  }
  return timingSafeEqual(compute(h, password, parsed.salt, parsed.params, pepper), parsed.tag);
}

/** True when the stored hash was made with weaker parameters than the current policy. */
export function needsRehash(stored: string, params: Argon2Params = CURRENT_PARAMS): boolean {
  const parsed = parseHash(stored);
  if (!parsed) return true;
  return parsed.params.m < params.m || parsed.params.t < params.t || parsed.params.p !== params.p;
}

/**
 * A fixed hash used to spend the same work when the email is unknown, so an
 * unknown email and a wrong password answer alike in content and timing.
 */
let dummyHash: Promise<string> | undefined;
export function getDummyHash(pepper?: Uint8Array): Promise<string> {
  dummyHash ??= hashPassword('dummy-password-for-timing-equalization', pepper);
  return dummyHash;
}

export interface StrengthIssue {
  code: string;
  message: string;
}

const COMMON = new Set([
  'password',
  'password1',
  'password123',
  '12345678',
  '123456789',
  '1234567890',
  'qwertyuiop',
  'iloveyou',
  'letmein123',
  'welcome123',
  'admin12345',
  'passw0rd',
  'qwerty123',
  '11111111',
  'abc123456',
  'changeme',
  'trustno1',
  'football1',
  'baseball1',
  'superman1',
  'dragon123',
  'monkey123',
  'sunshine1',
  'princess1',
]);

/** Minimum strength (NIST SP 800-63B style): length 10..256, not a common password, not the email. */
export function checkPasswordStrength(password: string, context: { email?: string; name?: string } = {}): StrengthIssue[] {
  const issues: StrengthIssue[] = [];
  if (password.length < 10) issues.push({ code: 'too_short', message: 'Password must be at least 10 characters.' });
  if (password.length > 256) issues.push({ code: 'too_long', message: 'Password must be at most 256 characters.' });
  const lower = password.toLowerCase();
  if (COMMON.has(lower)) issues.push({ code: 'too_common', message: 'Password is too common.' });
  if (new Set(password).size < 4) issues.push({ code: 'too_repetitive', message: 'Password must use at least 4 distinct characters.' });
  const local = context.email?.split('@')[0]?.toLowerCase();
  if (local && local.length >= 4 && lower.includes(local)) {
    issues.push({ code: 'contains_email', message: 'Password must not contain your email address.' });
  }
  return issues;
}
