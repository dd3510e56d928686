/** GET /.well-known/jwks.json: public keys that verify access tokens (RFC 7517). */
import { createRoute, z } from '@hono/zod-openapi';
import { publicJwks } from '../identity/jwt';
import { jsonContent, problemResponses } from '../lib/openapi';
import { newRouter } from '../lib/router';

const JwksSchema = z
  .object({
    keys: z.array(
      z.object({
        kty: z.literal('EC'),
        crv: z.literal('P-256'),
        x: z.string(),
        y: z.string(),
        kid: z.string(),
        alg: z.literal('ES256'),
        use: z.literal('sig'),
      }),
    ),
  })
  .openapi('JWKS');

export const jwksRoutes = newRouter().openapi(
  createRoute({
    method: 'get',
    path: '/.well-known/jwks.json',
    operationId: 'auth.jwks',
    security: [],
    tags: ['Auth'],
    summary: 'JSON Web Key Set for verifying access tokens',
    responses: { 200: jsonContent(JwksSchema, 'The key set'), ...problemResponses([], { authenticated: false }) },
  }),
  async (c) => {
    c.header('cache-control', 'public, max-age=300');
    return c.json((await publicJwks(c.get('config').JWT_PRIVATE_KEYS)) as z.infer<typeof JwksSchema>, 200);
  },
);
