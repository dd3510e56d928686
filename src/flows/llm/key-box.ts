/**
 * Encryption at rest for tenants' LLM provider API keys (design invariant 6:
 * they are needed in plaintext to call the provider, so they cannot be hashed).
 * AES-256-GCM with a random 96-bit IV; the key is HKDF-SHA-256 of the
 * LLM_KEY_SECRET Worker secret. Tenant and provider id are bound as additional
 * data, so a ciphertext copied into another row (or tenant) fails to open.
 *
 * LLM_KEY_SECRET may list several secrets separated by commas: the first
 * encrypts, every one decrypts (each ciphertext names its key by a short id),
 * so operators can rotate without breaking stored providers.
 */
import { fromB64, toB64Url } from '../../identity/encoding';

const VERSION = 'v1';
const SALT = new TextEncoder().encode('edgecrew');
const INFO = new TextEncoder().encode('edgecrew llm provider key v1');
const MIN_SECRET_LENGTH = 32;

/** The deployment lacks a usable LLM_KEY_SECRET (an operator's problem, not a tenant's). */
export class KeySecretMissing extends Error {
  constructor(detail: string) {
    super(`LLM_KEY_SECRET ${detail}`);
    this.name = 'KeySecretMissing';
  }
}

interface BoxKey {
  kid: string;
  key: CryptoKey;
}

const cache = new Map<string, Promise<BoxKey[]>>();

async function deriveKeys(material: string): Promise<BoxKey[]> {
  const parts = material.split(',').map((k) => k.trim()).filter(Boolean);
  if (parts.length === 0) throw new KeySecretMissing('is not set');
  if (parts.some((p) => p.length < MIN_SECRET_LENGTH)) throw new KeySecretMissing(`must list secrets of at least ${MIN_SECRET_LENGTH} characters`);
  return Promise.all(
    parts.map(async (part) => {
      const bytes = new TextEncoder().encode(part);
      const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
      const base = await crypto.subtle.importKey('raw', bytes, 'HKDF', false, ['deriveKey']);
      const key = await crypto.subtle.deriveKey({ name: 'HKDF', hash: 'SHA-256', salt: SALT, info: INFO }, base, { name: 'AES-GCM', length: 256 }, false, [
        'encrypt',
        'decrypt',
      ]);
      return { kid: toB64Url(digest.slice(0, 6)), key };
    }),
  );
}

function keysOf(material: string | undefined): Promise<BoxKey[]> {
  if (!material || material.trim() === '') return Promise.reject(new KeySecretMissing('is not set'));
  let hit = cache.get(material);
  if (!hit) {
    hit = deriveKeys(material);
    hit.catch(() => cache.delete(material));
    cache.set(material, hit);
  }
  return hit;
}

function aad(tenantId: string, providerId: string): Uint8Array {
  return new TextEncoder().encode(`llm_provider:${tenantId}:${providerId}`);
}

/** Opens and seals provider keys for one deployment secret. */
export interface KeyBox {
  seal(tenantId: string, providerId: string, plaintext: string): Promise<string>;
  open(tenantId: string, providerId: string, sealed: string): Promise<string>;
}

/** The box for `LLM_KEY_SECRET`; a missing or short secret fails on first use (a 500, logged), never silently. */
export function llmKeyBox(env: { LLM_KEY_SECRET?: string | undefined }): KeyBox {
  const material = env.LLM_KEY_SECRET;
  return {
    async seal(tenantId, providerId, plaintext) {
      const [first] = await keysOf(material);
      const iv = crypto.getRandomValues(new Uint8Array(12));
      const ct = await crypto.subtle.encrypt({ name: 'AES-GCM', iv, additionalData: aad(tenantId, providerId) }, first!.key, new TextEncoder().encode(plaintext));
      return [VERSION, first!.kid, toB64Url(iv), toB64Url(new Uint8Array(ct))].join('.');
    },
    async open(tenantId, providerId, sealed) {
      const [version, kid, iv, ct] = sealed.split('.');
      if (version !== VERSION || !kid || !iv || !ct) throw new Error('unrecognised provider key ciphertext');
      const key = (await keysOf(material)).find((k) => k.kid === kid);
      if (!key) throw new Error(`no LLM_KEY_SECRET with id ${kid} is configured`);
      const pt = await crypto.subtle.decrypt({ name: 'AES-GCM', iv: fromB64(iv), additionalData: aad(tenantId, providerId) }, key.key, fromB64(ct));
      return new TextDecoder().decode(pt);
    },
  };
}
