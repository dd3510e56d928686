/**
 * /mcp: the remote MCP server (Streamable HTTP, stateless; docs/mcp.md).
 * POST carries JSON-RPC; GET (a server-initiated stream) and DELETE (ending a
 * session) are 405, as the spec allows a server without sessions or
 * server-initiated messages. Not an OpenAPI operation: MCP describes itself
 * (tools/list).
 *
 * Order: Origin check (DNS rebinding: a browser always sends Origin on these
 * requests, and a foreign one is refused before anything else), then the same
 * `authenticate` guard as every API route (401 with WWW-Authenticate, plan rate
 * limits per tenant and credential, `c.var.ctx`), then the OAuth scopes the
 * message needs (403 `insufficient_scope` for an OAuth token without them; API
 * keys and access JWTs hold every scope), then the MCP server. A 401 names the
 * protected-resource metadata (RFC 9728) so an OAuth client can discover the
 * authorization server.
 */

import { AppError } from '../lib/problem';
import { newRouter } from '../lib/router';
import { scopesNeeded } from '../mcp/scopes';
import { handleMcp } from '../mcp/server';
import { authenticate } from '../middleware/auth';
import { MCP_SCOPES, missingScopes, REQUESTED_SCOPES } from '../oauth/scopes';
import { resourceMetadataUrl } from '../oauth/server';

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);

function hostnameOf(value: string | undefined, withScheme: boolean): string | null {
  if (!value) return null;
  try {
    return new URL(withScheme ? value : `http://${value}`).hostname.toLowerCase();
  } catch {
    return null;
  }
}

/**
 * Origins a browser-based MCP client may call from: one listed in CORS_ORIGINS (never `*`), or a
 * loopback page calling a loopback server (local development). Same-origin alone is not enough: under
 * DNS rebinding the attacker's page is "same origin" with the name it rebound (evil.example → 127.0.0.1),
 * and that name is neither listed nor loopback.
 */
export function originAllowed(origin: string, host: string | undefined, configured: string[]): boolean {
  if (configured.some((o) => o !== '*' && o === origin)) return true;
  const from = hostnameOf(origin, true);
  const to = hostnameOf(host, false);
  return from !== null && to !== null && LOOPBACK.has(from) && LOOPBACK.has(to);
}

export const mcpRoutes = newRouter();

mcpRoutes.use('/mcp', async function mcpOrigin(c, next) {
  const origin = c.req.header('origin');
  if (origin !== undefined && !originAllowed(origin, c.req.header('host'), c.get('config').CORS_ORIGINS)) {
    throw new AppError('forbidden', `Origin '${origin}' may not call /mcp; add it to CORS_ORIGINS to allow a browser client there.`);
  }
  await next();
});

mcpRoutes.use('/mcp', async function mcpChallenge(c, next) {
  await next();
  if (c.res.status !== 401) return;
  // RFC 9728 §5.1 / MCP authorization: point the client at the resource metadata, and ask for the scopes.
  const invalid = c.get('credential') !== undefined ? 'error="invalid_token", ' : '';
  c.res = new Response(c.res.body, c.res);
  c.res.headers.set(
    'www-authenticate',
    `Bearer ${invalid}resource_metadata="${resourceMetadataUrl(new URL(c.req.url).origin)}", scope="${REQUESTED_SCOPES.join(' ')}"`,
  );
});

mcpRoutes.on(['GET', 'DELETE'], '/mcp', () => {
  throw new AppError('method_not_allowed', 'This MCP server is stateless: POST JSON-RPC messages to /mcp.', {
    headers: { allow: 'POST' },
  });
});

mcpRoutes.post('/mcp', authenticate(), async (c) => {
  const parsedBody: unknown = await c.req.json();
  const held = c.var.auth?.scopes;
  const missing = missingScopes(held, scopesNeeded(parsedBody));
  if (missing.length > 0) {
    // RFC 6750 §3.1 and MCP step-up: name every scope the client should hold (what it has plus what it lacks).
    const wanted = MCP_SCOPES.filter((s) => held?.includes(s) || missing.includes(s));
    throw new AppError('forbidden', `This token lacks the scope ${missing.join(' ')}; authorize again with it.`, {
      headers: {
        'www-authenticate': `Bearer error="insufficient_scope", scope="${wanted.join(' ')}", resource_metadata="${resourceMetadataUrl(new URL(c.req.url).origin)}"`,
      },
      extensions: { requiredScopes: missing },
    });
  }
  return handleMcp({ ctx: c.var.ctx, origin: new URL(c.req.url).origin, log: c.get('log') }, c.req.raw, parsedBody);
});
