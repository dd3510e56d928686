/** Request and response schemas of /v1/webhooks (zod → OpenAPI). */
import { z } from '@hono/zod-openapi';
import { EVENT_FILTER, isKnownFilter } from './catalog';

const Timestamp = z.string().openapi({ format: 'date-time' });

const Url = z.string().trim().min(1).max(2048).openapi({ format: 'uri', example: 'https://example.com/hooks/edgecrew' });
const EventTypes = z
  .array(
    z
      .string()
      .regex(EVENT_FILTER, 'Use an event type (task.created), a family wildcard (task.*) or *')
      .refine(isKnownFilter, 'Selects no known event type (see docs/api.md "Webhooks and events")'),
  )
  .min(1)
  .max(50)
  .openapi({ example: ['task.*', 'member.role_changed'] });

const Ordering = z.enum(['sequence', 'none']).openapi({
  description:
    "'sequence' (default): first attempts to this endpoint one at a time in sequence order. 'none': up to 16 at once, for receivers that order by `sequence` themselves or need no order",
});

export const CreateWebhookBody = z
  .strictObject({
    url: Url,
    description: z.string().trim().max(200).optional(),
    eventTypes: EventTypes.default(['*']),
    enabled: z.boolean().default(true),
    ordering: Ordering.default('sequence'),
  })
  .openapi('CreateWebhookRequest');

export const UpdateWebhookBody = z
  .strictObject({
    url: Url.optional(),
    description: z.string().trim().max(200).nullable().optional(),
    eventTypes: EventTypes.optional(),
    enabled: z.boolean().optional(),
    ordering: Ordering.optional(),
  })
  .openapi('UpdateWebhookRequest');

export const RotateSecretBody = z
  .strictObject({
    overlapSeconds: z
      .number()
      .int()
      .min(0)
      .max(7 * 24 * 3600)
      .default(24 * 3600)
      .openapi({ description: 'How long deliveries stay signed with the previous secret too (default 24 h, at most 7 days)' }),
  })
  .openapi('RotateWebhookSecretRequest');

export const RecoverBody = z
  .strictObject({ since: z.iso.datetime().openapi({ example: '2026-11-20T00:00:00Z' }) })
  .openapi('RecoverWebhookRequest');

export const WebhookSchema = z
  .object({
    id: z.string().openapi({ example: 'whk_01hzy0000000000000000000000' }),
    url: z.string(),
    description: z.string().nullable(),
    eventTypes: z.array(z.string()),
    enabled: z.boolean(),
    ordering: Ordering,
    disabledReason: z.enum(['manual', 'gone', 'failing']).nullable(),
    disabledAt: Timestamp.nullable(),
    failingSince: Timestamp.nullable(),
    previousSecretExpiresAt: Timestamp.nullable().openapi({
      description: 'While in the future, deliveries carry a signature with the previous secret too',
    }),
    createdAt: Timestamp,
    updatedAt: Timestamp,
  })
  .openapi('Webhook');

export const WebhookWithSecretSchema = WebhookSchema.extend({
  secret: z
    .string()
    .openapi({ description: 'Signing secret (whsec_…), shown only in this response', example: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw' }),
}).openapi('WebhookWithSecret');

export const AttemptSchema = z
  .object({
    attempt: z.number().int(),
    trigger: z.enum(['auto', 'retry', 'manual', 'recover', 'test']),
    startedAt: Timestamp,
    durationMs: z.number().int(),
    statusCode: z.number().int().nullable(),
    error: z.string().nullable(),
    responseExcerpt: z.string().nullable().openapi({ description: 'First 1 KiB of the response body' }),
  })
  .openapi('WebhookAttempt');

export const DeliverySchema = z
  .object({
    id: z.string().openapi({ example: 'dlv_01hzy0000000000000000000000' }),
    endpointId: z.string(),
    eventId: z.string().openapi({ description: 'Also the `webhook-id` header: the same on every attempt, so receivers can deduplicate' }),
    eventType: z.string(),
    sequence: z.number().int(),
    status: z.enum(['pending', 'succeeded', 'failed']),
    attempts: z.number().int(),
    nextAttemptAt: Timestamp.nullable(),
    lastStatusCode: z.number().int().nullable(),
    lastError: z.string().nullable(),
    createdAt: Timestamp,
    updatedAt: Timestamp,
    attemptLog: z.array(AttemptSchema),
  })
  .openapi('WebhookDelivery');

export const DeliveryQuery = z.object({
  status: z
    .enum(['pending', 'succeeded', 'failed'])
    .optional()
    .openapi({ param: { name: 'status', in: 'query' } }),
});

export const RecoverResultSchema = z.object({ recovered: z.number().int() }).openapi('RecoverWebhookResult');
