/**
 * The seam between agents (resource, loop, `agent` node) and the assistant
 * (chat): the validated agent definition, the provider-neutral conversation
 * format the loop consumes, the model driver interface every model (OpenAI
 * function calling, Workers AI function calling, the deterministic router)
 * implements, the built-in tools' inputs, and the run events and signals an
 * agent node produces and accepts. See docs/agents.md and
 * /work/wt/AGENTS-CONTRACT.md. Change this file first when the seam moves.
 */
import { z } from 'zod';

// ---------------------------------------------------------------------------
// Tools an agent may call

export const BUILTIN_TOOLS = ['createTask', 'completeTask', 'rescheduleTask', 'deleteTask', 'listTasks', 'setReminder', 'askUser'] as const;
export type BuiltinToolName = (typeof BUILTIN_TOOLS)[number];

/** Built-ins that need an approval unless the reference says `requiresApproval: false`. */
export const APPROVAL_BY_DEFAULT: ReadonlySet<BuiltinToolName> = new Set(['deleteTask']);
/** Built-ins the loop never executes: it parks the node until the client answers (signal `{ toolCallId, output }`). */
export const CLIENT_SIDE_TOOLS: ReadonlySet<BuiltinToolName> = new Set(['askUser']);

/** The name a model sees for a tool: what OpenAI and Workers AI accept. */
export const TOOL_NAME_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
const ToolNameOverride = z
  .string()
  .regex(TOOL_NAME_PATTERN, 'Tool names use letters, digits, _ and - (at most 64)')
  .describe('The name the model sees (default: derived from the target)');
const Description = z.string().max(2000).describe('What the model is told the tool does (default: the target’s description)');
const RequiresApproval = z.boolean().describe('Park the run for an approval signal before each call');

export const AgentToolRefSchema = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('tool'),
    toolId: z.string().min(1).max(64),
    version: z.number().int().min(1).optional().describe('Pinned tool version (default: the latest at call time)'),
    name: ToolNameOverride.optional(),
    description: Description.optional(),
    requiresApproval: RequiresApproval.optional(),
  }),
  z.strictObject({
    type: z.literal('flow'),
    flowId: z.string().min(1).max(64),
    name: ToolNameOverride.optional(),
    description: Description.optional(),
    requiresApproval: RequiresApproval.optional(),
  }),
  z.strictObject({
    type: z.literal('agent'),
    agentId: z.string().min(1).max(64),
    name: ToolNameOverride.optional(),
    description: Description.optional(),
    requiresApproval: RequiresApproval.optional(),
  }),
  z.strictObject({
    type: z.literal('knowledge'),
    knowledgeBaseId: z.string().min(1).max(64),
    topK: z.number().int().min(1).max(50).optional().describe('Passages per search (default 5; the model may ask for fewer or more)'),
    mode: z.enum(['hybrid', 'vector', 'keyword']).optional().describe('Search mode (default hybrid)'),
    name: ToolNameOverride.optional(),
    description: Description.optional(),
    requiresApproval: RequiresApproval.optional(),
  }),
  z.strictObject({
    type: z.literal('builtin'),
    name: z.enum(BUILTIN_TOOLS),
    description: Description.optional(),
    requiresApproval: RequiresApproval.optional(),
  }),
]);
export type AgentToolRef = z.infer<typeof AgentToolRefSchema>;

// ---------------------------------------------------------------------------
// The agent definition (a version of an agent, or inline in an agent node)

const JsonSchemaValue = z.union([z.boolean(), z.record(z.string(), z.unknown())]);

export const AGENT_LIMITS = { maxSteps: 50, defaultMaxSteps: 10, maxTools: 64 } as const;

