/**
 * Attacks on credentials and authorization (RFC 8725 JWT BCP; OWASP API Security Top 10 2023:
 * API1 BOLA, API2 broken authentication, API3 broken object property level authorization / mass
 * assignment, API5 broken function level authorization). Every forged credential answers the same
 * generic 401 problem and changes nothing.
 */
import { env } from 'cloudflare:workers';
import { exportJWK, exportSPKI, generateKeyPair, importJWK, type JWK, SignJWT } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { call, expectJson, expectProblem } from '../../support/workers/http';
import { addMember, createApiKey, PASSWORD, signup, type TestTenant, uniqueEmail } from '../../support/workers/tenants';
import { AUDIENCE, auditCount, b64url, decodeJwtPart, forgeAccessToken, ISSUER, privateKeys, snapshotTenant, tenantName } from './_support';

interface Victim {
  admin: TestTenant;
  member: TestTenant;
}

async function publicJwks(): Promise<JWK[]> {
  return (await expectJson<{ keys: JWK[] }>(await call('/.well-known/jwks.json'), 200)).keys;
}

const now = () => Math.floor(Date.now() / 1000);

function claimsFor(t: TestTenant, role = 'admin') {
  const iat = now();
  return {
    sub: t.userId,
    tid: t.tenantId,
    role,
    iss: ISSUER,
    aud: AUDIENCE,
    iat,
    nbf: iat,
    exp: iat + 900,
    jti: `jti_${crypto.randomUUID()}`,
  };
}

/** header.payload.signature with arbitrary header and payload (no signing). */
function rawJwt(header: Record<string, unknown>, payload: Record<string, unknown>, signature = ''): string {
  return `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}.${signature}`;
}

async function hs256(secret: Uint8Array, kid: string, claims: Record<string, unknown>): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg: 'HS256', kid, typ: 'at+jwt' }).sign(secret);
}

function bytes(s: string): Uint8Array {
  return new TextEncoder().encode(s);
}

