/** /v1/dead-letters: the tenant's queue messages that exhausted their retries, with their re-drive state. Admin only. */
import { createRoute, z } from '@hono/zod-openapi';
import { BearerAuth, jsonContent, problemResponses } from '../lib/openapi';
import { PageQuerySchema, pageSchema } from '../lib/pagination';
import { newRouter } from '../lib/router';
import { listDeadLetters } from '../queue/dead-letters-service';
import { guarded } from './deps';

const Timestamp = z.string().openapi({ format: 'date-time' });

const DeadLetterSchema = z
  .object({
    id: z.string().openapi({ description: 'What the message carried: `evt:<event id>`, `job:<delivery id>:<attempt>`, `child:<run id>`' }),
    kind: z.string().openapi({ example: 'event' }),
    queue: z.enum(['events', 'webhooks']),
    status: z.enum(['pending', 'redriven', 'abandoned']).openapi({
      description: '`pending`: waiting for its next re-drive; `redriven`: sent back to its queue; `abandoned`: out of re-drives',
    }),
    deaths: z.number().int().openapi({ description: 'Times the message exhausted its queue retries' }),
    redrives: z.number().int(),
    maxRedrives: z.number().int(),
    nextRedriveAt: Timestamp.nullable(),
    body: z.unknown().openapi({ description: 'The message body as queued' }),
    createdAt: Timestamp,
    updatedAt: Timestamp,
  })
  .openapi('DeadLetter');

const DeadLetterQuery = PageQuerySchema.extend({
  status: z
    .enum(['pending', 'redriven', 'abandoned'])
    .optional()
    .openapi({ param: { name: 'status', in: 'query' } }),
});

export const deadLetterRoutes = newRouter().openapi(
  createRoute({
    method: 'get',
    path: '/v1/dead-letters',
    operationId: 'deadLetters.list',
    tags: ['Webhooks'],
    summary: "List the tenant's dead letters (events and webhook attempts the queues gave up on), newest first",
    middleware: guarded('webhooks:read'),
    security: BearerAuth,
    request: { query: DeadLetterQuery },
    responses: { 200: jsonContent(pageSchema(DeadLetterSchema, 'DeadLetterPage'), 'Dead letters'), ...problemResponses() },
  }),
  async (c) => c.json(await listDeadLetters(c.var.ctx, c.req.valid('query')), 200),
);
