/** Request and response schemas of /v1/feedback-keys and /v1/feedback (zod → OpenAPI). */
import { z } from '@hono/zod-openapi';
import { GROUP_BY } from './model';
import { MAX_TEXT, windowMs } from './rules';
import { TARGET_TYPES } from './targets';

const Timestamp = z.string().openapi({ format: 'date-time' });

export const KeyName = z
  .string()
  .regex(/^[a-z][a-z0-9_.-]{0,63}$/, 'Lower case letters, digits, _ . - (at most 64), starting with a letter')
  .openapi({ example: 'helpful' });

const Window = z
  .string()
  .refine((w) => windowMs(w) !== null, 'A window like 12h or 7d, from 1h to 90d')
  .openapi({ example: '7d' });

const DriftBody = z
  .strictObject({
    window: Window,
    margin: z
      .number()
      .min(0)
      .openapi({ description: "How far (in the key's score units) the mean may fall before it is drift", example: 0.1 }),
    minSamples: z.number().int().min(1).max(100_000).default(20),
  })
  .openapi('FeedbackDriftConfig', {
    description: 'Compare each window of ratings with the one before; a fall past `margin` raises feedback.drift and an admins’ notice',
  });

const Categories = z.array(z.string().min(1).max(64)).min(1).max(50);

export const FeedbackKeyCreateBody = z
  .strictObject({
    key: KeyName,
    type: z.enum(['boolean', 'numeric', 'categorical', 'text']),
    min: z.number().optional().openapi({ description: 'numeric keys: lowest score' }),
    max: z.number().optional().openapi({ description: 'numeric keys: highest score' }),
    categories: Categories.optional().openapi({ description: 'categorical keys: the allowed values' }),
    higherIsBetter: z.boolean().default(true),
    description: z.string().trim().max(500).optional(),
    drift: DriftBody.optional(),
  })
  .openapi('FeedbackKeyRequest');

export const FeedbackKeyPatchBody = z
  .strictObject({
    type: z.enum(['boolean', 'numeric', 'categorical', 'text']).optional(),
    min: z.number().nullable().optional(),
    max: z.number().nullable().optional(),
    categories: Categories.nullable().optional(),
    higherIsBetter: z.boolean().optional(),
    description: z.string().trim().max(500).nullable().optional(),
    drift: DriftBody.nullable().optional(),
  })
  .openapi('FeedbackKeyPatch');

export const FeedbackKeySchema = z
  .object({
    key: z.string(),
    type: z.enum(['boolean', 'numeric', 'categorical', 'text']),
    min: z.number().nullable(),
    max: z.number().nullable(),
    categories: z.array(z.string()).nullable(),
    higherIsBetter: z.boolean(),
    description: z.string().nullable(),
    drift: z.object({ window: z.string(), margin: z.number(), minSamples: z.number().int() }).nullable(),
    createdAt: Timestamp,
    updatedAt: Timestamp,
  })
  .openapi('FeedbackKey');

export const KeyParam = z.object({ key: KeyName.openapi({ param: { name: 'key', in: 'path' } }) });

export const TargetSchema = z
  .strictObject({
    type: z.enum(TARGET_TYPES).openapi({ description: '`chat_message`: an assistant message (`id`) of chat `chatId`' }),
    id: z.string().min(1).max(160).openapi({ example: 'run_01hzy0000000000000000000000' }),
    nodeId: z.string().min(1).max(64).optional().openapi({ description: 'node targets: the node of run `id`' }),
    chatId: z
      .string()
      .min(1)
      .max(128)
      .optional()
      .openapi({ description: 'chat_message targets (required there, refused elsewhere): the chat of message `id`' }),
  })
  .openapi('FeedbackTarget');

const Score = z
  .union([z.number(), z.boolean()])
  .openapi({ description: 'boolean keys: true/false (or 1/0); numeric keys: a number in range' });
const Value = z.string().max(MAX_TEXT).openapi({ description: 'categorical keys: a category; text keys: the text' });
const Comment = z.string().max(MAX_TEXT);
const Correction = z
  .unknown()
  .openapi({ description: 'What the output should have been (any JSON); datasets can take it as the expected output' });
const Source = z.enum(['user', 'api', 'model', 'eval']);

export const FeedbackCreateBody = z
  .strictObject({
    target: TargetSchema,
    key: KeyName,
    score: Score.optional(),
    value: Value.optional(),
    comment: Comment.optional(),
    correction: Correction.optional(),
    source: Source.optional().openapi({ description: 'Default: `user` for a member, `api` for an API key' }),
  })
  .openapi('FeedbackRequest');

