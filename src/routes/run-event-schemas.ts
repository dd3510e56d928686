/**
 * The run events as clients receive them (`GET /v1/runs/{runId}/events`, one SSE frame each; the run
 * WebSocket sends the same JSON). Documentation only: the FlowRun object writes them
 * (durable-objects/flow-run/), and test/e2e/openapi.test.ts fails when it writes a type not listed here.
 */
import { z } from '@hono/zod-openapi';
import { sseContent } from '../lib/openapi';

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

/** A delegated agent's events carry the id of the manager's call that delegated to it. */
const Via = z.string().openapi({ description: "Set on a delegated agent's events: the manager's tool call id" });

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
    .union([
      z.object({ text: z.string(), via: Via.optional() }),
      z.object({ reset: z.literal(true), reason: z.string(), provider: z.string().optional(), via: Via.optional() }),
    ])
    .openapi({
      description:
        'Streamed output of an llm or agent node; `reset` means discard the text so far (`failover` to `provider`, or `retry` of a model call the object was evicted in)',
    }),
  'node.step': z
    .object({
      step: z.number().int().min(1).openapi({ description: "The agent's model call number (a step's tools share it)" }),
      kind: z.enum(['model', 'tools']),
      status: z.enum(['started', 'finished']),
      usage: z
        .object({ provider: z.string(), model: z.string(), inputTokens: z.number(), outputTokens: z.number(), costUsd: z.number() })
        .optional()
        .openapi({ description: 'A finished model step: what it cost' }),
      via: Via.optional(),
    })
    .openapi({ description: 'An agent node step (docs/agents.md): a model call, or the tool calls it asked for' }),
  'node.tool_call': z.object({
    step: z.number().int().min(1),
    toolCallId: z.string().openapi({ description: 'Answer a parked call with this id in POST /v1/runs/{runId}/signal' }),
    toolName: z.string(),
    input: z.unknown(),
    requiresApproval: z.boolean(),
    clientSide: z.boolean().openapi({ description: 'Runs on the client (askUser): the node parks for its output' }),
    via: Via.optional(),
  }),
  'node.tool_result': z
    .object({
      step: z.number().int().min(1),
      toolCallId: z.string(),
      toolName: z.string(),
      output: z.unknown().optional(),
      error: z.object({ kind: z.string(), message: z.string() }).optional(),
      denied: z.object({ reason: z.string().optional() }).optional(),
      via: Via.optional(),
    })
    .openapi({ description: 'One of `output`, `error` or `denied` (an approval was refused); the model gets it as the tool result' }),
  'node.resumed': z
    .object({ attempt: Attempt })
    .openapi({ description: 'An agent node had every parked call answered (or its child runs ended) and runs again' }),
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
      toolCalls: z
        .array(z.object({ toolCallId: z.string(), toolName: z.string(), kind: z.enum(['approval', 'client']) }))
        .optional()
        .openapi({ description: "An agent node's parked calls: each is answered by a signal { toolCallId, approved | output }" }),
      runs: z
        .array(z.object({ key: z.string(), runId: z.string() }))
        .optional()
        .openapi({ description: "An agent node's flow tools running as child runs" }),
    })
    .passthrough(),
  'node.fanout': z.object({ queued: z.number().int() }),
  'node.child': z.object({ index: z.number().int(), runId: z.string().nullable(), status: z.string(), key: z.string().optional() }),
  'node.signalled': z.object({
    toolCallId: z.string().optional().openapi({ description: 'An agent node: the parked call answered (payload is the stored answer)' }),
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

/** The run's events as an SSE response (GET /v1/runs/{runId}/events; a run started with Accept: text/event-stream). */
export const RUN_EVENT_STREAM = sseContent(
  'Run events (`id` = sequence, `event` = type, `data` = the event as JSON)',
  'RunEventFrame',
  RUN_EVENTS,
);