/** The fields of an agent definition (shared by the API body, which adds `description`). */
export const agentSpecShape = {
  name: z.string().trim().min(1).max(200),
  role: z.string().max(2000).default(''),
  goal: z.string().max(2000).default(''),
  instructions: z.string().max(100_000).default(''),
  providers: z
    .array(z.string().min(1).max(64))
    .max(8)
    .default([])
    .describe('Provider names in failover order; empty = the deterministic router model'),
  model: z.string().min(1).max(100).optional().describe("Model alias in each provider's model map (required with providers)"),
  maxSteps: z.number().int().min(1).max(AGENT_LIMITS.maxSteps).default(AGENT_LIMITS.defaultMaxSteps).describe('Model calls per node run'),
  temperature: z.number().min(0).max(2).optional(),
  outputSchema: JsonSchemaValue.optional().describe('JSON Schema the final answer must satisfy (then parsed as JSON)'),
  tools: z.array(AgentToolRefSchema).max(AGENT_LIMITS.maxTools).default([]),
};

/** Cross-field rule: a model alias is needed once providers are named (checked even when other fields fail). */
export const modelRule: [
  (spec: { providers?: unknown; model?: unknown } | null) => boolean,
  { path: string[]; message: string; when: () => boolean },
] = [
  (spec) =>
    !(spec !== null && typeof spec === 'object' && Array.isArray(spec.providers) && spec.providers.length > 0 && spec.model === undefined),
  { path: ['model'], message: 'A model alias is required when providers are named', when: () => true },
];

export const AgentSpecSchema = z.strictObject(agentSpecShape).refine(...modelRule);
export type AgentSpec = z.infer<typeof AgentSpecSchema>;
export type AgentSpecInput = z.input<typeof AgentSpecSchema>;

// ---------------------------------------------------------------------------
// Conversation

export interface ToolCall {
  /** Unique within the run (the provider's id, or one the loop assigned). */
  id: string;
  name: string;
  input: unknown;
}

export const AgentMessageSchema = z.strictObject({
  role: z.enum(['system', 'user', 'assistant', 'tool']),
  content: z.string().max(1_000_000),
  toolCalls: z.array(z.strictObject({ id: z.string().min(1).max(200), name: z.string().min(1).max(64), input: z.unknown() })).optional(),
  toolCallId: z.string().min(1).max(200).optional(),
});
/** OpenAI-like, provider-neutral. A `tool` message answers the assistant's call `toolCallId`; its content is JSON text. */
export interface AgentMessage {
  role: 'system' | 'user' | 'assistant' | 'tool';
  content: string;
  toolCalls?: ToolCall[] | undefined;
  toolCallId?: string | undefined;
}

/** A tool as a model sees it. */
export interface ToolSpec {
  name: string;
  description: string;
  /** JSON Schema of the call's arguments (an object schema). */
  inputSchema: Record<string, unknown>;
}

export interface ModelUsage {
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
  /** True when the provider reported no usage and the counts are estimated. */
  estimated?: boolean | undefined;
}

export interface ModelRequest {
  messages: AgentMessage[];
  tools: ToolSpec[];
  temperature?: number | undefined;
  /** Aborted on node timeout and run cancellation. */
  signal: AbortSignal;
  /** Each text fragment as it streams. */
  onDelta(text: string): void;
  /** A provider failed after streaming text that consumers must discard; `provider` is the next one tried. */
  onReset?(provider: string): void;
  /** Stable per model step: retries of the same step send the same key. */
  idempotencyKey?: string | undefined;
}

export interface ModelReply {
  text: string;
  toolCalls: ToolCall[];
  usage: ModelUsage;
  provider: string;
  model: string;
}

/** One model behind the loop. Throws `ModelError` (or `LlmCallError`/`FailoverError`) on failure. */
export interface ModelDriver {
  name: string;
  next(req: ModelRequest): Promise<ModelReply>;
}

/**
 * The deterministic router model (src/agents/router-model.ts, written on i14-chat) is used when an
 * agent names no provider. It registers itself with `provideRouterModel` from ./router-slot.ts at
 * module load; the agent loop asks the slot, and fails with a `provider` error while it is empty.
 */
