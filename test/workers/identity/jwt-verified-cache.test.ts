/**
 * Access tokens already verified in this isolate skip the signature check (src/identity/jwt.ts,
 * issue 20), and nothing else about verification changes: times are checked on every use, any
 * other text is verified in full, refusals are not remembered, a new key set remembers nothing.
 */
import { env } from 'cloudflare:workers';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { signAccessToken, verifyAccessToken } from '../../../src/identity/jwt';
import { AUDIENCE, b64url, decodeJwtPart, ISSUER } from './_support';

const KEYS = (env as unknown as { JWT_PRIVATE_KEYS: string }).JWT_PRIVATE_KEYS;
const settings = { keys: KEYS, issuer: ISSUER, audience: AUDIENCE };
const claims = (n: string) => ({ sub: `usr_cache${n}`, tid: `tnt_cache${n}`, role: 'member' as const, jti: `jti_cache${n}` });

/** Counts the ECDSA verifications jose asks WebCrypto for. */
function countVerifications() {
  const spy = vi.spyOn(crypto.subtle, 'verify');
  return () => spy.mock.calls.length;
}

afterEach(() => vi.restoreAllMocks());

describe('verified access tokens, remembered', () => {
  it('the same token verifies once: later uses return the same claims without a signature check', async () => {
    const now = Date.now();
    const token = await signAccessToken(settings, claims('a'), now);
    const verifications = countVerifications();
    const first = await verifyAccessToken(settings, token, now);
    expect(verifications()).toBe(1);
    for (let i = 1; i <= 3; i++) expect(await verifyAccessToken(settings, token, now + i * 1000)).toEqual(first);
    expect(verifications()).toBe(1);
    expect(first).toMatchObject(claims('a'));
  });

  it('a remembered token still expires: refused past exp (with the same 5 s tolerance), and so is a not-yet-valid one', async () => {
    const now = Date.now();
    const token = await signAccessToken(settings, claims('b'), now);
    const { exp } = await verifyAccessToken(settings, token, now);
    const verifications = countVerifications();
    // Within the tolerance, as jwtVerify allows.
    await expect(verifyAccessToken(settings, token, (exp + 4) * 1000)).resolves.toMatchObject({ exp });
    await expect(verifyAccessToken(settings, token, (exp + 5) * 1000)).rejects.toMatchObject({ code: 'unauthorized' });
    // nbf is the issue time: a clock 10 s behind it refuses the token.
    await expect(verifyAccessToken(settings, token, now - 10_000)).rejects.toMatchObject({ code: 'unauthorized' });
    // Each was answered from the remembered entry: its times decided, not a new verification.
    expect(verifications()).toBe(0);
    // Long after, the entry is gone and a full verification refuses it as well.
    await expect(verifyAccessToken(settings, token, (exp + 600) * 1000)).rejects.toMatchObject({ code: 'unauthorized' });
    expect(verifications()).toBe(1);
  });

  it('a tampered copy of a remembered token is verified in full and refused; the original still works', async () => {
    const now = Date.now();
    const token = await signAccessToken(settings, claims('c'), now);
    await verifyAccessToken(settings, token, now);
    const [h, p, s] = token.split('.') as [string, string, string];
    const promoted = `${h}.${b64url(JSON.stringify({ ...decodeJwtPart(p), role: 'admin' }))}.${s}`;
    const verifications = countVerifications();
    await expect(verifyAccessToken(settings, promoted, now)).rejects.toMatchObject({ code: 'unauthorized' });
    await expect(verifyAccessToken(settings, promoted, now)).rejects.toMatchObject({ code: 'unauthorized' });
    // Each attempt was checked (a refusal is not remembered).
    expect(verifications()).toBe(2);
    expect((await verifyAccessToken(settings, token, now)).role).toBe('member');
  });

  it('another issuer, audience or key set does not reuse what this one verified', async () => {
    const now = Date.now();
    const token = await signAccessToken(settings, claims('d'), now);
    await verifyAccessToken(settings, token, now);
    await expect(verifyAccessToken({ ...settings, audience: 'another-api' }, token, now)).rejects.toMatchObject({ code: 'unauthorized' });
    await expect(verifyAccessToken({ ...settings, issuer: 'https://elsewhere.example' }, token, now)).rejects.toMatchObject({
      code: 'unauthorized',
    });
    // The key set without the key that signed it (rotation finished): a new ring, verified in full, refused.
    const keys = JSON.parse(KEYS) as Array<{ kid: string }>;
    const signer = decodeJwtPart(token.split('.')[0]!).kid as string;
    const rest = keys.filter((k) => k.kid !== signer);
    expect(rest.length).toBeGreaterThan(0);
    await expect(verifyAccessToken({ ...settings, keys: JSON.stringify(rest) }, token, now)).rejects.toMatchObject({
      code: 'unauthorized',
    });
  });
});
