/**
 * Tenants' LLM provider API keys at rest (design invariant 6: needed in
 * plaintext to call the provider, so they cannot be hashed): the shared secret
 * box (src/lib/secret-box.ts) under LLM_KEY_SECRET, bound to tenant and
 * provider id so a ciphertext copied into another row or tenant fails to open.
 */
import { SecretMissing, secretBox } from '../../lib/secret-box';

export { SecretMissing as KeySecretMissing };

const box = secretBox({ secretName: 'LLM_KEY_SECRET', info: 'edgecrew llm provider key v1', minLength: 32 });

/** Opens and seals provider keys for one deployment secret. */
export interface KeyBox {
  seal(tenantId: string, providerId: string, plaintext: string): Promise<string>;
  open(tenantId: string, providerId: string, sealed: string): Promise<string>;
}

/** The box for `LLM_KEY_SECRET`; a missing or short secret fails on first use (a 500, logged), never silently. */
export function llmKeyBox(env: { LLM_KEY_SECRET?: string | undefined }): KeyBox {
  const aad = (tenantId: string, providerId: string) => `llm_provider:${tenantId}:${providerId}`;
  return {
    seal: (tenantId, providerId, plaintext) => box.seal(env.LLM_KEY_SECRET, aad(tenantId, providerId), plaintext),
    open: (tenantId, providerId, sealed) => box.open(env.LLM_KEY_SECRET, aad(tenantId, providerId), sealed),
  };
}
