// OAuth endpoints inside workerd: metadata per origin, no OAuth over plain http on a public host, and
// OAuth-shaped tokens resolved only at /mcp (the full flow runs in test/e2e/mcp-oauth.test.ts).
import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test';
import { env, exports } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import worker from '../../../src/index';
import { BASE, call, expectJson, expectProblem } from '../../support/workers/http';
import { signup } from '../../support/workers/tenants';

describe('OAuth routes', () => {
  it('publish the metadata of the origin they are called on', async () => {
    const prm = await expectJson(await call('/.well-known/oauth-protected-resource/mcp'));
    expect(prm).toMatchObject({ resource: `${BASE}/mcp`, authorization_servers: [BASE] });
    const as = await expectJson(await call('/.well-known/oauth-authorization-server'));
    expect(as).toMatchObject({ issuer: BASE, token_endpoint: `${BASE}/oauth/token`, code_challenge_methods_supported: ['S256'] });
  });

  it('are not served over plain http on a public host (OAuth 2.1 needs TLS)', async () => {
    for (const path of ['/.well-known/oauth-authorization-server', '/.well-known/oauth-protected-resource/mcp', '/oauth/authorize']) {
      await expectProblem(await exports.default.fetch(new Request(`http://api.test${path}`)), 404);
    }
  });

  it('an OAuth-shaped bearer is a 401 outside /mcp and an unknown one a 401 challenge at /mcp', async () => {
    const t = await signup();
    const bogus = `${t.tenantId}.${t.userId}:grant:secret`;
    await expectProblem(await call('/v1/tasks', { token: bogus }), 401);
    const res = await call('/mcp', { token: bogus, body: { jsonrpc: '2.0', id: 1, method: 'ping' } });
    expect(res.headers.get('www-authenticate')).toBe(
      `Bearer error="invalid_token", resource_metadata="${BASE}/.well-known/oauth-protected-resource/mcp", scope="tasks:read tasks:write flows:run tools:invoke"`,
    );
    await expectProblem(res, 401);
  });

  it('discovery, registration and token answer any origin (CORS); /mcp and the API keep CORS_ORIGINS', async () => {
    // A deployment's CORS_ORIGINS (the test config's is '*').
    const deployed = { ...env, CORS_ORIGINS: 'https://console.example' } as unknown as Env;
    const preflight = async (path: string, origin: string) => {
      const ctx = createExecutionContext();
      const res = await worker.fetch(
        new Request(`${BASE}${path}`, {
          method: 'OPTIONS',
          headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
        }),
        deployed,
        ctx,
      );
      await waitOnExecutionContext(ctx);
      return res.headers.get('access-control-allow-origin');
    };
    for (const path of [
      '/oauth/register',
      '/oauth/token',
      '/.well-known/oauth-authorization-server',
      '/.well-known/oauth-protected-resource/mcp',
    ]) {
      expect(await preflight(path, 'https://inspector.example'), path).toBe('*');
    }
    expect(await preflight('/mcp', 'https://inspector.example')).toBeNull();
    expect(await preflight('/v1/tasks', 'https://inspector.example')).toBeNull();
    expect(await preflight('/v1/tasks', 'https://console.example')).toBe('https://console.example');
  });

  it('the consent page refuses a form without a valid ticket', async () => {
    const res = await call('/oauth/authorize', {
      method: 'POST',
      rawBody: new URLSearchParams({ ticket: 'forged.0000', step: 'approve', tenant: 'tnt_x', scope: 'tasks:read' }).toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await res.text()).toContain('This page expired or was changed');
  });
});
