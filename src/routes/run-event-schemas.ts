/**
 * The run events as clients receive them (`GET /v1/runs/{runId}/events`, one SSE frame each; the run
 * WebSocket sends the same JSON). Documentation only: the FlowRun object writes them
 * (durable-objects/flow-run/), and test/e2e/openapi.test.ts fails when it writes a type not listed here.
 */
import { z } from '@hono/zod-openapi';

const Timestamp = z.string().openapi({ format: 'date-time' });
const Attempt = z.number().int().min(1);
const NodeErrorSchema = z.object({ kind: z.string(), message: z.string(), details: z.unknown().optional() });
const Terminal = z.object({
  status: z.enum(['succeeded', 'failed', 'cancelled']),
  error: z.string().nullable(),
  output: z.record(z.string(), z.unknown()).openapi({ description: "The sink nodes' outputs by node id" }),
});

/** Payloads (`data`) of events about the whole run; their `nodeId` is null. */
const RUN_PAYLOADS = {
  'run.created': z.object({
    flowId: z.string(),
    flowVersion: z.number().int(),
    reused: z.array(z.string()).openapi({ description: 'Nodes whose outputs a rerun reuses' }),
  }),
  'run.started': z.object({ input: z.unknown() }),
  'run.waiting': z.object({ waitingOn: z.array(z.string()) }),
  'run.resumed': z
    .object({ waitingOn: z.array(z.string()).optional(), from: z.string().optional() })
    .openapi({ description: '`waitingOn` when a wait ends; `from` (the status left) after POST /v1/runs/{runId}/resume' }),
  'run.completed': Terminal,
  'run.failed': Terminal,
  'run.cancelled': Terminal,
};

/** Payloads of events about one node; their `nodeId` names it. */
const NODE_PAYLOADS = {
  'node.started': z.object({
    attempt: Attempt,
    resumed: z.literal(true).optional(),
    routing: z
      .object({
        policy: z.literal('feedback'),
        key: z.string(),
        window: z.string(),
        minSamples: z.number().int(),
        order: z.array(z.string()),
        scores: z.record(z.string(), z.object({ count: z.number().int(), score: z.number() })),
        reordered: z.boolean(),
        error: z.string().optional(),
      })
      .optional()
      .openapi({ description: 'llm nodes routed by feedback: the provider order chosen for this attempt and the scores behind it' }),
  }),
  'node.delta': z
    .union([z.object({ text: z.string() }), z.object({ reset: z.literal(true), reason: z.string(), provider: z.string() })])
    .openapi({ description: 'Streamed output of an llm node; `reset` means discard the text so far (provider failover)' }),
  'node.usage': z.object({
    provider: z.string(),
    model: z.string(),
    inputTokens: z.number(),
    outputTokens: z.number(),
    costUsd: z.number(),
  }),
  'node.waiting': z
    .object({
      until: z.number().optional().openapi({ description: 'A durable sleep ends at this time (ms since epoch)' }),
      forSignal: z.boolean().optional().openapi({ description: 'Waits for POST /v1/runs/{runId}/signal' }),
      timeoutAt: z.number().optional(),
      children: z.number().int().optional().openapi({ description: 'Child runs this node waits for' }),
    })
    .passthrough(),
  'node.fanout': z.object({ queued: z.number().int() }),
  'node.child': z.object({ index: z.number().int(), runId: z.string().nullable(), status: z.string() }),
  'node.signalled': z.object({
    payload: z.unknown(),
    by: z
      .object({ actorType: z.enum(['user', 'api_key']), actorId: z.string(), role: z.enum(['admin', 'member', 'viewer']) })
      .optional()
      .openapi({ description: 'Who signalled, from their credential' }),
  }),
  'node.retrying': z.object({ attempt: Attempt, nextAttempt: Attempt, delayMs: z.number(), error: NodeErrorSchema }),
  'node.succeeded': z.object({ attempt: Attempt, output: z.unknown(), branch: z.string().optional() }),
  'node.failed': z.object({ attempt: Attempt, error: NodeErrorSchema }),
  'node.skipped': z.null(),
  'node.cancelled': z.null(),
};

function envelope(type: string, nodeId: z.ZodType, data: z.ZodType) {
  return z.object({
    seq: z.number().int().min(1).openapi({ description: 'Position in the run event log; also the SSE `id`' }),
    type: z.literal(type),
    nodeId,
    data,
    at: Timestamp,
  });
}

/** Every run event type → the JSON of its frame. */
export const RUN_EVENTS: Record<string, z.ZodType> = Object.fromEntries([
  ...Object.entries(RUN_PAYLOADS).map(([type, data]) => [type, envelope(type, z.null(), data)]),
  ...Object.entries(NODE_PAYLOADS).map(([type, data]) => [type, envelope(type, z.string(), data)]),
]);