function fromB64Url(s: string): Uint8Array {
  const bin = atob(s.replace(/-/g, '+').replace(/_/g, '/'));
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

type Forge = (v: Victim) => Promise<string>;

/** Each builds a token that must be refused with 401. The victim is an admin unless stated. */
const FORGED: Array<[string, Forge]> = [
  ['alg: none (unsecured JWT)', async (v) => rawJwt({ alg: 'none', typ: 'at+jwt' }, claimsFor(v.admin))],
  ['alg: none with a known kid', async (v) => rawJwt({ alg: 'none', typ: 'at+jwt', kid: privateKeys()[0]!.kid }, claimsFor(v.admin))],
  ['alg: None (case variant)', async (v) => rawJwt({ alg: 'None', typ: 'at+jwt', kid: privateKeys()[0]!.kid }, claimsFor(v.admin))],
  [
    'alg: NONE keeping a real signature',
    async (v) => rawJwt({ alg: 'NONE', typ: 'at+jwt', kid: privateKeys()[0]!.kid }, claimsFor(v.admin), v.admin.accessToken.split('.')[2]),
  ],
  [
    'HS256 keyed with the public JWK JSON (algorithm confusion)',
    async (v) => {
      const jwk = (await publicJwks())[0]!;
      return hs256(bytes(JSON.stringify(jwk)), jwk.kid!, claimsFor(v.admin));
    },
  ],
  [
    'HS256 keyed with the public key PEM (algorithm confusion)',
    async (v) => {
      const jwk = (await publicJwks())[0]!;
      const pem = await exportSPKI((await importJWK(jwk, 'ES256', { extractable: true })) as CryptoKey);
      return hs256(bytes(pem), jwk.kid!, claimsFor(v.admin));
    },
  ],
  [
    'HS256 keyed with the raw public point bytes (algorithm confusion)',
    async (v) => {
      const jwk = (await publicJwks())[0]!;
      const point = new Uint8Array([4, ...fromB64Url(jwk.x!), ...fromB64Url(jwk.y!)]);
      return hs256(point, jwk.kid!, claimsFor(v.admin));
    },
  ],
  [
    'expired (valid signature)',
    async (v) => forgeAccessToken({ sub: v.admin.userId, tid: v.admin.tenantId, iat: now() - 3600, exp: now() - 120 }),
  ],
  ['nbf in the future (valid signature)', async (v) => forgeAccessToken({ sub: v.admin.userId, tid: v.admin.tenantId, nbf: now() + 600 })],
  [
    'wrong iss (valid signature)',
    async (v) => forgeAccessToken({ sub: v.admin.userId, tid: v.admin.tenantId, iss: 'https://evil.example' }),
  ],
  ['wrong aud (valid signature)', async (v) => forgeAccessToken({ sub: v.admin.userId, tid: v.admin.tenantId, aud: 'some-other-api' })],
  ['wrong typ (valid signature)', async (v) => forgeAccessToken({ sub: v.admin.userId, tid: v.admin.tenantId, typ: 'JWT' })],
  [
    'unknown kid (valid signature otherwise)',
    async (v) => forgeAccessToken({ sub: v.admin.userId, tid: v.admin.tenantId, kid: 'kid-that-does-not-exist' }),
  ],
  [
    'no kid in the header (valid signature otherwise)',
    async (v) => {
      const [h, p] = (await forgeAccessToken({ sub: v.admin.userId, tid: v.admin.tenantId })).split('.') as [string, string];
      const { kid: _kid, ...header } = decodeJwtPart(h);
      const key = await importJWK({ ...privateKeys()[0]!, alg: 'ES256' }, 'ES256');
      return new SignJWT(decodeJwtPart(p)).setProtectedHeader(header as { alg: string }).sign(key);
    },
  ],
  [
    'role not a known role (valid signature)',
    async (v) => forgeAccessToken({ sub: v.admin.userId, tid: v.admin.tenantId, role: 'superadmin' }),
  ],
  [
    'tampered payload: member flips role to admin, signature kept',
    async (v) => {
      const [h, p, s] = v.member.accessToken.split('.') as [string, string, string];
      return `${h}.${b64url(JSON.stringify({ ...decodeJwtPart(p), role: 'admin' }))}.${s}`;
    },
  ],
  [
    'tampered payload: tid switched to another tenant, signature kept',
    async (v) => {
      const other = await signup('tamper-tid');
      const [h, p, s] = other.accessToken.split('.') as [string, string, string];
      return `${h}.${b64url(JSON.stringify({ ...decodeJwtPart(p), tid: v.admin.tenantId, sub: v.admin.userId }))}.${s}`;
    },
  ],
  [
    'tampered header: kid swapped to the other published key',
    async (v) => {
      const [h, p, s] = v.admin.accessToken.split('.') as [string, string, string];
      return `${b64url(JSON.stringify({ ...decodeJwtPart(h), kid: privateKeys()[1]!.kid }))}.${p}.${s}`;
    },
  ],
  [
    'ES256 signed by a key not in the JWKS, claiming our kid',
    async (v) => {
      const foreign = await exportJWK((await generateKeyPair('ES256', { extractable: true })).privateKey);
      return forgeAccessToken({ sub: v.admin.userId, tid: v.admin.tenantId, key: { ...foreign, kid: privateKeys()[0]!.kid } });
    },
  ],
  [
    'ES256 signed by a foreign key with its own kid',
    async (v) => {
      const foreign = await exportJWK((await generateKeyPair('ES256', { extractable: true })).privateKey);
      return forgeAccessToken({ sub: v.admin.userId, tid: v.admin.tenantId, key: { ...foreign, kid: 'attacker-key' } });
    },
  ],
  [
    'ES256 with the attacker key embedded in the header (jwk header injection)',
    async (v) => {
      const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
      const pub = await exportJWK(publicKey);
      return new SignJWT({ tid: v.admin.tenantId, role: 'admin' })
        .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', jwk: pub })
        .setSubject(v.admin.userId)
        .setIssuer(ISSUER)
        .setAudience(AUDIENCE)
        .setIssuedAt()
        .setExpirationTime('15m')
        .setJti('jti_injected')
        .sign(privateKey);
    },
  ],
  [
    'valid signature for a user who is not a member of the tenant',
    async (v) => forgeAccessToken({ sub: `usr_${'0'.repeat(26)}`, tid: v.admin.tenantId }),
  ],
  [
    'valid signature for a tenant that does not exist',
    async (v) => forgeAccessToken({ sub: v.admin.userId, tid: `tnt_${'0'.repeat(26)}` }),
  ],
  ['not a JWT at all', async () => 'definitely-not-a-token'],
  ['a refresh token used as a bearer', async (v) => v.admin.refreshToken],
];

async function expectRefused(token: string, v: Victim) {
  const res = await call('/v1/me', { token });
  const body = await expectProblem(res, 401);
  expect(body.code).toBe('unauthorized');
  const patch = await call('/v1/tenant', { method: 'PATCH', token, body: { name: 'pwned' } });
  await expectProblem(patch, 401);
  const inv = await call('/v1/invitations', { token, body: { email: uniqueEmail('pwn'), role: 'admin' } });
  await expectProblem(inv, 401);
  const del = await call(`/v1/members/${v.member.userId}`, { method: 'DELETE', token });
  await expectProblem(del, 401);
  return body;
}

describe('forged and invalid access tokens (RFC 8725)', () => {
  let genericBody: Record<string, unknown>;

  beforeAll(async () => {
    // The generic answer every invalid token must match (apart from requestId/instance).
    const res = await call('/v1/me', { token: 'eyJhbGciOiJFUzI1NiJ9.e30.AAAA' });
    const { requestId: _r, instance: _i, ...rest } = (await res.json()) as Record<string, unknown>;
    genericBody = rest;
  });

  it('control: a token forged with the real signing key and valid claims is accepted (the forging works)', async () => {
    const admin = await signup('control');
    const token = await forgeAccessToken({ sub: admin.userId, tid: admin.tenantId, role: 'admin' });
    expect((await call('/v1/me', { token })).status).toBe(200);
    // The second published key verifies too (rotation).
    const second = privateKeys()[1]!;
    const token2 = await forgeAccessToken({ sub: admin.userId, tid: admin.tenantId, key: second });
    expect((await call('/v1/me', { token: token2 })).status).toBe(200);
  });

  it.each(FORGED)('%s → 401 problem+json, nothing changed', async (_label, forge) => {
    const admin = await signup('victim');
    const member = await addMember(admin, 'member');
    const v = { admin, member };
    const token = await forge(v);
    const before = await snapshotTenant(admin.tenantId);
    const name = await tenantName(admin);
    const body = await expectRefused(token, v);
    const { requestId: _r, instance: _i, ...rest } = body;
    expect(rest).toEqual(genericBody);
    expect(await snapshotTenant(admin.tenantId)).toEqual(before);
    expect(await tenantName(admin)).toBe(name);
  });

  it("a removed member's token → 401, nothing changed", async () => {
    const admin = await signup('removed');
    const member = await addMember(admin, 'member');
    const other = await addMember(admin, 'viewer');
    expect((await call('/v1/me', { token: member.accessToken })).status).toBe(200);
    expect((await call(`/v1/members/${member.userId}`, { method: 'DELETE', token: admin.accessToken })).status).toBe(204);
    const before = await snapshotTenant(admin.tenantId);
    await expectRefused(member.accessToken, { admin, member: other });
    expect(await snapshotTenant(admin.tenantId)).toEqual(before);
  });

  it('a token after the membership row is deleted (user left / tenant data removed) → 401', async () => {
    const admin = await signup('left');
    const member = await addMember(admin, 'admin');
    const other = await addMember(admin, 'viewer');
    // Deleted behind the API's back (the token was never used, so nothing about it is cached).
    await env.DB.prepare('DELETE FROM memberships WHERE tenant_id = ?1 AND user_id = ?2').bind(admin.tenantId, member.userId).run();
    const before = await snapshotTenant(admin.tenantId);
    await expectRefused(member.accessToken, { admin, member: other });
    expect(await snapshotTenant(admin.tenantId)).toEqual(before);
    // Refresh re-reads the membership: refused, and the family is revoked.
    await expectProblem(await call('/v1/auth/refresh', { body: { refreshToken: member.refreshToken } }), 401);
    const rows = await env.DB.prepare('SELECT revoked_at FROM refresh_tokens WHERE user_id = ?1')
      .bind(member.userId)
      .all<{ revoked_at: string | null }>();
    expect(rows.results.length).toBeGreaterThan(0);
    expect(rows.results.every((r) => r.revoked_at !== null)).toBe(true);
  });

  it("a deleted user's token → 401", async () => {
    const admin = await signup('deleted-user');
    const member = await addMember(admin, 'member');
    await env.DB.batch([
      env.DB.prepare('DELETE FROM refresh_tokens WHERE user_id = ?1').bind(member.userId),
      env.DB.prepare('DELETE FROM memberships WHERE user_id = ?1').bind(member.userId),
      env.DB.prepare('DELETE FROM users WHERE id = ?1').bind(member.userId),
    ]);
    await expectProblem(await call('/v1/me', { token: member.accessToken }), 401);
  });

  it('malformed Authorization headers → 401', async () => {
    const admin = await signup('malformed');
    for (const header of [
      `Basic ${btoa('a:b')}`,
      `Bearer`,
      `Bearer  ${admin.accessToken} extra`,
      `Token ${admin.accessToken}`,
      `${admin.accessToken}`,
    ]) {
      await expectProblem(await call('/v1/me', { headers: { authorization: header } }), 401);
    }
  });
});

describe('mass assignment (OWASP API3)', () => {
  it('a member PATCHing their own role to admin → 403, role unchanged', async () => {
    const admin = await signup('ma-self');
    const member = await addMember(admin, 'member');
    await expectProblem(
      await call(`/v1/members/${member.userId}`, { method: 'PATCH', token: member.accessToken, body: { role: 'admin' } }),
      403,
    );
    const me = await expectJson(await call('/v1/me', { token: member.accessToken }), 200);
    expect(me.role).toBe('member');
    await expectProblem(await call('/v1/tenant', { method: 'PATCH', token: member.accessToken, body: { name: 'x' } }), 403);
  });

  it.each(['role', 'tenantId', 'plan', 'id', 'isAdmin'])('signup with an extra `%s` → 422 naming it, no account created', async (field) => {
    const email = uniqueEmail('ma-signup');
    const value = field === 'role' ? 'admin' : field === 'plan' ? 'pro' : field === 'isAdmin' ? true : 'tnt_chosen';
    const body = await expectProblem(
      await call('/v1/auth/signup', { body: { email, password: PASSWORD, name: 'M', tenantName: 'M', [field]: value } }),
      422,
    );
    expect(body.errors.map((e: { path: string }) => e.path)).toContain(field);
    expect(body.detail).toContain(field);
    const row = await env.DB.prepare('SELECT COUNT(*) AS n FROM users WHERE email = ?1').bind(email).first<{ n: number }>();
    expect(row?.n).toBe(0);
  });

  it.each([
    ['plan', { plan: 'pro' }],
    ['id', { id: 'tnt_other' }],
    ['plan', { name: 'Legit', plan: 'pro' }],
    ['createdAt', { createdAt: '2000-01-01T00:00:00Z' }],
  ])('PATCH /v1/tenant with `%s` → 422 naming it, nothing changed', async (field, patch) => {
    const admin = await signup('ma-tenant');
    const before = await snapshotTenant(admin.tenantId);
    const body = await expectProblem(await call('/v1/tenant', { method: 'PATCH', token: admin.accessToken, body: patch }), 422);
    expect(body.errors.map((e: { path: string }) => e.path)).toContain(field);
    expect(await snapshotTenant(admin.tenantId)).toEqual(before);
    const t = await expectJson(await call('/v1/tenant', { token: admin.accessToken }), 200);
    expect(t.plan).toBe('free');
    expect(t.id).toBe(admin.tenantId);
  });

  it('extra fields on login, invitation create/accept and member PATCH → 422 naming them', async () => {
    const admin = await signup('ma-other');
    const member = await addMember(admin, 'member');
    const cases: Array<[string, Parameters<typeof call>[1], string]> = [
      ['/v1/auth/login', { body: { email: admin.email, password: PASSWORD, role: 'admin' } }, 'role'],
      ['/v1/invitations', { token: admin.accessToken, body: { email: uniqueEmail('x'), role: 'member', tenantId: 'tnt_x' } }, 'tenantId'],
      ['/v1/invitations/accept', { body: { token: 'inv_x', password: PASSWORD, name: 'X', role: 'admin' } }, 'role'],
      [
        `/v1/members/${member.userId}`,
        { method: 'PATCH', token: admin.accessToken, body: { role: 'member', userId: admin.userId } },
        'userId',
      ],
    ];
    for (const [path, opts, field] of cases) {
      const body = await expectProblem(await call(path, opts), 422);
      expect(
        body.errors.map((e: { path: string }) => e.path),
        path,
      ).toContain(field);
    }
  });
});

// ------------------------------------------------------------------------------------------------
// Function level authorization (OWASP API5): a viewer may write nothing; a member administers nothing.
// ------------------------------------------------------------------------------------------------

interface Targets {
  admin: TestTenant;
  memberId: string;
  invitationId: string;
  apiKeyId: string;
}

type RouteCase = [label: string, build: (t: Targets) => { method: string; path: string; body?: unknown }];

const WRITE_ROUTES: RouteCase[] = [
  ['PATCH /v1/tenant', () => ({ method: 'PATCH', path: '/v1/tenant', body: { name: 'pwned' } })],
  ['POST /v1/invitations', () => ({ method: 'POST', path: '/v1/invitations', body: { email: uniqueEmail('pwn'), role: 'admin' } })],
  ['DELETE /v1/invitations/{id}', (t) => ({ method: 'DELETE', path: `/v1/invitations/${t.invitationId}` })],
  ['POST /v1/api-keys', () => ({ method: 'POST', path: '/v1/api-keys', body: { name: 'pwn', role: 'admin' } })],
  ['DELETE /v1/api-keys/{id}', (t) => ({ method: 'DELETE', path: `/v1/api-keys/${t.apiKeyId}` })],
  ['PATCH /v1/members/{id}', (t) => ({ method: 'PATCH', path: `/v1/members/${t.memberId}`, body: { role: 'admin' } })],
  ['PATCH /v1/members/{admin}', (t) => ({ method: 'PATCH', path: `/v1/members/${t.admin.userId}`, body: { role: 'viewer' } })],
  ['DELETE /v1/members/{id}', (t) => ({ method: 'DELETE', path: `/v1/members/${t.memberId}` })],
  ['DELETE /v1/members/{admin}', (t) => ({ method: 'DELETE', path: `/v1/members/${t.admin.userId}` })],
];

const ADMIN_ROUTES: RouteCase[] = [
  ...WRITE_ROUTES.filter(([label]) => label !== 'PATCH /v1/tenant'),
  ['PATCH /v1/tenant', () => ({ method: 'PATCH', path: '/v1/tenant', body: { name: 'pwned' } })],
  ['GET /v1/api-keys', () => ({ method: 'GET', path: '/v1/api-keys' })],
  ['GET /v1/api-keys/{id}', (t) => ({ method: 'GET', path: `/v1/api-keys/${t.apiKeyId}` })],
  ['GET /v1/invitations', () => ({ method: 'GET', path: '/v1/invitations' })],
  ['GET /v1/invitations/{id}', (t) => ({ method: 'GET', path: `/v1/invitations/${t.invitationId}` })],
  ['GET /v1/audit-log', () => ({ method: 'GET', path: '/v1/audit-log' })],
];

async function seedTargets(): Promise<Targets & { viewer: TestTenant; member: TestTenant }> {
  const admin = await signup('authz');
  const member = await addMember(admin, 'member');
  const viewer = await addMember(admin, 'viewer');
  const inv = await expectJson(
    await call('/v1/invitations', { token: admin.accessToken, body: { email: uniqueEmail('pending'), role: 'member' } }),
    201,
  );
  const key = await createApiKey(admin, 'viewer');
  return { admin, member, viewer, memberId: member.userId, invitationId: inv.id, apiKeyId: key.id };
}

describe.each([
  { who: 'viewer', role: 'viewer' as const, routes: WRITE_ROUTES },
  { who: 'member', role: 'member' as const, routes: ADMIN_ROUTES },
])('a $who may not use routes above its role (403, nothing changed)', ({ role, routes }) => {
  it.each(['access token', 'API key'])('with its %s', async (credential) => {
    const t = await seedTargets();
    const token = credential === 'API key' ? (await createApiKey(t.admin, role)).key : t[role].accessToken;
    const before = await snapshotTenant(t.admin.tenantId);
    const auditBefore = await auditCount(t.admin.tenantId);
    for (const [label, build] of routes) {
      const r = build(t);
      const res = await call(r.path, { method: r.method, token, body: r.body });
      expect({ route: label, status: res.status }).toEqual({ route: label, status: 403 });
      const body = await expectProblem(res, 403);
      expect(body.code).toBe('forbidden');
    }
    const after = await snapshotTenant(t.admin.tenantId);
    expect(after).toEqual(before);
    expect(await auditCount(t.admin.tenantId)).toBe(auditBefore);
  });
});