export const FeedbackPatchBody = z
  .strictObject({
    score: Score.optional(),
    value: Value.optional(),
    comment: Comment.nullable().optional(),
    correction: Correction.optional(),
  })
  .openapi('FeedbackPatch');

export const ByTokenBody = z
  .strictObject({
    key: KeyName,
    score: Score.optional(),
    value: Value.optional(),
    comment: Comment.optional(),
    correction: Correction.optional(),
    target: TargetSchema.optional().openapi({
      description: 'Optional: when sent it must be the target the token was issued for (403 otherwise)',
    }),
  })
  .openapi('FeedbackByTokenRequest');

export const TokenCreateBody = z
  .strictObject({
    target: TargetSchema,
    subject: z
      .string()
      .min(1)
      .max(128)
      .optional()
      .openapi({ description: 'Your id for the end user: each subject keeps its own rating (default: one rating per target and key)' }),
  })
  .openapi('FeedbackTokenRequest');

export const FeedbackTokenSchema = z
  .object({
    token: z.string().openapi({ description: 'POST /v1/feedback/by-token/{token} with no credential; valid 7 days, for this target only' }),
    expiresAt: Timestamp,
  })
  .openapi('FeedbackToken');

const TargetView = z.object({
  type: z.enum(['run', 'node', 'tool_invocation', 'chat_message']),
  id: z.string(),
  nodeId: z.string().optional(),
  chatId: z.string().optional(),
});

export const FeedbackSchema = z
  .object({
    id: z.string().openapi({ example: 'fbk_01hzy0000000000000000000000' }),
    target: TargetView,
    key: z.string(),
    score: z.number().nullable(),
    value: z.string().nullable(),
    comment: z.string().nullable(),
    correction: z.unknown(),
    source: Source,
    actor: z.object({ type: z.enum(['user', 'api_key', 'token', 'experiment']), id: z.string() }),
    attributes: z
      .object({
        runId: z.string().nullable(),
        flowId: z.string().nullable(),
        flowVersion: z.number().int().nullable(),
        nodeId: z.string().nullable(),
        provider: z.string().nullable(),
        model: z.string().nullable(),
        agentId: z.string().nullable(),
        toolId: z.string().nullable(),
      })
      .openapi({ description: 'Where the rated output came from, read from the target when it was rated' }),
    createdAt: Timestamp,
    updatedAt: Timestamp,
  })
  .openapi('Feedback');

export const FeedbackIdParam = z.object({
  feedbackId: z
    .string()
    .min(1)
    .max(64)
    .openapi({ param: { name: 'feedbackId', in: 'path' }, example: 'fbk_01hzy0000000000000000000000' }),
});

export const TokenParam = z.object({
  token: z
    .string()
    .min(1)
    .max(4096)
    .openapi({ param: { name: 'token', in: 'path' } }),
});

const q = <T extends z.ZodType>(name: string, schema: T) => schema.openapi({ param: { name, in: 'query' } });

export const FeedbackListQuery = z.object({
  targetType: q('targetType', z.enum(TARGET_TYPES).optional()),
  targetId: q('targetId', z.string().min(1).max(160).optional()),
  nodeId: q('nodeId', z.string().min(1).max(64).optional()),
  key: q('key', KeyName.optional()),
  source: q('source', Source.optional()),
  from: q('from', z.iso.datetime().optional()),
  to: q('to', z.iso.datetime().optional()),
  limit: q('limit', z.coerce.number().int().min(1).max(100).default(50)),
  cursor: q('cursor', z.string().max(512).optional()),
});

export const StatsQuerySchema = z.object({
  key: q('key', KeyName),
  groupBy: q('groupBy', z.enum(GROUP_BY).optional()),
  from: q('from', z.iso.datetime().optional()),
  to: q('to', z.iso.datetime().optional()),
  margin: q('margin', z.coerce.number().min(0).optional()),
});

const BucketSchema = z
  .object({
    group: z.union([z.string(), z.number()]).nullable(),
    count: z.number().int(),
    mean: z.number().nullable(),
    positiveRate: z.number().nullable(),
    p50: z.number().nullable(),
    distribution: z.record(z.string(), z.number().int()).nullable(),
    delta: z.number().nullable().optional(),
    drift: z.boolean().optional(),
  })
  .openapi('FeedbackBucket');

export const StatsSchema = z
  .object({
    key: z.string(),
    groupBy: z.enum(GROUP_BY).nullable(),
    from: Timestamp.nullable(),
    to: Timestamp.nullable(),
    total: z.number().int(),
    truncated: z.boolean().openapi({ description: 'More ratings matched than one answer reads (100,000): narrow from/to' }),
    buckets: z.array(BucketSchema),
  })
  .openapi('FeedbackStats');
