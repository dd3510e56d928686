/** API schemas for flows and runs (→ OpenAPI). */
import { z } from '@hono/zod-openapi';
import { versionedHeadFields, versionFields } from '../lib/openapi';
import { PageQuerySchema } from '../lib/pagination';
import { DefinitionSchema } from './definition';

const Timestamp = z.string().openapi({ format: 'date-time' });

export const FlowBody = z
  .strictObject({
    name: z.string().trim().min(1).max(200),
    description: z.string().max(2000).nullable().optional(),
    definition: DefinitionSchema,
  })
  .openapi('FlowRequest');

export const FlowSchema = z
  .object({
    ...versionedHeadFields,
    definition: DefinitionSchema.optional(),
  })
  .openapi('Flow');

export const FlowVersionSchema = z.object({ ...versionFields, definition: z.record(z.string(), z.unknown()) }).openapi('FlowVersion');

export const ValidateBody = z.strictObject({ definition: z.unknown() }).openapi('ValidateFlowRequest');
export const ValidateResult = z
  .object({ valid: z.boolean(), problems: z.array(z.object({ path: z.string(), message: z.string(), code: z.string() })) })
  .openapi('ValidateFlowResult');

export const StartRunBody = z
  .strictObject({ input: z.unknown().optional(), version: z.number().int().min(1).optional() })
  .openapi('StartRunRequest');

const UsageSchema = z.object({ inputTokens: z.number(), outputTokens: z.number(), costUsd: z.number() });
const RunStatus = z.enum(['queued', 'running', 'waiting', 'succeeded', 'failed', 'cancelled']);

export const NodeViewSchema = z
  .object({
    id: z.string(),
    type: z.string(),
    status: z.enum(['pending', 'running', 'waiting', 'succeeded', 'failed', 'skipped', 'cancelled']),
    attempts: z.number().int(),
    output: z.unknown(),
    error: z.object({ kind: z.string(), message: z.string() }).passthrough().nullable(),
    branch: z.string().nullable(),
    reused: z.boolean(),
    startedAt: Timestamp.nullable(),
    finishedAt: Timestamp.nullable(),
    durationMs: z.number().nullable(),
    usage: UsageSchema,
  })
  .openapi('RunNode');

export const RunSchema = z
  .object({
    id: z.string(),
    tenantId: z.string(),
    flowId: z.string(),
    flowVersion: z.number().int(),
    status: RunStatus,
    input: z.unknown(),
    output: z.unknown(),
    error: z.string().nullable(),
    parent: z
      .object({
        runId: z.string(),
        nodeId: z.string(),
        index: z.number(),
        depth: z.number().int().optional().openapi({ description: 'Nesting depth of this child run (1 = child of a top-level run)' }),
      })
      .nullable(),
    createdAt: Timestamp,
    startedAt: Timestamp.nullable(),
    finishedAt: Timestamp.nullable(),
    durationMs: z.number().nullable(),
    usage: UsageSchema,
    nodes: z.array(NodeViewSchema),
    feedbackToken: z.object({ token: z.string(), expiresAt: Timestamp }).optional().openapi({
      description:
        'GET /v1/runs/{runId} only: a presigned token to rate this run without a credential (POST /v1/feedback/by-token/{token}, 7 days)',
    }),
  })
  .openapi('Run');

export const RunSummarySchema = z
  .object({
    id: z.string(),
    flowId: z.string(),
    flowVersion: z.number().int(),
    status: RunStatus,
    parentRunId: z.string().nullable(),
    rerunOf: z.string().nullable(),
    createdBy: z.string(),
    createdAt: Timestamp,
    startedAt: Timestamp.nullable(),
    finishedAt: Timestamp.nullable(),
    durationMs: z.number().nullable(),
    usage: UsageSchema,
    error: z.string().nullable(),
  })
  .openapi('RunSummary');

export const RunListQuery = PageQuerySchema.extend({
  status: RunStatus.optional().openapi({ param: { name: 'status', in: 'query' } }),
  flowId: z
    .string()
    .max(64)
    .optional()
    .openapi({ param: { name: 'flowId', in: 'query' } }),
});

export const CancelBody = z.strictObject({ reason: z.string().max(500).optional() }).openapi('CancelRunRequest');
export const SignalBody = z
  .strictObject({ node: z.string().max(64).optional(), payload: z.unknown().optional() })
  .openapi('SignalRunRequest');
export const RerunBody = z.strictObject({ fromNode: z.string().min(1).max(64), input: z.unknown().optional() }).openapi('RerunRequest');