export interface RouterModelOptions {
  tenantId: string;
  now: Date;
  /** The run's input (a chat turn puts its messages, timezone and the like here). */
  runInput: unknown;
  /** Who started the run. */
  initiator: { actorType: 'user' | 'api_key'; actorId: string; role: 'admin' | 'member' | 'viewer' } | null;
}
export type RouterModelFactory = (o: RouterModelOptions) => ModelDriver;

// ---------------------------------------------------------------------------
// Built-in tools: their inputs (the router and real models produce these)

const LocalDate = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'Expected a date YYYY-MM-DD');
const Instant = z.iso.datetime({ offset: true });
const TaskId = z.string().min(1).max(64).describe('The task id (tsk_…)');

export const BUILTIN_INPUTS = {
  createTask: z.strictObject({
    title: z.string().trim().min(1).max(500),
    notes: z.string().max(10_000).optional(),
    priority: z.number().int().min(1).max(4).optional().describe('1 = most urgent … 4 = normal'),
    labels: z.array(z.string().min(1).max(64)).max(50).optional(),
    dueDate: LocalDate.optional().describe('All-day due date (exclusive with dueAt)'),
    dueAt: Instant.optional().describe('Due instant, ISO 8601 with offset'),
    timezone: z.string().min(1).max(64).optional().describe('IANA time zone'),
    recurrence: z.string().min(6).max(500).optional().describe('RFC 5545 RRULE without DTSTART'),
  }),
  completeTask: z.strictObject({ taskId: TaskId }),
  rescheduleTask: z.strictObject({
    taskId: TaskId,
    dueDate: LocalDate.nullable().optional().describe('New all-day due date (null clears)'),
    dueAt: Instant.nullable().optional().describe('New due instant (null clears)'),
    timezone: z.string().min(1).max(64).optional(),
  }),
  deleteTask: z.strictObject({ taskId: TaskId }),
  listTasks: z.strictObject({
    status: z.enum(['open', 'done']).optional(),
    dueFrom: z.string().max(40).optional().describe('Date or instant; due on or after'),
    dueTo: z.string().max(40).optional().describe('Date or instant; due on or before'),
    label: z.string().max(64).optional(),
    q: z.string().max(200).optional().describe('Text search in title and notes'),
    limit: z.number().int().min(1).max(100).optional(),
  }),
  setReminder: z.strictObject({
    taskId: TaskId,
    at: Instant.optional().describe('Remind at this instant'),
    before: z.string().min(2).max(32).optional().describe('Or: an ISO 8601 duration before the due time, e.g. PT30M'),
  }),
  askUser: z.strictObject({
    question: z.string().min(1).max(2000),
    options: z.array(z.string().min(1).max(500)).max(20).optional().describe('Choices to offer, if any'),
  }),
} satisfies Record<BuiltinToolName, z.ZodType>;

export const BUILTIN_DESCRIPTIONS: Record<BuiltinToolName, string> = {
  createTask: 'Create a task.',
  completeTask: 'Mark a task as done.',
  rescheduleTask: 'Change when a task is due.',
  deleteTask: 'Delete a task.',
  listTasks: 'List tasks, optionally filtered.',
  setReminder: 'Add a reminder to a task.',
  askUser: 'Ask the user a question when the request is ambiguous; the answer comes back as the result.',
};

// ---------------------------------------------------------------------------
// The agent node

