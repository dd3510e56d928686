/**
 * OAuth for /mcp from the client's side (docs/mcp.md "OAuth"), over real HTTP: the consent page
 * driven as a browser would (open, sign in, choose tenant and scopes, allow), PKCE, the token
 * endpoint, and a client metadata document served by a local HTTP server (the Worker reaches
 * `https://client.test/…` through `startWorker({ outboundHosts })`).
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PASSWORD } from '../shared/tenants';
import type { RunningWorker } from './worker';

type Json = Record<string, any>;

export const CLIENT_HOST = 'client.test';
/** The client id of the metadata-document client: the URL of its metadata JSON. */
export const CLIENT_ID = `https://${CLIENT_HOST}/oauth/client.json`;

export interface OAuthClientServer {
  /** The client's loopback redirect URI (never called: the tests read the 302). */
  redirectUri: string;
  /** For `startWorker({ outboundHosts })`: `client.test` → this server. */
  outboundHosts: Record<string, string>;
  close(): Promise<void>;
}

/** Serves the client's metadata document (`CLIENT_ID`) from a local HTTP server. */
export async function startOAuthClientServer(): Promise<OAuthClientServer> {
  let redirectUri = '';
  const server = createServer((req, res) => {
    if (req.url !== new URL(CLIENT_ID).pathname) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
    res.end(
      JSON.stringify({
        client_id: CLIENT_ID,
        client_name: 'Edgecrew e2e client',
        client_uri: `https://${CLIENT_HOST}/`,
        redirect_uris: [redirectUri],
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        token_endpoint_auth_method: 'none',
      }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  redirectUri = `${origin}/callback`;
  return {
    redirectUri,
    outboundHosts: { [CLIENT_HOST]: origin },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export interface ConsentChoice {
  tenantId?: string;
  /** The scopes left ticked; default: what the page pre-ticked (the request's). */
  scopes?: string[];
}

export interface ConsentResult {
  location: URL;
  code: string | null;
  /** The sign-in page and the tenant/scope page as served. */
  html: { first: string; second: string };
}

export interface TokenSet {
  access_token: string;
  refresh_token: string;
  scope: string;
  expires_in: number;
}

const unescapeHtml = (s: string) => s.replace(/&#(\d+);/g, (_m, n: string) => String.fromCharCode(Number(n)));
/** The signed `ticket` field of a consent page. */
export const ticketOf = (html: string) => unescapeHtml(/name="ticket" value="([^"]+)"/.exec(html)?.[1] ?? '');
const checkedScopes = (html: string) => [...html.matchAll(/name="scope" value="([^"]+)" checked/g)].map((m) => m[1]!);

export function pkce(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

function fail(what: string, status: number, text: string): never {
  throw new Error(`${what}: ${status} ${text.slice(0, 500)}`);
}

let ips = 0;

/** A browser on the consent page: it keeps the page's cookies and posts its forms. */
export async function openConsent(worker: RunningWorker, authorizationUrl: URL | string) {
  const page = await fetch(authorizationUrl, { redirect: 'manual' });
  const html = await page.text();
  if (page.status !== 200 || !page.headers.get('content-type')?.startsWith('text/html')) fail('consent page', page.status, html);
  const cookie = page.headers
    .getSetCookie()
    .map((c) => c.split(';')[0])
    .join('; ');
  // Its own client address per post, since sign-in is budgeted per IP (RL_AUTH) like login.
  const post = (form: string[][]) =>
    fetch(new URL('/oauth/authorize', worker.url), {
      method: 'POST',
      redirect: 'manual',
      headers: {
        cookie,
        'content-type': 'application/x-www-form-urlencoded',
        'cf-connecting-ip': `10.22.${(++ips % 250) + 1}.${ips >> 8}`,
      },
      body: new URLSearchParams(form),
    });
  return { html, cookie, post };
}

/** The OAuth client side of one Worker: consent, authorization URLs, the token endpoint. */
export function oauthClient(worker: RunningWorker, options: { clientId?: string; redirectUri: string }) {
  const clientId = options.clientId ?? CLIENT_ID;
  const mcpUrl = `${worker.url}/mcp`;

  /** Drives the consent page: sign in as `who`, choose, allow; returns the redirect back to the client. */
  async function consent(authorizationUrl: URL | string, who: { email: string }, choice: ConsentChoice = {}): Promise<ConsentResult> {
    const browser = await openConsent(worker, authorizationUrl);
    const signedIn = await browser.post([
      ['ticket', ticketOf(browser.html)],
      ['step', 'signin'],
      ['email', who.email],
      ['password', PASSWORD],
    ]);
    const second = await signedIn.text();
    if (signedIn.status !== 200) fail('sign-in', signedIn.status, second);
    const tenantId = choice.tenantId ?? /name="tenant" value="([^"]+)"/.exec(second)?.[1] ?? '';
    const scopes = choice.scopes ?? checkedScopes(second);
    const done = await browser.post([
      ['ticket', ticketOf(second)],
      ['step', 'approve'],
      ['tenant', tenantId],
      ...scopes.map((s) => ['scope', s]),
    ]);
    if (done.status !== 302) fail('approve', done.status, await done.text());
    const location = new URL(done.headers.get('location')!);
    return { location, code: location.searchParams.get('code'), html: { first: browser.html, second } };
  }

  function authorizeUrl(params: Record<string, string>): URL {
    const url = new URL('/oauth/authorize', worker.url);
    const all = {
      response_type: 'code',
      client_id: clientId,
      redirect_uri: options.redirectUri,
      state: 'st-1',
      resource: mcpUrl,
      ...params,
    };
    for (const [k, v] of Object.entries(all)) url.searchParams.set(k, v);
    return url;
  }

  async function token(form: Record<string, string>): Promise<{ status: number; body: Json }> {
    const res = await fetch(new URL('/oauth/token', worker.url), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ client_id: clientId, ...form }),
    });
    return { status: res.status, body: (await res.json()) as Json };
  }

  /** A whole code flow with PKCE S256: the tokens for `who`, with `scope` requested and `choice` on the page. */
  async function authorize(who: { email: string }, scope: string, choice: ConsentChoice = {}): Promise<TokenSet & { redirect: URL }> {
    const { verifier, challenge } = pkce();
    const { code, location } = await consent(
      authorizeUrl({ scope, code_challenge: challenge, code_challenge_method: 'S256' }),
      who,
      choice,
    );
    const res = await token({
      grant_type: 'authorization_code',
      code: code ?? '',
      code_verifier: verifier,
      redirect_uri: options.redirectUri,
      resource: mcpUrl,
    });
    if (res.status !== 200) fail('token', res.status, JSON.stringify(res.body));
    return { ...(res.body as TokenSet), redirect: location };
  }

  return { clientId, consent, authorizeUrl, token, authorize };
}

/** Registers a public client dynamically (RFC 7591) with `redirectUri`; its client id. */
export async function registerClient(worker: RunningWorker, redirectUri: string): Promise<string> {
  const res = await fetch(new URL('/oauth/register', worker.url), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ client_name: 'Edgecrew test client', redirect_uris: [redirectUri], token_endpoint_auth_method: 'none' }),
  });
  const body = (await res.json()) as Json;
  if (res.status !== 201) fail('register', res.status, JSON.stringify(body));
  return body.client_id as string;
}
