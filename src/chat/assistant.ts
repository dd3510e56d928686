/**
 * The assistant a chat turn runs: the tenant's own agent (settings.assistantAgentId)
 * or the built-in one below, as a one-node flow run (`agent` node, the
 * conversation as input). The built-in assistant uses the tenant's providers
 * that map the model alias `assistant`, in the order they were added; with none
 * it runs on the deterministic router (src/agents/router-model.ts), so the
 * assistant works with no model at all (docs/assistant.md).
 */
import { asc, eq } from 'drizzle-orm';
import { type AgentMessage, type AgentSpecInput, BUILTIN_TOOLS } from '../agents/contract';
import { clockLine } from '../agents/router-model';
import type { Db } from '../db/client';
import { llmProviders } from '../db/schema';
import { DefinitionSchema, type FlowDefinition } from '../flows/definition';
import type { LoadedVersion } from '../flows/runs-service';
import type { TurnPlan } from './model';

/** The model alias the built-in assistant asks each provider for. */
export const ASSISTANT_MODEL_ALIAS = 'assistant';
/** Runs of chat turns carry this flow id (a system flow: not among the tenant's flows). */
export const ASSISTANT_FLOW_ID = 'assistant';
/** The agent node's id in a turn's run (its events carry it). */
export const ASSISTANT_NODE_ID = 'assistant';

export const ASSISTANT_INSTRUCTIONS = [
  "You are the user's task assistant. You act only through your tools; never claim to have done something a tool did not do.",
  'Create, complete, reschedule, delete and list tasks, and set reminders, as asked. Dates and times are in the user’s time zone (stated below) unless they say otherwise.',
  'To act on an existing task, find it with listTasks first. When several tasks could be meant, call askUser with the candidates as options instead of guessing.',
  'Deleting needs the user’s approval: the app asks them; if they deny, say so and do nothing else.',
  'Answer briefly.',
].join('\n');

/** The built-in assistant's definition for a tenant whose providers are `providers` (may be none). */
export function defaultAssistant(providers: string[]): AgentSpecInput {
  return {
    name: 'Assistant',
    role: 'Task assistant',
    goal: 'Keep the user’s tasks in order by doing what they ask',
    instructions: ASSISTANT_INSTRUCTIONS,
    providers,
    ...(providers.length ? { model: ASSISTANT_MODEL_ALIAS } : {}),
    maxSteps: 8,
    tools: BUILTIN_TOOLS.map((name) => ({ type: 'builtin' as const, name })),
  };
}

/** The tenant's providers that serve the `assistant` alias, oldest first. */
export async function assistantProviders(db: Db, tenantId: string): Promise<string[]> {
  const rows = await db
    .select({ name: llmProviders.name, models: llmProviders.models })
    .from(llmProviders)
    .where(eq(llmProviders.tenantId, tenantId))
    .orderBy(asc(llmProviders.createdAt), asc(llmProviders.id))
    .all();
  return rows.filter((r) => ASSISTANT_MODEL_ALIAS in (r.models ?? {})).map((r) => r.name);
}

/** The one-node flow a turn runs, pinned into the run like any version. */
export function turnVersion(plan: TurnPlan): LoadedVersion {
  const agent = 'agentId' in plan.agent ? { agentId: plan.agent.agentId } : { agent: plan.agent.spec };
  const definition: FlowDefinition = DefinitionSchema.parse({
    input: { type: 'object', properties: { messages: { type: 'array' } }, required: ['messages'] },
    nodes: [{ id: ASSISTANT_NODE_ID, type: 'agent', config: { ...agent, messages: 'input.messages' } }],
  });
  return { flowId: ASSISTANT_FLOW_ID, version: 1, definition, settings: plan.settings, plan: plan.plan };
}

/** The turn's input: the user's clock, then the stored conversation. */
export function turnInput(plan: TurnPlan, now: Date, history: AgentMessage[]): { messages: AgentMessage[] } {
  const clock = `${clockLine(now, plan.timezone.timezone)} The user's time zone is ${plan.timezone.timezone} (${plan.timezone.source === 'utc' ? 'none set: UTC' : `from the ${plan.timezone.source}`}).`;
  return { messages: [{ role: 'system', content: clock }, ...history] };
}
