/** Smoke test of identity over real HTTP: migrations, test secrets and tokens work end to end. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_TEST_SECRETS } from '../support/node/secrets';
import { type RunningWorker, startWorker } from '../support/node/worker';

let worker: RunningWorker;
beforeAll(async () => {
  worker = await startWorker();
});
afterAll(() => worker?.dispose());

const json = (body: unknown): RequestInit => ({
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(body),
});

describe('identity over HTTP', () => {
  it('publishes both test signing keys without their private parts', async () => {
    const res = await worker.fetch('/.well-known/jwks.json');
    expect(res.status).toBe(200);
    const { keys } = (await res.json()) as { keys: Array<Record<string, unknown>> };
    expect(keys.map((k) => k.kid)).toEqual(['test-k1', 'test-k2']);
    for (const key of keys) expect(key).not.toHaveProperty('d');
    expect(JSON.stringify(keys)).not.toContain(JSON.parse(DEFAULT_TEST_SECRETS.JWT_PRIVATE_KEYS)[0].d);
  });

  it('signs up, then reads /v1/me with the access token', async () => {
    const email = `e2e-${crypto.randomUUID()}@example.com`;
    const res = await worker.fetch(
      '/v1/auth/signup',
      json({ email, password: 'correct horse battery staple', name: 'E2E', tenantName: 'E2E Co' }),
    );
    expect(res.status, await res.clone().text()).toBe(201);
    const auth = (await res.json()) as { accessToken: string; tokenType: string; user: { email: string }; tenant: { id: string } };
    expect(auth.tokenType).toBe('Bearer');
    const header = JSON.parse(Buffer.from(auth.accessToken.split('.')[0]!, 'base64url').toString()) as { kid: string; alg: string };
    expect(header).toMatchObject({ alg: 'ES256', kid: 'test-k1' });

    const me = await worker.fetch('/v1/me', { headers: { authorization: `Bearer ${auth.accessToken}` } });
    expect(me.status).toBe(200);
    expect(await me.json()).toMatchObject({ user: { email }, tenant: { id: auth.tenant.id } });
  });

  it('answers /v1/me without a credential with 401 problem+json', async () => {
    const res = await worker.fetch('/v1/me');
    expect(res.status).toBe(401);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  });
});
