#!/usr/bin/env node
/**
 * ES256 signing keys for access tokens, as the JSON array JWT_PRIVATE_KEYS expects.
 * Library: `generateSigningKey()`. CLI: `npm run keys:generate` prints a fresh array
 * (to rotate: prepend a new key, deploy, and drop the old one after 15 minutes).
 */
import { exportJWK, generateKeyPair } from 'jose';

export async function generateSigningKey() {
  const { privateKey } = await generateKeyPair('ES256', { extractable: true });
  const jwk = await exportJWK(privateKey);
  return { ...jwk, kid: `k${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`, alg: 'ES256', use: 'sig' };
}

export async function generateSigningKeys(count = 1) {
  const keys = [];
  for (let i = 0; i < count; i++) keys.push(await generateSigningKey());
  return keys;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  process.stdout.write(`${JSON.stringify(await generateSigningKeys(Number(process.argv[2] ?? 1)))}\n`);
}
