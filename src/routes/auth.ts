/** /v1/auth: sign-up, login, refresh, logout. Anonymous, throttled per IP and per account. */
import { createRoute } from '@hono/zod-openapi';
import * as authService from '../identity/auth-service';
import { AuthResultSchema, LoginBody, LogoutBody, RefreshBody, SignupBody, TokenPairSchema } from '../identity/schemas';
import { callerOf } from '../lib/context';
import { jsonBody, jsonContent, problemResponses } from '../lib/openapi';
import { newRouter } from '../lib/router';
import { headerCredential } from '../middleware/auth';
import { clientIp, throttle } from '../middleware/rate-limit';

const tags = ['Auth'];

export const authRoutes = newRouter()
  .openapi(
    createRoute({
      method: 'post',
      path: '/v1/auth/signup',
      operationId: 'auth.signup',
      security: [],
      tags,
      summary: 'Create a user, a tenant and an admin membership',
      request: { body: jsonBody(SignupBody) },
      responses: {
        201: jsonContent(AuthResultSchema, 'Signed up and signed in'),
        ...problemResponses([409, 429], { authenticated: false }),
      },
    }),
    async (c) => {
      const body = c.req.valid('json');
      await throttle(c.env.RL_AUTH, [`signup:ip:${clientIp(c.req.raw.headers)}`]);
      return c.json(await authService.signup(c.var.requestCtx, body), 201);
    },
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/v1/auth/login',
      operationId: 'auth.login',
      security: [],
      tags,
      summary: 'Exchange email and password for tokens (for one tenant)',
      request: { body: jsonBody(LoginBody) },
      responses: { 200: jsonContent(AuthResultSchema, 'Signed in'), ...problemResponses([401, 429], { authenticated: false }) },
    }),
    async (c) => {
      const body = c.req.valid('json');
      await throttle(c.env.RL_AUTH, [`login:ip:${clientIp(c.req.raw.headers)}`, `login:account:${authService.normalizeEmail(body.email)}`]);
      return c.json(await authService.login(c.var.requestCtx, body), 200);
    },
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/v1/auth/refresh',
      operationId: 'auth.refresh',
      security: [],
      tags,
      summary: 'Rotate a refresh token into a new token pair',
      description: 'Each refresh token works once. Presenting a used one revokes its whole family.',
      request: { body: jsonBody(RefreshBody) },
      responses: { 200: jsonContent(TokenPairSchema, 'New tokens'), ...problemResponses([401, 429], { authenticated: false }) },
    }),
    async (c) => {
      const body = c.req.valid('json');
      await throttle(c.env.RL_AUTH, [`refresh:ip:${clientIp(c.req.raw.headers)}`]);
      return c.json(await authService.refresh(c.var.requestCtx, body), 200);
    },
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/v1/auth/logout',
      operationId: 'auth.logout',
      // Anonymous with a refresh token; with a bearer and no body it signs out every session.
      security: [{}, { bearerAuth: [] }] as Array<Record<string, string[]>>,
      tags,
      summary: 'Revoke a refresh token family (or, authenticated with no body, all of your sessions in this tenant)',
      request: { body: { required: false, content: { 'application/json': { schema: LogoutBody } } } },
      responses: { 204: { description: 'Signed out' }, ...problemResponses([401], { authenticated: false }) },
    }),
    async (c) => {
      const body = (c.req.valid('json') ?? {}) as { refreshToken?: string };
      const resolved = headerCredential(c.get('credential'));
      // With a refresh token the bearer is optional (often expired at sign-out); without one it must be valid.
      if (resolved && !resolved.ok && !body.refreshToken) throw resolved.error;
      const caller = resolved?.ok ? callerOf(resolved.auth) : undefined;
      await authService.logout(c.var.requestCtx, { refreshToken: body.refreshToken, caller });
      return c.body(null, 204);
    },
  );
