/** The EVENTS queue messages. Documented in docs/storage-schema.md. */
import { z } from 'zod';

/** One domain event, as published by a TenantHub's outbox. */
export const EventMessageSchema = z.object({
  id: z.string().min(1),
  type: z.string().regex(/^[a-z_]+(\.[a-z_]+)+$/),
  tenantId: z.string().min(1),
  occurredAt: z.string().datetime(),
  sequence: z.number().int().nonnegative(),
  data: z.record(z.string(), z.unknown()),
});

export type EventMessage = z.infer<typeof EventMessageSchema>;

/**
 * "Make attempt `attempt` of webhook delivery `deliveryId`": sent with a
 * delivery delay for retries (src/events/retry.ts), and at once for replays,
 * recoveries and test events. Duplicates are harmless (compare-and-set on the
 * delivery's attempt counter).
 */
export const DeliveryJobSchema = z.object({
  kind: z.literal('webhook_attempt'),
  deliveryId: z.string().min(1),
  attempt: z.number().int().positive(),
  trigger: z.enum(['auto', 'retry', 'manual', 'recover', 'test']),
});

export type DeliveryJob = z.infer<typeof DeliveryJobSchema>;

export function isDeliveryJob(body: unknown): boolean {
  return typeof body === 'object' && body !== null && (body as { kind?: unknown }).kind === 'webhook_attempt';
}

/**
 * "Start child run `runId` of map node `nodeId`": large map fan-outs go through
 * the queue instead of the parent's object (durable/flows/children.ts). Starting
 * is idempotent per runId, so a duplicate message starts nothing twice.
 */
export const ChildStartJobSchema = z.object({
  kind: z.literal('flow_child_start'),
  tenantId: z.string().min(1),
  parentRunId: z.string().min(1),
  nodeId: z.string().min(1),
  index: z.number().int().nonnegative(),
  runId: z.string().min(1),
  flowId: z.string().min(1),
  version: z.number().int().positive().optional(),
  /** The child runs this saved agent's version instead of flow `flowId` (an experiment on an agent, src/evals/targets.ts). */
  agent: z.object({ agentId: z.string().min(1), version: z.number().int().positive() }).optional(),
  input: z.unknown(),
  /** The child's nesting depth (absent from jobs queued before depths existed: 1). */
  depth: z.number().int().positive().optional(),
  /** The parent run's initiator (src/flows/run-model.ts RunInitiator). */
  initiator: z
    .object({
      actorType: z.enum(['user', 'api_key']),
      actorId: z.string(),
      role: z.enum(['admin', 'member', 'viewer']),
      credentialId: z.string().optional(),
    })
    .optional(),
});

export type ChildStartJob = z.infer<typeof ChildStartJobSchema>;

export function isChildStartJob(body: unknown): boolean {
  return typeof body === 'object' && body !== null && (body as { kind?: unknown }).kind === 'flow_child_start';
}

/**
 * "Index version `version` of knowledge document `documentId`" (src/knowledge/index-job.ts). The
 * staged text lives in the document's KnowledgeShard; a duplicate or stale job changes nothing.
 */
export const KbIndexJobSchema = z.object({
  kind: z.literal('kb_index'),
  tenantId: z.string().min(1),
  knowledgeBaseId: z.string().min(1),
  documentId: z.string().min(1),
  version: z.number().int().positive(),
});

export type KbIndexJob = z.infer<typeof KbIndexJobSchema>;

export function isKbIndexJob(body: unknown): boolean {
  return typeof body === 'object' && body !== null && (body as { kind?: unknown }).kind === 'kb_index';
}

/** "Make attempt `attempt` of email delivery `deliveryId`" (src/email/deliveries.ts); duplicates are no-ops. */
export const EmailAttemptJobSchema = z.object({
  kind: z.literal('email_attempt'),
  deliveryId: z.string().min(1),
  attempt: z.number().int().positive(),
});

export function isEmailAttemptJob(body: unknown): boolean {
  return typeof body === 'object' && body !== null && (body as { kind?: unknown }).kind === 'email_attempt';
}
