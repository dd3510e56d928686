/**
 * OAuth 2.1 for /mcp end to end, over real HTTP against the bundled Worker (docs/mcp.md "OAuth"):
 * the official MCP client SDK discovers the authorization server from the 401 (RFC 9728), uses a
 * Client ID Metadata Document served by a local HTTP server (the Worker's fetch of
 * `https://client.test/…` is routed to it), PKCE S256 and a resource indicator; the consent page
 * is driven as a browser would (GET, sign in, pick the tenant and scopes, allow), then the SDK calls
 * tools with the token. Also: PKCE refused without S256 or with a wrong verifier, refresh-token
 * rotation with the provider's grace rule next to the API's own reuse detection, 403
 * insufficient_scope, a viewer who cannot get write scopes, tenant isolation, and the token being
 * good at /mcp only.
 */
import type { OAuthClientProvider } from '@modelcontextprotocol/sdk/client/auth.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { OAuthClientInformationMixed, OAuthClientMetadata, OAuthTokens } from '@modelcontextprotocol/sdk/shared/auth.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api as request } from '../support/node/api';
import {
  CLIENT_HOST,
  CLIENT_ID,
  type ConsentChoice,
  type OAuthClientServer,
  oauthClient,
  openConsent,
  pkce,
  startOAuthClientServer,
  ticketOf,
} from '../support/node/oauth';
import { type RunningWorker, startWorker } from '../support/node/worker';
import { PASSWORD, sessionOf, signupWith, type TestTenant, uniqueEmail } from '../support/shared/tenants';

type Json = Record<string, any>;

let worker: RunningWorker;
let client: OAuthClientServer;
let redirectUri: string;

beforeAll(async () => {
  // The client's side: its metadata document (what `client_id` names) and its loopback redirect URI.
  client = await startOAuthClientServer();
  redirectUri = client.redirectUri;
  worker = await startWorker({ outboundHosts: client.outboundHosts });
});

afterAll(async () => {
  await worker?.dispose();
  await client?.close();
});

const api = (method: string, path: string, token: string | undefined, body?: unknown) => request(worker, method, path, token, body);
const mcpUrl = () => `${worker.url}/mcp`;

let ips = 0;
const signup = (tag: string) =>
  signupWith((p, init) => worker.fetch(p, init), `e2e-oauth-${tag}`, { 'cf-connecting-ip': `10.21.${++ips}.1` });

/** A member of `owner`'s tenant with `role`, through an invitation. */
async function addMember(owner: TestTenant, role: 'member' | 'viewer'): Promise<TestTenant> {
  const email = uniqueEmail(`oauth-${role}`);
  const inv = await api('POST', '/v1/invitations', owner.accessToken, { email, role });
  expect(inv.status).toBe(201);
  const acc = await request(
    worker,
    'POST',
    '/v1/invitations/accept',
    undefined,
    { token: inv.body.token, password: PASSWORD, name: role },
    {
      'cf-connecting-ip': `10.21.${++ips}.2`,
    },
  );
  expect(acc.status).toBe(200);
  return sessionOf(acc.body, email);
}

/** An in-memory OAuth client for the SDK: a CIMD client id, a loopback redirect; the "browser redirect" is recorded. */
class MemoryOAuthClient implements OAuthClientProvider {
  authorizationUrl: URL | undefined;
  #tokens: OAuthTokens | undefined;
  #verifier = '';
  #client: OAuthClientInformationMixed | undefined;
  /** The metadata document's URL; without one the SDK registers the client dynamically (RFC 7591). */
  readonly clientMetadataUrl: string | undefined;
  constructor(options: { metadataDocument: boolean } = { metadataDocument: true }) {
    this.clientMetadataUrl = options.metadataDocument ? CLIENT_ID : undefined;
  }
  get redirectUrl() {
    return redirectUri;
  }
  get clientMetadata(): OAuthClientMetadata {
    return { client_name: 'Edgecrew e2e client', redirect_uris: [redirectUri], token_endpoint_auth_method: 'none' };
  }
  clientInformation() {
    return this.#client;
  }
  saveClientInformation(info: OAuthClientInformationMixed) {
    this.#client = info;
  }
  tokens() {
    return this.#tokens;
  }
  saveTokens(tokens: OAuthTokens) {
    this.#tokens = tokens;
  }
  redirectToAuthorization(url: URL) {
    this.authorizationUrl = url;
  }
  saveCodeVerifier(verifier: string) {
    this.#verifier = verifier;
  }
  codeVerifier() {
    return this.#verifier;
  }
}

