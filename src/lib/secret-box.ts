/**
 * Encryption at rest for secrets we must be able to read back (webhook signing
 * secrets, tenants' LLM provider keys): AES-256-GCM with a random 96-bit IV,
 * the key HKDF-SHA-256 of a Worker secret, and caller-chosen additional data
 * (the row it belongs to) so a ciphertext copied elsewhere fails to open.
 *
 * The Worker secret may list several keys separated by commas: the first
 * encrypts, every one decrypts (each ciphertext names its key by a short id),
 * so operators can rotate without breaking stored rows (docs/security.md).
 * Format: `v1.<kid>.<iv>.<ciphertext>` (base64url).
 */
import { fromB64, toB64Url } from '../identity/encoding';

const VERSION = 'v1';
const SALT = new TextEncoder().encode('edgecrew');

/** The deployment lacks a usable key secret (an operator's problem, not a tenant's). */
export class SecretMissing extends Error {
  constructor(detail: string) {
    super(detail);
    this.name = 'SecretMissing';
  }
}

interface BoxKey {
  kid: string;
  key: CryptoKey;
}

export interface SecretBoxOptions {
  /** The Worker secret's name, for error messages. */
  secretName: string;
  /** HKDF info: separates the keys of different uses of the same material. */
  info: string;
  /** Refuse key material shorter than this. */
  minLength?: number;
}

export interface SecretBox {
  seal(material: string | undefined, aad: string, plaintext: string): Promise<string>;
  open(material: string | undefined, aad: string, sealed: string): Promise<string>;
}

export function secretBox(o: SecretBoxOptions): SecretBox {
  const info = new TextEncoder().encode(o.info);
  const cache = new Map<string, Promise<BoxKey[]>>();

  async function derive(material: string): Promise<BoxKey[]> {
    const parts = material
      .split(',')
      .map((k) => k.trim())
      .filter(Boolean);
    if (parts.length === 0) throw new SecretMissing(`${o.secretName} is not set`);
    if (o.minLength && parts.some((p) => p.length < o.minLength!))
      throw new SecretMissing(`${o.secretName} must list secrets of at least ${o.minLength} characters`);
    return Promise.all(
      parts.map(async (part) => {
        const bytes = new TextEncoder().encode(part);
        const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
        const base = await crypto.subtle.importKey('raw', bytes, 'HKDF', false, ['deriveKey']);
        const key = await crypto.subtle.deriveKey(
          { name: 'HKDF', hash: 'SHA-256', salt: SALT, info },
          base,
          { name: 'AES-GCM', length: 256 },
          false,
          ['encrypt', 'decrypt'],
        );
        return { kid: toB64Url(digest.slice(0, 6)), key };
      }),
    );
  }

  function keys(material: string | undefined): Promise<BoxKey[]> {
    if (!material || material.trim() === '') return Promise.reject(new SecretMissing(`${o.secretName} is not set`));
    let hit = cache.get(material);
    if (!hit) {
      hit = derive(material);
      hit.catch(() => cache.delete(material));
      cache.set(material, hit);
    }
    return hit;
  }

  return {
    async seal(material, aad, plaintext) {
      const [first] = await keys(material);
      const iv = crypto.getRandomValues(new Uint8Array(12));
      const ct = await crypto.subtle.encrypt(
        { name: 'AES-GCM', iv, additionalData: new TextEncoder().encode(aad) },
        first!.key,
        new TextEncoder().encode(plaintext),
      );
      return [VERSION, first!.kid, toB64Url(iv), toB64Url(new Uint8Array(ct))].join('.');
    },
    async open(material, aad, sealed) {
      const [version, kid, iv, ct] = sealed.split('.');
      if (version !== VERSION || !kid || !iv || !ct) throw new Error('unrecognised ciphertext');
      const key = (await keys(material)).find((k) => k.kid === kid);
      if (!key) throw new Error(`no ${o.secretName} with id ${kid} is configured`);
      const pt = await crypto.subtle.decrypt(
        { name: 'AES-GCM', iv: fromB64(iv), additionalData: new TextEncoder().encode(aad) },
        key.key,
        fromB64(ct),
      );
      return new TextDecoder().decode(pt);
    },
  };
}
