/**
 * What an experiment can run its examples on: a flow version (each example is a child run of it), or
 * a saved agent's version (each example is a child run of a one-node flow built in memory around
 * the `agent` node, the way a chat turn runs its assistant: src/chat/assistant.ts `turnVersion`).
 * The child-run starters (durable-objects/flow-run/children.ts and the queue's src/flows/child-jobs.ts)
 * load either through `loadChildVersion`.
 */
import { eq } from 'drizzle-orm';
import type { AgentMessage } from '../agents/contract';
import { loadAgentSpec } from '../agents/toolbox';
import { getDb } from '../db/client';
import { tenants } from '../db/schema';
import { DefinitionSchema, type FlowDefinition } from '../flows/definition';
import { type LoadedVersion, loadVersion } from '../flows/runs-service';
import type { ServiceCtx } from '../lib/context';
import { AppError } from '../lib/problem';
import type { ExperimentTarget } from './model';

/** A saved agent pinned to one version. */
export interface AgentRef {
  agentId: string;
  version: number;
}

/** The agent node's id in an agent target's child runs (their events and feedback attributes carry it). */
export const AGENT_NODE_ID = 'agent';

export type TargetInput = { flowId?: string | undefined; agentId?: string | undefined; version?: number | undefined };

export async function resolveExperimentTarget(ctx: ServiceCtx, target: TargetInput): Promise<ExperimentTarget> {
  if (target.agentId !== undefined) {
    const found = await loadAgentSpec(ctx.db, ctx.tenantId, target.agentId, target.version);
    if (found) return { kind: 'agent', agentId: found.id, version: found.version };
    // Another tenant's agent, or none: 404. An agent of the tenant's without that version: 422 on the field.
    if (target.version !== undefined && (await loadAgentSpec(ctx.db, ctx.tenantId, target.agentId)))
      throw new AppError('validation_failed', `Agent ${target.agentId} has no version ${target.version}.`, {
        errors: [
          {
            in: 'body',
            path: 'target.version',
            pointer: '/target/version',
            message: `Agent ${target.agentId} has no version ${target.version}`,
            code: 'unknown_version',
          },
        ],
      });
    throw new AppError('not_found', `Agent ${target.agentId} not found.`);
  }
  const flowId = target.flowId!;
  const v = await loadVersion(ctx.env, ctx.tenantId, flowId, target.version);
  if (!v) throw new AppError('not_found', `Flow ${flowId}${target.version ? ` version ${target.version}` : ''} not found.`);
  return { kind: 'flow', flowId: v.flowId, version: v.version };
}

/** The one-node flow an agent target's example runs: the agent at its pinned version on `input.messages`. */
export function agentDefinition(agent: AgentRef): FlowDefinition {
  return DefinitionSchema.parse({
    input: { type: 'object', properties: { messages: { type: 'array' } }, required: ['messages'] },
    nodes: [{ id: AGENT_NODE_ID, type: 'agent', config: { agentId: agent.agentId, version: agent.version, messages: 'input.messages' } }],
  });
}

/**
 * The version a child run of an agent target runs: the run carries the agent's id and version as its
 * flow id and version (agent ids never collide with flow ids). Null when the tenant has no such agent.
 */
export async function agentVersion(env: Env, tenantId: string, agent: AgentRef): Promise<LoadedVersion | null> {
  const db = getDb(env.DB);
  const [found, tenant] = await Promise.all([
    loadAgentSpec(db, tenantId, agent.agentId, agent.version),
    db.select({ settings: tenants.settings, plan: tenants.plan }).from(tenants).where(eq(tenants.id, tenantId)).get(),
  ]);
  if (!found || !tenant) return null;
  return {
    flowId: agent.agentId,
    version: agent.version,
    definition: agentDefinition(agent),
    settings: tenant.settings ?? {},
    plan: tenant.plan,
  };
}

/** The version a fan-out node's children run: its agent when it names one, else its flow. */
export function loadChildVersion(
  env: Env,
  tenantId: string,
  cfg: { flowId?: string | undefined; version?: number | undefined; agent?: AgentRef | undefined },
): Promise<LoadedVersion | null> {
  if (cfg.agent) return agentVersion(env, tenantId, cfg.agent);
  return loadVersion(env, tenantId, cfg.flowId!, cfg.version);
}

/** What a child of a fan-out node runs, named for error messages. */
export function childTargetName(cfg: { flowId?: string | undefined; agent?: AgentRef | undefined }): string {
  return cfg.agent ? `agent ${cfg.agent.agentId} version ${cfg.agent.version}` : `flow ${cfg.flowId}`;
}

/**
 * An example's input as an agent's conversation: a string is the user's message; an object with
 * `messages` (AgentMessage[]) and/or `prompt` (a string) is that conversation followed by the prompt
 * as the user's message; any other value is sent as its JSON text in one user message.
 */
export function agentInput(input: unknown): { messages: unknown[] } {
  if (typeof input === 'string') return { messages: [{ role: 'user', content: input } satisfies AgentMessage] };
  if (input && typeof input === 'object' && !Array.isArray(input)) {
    const o = input as Record<string, unknown>;
    const messages = Array.isArray(o.messages) ? o.messages : undefined;
    const prompt = typeof o.prompt === 'string' ? o.prompt : undefined;
    if (messages || prompt !== undefined)
      return {
        messages: [...(messages ?? []), ...(prompt !== undefined ? [{ role: 'user', content: prompt } satisfies AgentMessage] : [])],
      };
  }
  return { messages: [{ role: 'user', content: JSON.stringify(input ?? null) } satisfies AgentMessage] };
}

/** An agent's answer as evaluators see it: `{ text, json? }` from the agent node's output. */
export function agentAnswer(output: unknown): unknown {
  const o = (output && typeof output === 'object' ? output : {}) as Record<string, unknown>;
  return { text: typeof o.text === 'string' ? o.text : null, ...(o.json !== undefined ? { json: o.json } : {}) };
}