const kit = () => oauthClient(worker, { redirectUri: client.redirectUri });
const consent = (...args: Parameters<ReturnType<typeof kit>['consent']>) => kit().consent(...args);
const authorizeUrl = (params: Record<string, string>) => kit().authorizeUrl(params);
const token = (form: Record<string, string>) => kit().token(form);

/** A code flow without the SDK (PKCE S256), checking the redirect's `state` and `iss` (RFC 9207). */
async function authorize(who: { email: string }, scope: string, choice: ConsentChoice = {}) {
  const tokens = await kit().authorize(who, scope, choice);
  expect(tokens.redirect.searchParams.get('state')).toBe('st-1');
  expect(tokens.redirect.searchParams.get('iss')).toBe(worker.url);
  return tokens;
}

/** One JSON-RPC POST to /mcp with a bearer token. */
async function rpc(accessToken: string, method: string, params: Json = {}) {
  const res = await worker.fetch('/mcp', {
    method: 'POST',
    headers: { authorization: `Bearer ${accessToken}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: (text ? JSON.parse(text) : {}) as Json };
}

const callTool = (accessToken: string, name: string, args: Json) => rpc(accessToken, 'tools/call', { name, arguments: args });

describe('discovery', () => {
  it('401 from /mcp names the protected-resource metadata, which names this authorization server', async () => {
    const res = await worker.fetch('/mcp', {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
    });
    expect(res.status).toBe(401);
    expect(res.headers.get('content-type')).toMatch(/problem\+json/);
    const challenge = res.headers.get('www-authenticate')!;
    expect(challenge).toContain(`resource_metadata="${worker.url}/.well-known/oauth-protected-resource/mcp"`);
    expect(challenge).toContain('scope="tasks:read tasks:write flows:run tools:invoke"');

    const bad = await rpc('tnt_x.usr_y:grant:secret', 'ping');
    expect(bad.status).toBe(401);
    expect(bad.headers.get('www-authenticate')).toMatch(/^Bearer error="invalid_token", resource_metadata="/);

    for (const path of ['/.well-known/oauth-protected-resource/mcp', '/.well-known/oauth-protected-resource']) {
      const prm = await api('GET', path, undefined);
      expect(prm.status).toBe(200);
      expect(prm.body).toMatchObject({
        resource: mcpUrl(),
        authorization_servers: [worker.url],
        scopes_supported: ['tasks:read', 'tasks:write', 'flows:run', 'tools:invoke'],
        bearer_methods_supported: ['header'],
      });
    }
    const as = await api('GET', '/.well-known/oauth-authorization-server', undefined);
    expect(as.status).toBe(200);
    expect(as.body).toMatchObject({
      issuer: worker.url,
      authorization_endpoint: `${worker.url}/oauth/authorize`,
      token_endpoint: `${worker.url}/oauth/token`,
      registration_endpoint: `${worker.url}/oauth/register`,
      code_challenge_methods_supported: ['S256'],
      client_id_metadata_document_supported: true,
      scopes_supported: ['tasks:read', 'tasks:write', 'flows:run', 'tools:invoke', 'offline_access'],
      response_types_supported: ['code'],
    });
    expect(as.body.grant_types_supported).toEqual(expect.arrayContaining(['authorization_code', 'refresh_token']));
  });
});

describe('the official client SDK through OAuth', () => {
  it('discovers, authorizes with a client metadata document and PKCE, consents, and calls tools', async () => {
    const owner = await signup('sdk');
    const oauth = new MemoryOAuthClient();
    const first = new StreamableHTTPClientTransport(new URL(mcpUrl()), { authProvider: oauth });
    await expect(new Client({ name: 'oauth-e2e', version: '1.0.0' }).connect(first)).rejects.toBeInstanceOf(UnauthorizedError);

    // The SDK asked the "browser" to open our authorization endpoint with PKCE S256 and the resource.
    const url = oauth.authorizationUrl!;
    expect(url.origin + url.pathname).toBe(`${worker.url}/oauth/authorize`);
    expect(url.searchParams.get('client_id')).toBe(CLIENT_ID);
    expect(url.searchParams.get('code_challenge_method')).toBe('S256');
    expect(url.searchParams.get('resource')).toBe(mcpUrl());
    const { code, html } = await consent(url, owner);
    // The page showed the client's verified domain, where the tokens go, and the local-app warning.
    expect(html.first).toContain('Edgecrew e2e client');
    expect(html.first).toContain(`Published by <strong>${CLIENT_HOST}</strong>`);
    expect(html.first).toContain('an app on your computer');
    expect(html.second).toContain(owner.tenantId);
    await first.finishAuth(code!);
    expect(oauth.tokens()?.refresh_token).toBeTruthy();

    const client = new Client({ name: 'oauth-e2e', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(mcpUrl()), { authProvider: oauth }));
    try {
      const { tools } = await client.listTools();
      expect(tools.map((t) => t.name)).toContain('add_tasks');
      const added = (await client.callTool({ name: 'add_tasks', arguments: { tasks: [{ title: 'via OAuth' }] } })) as Json;
      expect(added.isError).toBeFalsy();
      const found = (await client.callTool({ name: 'find_tasks', arguments: { q: 'via OAuth' } })) as Json;
      expect(found.structuredContent.tasks.map((t: Json) => t.title)).toEqual(['via OAuth']);
    } finally {
      await client.close();
    }
    // Through the same services and audit as HTTP: the task is the tenant's, created by the consenting user.
    const listed = await api('GET', '/v1/tasks', owner.accessToken);
    expect(listed.body.data.map((t: Json) => [t.title, t.createdBy])).toEqual([['via OAuth', owner.userId]]);
    const audit = await api('GET', '/v1/audit-log', owner.accessToken);
    expect(audit.body.data.map((e: Json) => e.action)).toContain('oauth.authorized');
  });

  it('registers dynamically (RFC 7591) when the client has no metadata document', async () => {
    const owner = await signup('dcr');
    const oauth = new MemoryOAuthClient({ metadataDocument: false });
    const first = new StreamableHTTPClientTransport(new URL(mcpUrl()), { authProvider: oauth });
    await expect(new Client({ name: 'oauth-e2e', version: '1.0.0' }).connect(first)).rejects.toBeInstanceOf(UnauthorizedError);
    const registered = oauth.clientInformation()!;
    expect(registered.client_id).not.toBe(CLIENT_ID);
    expect(oauth.authorizationUrl!.searchParams.get('client_id')).toBe(registered.client_id);
    const { code, html } = await consent(oauth.authorizationUrl!, owner);
    expect(html.first).toContain('registered itself');
    await first.finishAuth(code!);
    const client = new Client({ name: 'oauth-e2e', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(mcpUrl()), { authProvider: oauth }));
    try {
      const res = (await client.callTool({ name: 'find_tasks', arguments: {} })) as Json;
      expect(res.structuredContent).toMatchObject({ tasks: [] });
    } finally {
      await client.close();
    }
  });
});

describe('PKCE and resource indicators', () => {
  it('refuses a request without S256, a wrong verifier, a reused code, and a foreign resource', async () => {
    const owner = await signup('pkce');
    // No PKCE, or the plain method: the client and its redirect URI are known, so the error goes back to it.
    for (const params of [{}, { code_challenge: 'x'.repeat(43), code_challenge_method: 'plain' }] as Array<Record<string, string>>) {
      const res = await fetch(authorizeUrl({ scope: 'tasks:read', ...params }), { redirect: 'manual' });
      expect(res.status).toBe(302);
      const back = new URL(res.headers.get('location')!);
      expect(back.origin + back.pathname).toBe(redirectUri);
      expect(back.searchParams.get('error')).toBe('invalid_request');
    }
    // An unknown redirect URI is never redirected to.
    const foreign = await fetch(
      authorizeUrl({ redirect_uri: 'https://evil.example/cb', code_challenge: pkce().challenge, code_challenge_method: 'S256' }),
      {
        redirect: 'manual',
      },
    );
    expect(foreign.status).toBe(400);
    // A resource this server does not host.
    const target = await fetch(
      authorizeUrl({ resource: 'https://elsewhere.example/mcp', code_challenge: pkce().challenge, code_challenge_method: 'S256' }),
      { redirect: 'manual' },
    );
    expect(new URL(target.headers.get('location')!).searchParams.get('error')).toBe('invalid_target');

    const { challenge, verifier } = pkce();
    const { code } = await consent(authorizeUrl({ scope: 'tasks:read', code_challenge: challenge, code_challenge_method: 'S256' }), owner);
    const wrong = await token({ grant_type: 'authorization_code', code: code!, code_verifier: pkce().verifier, redirect_uri: redirectUri });
    expect(wrong).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    // The right verifier gets the tokens once; the code never works twice.
    const right = await token({ grant_type: 'authorization_code', code: code!, code_verifier: verifier, redirect_uri: redirectUri });
    expect(right.status).toBe(200);
    const again = await token({ grant_type: 'authorization_code', code: code!, code_verifier: verifier, redirect_uri: redirectUri });
    expect(again).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
  });
});

describe('tokens', () => {
  it('refresh: the previous refresh token works until its successor is used; the API keeps reuse detection', async () => {
    const owner = await signup('refresh');
    const first = await authorize(owner, 'tasks:read offline_access');
    expect(first.scope.split(' ').sort()).toEqual(['offline_access', 'tasks:read']);
    expect(first.expires_in).toBe(3600);
    const r1 = first.refresh_token;

    const a = await token({ grant_type: 'refresh_token', refresh_token: r1 });
    expect(a.status, JSON.stringify(a.body)).toBe(200);
    const r2 = a.body.refresh_token as string;
    expect(r2).not.toBe(r1);
    // A client that lost the answer (or raced itself) presents r1 again: still good, its successor is unused.
    const retried = await token({ grant_type: 'refresh_token', refresh_token: r1 });
    expect(retried.status, JSON.stringify(retried.body)).toBe(200);
    expect((await callTool(retried.body.access_token, 'find_tasks', {})).status).toBe(200);
    // Once the successor is used, the old one is done.
    const b = await token({ grant_type: 'refresh_token', refresh_token: retried.body.refresh_token });
    expect(b.status).toBe(200);
    const late = await token({ grant_type: 'refresh_token', refresh_token: r1 });
    expect(late).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    expect((await callTool(b.body.access_token, 'find_tasks', {})).status).toBe(200);

    // The API's own refresh tokens: a reused one is refused and revokes its family (unchanged).
    const rotated = await api('POST', '/v1/auth/refresh', undefined, { refreshToken: owner.refreshToken });
    expect(rotated.status).toBe(200);
    const reused = await api('POST', '/v1/auth/refresh', undefined, { refreshToken: owner.refreshToken });
    expect(reused.status).toBe(401);
    const family = await api('POST', '/v1/auth/refresh', undefined, { refreshToken: rotated.body.refreshToken });
    expect(family.status).toBe(401);
  });

  it('403 insufficient_scope names the scopes to step up to; the granted ones keep working', async () => {
    const owner = await signup('scope');
    const { access_token } = await authorize(owner, 'tasks:read');
    const read = await callTool(access_token, 'find_tasks', {});
    expect(read.status).toBe(200);
    expect(read.body.result.isError).toBeFalsy();
    for (const [tool, args, scope] of [
      ['add_tasks', { tasks: [{ title: 'x' }] }, 'tasks:write'],
      ['run_flow', { flowId: 'flw_x' }, 'flows:run'],
      ['invoke_tool', { toolId: 'tol_x', input: {} }, 'tools:invoke'],
      ['tool_anything', {}, 'tools:invoke'],
    ] as const) {
      const res = await callTool(access_token, tool, args);
      expect(res.status, tool).toBe(403);
      expect(res.body).toMatchObject({ code: 'forbidden', requiredScopes: [scope] });
      expect(res.headers.get('www-authenticate')).toBe(
        `Bearer error="insufficient_scope", scope="tasks:read ${scope}", resource_metadata="${worker.url}/.well-known/oauth-protected-resource/mcp"`,
      );
    }
    const tasks = await rpc(access_token, 'tasks/list');
    expect(tasks.status).toBe(403);
    // Nothing was written.
    expect((await api('GET', '/v1/tasks', owner.accessToken)).body.data).toEqual([]);
  });

  it("a viewer's consent grants read only, whatever was asked and ticked", async () => {
    const owner = await signup('viewer');
    const viewer = await addMember(owner, 'viewer');
    const granted = await authorize(viewer, 'tasks:read tasks:write flows:run tools:invoke offline_access', {
      scopes: ['tasks:read', 'tasks:write', 'flows:run', 'tools:invoke', 'offline_access'],
    });
    expect(granted.scope.split(' ').sort()).toEqual(['offline_access', 'tasks:read']);
    const write = await callTool(granted.access_token, 'add_tasks', { tasks: [{ title: 'nope' }] });
    expect(write.status).toBe(403);
    expect(write.headers.get('www-authenticate')).toContain('error="insufficient_scope"');
    // A member who unticks everything but offline_access is asked again, not given an empty grant.
    const member = await addMember(owner, 'member');
    const { challenge } = pkce();
    const { html: first, post } = await openConsent(
      worker,
      authorizeUrl({ scope: 'tasks:read', code_challenge: challenge, code_challenge_method: 'S256' }),
    );
    const signedIn = await post([
      ['ticket', ticketOf(first)],
      ['step', 'signin'],
      ['email', member.email],
      ['password', PASSWORD],
    ]);
    const html = await signedIn.text();
    const none = await post([
      ['ticket', ticketOf(html)],
      ['step', 'approve'],
      ['tenant', owner.tenantId],
      ['scope', 'offline_access'],
    ]);
    expect(none.status).toBe(422);
    expect(await none.text()).toContain('Choose at least one permission');
    // A forged ticket or a wrong password never reaches the grant.
    const forged = await post([
      ['ticket', `${ticketOf(html).slice(0, -4)}abcd`],
      ['step', 'approve'],
      ['tenant', owner.tenantId],
      ['scope', 'tasks:read'],
    ]);
    expect(forged.status).toBe(400);
    const badPassword = await post([
      ['ticket', ticketOf(html)],
      ['step', 'signin'],
      ['email', member.email],
      ['password', 'wrong-Passw0rd-x'],
    ]);
    expect(badPassword.status).toBe(401);
  });

  it('tenant isolation: a token acts in the consented tenant only, and only at /mcp', async () => {
    const a = await signup('iso-a');
    const b = await signup('iso-b');
    const mine = await api('POST', '/v1/tasks', a.accessToken, { title: 'tenant A task' });
    const theirs = await api('POST', '/v1/tasks', b.accessToken, { title: 'tenant B task' });
    expect([mine.status, theirs.status]).toEqual([201, 201]);
    const { access_token } = await authorize(a, 'tasks:read tasks:write');

    const found = await callTool(access_token, 'find_tasks', {});
    expect(found.body.result.structuredContent.tasks.map((t: Json) => t.title)).toEqual(['tenant A task']);
    const fetched = await callTool(access_token, 'fetch', { id: theirs.body.id });
    expect(fetched.body.result.isError).toBe(true);
    expect(JSON.parse(fetched.body.result.content[0].text)).toMatchObject({ status: 404 });
    const completed = await callTool(access_token, 'complete_tasks', { ids: [theirs.body.id] });
    expect(completed.body.result.structuredContent.results[0]).toMatchObject({ ok: false, error: { status: 404 } });

    // The token's audience is /mcp: the REST API refuses it.
    expect((await api('GET', '/v1/tasks', access_token)).status).toBe(401);
    // A user picks the tenant on the page; a tenant they are not a member of is refused there.
    const member = await addMember(a, 'member');
    const { challenge } = pkce();
    await expect(
      consent(authorizeUrl({ scope: 'tasks:read', code_challenge: challenge, code_challenge_method: 'S256' }), member, {
        tenantId: b.tenantId,
      }),
    ).rejects.toThrow();
  });

  it("a removed member's grant stops working at once and cannot be refreshed", async () => {
    const owner = await signup('removed');
    const member = await addMember(owner, 'member');
    const { access_token, refresh_token } = await authorize(member, 'tasks:read');
    expect((await callTool(access_token, 'find_tasks', {})).status).toBe(200);
    expect((await api('DELETE', `/v1/members/${member.userId}`, owner.accessToken)).status).toBe(204);
    expect((await callTool(access_token, 'find_tasks', {})).status).toBe(401);
    // And the grant yields no new tokens: a refresh re-reads the membership, as the API's does.
    expect(await token({ grant_type: 'refresh_token', refresh_token })).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
  });
});
