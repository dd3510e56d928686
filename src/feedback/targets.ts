/**
 * What feedback can target, as a registry of resolvers: each proves an id belongs to the tenant
 * (another tenant's id resolves to nothing, answered 404) and reads the attributes stats group by
 * and routing reads (flow, version, node, provider, model, agent). Adding a target type is adding a
 * resolver here. `chat_message` names an assistant message and its chat (`chatId`): the chat's
 * ChatThread proves both are the tenant's and names the run of the message's turn, read like a run
 * target; agent nodes fill `agentId` (and provider, model) through `outputAttributes`.
 */
import { eq } from 'drizzle-orm';
import type { Db } from '../db/client';
import { toolInvocations } from '../db/schema';
import { TenantScope } from '../db/tenant-scope';
import { findRun, runState } from '../flows/run-lookup';
import type { NodeView, RunView } from '../flows/run-model';
import { chatThreadStub } from '../lib/stubs';
import { type FeedbackTarget, NO_ATTRIBUTES, type TargetAttributes, type TargetType } from './model';

export interface ResolveDeps {
  env: Env;
  db: Db;
  tenantId: string;
}

export type Resolved = { ok: true; attributes: TargetAttributes } | { ok: false; reason: 'not_found' | 'node_not_found' | 'gone' };

export interface TargetResolver {
  /** Whether `target.nodeId` is required (node) or must be absent (everything else). */
  nodeId: 'required' | 'absent';
  /** `required`: the target names its chat (chat_message); absent everywhere else. */
  chatId?: 'required';
  resolve(deps: ResolveDeps, target: FeedbackTarget): Promise<Resolved>;
}

/** Attributes an output names itself: llm and agent nodes answer with `provider`, `model` (and `agentId`). */
export function outputAttributes(output: unknown): Pick<TargetAttributes, 'provider' | 'model' | 'agentId'> {
  const o = (output && typeof output === 'object' ? output : {}) as Record<string, unknown>;
  const str = (v: unknown) => (typeof v === 'string' && v.length > 0 ? v : null);
  return { provider: str(o.provider), model: str(o.model), agentId: str(o.agentId) };
}

/** The model node a run's answer came from: the last to finish among those that name a provider. */
export function answeringNode(view: RunView): NodeView | null {
  const named = view.nodes.filter((n) => n.status === 'succeeded' && outputAttributes(n.output).provider !== null);
  named.sort((a, b) => (a.finishedAt ?? '').localeCompare(b.finishedAt ?? ''));
  return named[named.length - 1] ?? null;
}

/** The tenant's run, also in the moment before its D1 index row lands (src/flows/run-lookup.ts). */
function runOf(deps: ResolveDeps, runId: string) {
  return findRun(deps.env, deps.db, deps.tenantId, runId);
}

/** A run's attributes: its flow and version, and the model node that answered (null: not the tenant's run). */
async function runAttributes(deps: ResolveDeps, runId: string): Promise<TargetAttributes | null> {
  const row = await runOf(deps, runId);
  if (!row) return null;
  const view = await runState(deps.env, row.id);
  const answer = view ? answeringNode(view) : null;
  return {
    ...NO_ATTRIBUTES,
    runId: row.id,
    flowId: row.flowId,
    flowVersion: row.flowVersion,
    ...(answer ? { nodeId: answer.id, ...outputAttributes(answer.output) } : {}),
  };
}

const runResolver: TargetResolver = {
  nodeId: 'absent',
  async resolve(deps, target) {
    const attributes = await runAttributes(deps, target.id);
    return attributes ? { ok: true, attributes } : { ok: false, reason: 'not_found' };
  },
};

/** An assistant message: found in its chat's ChatThread (another tenant's chat is not found), rated as its turn's run. */
const chatMessageResolver: TargetResolver = {
  nodeId: 'absent',
  chatId: 'required',
  async resolve(deps, target) {
    const chatId = target.chatId!;
    const found = await chatThreadStub(deps.env, deps.tenantId, chatId).ratedMessage(deps.tenantId, chatId, target.id);
    if (!found.ok) return { ok: false, reason: 'not_found' };
    const attributes = await runAttributes(deps, found.value.runId);
    if (!attributes) return { ok: false, reason: 'not_found' };
    return { ok: true, attributes: { ...attributes, agentId: attributes.agentId ?? found.value.agentId } };
  },
};

const nodeResolver: TargetResolver = {
  nodeId: 'required',
  async resolve(deps, target) {
    const row = await runOf(deps, target.id);
    if (!row) return { ok: false, reason: 'not_found' };
    const view = await runState(deps.env, row.id);
    if (!view) return { ok: false, reason: 'gone' };
    const node = view.nodes.find((n) => n.id === target.nodeId);
    if (!node) return { ok: false, reason: 'node_not_found' };
    return {
      ok: true,
      attributes: {
        ...NO_ATTRIBUTES,
        runId: row.id,
        flowId: row.flowId,
        flowVersion: row.flowVersion,
        nodeId: node.id,
        ...outputAttributes(node.output),
      },
    };
  },
};

const toolInvocationResolver: TargetResolver = {
  nodeId: 'absent',
  async resolve(deps, target) {
    const row = (await new TenantScope(deps.db, deps.tenantId).select(toolInvocations, eq(toolInvocations.id, target.id)).get()) as
      | typeof toolInvocations.$inferSelect
      | undefined;
    if (!row) return { ok: false, reason: 'not_found' };
    return { ok: true, attributes: { ...NO_ATTRIBUTES, toolId: row.toolId } };
  },
};

/** Every target type that can be rated today. */
export const TARGET_RESOLVERS: Partial<Record<TargetType, TargetResolver>> = {
  run: runResolver,
  node: nodeResolver,
  tool_invocation: toolInvocationResolver,
  chat_message: chatMessageResolver,
};

export const TARGET_TYPES = Object.keys(TARGET_RESOLVERS) as [TargetType, ...TargetType[]];
