/**
 * OAuth 2.1 for /mcp (docs/mcp.md "OAuth"; src/oauth/server.ts). Mounted before the JSON body rules
 * and the credential middleware (src/app.ts): the token and consent endpoints take form bodies, and
 * none of these routes takes a bearer credential.
 *
 * - `/.well-known/oauth-protected-resource[/mcp]`: RFC 9728 metadata for `<origin>/mcp`.
 * - `/.well-known/oauth-authorization-server`, `/oauth/token`, `/oauth/register`: the library's
 *   (RFC 8414 metadata; code and refresh grants with PKCE S256, RFC 8707, RFC 7009 revocation; RFC 7591).
 * - `/oauth/authorize`: our consent page. GET validates the request (client, exact redirect URI,
 *   PKCE, resource) and shows sign-in; POST `step=signin` checks email and password (throttled as
 *   login) and shows the tenant and scope choice; POST `step=approve` grants (scopes ∩ role) and
 *   redirects to the client with the code; `step=deny` redirects with `access_denied`.
 *   Not OpenAPI operations: OAuth describes itself through the metadata documents.
 */
import { AuthorizationError, CimdFetchError } from '@cloudflare/workers-oauth-provider';
import type { Context } from 'hono';
import * as authService from '../identity/auth-service';
import { pepperOf } from '../identity/context';
import { AppError } from '../lib/problem';
import { newRouter } from '../lib/router';
import { clientIp, throttle } from '../middleware/rate-limit';
import { errorPage, grantPage, signInPage } from '../oauth/consent-page';
import { authorizeGrant } from '../oauth/consent-service';
import { type ConsentTicket, openTicket, sealTicket, TICKET_TTL_MS } from '../oauth/consent-ticket';
import {
  AUTHORIZATION_SERVER_PATH,
  AUTHORIZE_PATH,
  authorizationServer,
  grantUserId,
  MCP_PATH,
  oauthAvailable,
  PROTECTED_RESOURCE_PATH,
  protectedResourceMetadata,
  REGISTER_PATH,
  TOKEN_PATH,
} from '../oauth/server';
import type { AppEnv } from '../types';

export const oauthRoutes = newRouter();

const OAUTH_PATHS = [
  PROTECTED_RESOURCE_PATH,
  `${PROTECTED_RESOURCE_PATH}${MCP_PATH}`,
  AUTHORIZATION_SERVER_PATH,
  TOKEN_PATH,
  REGISTER_PATH,
  AUTHORIZE_PATH,
];

// OAuth 2.1 needs TLS: on a plain-http origin that is not loopback (never the case when deployed) there is no authorization server.
for (const path of OAUTH_PATHS) {
  oauthRoutes.use(path, async function oauthOrigin(c, next) {
    if (!oauthAvailable(new URL(c.req.url).origin))
      throw new AppError('not_found', 'OAuth is served over https (or on a loopback host) only.');
    await next();
  });
}

const originOf = (c: Context<AppEnv>) => new URL(c.req.url).origin;
const oauthApi = (c: Context<AppEnv>) => authorizationServer(originOf(c)).getOAuthApi(c.env);

function html(body: string, status: number, headers?: Headers): Response {
  const out = new Headers(headers);
  out.set('content-type', 'text/html; charset=utf-8');
  out.set('cache-control', 'no-store');
  return new Response(body, { status, headers: out });
}

function redirect(location: string, headers?: Headers): Response {
  const out = new Headers(headers);
  out.set('location', location);
  out.set('cache-control', 'no-store');
  return new Response(null, { status: 302, headers: out });
}

/** The library's validation failures: back to the client only when it vouched for the redirect URI, else a page here. */
function authorizationFailure(err: unknown): Response {
  if (err instanceof AuthorizationError && err.redirectTo) return redirect(err.redirectTo);
  if (err instanceof AuthorizationError) return html(errorPage(err.description), 400);
  if (err instanceof CimdFetchError) return html(errorPage("The app's client metadata document could not be fetched or is invalid."), 400);
  throw err;
}

oauthRoutes.get(PROTECTED_RESOURCE_PATH, (c) => c.json(protectedResourceMetadata(originOf(c))));
oauthRoutes.get(`${PROTECTED_RESOURCE_PATH}${MCP_PATH}`, (c) => c.json(protectedResourceMetadata(originOf(c))));

