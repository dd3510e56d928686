/**
 * Encryption at rest for webhook signing secrets (they are needed in plaintext
 * to sign, so they cannot be hashed). AES-256-GCM with a random 96-bit IV; the
 * key is HKDF-SHA-256 of the WEBHOOK_SECRET_KEY Worker secret. The row id is
 * bound as additional data, so a ciphertext copied to another row fails to open.
 *
 * WEBHOOK_SECRET_KEY may list several keys separated by commas: the first
 * encrypts, every one decrypts (each ciphertext names its key by a short id),
 * which lets operators rotate it (docs/security.md).
 */

const VERSION = 'v1';
const INFO = new TextEncoder().encode('edgecrew webhook secret v1');
const SALT = new TextEncoder().encode('edgecrew');

interface BoxKey {
  kid: string;
  key: CryptoKey;
}

const cache = new Map<string, Promise<BoxKey[]>>();

function b64url(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function fromB64url(s: string): Uint8Array {
  const bin = atob(s.replace(/-/g, '+').replace(/_/g, '/'));
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

async function deriveKeys(material: string): Promise<BoxKey[]> {
  const parts = material.split(',').map((k) => k.trim()).filter(Boolean);
  if (parts.length === 0) throw new Error('WEBHOOK_SECRET_KEY is not set');
  return Promise.all(
    parts.map(async (part) => {
      const bytes = new TextEncoder().encode(part);
      const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
      const base = await crypto.subtle.importKey('raw', bytes, 'HKDF', false, ['deriveKey']);
      const key = await crypto.subtle.deriveKey({ name: 'HKDF', hash: 'SHA-256', salt: SALT, info: INFO }, base, { name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt']);
      return { kid: b64url(digest.slice(0, 6)), key };
    }),
  );
}

function keysOf(material: string | undefined): Promise<BoxKey[]> {
  if (!material) throw new Error('WEBHOOK_SECRET_KEY is not set');
  let hit = cache.get(material);
  if (!hit) {
    hit = deriveKeys(material);
    cache.set(material, hit);
  }
  return hit;
}

/** Encrypts `plaintext` for row `rowId` under the first configured key. */
export async function seal(material: string | undefined, rowId: string, plaintext: string): Promise<string> {
  const [first] = await keysOf(material);
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const ct = await crypto.subtle.encrypt({ name: 'AES-GCM', iv, additionalData: new TextEncoder().encode(rowId) }, first!.key, new TextEncoder().encode(plaintext));
  return [VERSION, first!.kid, b64url(iv), b64url(new Uint8Array(ct))].join('.');
}

/** Decrypts what `seal` produced for the same `rowId`; throws on tampering or an unknown key. */
export async function open(material: string | undefined, rowId: string, sealed: string): Promise<string> {
  const [version, kid, iv, ct] = sealed.split('.');
  if (version !== VERSION || !kid || !iv || !ct) throw new Error('unrecognised secret ciphertext');
  const key = (await keysOf(material)).find((k) => k.kid === kid);
  if (!key) throw new Error(`no WEBHOOK_SECRET_KEY with id ${kid} is configured`);
  const pt = await crypto.subtle.decrypt({ name: 'AES-GCM', iv: fromB64url(iv), additionalData: new TextEncoder().encode(rowId) }, key.key, fromB64url(ct));
  return new TextDecoder().decode(pt);
}
