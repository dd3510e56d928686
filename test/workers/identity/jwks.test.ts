/** The published key set, and access tokens verified the way any standard JOSE client would. */
import { createLocalJWKSet, decodeProtectedHeader, type JWK, jwtVerify } from 'jose';
import { describe, expect, it } from 'vitest';
import { call, expectJson } from '../../support/workers/http';
import { signup } from '../../support/workers/tenants';
import { AUDIENCE, ISSUER, loginOk, privateKeys, refresh } from './_support';

const PRIVATE_FIELDS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k', 'oth'];

async function getJwks(): Promise<{ keys: JWK[] }> {
  const res = await call('/.well-known/jwks.json');
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  return expectJson(res, 200);
}

describe('GET /.well-known/jwks.json', () => {
  it('publishes the two configured public keys, each with kid, alg ES256, use sig, and no private part', async () => {
    const jwks = await getJwks();
    expect(jwks.keys).toHaveLength(2);
    for (const key of jwks.keys) {
      expect(key).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig' });
      expect(typeof key.kid).toBe('string');
      expect(key.kid!.length).toBeGreaterThan(0);
      expect(typeof key.x).toBe('string');
      expect(typeof key.y).toBe('string');
      for (const f of PRIVATE_FIELDS) expect(key).not.toHaveProperty(f);
    }
    expect(new Set(jwks.keys.map((k) => k.kid)).size).toBe(2);
    // Same keys as the configuration, in the same order, with no private scalar anywhere in the document.
    const configured = privateKeys();
    expect(jwks.keys.map((k) => k.kid)).toEqual(configured.map((k) => k.kid));
    const text = JSON.stringify(jwks);
    for (const k of configured) expect(text).not.toContain(k.d!);
  });

  it('is cacheable and needs no credential', async () => {
    const res = await call('/.well-known/jwks.json');
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toMatch(/public/);
    await res.body?.cancel();
  });
});

describe('access tokens verify with a standard JOSE client', () => {
  it('a login token verifies with jwtVerify + createLocalJWKSet and carries the documented claims', async () => {
    const owner = await signup('jwks');
    const session = await loginOk(owner.email);
    const jwks = await getJwks();
    const { payload, protectedHeader } = await jwtVerify(session.accessToken, createLocalJWKSet(jwks as { keys: JWK[] }), {
      issuer: ISSUER,
      audience: AUDIENCE,
    });
    expect(protectedHeader).toMatchObject({ alg: 'ES256', typ: 'at+jwt' });
    // The first configured key signs.
    expect(protectedHeader.kid).toBe(jwks.keys[0]!.kid);
    for (const claim of ['sub', 'tid', 'role', 'iss', 'aud', 'iat', 'exp', 'jti']) expect(payload).toHaveProperty(claim);
    expect(payload).toMatchObject({ sub: owner.userId, tid: owner.tenantId, role: 'admin', iss: ISSUER, aud: AUDIENCE });
    expect(payload.exp! - payload.iat!).toBe(900);
    expect(Math.abs(payload.iat! - Date.now() / 1000)).toBeLessThan(120);
    expect(typeof payload.jti).toBe('string');
    // No personal data or secrets in the token.
    expect(JSON.stringify(payload)).not.toContain(owner.email);
  });

  it('tokens from signup and refresh verify the same way; every token has its own jti', async () => {
    const owner = await signup('jwks-refresh');
    const next = await expectJson(await refresh(owner.refreshToken), 200);
    const keySet = createLocalJWKSet((await getJwks()) as { keys: JWK[] });
    const a = await jwtVerify(owner.accessToken, keySet, { issuer: ISSUER, audience: AUDIENCE });
    const b = await jwtVerify(next.accessToken, keySet, { issuer: ISSUER, audience: AUDIENCE });
    expect(b.payload.sub).toBe(owner.userId);
    expect(b.payload.exp! - b.payload.iat!).toBe(900);
    expect(a.payload.jti).not.toBe(b.payload.jti);
    expect(decodeProtectedHeader(next.accessToken).kid).toBe(decodeProtectedHeader(owner.accessToken).kid);
  });

  it('a verifier with the wrong audience or issuer rejects the token (the claims are really set)', async () => {
    const owner = await signup('jwks-neg');
    const keySet = createLocalJWKSet((await getJwks()) as { keys: JWK[] });
    await expect(jwtVerify(owner.accessToken, keySet, { issuer: ISSUER, audience: 'someone-else' })).rejects.toThrow();
    await expect(jwtVerify(owner.accessToken, keySet, { issuer: 'https://other.example', audience: AUDIENCE })).rejects.toThrow();
  });
});
