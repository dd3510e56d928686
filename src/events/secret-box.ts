/**
 * Webhook signing secrets at rest (they are needed in plaintext to sign, so they
 * cannot be hashed): the shared secret box (src/lib/secret-box.ts) under
 * WEBHOOK_SECRET_KEY, bound to the endpoint row id.
 */
import { secretBox } from '../lib/secret-box';

const box = secretBox({ secretName: 'WEBHOOK_SECRET_KEY', info: 'edgecrew webhook secret v1' });

/** Encrypts `plaintext` for row `rowId` under the first configured key. */
export function seal(material: string | undefined, rowId: string, plaintext: string): Promise<string> {
  return box.seal(material, rowId, plaintext);
}

/** Decrypts what `seal` produced for the same `rowId`; throws on tampering or an unknown key. */
export function open(material: string | undefined, rowId: string, sealed: string): Promise<string> {
  return box.open(material, rowId, sealed);
}