export const AgentNodeConfigSchema = z
  .strictObject({
    agentId: z.string().min(1).max(64).optional(),
    version: z.number().int().min(1).optional().describe('Pinned agent version (default: the latest when the node runs)'),
    agent: AgentSpecSchema.optional().describe('An inline agent definition (instead of agentId)'),
    prompt: z.string().min(1).max(100_000).optional().describe('Template for a user message appended to the conversation'),
    messages: z.string().min(1).max(10_000).optional().describe('JSONata expression yielding AgentMessage[] (the conversation so far)'),
    timeoutMs: z.number().int().min(100).max(600_000).optional().describe('Budget per model call (default 60 s)'),
  })
  .superRefine((c, ctx) => {
    if ((c.agentId === undefined) === (c.agent === undefined))
      ctx.addIssue({ code: 'custom', path: ['agentId'], message: 'Give exactly one of agentId or agent' });
    if (c.version !== undefined && c.agentId === undefined)
      ctx.addIssue({ code: 'custom', path: ['version'], message: 'version pins an agentId' });
    if (c.prompt === undefined && c.messages === undefined)
      ctx.addIssue({ code: 'custom', path: ['prompt'], message: 'Give a prompt, messages, or both' });
  });
export type AgentNodeConfig = z.infer<typeof AgentNodeConfigSchema>;

export interface AgentNodeOutput {
  text: string;
  /** The final answer parsed and validated, when the agent has an outputSchema. */
  json?: unknown;
  /** The messages this node added (assistant and tool messages; the prompt's user message first when given). */
  messages: AgentMessage[];
  /** Model calls made. */
  steps: number;
  usage: { inputTokens: number; outputTokens: number; costUsd: number };
}

// ---------------------------------------------------------------------------
// Run events an agent node appends (each also carries `nodeId`). Events of a delegated agent
// (a manager's tool that is an agent) carry `via`: the manager's toolCallId that delegated; their
// toolCallIds are qualified `<via>><id>`. A chat shows as the answer only `node.delta`s without `via`.

/** `node.delta`: streamed text, or `reset` (discard what this model call streamed so far). */
export type NodeDeltaEvent =
  | { text: string; via?: string }
  | { reset: true; reason: 'failover' | 'retry'; provider?: string; via?: string };

export interface NodeStepEvent {
  step: number;
  kind: 'model' | 'tools';
  status: 'started' | 'finished';
  usage?: ModelUsage & { provider: string; model: string };
  via?: string;
}
export interface NodeToolCallEvent {
  step: number;
  toolCallId: string;
  toolName: string;
  input: unknown;
  requiresApproval: boolean;
  clientSide: boolean;
  via?: string;
}
export interface NodeToolResultEvent {
  step: number;
  toolCallId: string;
  toolName: string;
  output?: unknown;
  error?: { kind: string; message: string };
  denied?: { reason?: string };
  via?: string;
}
/**
 * Extra fields of `node.waiting` when an agent node parks: the calls a signal must answer, and the
 * child runs (flow tools) it waits for. When everything has arrived: `node.resumed`, then the node
 * runs again (`node.started` with `resumed: true`), replaying its stored steps.
 */
export interface AgentWaitingExtra {
  forSignal?: true;
  toolCalls?: Array<{ toolCallId: string; toolName: string; kind: 'approval' | 'client' }>;
  runs?: Array<{ key: string; runId: string }>;
}

/** `node.signalled` for an agent node: the stored answer (`payload`) to one parked call, and who gave it. */
export interface AgentSignalledEvent {
  toolCallId: string;
  payload: { kind: 'approval'; approved: boolean; reason?: string } | { kind: 'client'; output: unknown };
  by: { actorType: 'user' | 'api_key'; actorId: string; role: 'admin' | 'member' | 'viewer' };
}

// ---------------------------------------------------------------------------
// Signals that answer a park: POST /v1/runs/{id}/signal { node, payload } (data:write), or the
// FlowRun's `signal(nodeId, payload, signer)` RPC from a service that already checked the caller.
// The tool's result the model then gets: `{ output }` (client tool, or the approved call's result),
// `{ denied: { reason? } }` (approval refused) or `{ error: { kind, message } }`.

export const AgentSignalSchema = z.union([
  z.strictObject({ toolCallId: z.string().min(1).max(200), approved: z.boolean(), reason: z.string().max(2000).optional() }),
  z.strictObject({ toolCallId: z.string().min(1).max(200), output: z.unknown() }),
]);
export type AgentSignal = z.infer<typeof AgentSignalSchema>;
