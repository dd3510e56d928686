/**
 * The OAuth 2.1 authorization server for /mcp (docs/mcp.md "OAuth"): Cloudflare's
 * `@cloudflare/workers-oauth-provider` in its split-role shape, in this Worker. It serves the
 * authorization-server metadata (RFC 8414), the token endpoint (code and refresh grants, PKCE S256
 * only, RFC 8707 resource indicators, RFC 7009 revocation) and dynamic client registration
 * (RFC 7591), accepts Client ID Metadata Documents, and keeps clients, grants and tokens in OAUTH_KV
 * (hashed; props encrypted). Our code owns the consent page (src/routes/oauth.ts) and the resource
 * side: /mcp resolves its tokens in the one credential middleware (src/middleware/auth.ts), so an
 * OAuth call runs through the same rate limits, role checks, services and audit as an API key.
 *
 * The issuer and the one resource (`<origin>/mcp`) are the origin the request came to; the library
 * fixes them at construction, so there is one server per origin (a Worker has a few routes at most).
 */
import { GrantType, OAuthAuthorizationServer, OAuthError, type ValidatedAccessToken } from '@cloudflare/workers-oauth-provider';
import { z } from 'zod';
import { getDb } from '../db/client';
import type { OAuthGrantToken } from '../identity/credentials';
import { ROLES } from '../identity/roles';
import { createLogger } from '../observability/log';
import { memberRole } from './consent-service';
import { MCP_SCOPES, REQUESTED_SCOPES } from './scopes';

export const AUTHORIZE_PATH = '/oauth/authorize';
export const TOKEN_PATH = '/oauth/token';
export const REGISTER_PATH = '/oauth/register';
export const MCP_PATH = '/mcp';
export const PROTECTED_RESOURCE_PATH = '/.well-known/oauth-protected-resource';
export const AUTHORIZATION_SERVER_PATH = '/.well-known/oauth-authorization-server';
/**
 * The OAuth endpoints a browser-based MCP client calls cross-origin (discovery, registration, token):
 * open to any origin (CORS `*`), since they take no ambient credential (no cookie; PKCE binds the
 * code). The consent page is a navigation, not a CORS request; /mcp keeps its Origin rule.
 */
export const OAUTH_CORS_PATHS: ReadonlySet<string> = new Set([
  PROTECTED_RESOURCE_PATH,
  `${PROTECTED_RESOURCE_PATH}${MCP_PATH}`,
  AUTHORIZATION_SERVER_PATH,
  TOKEN_PATH,
  REGISTER_PATH,
]);
/** Access tokens live an hour; a grant (its refresh tokens) 30 days from the code exchange. */
export const ACCESS_TOKEN_TTL_SECONDS = 3600;
export const REFRESH_TOKEN_TTL_SECONDS = 30 * 24 * 3600;

/** What a grant stores (encrypted by the library) and every token of it carries back. */
export const GrantPropsSchema = z.object({
  tenantId: z.string().min(1),
  userId: z.string().min(1),
  role: z.enum(ROLES),
});
export type GrantProps = z.infer<typeof GrantPropsSchema>;

const log = createLogger({ component: 'oauth' });
const MAX_ORIGINS = 8;
const servers = new Map<string, OAuthAuthorizationServer<Env>>();

export const mcpResource = (origin: string) => `${origin}${MCP_PATH}`;
export const resourceMetadataUrl = (origin: string) => `${origin}${PROTECTED_RESOURCE_PATH}${MCP_PATH}`;

/** The grant's user id in the library: tenant and user, so grants for two tenants of one user stay apart (no `:` allowed). */
export const grantUserId = (props: Pick<GrantProps, 'tenantId' | 'userId'>) => `${props.tenantId}.${props.userId}`;

function build(origin: string): OAuthAuthorizationServer<Env> {
  return new OAuthAuthorizationServer<Env>({
    issuer: origin,
    resources: [mcpResource(origin)],
    authorizeEndpoint: AUTHORIZE_PATH,
    tokenEndpoint: TOKEN_PATH,
    clientRegistrationEndpoint: REGISTER_PATH,
    scopesSupported: [...MCP_SCOPES],
    clientIdMetadataDocumentEnabled: true,
    accessTokenTTL: ACCESS_TOKEN_TTL_SECONDS,
    refreshTokenTTL: REFRESH_TOKEN_TTL_SECONDS,
    async tokenExchangeCallback({ grantType, props, env }) {
      // A refresh re-reads the membership, as the API's refresh does: a member who left gets no new tokens.
      if (grantType !== GrantType.REFRESH_TOKEN) return;
      const grant = GrantPropsSchema.safeParse(props);
      const role = grant.success ? await memberRole(getDb(env.DB), grant.data.tenantId, grant.data.userId) : null;
      if (!role) throw new OAuthError('invalid_grant', { description: 'The grant is no longer valid.' });
    },
    onError({ code, status, internal }) {
      // The wire answer stays generic (RFC 6749 §5.2); the reason is for our logs only.
      log.warn('oauth error', { code, status, category: internal.category, reason: internal.reason });
    },
  });
}

/** Whether `origin` can be an OAuth issuer: https, or plain http on a loopback host (local development). */
export function oauthAvailable(origin: string): boolean {
  const { protocol, hostname } = new URL(origin);
  return protocol === 'https:' || (protocol === 'http:' && ['localhost', '127.0.0.1', '[::1]'].includes(hostname));
}

/**
 * The authorization server for the origin a request came to. Callers check `oauthAvailable` first:
 * the library refuses a plain-http issuer that is not loopback (OAuth 2.1 requires TLS).
 */
export function authorizationServer(origin: string): OAuthAuthorizationServer<Env> {
  let server = servers.get(origin);
  if (!server) {
    server = build(origin);
    if (servers.size < MAX_ORIGINS) servers.set(origin, server);
  }
  return server;
}

/** RFC 9728 protected-resource metadata for `<origin>/mcp`. */
export function protectedResourceMetadata(origin: string) {
  return {
    resource: mcpResource(origin),
    authorization_servers: [origin],
    scopes_supported: [...REQUESTED_SCOPES],
    bearer_methods_supported: ['header'],
    resource_name: 'Edgecrew MCP server',
    resource_documentation: `${origin}/docs`,
  };
}

/** A token's grant, or null when the token is not a valid OAuth access token for `<origin>/mcp`. */
export async function validateMcpToken(env: Env, origin: string, token: string): Promise<OAuthGrantToken | null> {
  if (!oauthAvailable(origin)) return null;
  const validated: ValidatedAccessToken<unknown> | null = await authorizationServer(origin).validateToken(mcpResource(origin), token, env);
  if (!validated) return null;
  const props = GrantPropsSchema.safeParse(validated.props);
  if (!props.success) return null;
  // The library's tokens are `<userId>:<grantId>:<secret>`; the grant id names the credential (rate limits, idempotency).
  const grantId = token.split(':')[1] ?? '';
  return { ...props.data, grantId, scope: validated.scope, expiresAt: validated.expiresAt * 1000 };
}
