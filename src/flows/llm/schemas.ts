/** Request and response schemas for /v1/llm/providers (zod → OpenAPI). */
import { z } from '@hono/zod-openapi';

/** Flow configs name providers by this, so it stays a plain identifier. */
const ProviderName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/, 'Letters, digits, _ and -, starting with a letter or digit, at most 64 characters')
  .openapi({ example: 'openai-main' });
const ModelAlias = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:/-]{0,99}$/, 'Letters, digits and . _ : / -, at most 100 characters');
const CostPer1M = z.number().min(0).max(1_000_000).openapi({ description: 'USD per 1M tokens' });

export const ModelEntrySchema = z
  .strictObject({
    model: z.string().trim().min(1).max(200).openapi({ description: "The provider's model id", example: 'gpt-4o-mini' }),
    inputCostPer1M: CostPer1M.optional(),
    outputCostPer1M: CostPer1M.optional(),
  })
  .openapi('LlmModelEntry');

const ModelMapSchema = z
  .record(ModelAlias, ModelEntrySchema)
  .refine((m) => Object.keys(m).length >= 1 && Object.keys(m).length <= 100, 'Map between 1 and 100 model aliases')
  .openapi({
    description: 'Our model aliases (used in `llm` node configs) → provider model ids and prices',
    example: { fast: { model: 'gpt-4o-mini', inputCostPer1M: 0.15, outputCostPer1M: 0.6 } },
  });

const OpenAiProviderBody = z.strictObject({
  name: ProviderName,
  kind: z.literal('openai').openapi({ description: 'Any OpenAI-compatible chat-completions HTTP API' }),
  baseUrl: z
    .url({ protocol: /^https?$/ })
    .max(2000)
    .openapi({
      description: 'Base URL; requests go to `{baseUrl}/chat/completions`. https only in staging/production.',
      example: 'https://api.openai.com/v1',
    }),
  apiKey: z
    .string()
    .min(1)
    .max(4096)
    .optional()
    .openapi({ description: 'Sent as a Bearer token; stored encrypted and never returned', format: 'password', writeOnly: true }),
  models: ModelMapSchema,
});

const WorkersAiProviderBody = z.strictObject({
  name: ProviderName,
  kind: z.literal('workers-ai').openapi({ description: "The Worker's own Workers AI binding; no URL or key" }),
  models: ModelMapSchema,
});

export const CreateLlmProviderBody = z
  .discriminatedUnion('kind', [OpenAiProviderBody, WorkersAiProviderBody])
  .openapi('CreateLlmProviderRequest');
export type CreateLlmProviderInput = z.infer<typeof CreateLlmProviderBody>;

export const LlmProviderSchema = z
  .object({
    id: z.string().openapi({ example: 'llm_01hzy0000000000000000000000' }),
    name: z.string(),
    kind: z.enum(['openai', 'workers-ai']),
    baseUrl: z.string().nullable(),
    models: z.record(z.string(), ModelEntrySchema),
    keyHint: z
      .string()
      .nullable()
      .openapi({ description: 'Last 4 characters of the API key (null when there is none or it is too short to hint at)' }),
    createdBy: z.string(),
    createdAt: z.string().openapi({ format: 'date-time' }),
  })
  .openapi('LlmProvider');

export const ProviderIdParam = z.object({
  providerId: z
    .string()
    .min(1)
    .max(64)
    .openapi({ param: { name: 'providerId', in: 'path' }, example: 'llm_01hzy0000000000000000000000' }),
});
