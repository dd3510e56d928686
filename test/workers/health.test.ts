import { exports } from 'cloudflare:workers';
import { describe, expect, inject, it } from 'vitest';

describe('health', () => {
  it('GET /health names the service, version and environment', async () => {
    const res = await exports.default.fetch('https://api.test/health');
    expect(res.status).toBe(200);
    const body = await res.json<Record<string, unknown>>();
    expect(body).toMatchObject({ status: 'ok', name: 'edgecrew', environment: 'test' });
    expect(typeof body.version).toBe('string');
    expect(res.headers.get('x-request-id')).toMatch(/.{8,}/);
  });

  it('GET /health/live answers ok', async () => {
    const res = await exports.default.fetch('https://api.test/health/live');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok' });
  });

  it('GET /health/ready checks D1, a Durable Object round trip and the tool runner, naming its sandbox', async () => {
    const res = await exports.default.fetch('https://api.test/health/ready');
    expect(res.status).toBe(200);
    const body = await res.json<{ status: string; checks: Record<string, { status: string; sandbox?: string }> }>();
    expect(body.status).toBe('ok');
    expect(body.checks.d1?.status).toBe('ok');
    expect(body.checks.durableObject?.status).toBe('ok');
    expect(body.checks.toolRunner).toMatchObject({ status: 'ok', sandbox: inject('toolRunnerSandbox') });
  });

  it('GET /health/ready shares one round of checks among anonymous callers for a few seconds (no D1 query per hit)', async () => {
    const bodies = await Promise.all(
      [0, 1, 2, 3].map(async () => (await exports.default.fetch('https://api.test/health/ready')).json<{ checkedAt: string }>()),
    );
    expect(new Set(bodies.map((b) => b.checkedAt)).size).toBe(1);
  });
});