oauthRoutes.on(['GET', 'POST'], [AUTHORIZATION_SERVER_PATH, TOKEN_PATH, REGISTER_PATH], (c) =>
  // Hono types its execution context more narrowly than the runtime one it wraps.
  authorizationServer(originOf(c)).fetch(c.req.raw, c.env, c.executionCtx as unknown as ExecutionContext),
);

oauthRoutes.get(AUTHORIZE_PATH, async (c) => {
  const oauth = oauthApi(c);
  try {
    const request = await oauth.parseAuthRequest(c.req.raw);
    const details = await oauth.describeConsent(request);
    const consent = await oauth.beginConsent(request);
    const ticket: ConsentTicket = {
      handle: consent.handle,
      exp: c.var.requestCtx.now.getTime() + TICKET_TTL_MS,
      client: {
        id: details.clientId,
        name: details.clientName,
        ...(details.clientDomain ? { domain: details.clientDomain } : {}),
        redirectHost: details.redirectHost,
        loopback: details.redirectIsLoopback,
      },
      requested: details.scope,
    };
    return html(signInPage(ticket, await sealTicket(pepperOf(c.var.config), ticket)), 200, consent.headers);
  } catch (err) {
    return authorizationFailure(err);
  }
});

oauthRoutes.post(AUTHORIZE_PATH, async (c) => {
  const ctx = c.var.requestCtx;
  const pepper = pepperOf(ctx.config);
  const form = await c.req.formData().catch(() => null);
  const ticket = form ? await openTicket(pepper, String(form.get('ticket') ?? ''), ctx.now.getTime()) : null;
  if (!form || !ticket) return html(errorPage('This page expired or was changed. Start connecting again from your app.'), 400);
  const oauth = oauthApi(c);
  const step = String(form.get('step') ?? '');
  try {
    if (step === 'deny') {
      const denied = await oauth.denyConsent(c.req.raw, ticket.handle);
      return new Response(null, { status: 302, headers: denied.headers });
    }
    if (step === 'signin') {
      const email = String(form.get('email') ?? '');
      const password = String(form.get('password') ?? '');
      try {
        await throttle(c.env.RL_AUTH, [`login:ip:${clientIp(c.req.raw.headers)}`, `login:account:${authService.normalizeEmail(email)}`]);
        const account = await authService.verifyAccount(ctx, { email, password });
        const signedIn: ConsentTicket = {
          ...ticket,
          user: { id: account.user.id, email: account.user.email, tenants: account.tenants },
        };
        return html(grantPage(signedIn, await sealTicket(pepper, signedIn)), 200);
      } catch (err) {
        if (!(err instanceof AppError) || (err.code !== 'unauthorized' && err.code !== 'rate_limited')) throw err;
        return html(signInPage(ticket, await sealTicket(pepper, ticket), err.message), err.status, new Headers(err.headers));
      }
    }
    if (step === 'approve' && ticket.user) {
      const tenantId = String(form.get('tenant') ?? '');
      if (!ticket.user.tenants.some((t) => t.id === tenantId)) {
        return html(grantPage(ticket, await sealTicket(pepper, ticket), 'Choose one of your tenants.'), 422);
      }
      const approved = form.getAll('scope').map(String);
      let grant: Awaited<ReturnType<typeof authorizeGrant>>;
      try {
        grant = await authorizeGrant(ctx, { userId: ticket.user.id, tenantId, clientId: ticket.client.id, approved });
      } catch (err) {
        if (!(err instanceof AppError) || err.status >= 500) throw err;
        return html(grantPage(ticket, await sealTicket(pepper, ticket), err.message), err.status);
      }
      const consent = await oauth.approveConsent(c.req.raw, ticket.handle, { scope: grant.scope });
      const { redirectTo } = await oauth.completeAuthorization({
        request: consent.request,
        userId: grantUserId(grant.props),
        metadata: { tenantId: grant.props.tenantId, userId: grant.props.userId },
        scope: grant.scope,
        props: grant.props,
      });
      return redirect(redirectTo, consent.headers);
    }
    return html(errorPage('Unknown step. Start connecting again from your app.'), 400);
  } catch (err) {
    return authorizationFailure(err);
  }
});
