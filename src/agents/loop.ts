/**
 * The agent loop: the model is called with the conversation and the agent's
 * tools; the tool calls it asks for run concurrently; their results go back to
 * it; until it answers in text (or `maxSteps` model calls are spent). Every
 * model call and every tool call is a durable step (ExecContext.steps), so an
 * attempt re-run after eviction or after a signal replays what is done and
 * never repeats a successful tool call. Calls that need an approval or run on
 * the client (askUser), and flow tools (child runs), park the node; delegation
 * to another agent runs that agent's loop as nested steps.
 */
import { getDb } from '../db/client';
import { parseJsonAnswer, validateAgainst } from '../flows/llm/output';
import { type ExecContext, NodeError, type NodeEvent, type Usage } from '../flows/nodes/types';
import { EmbeddingError } from '../knowledge/embedders';
import { KnowledgeBaseMissing, retrieve } from '../knowledge/retrieve';
import { AppError } from '../lib/problem';
import { invokeTool } from '../tools/invoke';
import { validateValue } from '../tools/json-schema';
import { runBuiltin, type ToolOutcome } from './builtins';
import {
  type AgentMessage,
  type AgentSpec,
  AgentSpecSchema,
  BUILTIN_INPUTS,
  type ModelDriver,
  type ModelReply,
  type ToolCall,
  type ToolSpec,
} from './contract';
import { driverFor } from './drivers';
import { loadAgentSpec, MAX_DELEGATION_DEPTH, type ResolvedTool, resolveTools } from './toolbox';

/** The most of a tool's result the model is given back. */
const MAX_RESULT_CHARS = 100_000;

export interface UsageTotal {
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
}

export interface ParkedCall {
  toolCallId: string;
  toolName: string;
  kind: 'approval' | 'client';
}

export type LoopResult =
  | {
      status: 'done';
      text: string;
      json?: unknown;
      messages: AgentMessage[];
      steps: number;
      usage: UsageTotal;
      /** The provider and model of the final answer (feedback on the output groups by them). */
      provider: string;
      model: string;
    }
  | { status: 'waiting'; toolCalls: ParkedCall[]; runs: Array<{ key: string; runId: string }> };

/** What a parked call's signal stored (durable-objects/flow-run/agent-signals.ts). */
type Answer = { kind: 'approval'; approved: boolean; reason?: string } | { kind: 'client'; output: unknown };

/** A tool call's stored result. */
type CallResult = { output: unknown } | { error: { kind: string; message: string } } | { denied: { reason?: string } };

type CallOutcome = { done: CallResult } | { parked: ParkedCall[]; runs: Array<{ key: string; runId: string }> };

export interface Frame {
  spec: AgentSpec;
  tools: ResolvedTool[];
  driver: ModelDriver;
  /** Step-key prefix: '' for the node's agent, `a:<callId>/…` for a delegated one. */
  prefix: string;
  /** A delegated agent's events carry the qualified id of the call that delegated to it. */
  via?: string | undefined;
  depth: number;
}

export interface LoopOptions {
  ctx: ExecContext;
  /** `agent '<nodeId>'`: the start of every error message. */
  label: string;
  /** Budget per model call (per provider attempt). */
  modelTimeoutMs: number;
}

const zero = (): UsageTotal => ({ inputTokens: 0, outputTokens: 0, costUsd: 0 });
const addTo = (t: UsageTotal, u: { inputTokens: number; outputTokens: number; costUsd: number }) => {
  t.inputTokens += u.inputTokens;
  t.outputTokens += u.outputTokens;
  t.costUsd = Math.round((t.costUsd + u.costUsd) * 1e10) / 1e10;
};

/** The system message: who the agent is, what it is for, how it must answer. */
export function systemPrompt(spec: AgentSpec): string {
  const parts = [`You are ${spec.name}.`];
  if (spec.role) parts.push(`Your role: ${spec.role}`);
  if (spec.goal) parts.push(`Your goal: ${spec.goal}`);
  if (spec.instructions) parts.push(spec.instructions);
  if (spec.outputSchema !== undefined)
    parts.push(
      `When you give your final answer (calling no tool), reply with only a JSON value (no prose, no code fences) that validates against this JSON Schema:\n${JSON.stringify(spec.outputSchema)}`,
    );
  return parts.join('\n\n');
}

export class AgentLoop {
  readonly #o: LoopOptions;

  constructor(o: LoopOptions) {
    this.#o = o;
  }

  get #ctx(): ExecContext {
    return this.#o.ctx;
  }

  /** Runs one agent's loop from its conversation so far; `added` are messages this run contributes (e.g. the prompt). */
  async run(frame: Frame, history: AgentMessage[], added: AgentMessage[]): Promise<LoopResult> {
    const { spec, prefix } = frame;
    const steps = this.#ctx.steps;
    const via = frame.via ? { via: frame.via } : {};
    const messages: AgentMessage[] = [{ role: 'system', content: systemPrompt(spec) }, ...history, ...added];
    const out: AgentMessage[] = [...added];
    const usage = zero();
    const specs: ToolSpec[] = frame.tools.map((t) => ({ name: t.name, description: t.description, inputSchema: t.inputSchema }));
    const byName = new Map(frame.tools.map((t) => [t.name, t]));
    const seenIds = new Set<string>();

    for (let step = 1; ; step++) {
      if (step > spec.maxSteps)
        throw new NodeError('error', `${this.#o.label}: ${spec.name} reached maxSteps (${spec.maxSteps}) without a final answer`, false, {
          maxSteps: spec.maxSteps,
          ...via,
        });
      const reply = await steps.run<ModelReply>(
        `${prefix}m${step}`,
        async ({ interrupted }) => {
          // The object died while this call streamed: what consumers saw of it is discarded.
          if (interrupted) this.#ctx.emitDelta({ reset: true, reason: 'retry', ...via });
          steps.emit({ type: 'node.step', data: { step, kind: 'model', status: 'started', ...via } });
          const r = await frame.driver.next({
            messages,
            tools: specs,
            temperature: spec.temperature,
            signal: this.#ctx.signal,
            idempotencyKey: `${this.#ctx.runId}:${this.#ctx.nodeId}:${prefix}m${step}`,
            onDelta: (text) => this.#ctx.emitDelta({ text, ...via }),
            onReset: (provider) => this.#ctx.emitDelta({ reset: true, reason: 'failover', provider, ...via }),
          });
          return { ...r, toolCalls: uniqueIds(r.toolCalls, step, seenIds) };
        },
        (r) => ({ events: this.#modelEvents(frame, step, r), usage: usageOf(r) }),
      );
      for (const c of reply.toolCalls) seenIds.add(c.id);
      addTo(usage, reply.usage);
      const assistant: AgentMessage = {
        role: 'assistant',
        content: reply.text,
        ...(reply.toolCalls.length ? { toolCalls: reply.toolCalls } : {}),
      };
      messages.push(assistant);
      out.push(assistant);

      if (reply.toolCalls.length === 0) {
        const answeredBy = { provider: reply.provider, model: reply.model };
        if (spec.outputSchema === undefined) return { status: 'done', text: reply.text, messages: out, steps: step, usage, ...answeredBy };
        const parsed = parseJsonAnswer(reply.text);
        const problems = parsed.ok ? validateAgainst(spec.outputSchema, parsed.value) : [parsed.problem];
        if (problems.length === 0)
          return {
            status: 'done',
            text: reply.text,
            json: parsed.ok ? parsed.value : undefined,
            messages: out,
            steps: step,
            usage,
            ...answeredBy,
          };
        if (step >= spec.maxSteps)
          throw new NodeError(
            'invalid_output',
            `${this.#o.label}: the final answer does not match outputSchema: ${problems[0]!.path || '(root)'}: ${problems[0]!.message}`,
            false,
            {
              problems,
              ...via,
            },
          );
        // Tell the model what was wrong and let it try again (a step like any other).
        const fix: AgentMessage = {
          role: 'user',
          content: `Your answer does not match the required JSON Schema: ${problems.map((p) => `${p.path || '(root)'}: ${p.message}`).join('; ')}. Reply again with only the corrected JSON.`,
        };
        messages.push(fix);
        out.push(fix);
        continue;
      }

      // Every call of the step runs now, concurrently; parked ones wait for their signal or child run.
      const outcomes = await Promise.all(reply.toolCalls.map((call) => this.#call(frame, step, call, byName.get(call.name), usage)));
      const parked = outcomes.flatMap((o) => ('parked' in o ? o.parked : []));
      const runs = outcomes.flatMap((o) => ('parked' in o ? o.runs : []));
      if (parked.length || runs.length) return { status: 'waiting', toolCalls: parked, runs };
      await steps.run(
        `${prefix}s${step}`,
        async () => true,
        () => ({
          events: [{ type: 'node.step', data: { step, kind: 'tools', status: 'finished', ...via } }],
        }),
      );
      reply.toolCalls.forEach((call, i) => {
        const result = (outcomes[i] as { done: CallResult }).done;
        const message: AgentMessage = { role: 'tool', toolCallId: call.id, content: resultText(result) };
        messages.push(message);
        out.push(message);
      });
    }
  }

  #modelEvents(frame: Frame, step: number, r: ModelReply): NodeEvent[] {
    const via = frame.via ? { via: frame.via } : {};
    const byName = new Map(frame.tools.map((t) => [t.name, t]));
    const events: NodeEvent[] = [
      { type: 'node.step', data: { step, kind: 'model', status: 'finished', usage: { ...usageOf(r) }, ...via } },
    ];
    for (const c of r.toolCalls) {
      const t = byName.get(c.name);
      events.push({
        type: 'node.tool_call',
        data: {
          step,
          toolCallId: qualified(frame, c.id),
          toolName: c.name,
          input: c.input,
          requiresApproval: t?.requiresApproval ?? false,
          clientSide: t?.clientSide ?? false,
          ...via,
        },
      });
    }
    if (r.toolCalls.length) events.push({ type: 'node.step', data: { step, kind: 'tools', status: 'started', ...via } });
    return events;
  }

  /** One tool call: its stored result, or run it (after its approval), or park it. */
  async #call(frame: Frame, step: number, call: ToolCall, tool: ResolvedTool | undefined, usage: UsageTotal): Promise<CallOutcome> {
    const steps = this.#ctx.steps;
    const key = `${frame.prefix}t:${call.id}`;
    const qid = qualified(frame, call.id);
    const stored = steps.get<CallResult>(key);
    if (stored !== undefined) {
      // A delegated agent's usage is part of this node's, on replay too.
      if (tool?.ref.type === 'agent') addTo(usage, (stored as { output?: { usage?: UsageTotal } }).output?.usage ?? zero());
      return { done: stored };
    }
    const record = (fn: () => Promise<CallResult>) =>
      steps.run<CallResult>(key, fn, (result) => ({
        events: [
          {
            type: 'node.tool_result',
            data: { step, toolCallId: qid, toolName: call.name, ...result, ...(frame.via ? { via: frame.via } : {}) },
          },
        ],
      }));
    const fail = (kind: string, message: string) => record(async () => ({ error: { kind, message } }));

    if (!tool) return { done: await fail('unknown_tool', `There is no tool named '${call.name}'. Use one of the tools you were given.`) };
    const problem = inputProblem(tool, call.input);
    if (problem) return { done: await fail('invalid_input', problem) };

    const answer = steps.get<Answer>(`answer:${qid}`);
    if (tool.clientSide) {
      if (!answer) return { parked: [{ toolCallId: qid, toolName: call.name, kind: 'client' }], runs: [] };
      return { done: await record(async () => ({ output: answer.kind === 'client' ? answer.output : null })) };
    }
    if (tool.requiresApproval) {
      if (!answer) return { parked: [{ toolCallId: qid, toolName: call.name, kind: 'approval' }], runs: [] };
      if (answer.kind === 'approval' && !answer.approved)
        return { done: await record(async () => ({ denied: answer.reason ? { reason: answer.reason } : {} })) };
    }
    const input = tool.wrapped ? (call.input as { input?: unknown }).input : call.input;

    switch (tool.ref.type) {
      case 'builtin': {
        const name = tool.ref.name;
        if (name === 'askUser') return { done: await fail('invalid_tool', 'askUser runs on the client') };
        return {
          done: await record(async () =>
            asResult(await runBuiltin(name, input, { env: this.#ctx.env, tenantId: this.#ctx.tenantId, initiator: this.#ctx.initiator })),
          ),
        };
      }
      case 'tool': {
        const ref = tool.ref;
        return { done: await record(async () => this.#tenantTool(ref.toolId, ref.version, input)) };
      }
      case 'flow': {
        const child = this.#ctx.childRuns.get(key) ?? (await this.#ctx.childRuns.start(key, tool.ref.flowId, input));
        if (child.status === 'pending' || child.status === 'running') return { parked: [], runs: [{ key, runId: child.runId }] };
        return {
          done: await record(async () =>
            child.status === 'succeeded'
              ? { output: child.output ?? null }
              : { error: { kind: 'run_failed', message: `Run ${child.runId} ${child.status}${child.error ? `: ${child.error}` : ''}` } },
          ),
        };
      }
      case 'knowledge': {
        const ref = tool.ref;
        const q = input as { query: string; topK?: number };
        return {
          done: await record(async () => this.#knowledge(ref.knowledgeBaseId, q.query, q.topK ?? ref.topK ?? 5, ref.mode ?? 'hybrid')),
        };
      }
      case 'agent': {
        const result = await this.#delegate(frame, call, tool.ref.agentId, input as { task: string });
        if (result.status === 'waiting') return { parked: result.toolCalls, runs: result.runs };
        addTo(usage, result.usage);
        return { done: await record(async () => ('error' in result ? { error: result.error } : { output: result.output })) };
      }
    }
  }

  /** A knowledge tool's search: passages with their sources (the assistant streams them as `source-document` parts). */
  async #knowledge(knowledgeBaseId: string, query: string, topK: number, mode: 'hybrid' | 'vector' | 'keyword'): Promise<CallResult> {
    try {
      const out = await retrieve(this.#ctx.env, this.#ctx.tenantId, knowledgeBaseId, {
        query,
        topK: Math.min(50, Math.max(1, topK)),
        mode,
      });
      return {
        output: {
          results: out.results.map((r) => ({
            documentId: r.documentId,
            chunkId: r.chunkId,
            title: r.title,
            source: r.source,
            text: r.text,
            score: r.score,
          })),
        },
      };
    } catch (err) {
      if (err instanceof KnowledgeBaseMissing) return { error: { kind: 'not_found', message: err.message } };
      if (err instanceof EmbeddingError) return { error: { kind: 'provider', message: err.message } };
      throw err;
    }
  }

  async #tenantTool(toolId: string, version: number | undefined, input: unknown): Promise<CallResult> {
    const ctx = this.#ctx;
    try {
      const r = await invokeTool(
        { db: getDb(ctx.env.DB), config: ctx.config, env: ctx.env, source: 'flow' },
        ctx.tenantId,
        toolId,
        version ?? 'latest',
        input,
      );
      return r.ok ? { output: r.output } : { error: { kind: r.error.type, message: r.error.message } };
    } catch (err) {
      if (err instanceof AppError) return { error: { kind: err.code, message: err.message } };
      throw err;
    }
  }

  /** Delegation: the other agent's loop as nested steps of this node (its events carry `via`). */
  async #delegate(
    frame: Frame,
    call: ToolCall,
    agentId: string,
    input: { task: string },
  ): Promise<
    | { status: 'waiting'; toolCalls: ParkedCall[]; runs: Array<{ key: string; runId: string }> }
    | { status: 'done'; output: { text: string; json?: unknown; usage: UsageTotal }; usage: UsageTotal }
    | { status: 'done'; error: { kind: string; message: string }; usage: UsageTotal }
  > {
    const ctx = this.#ctx;
    const prefix = `${frame.prefix}a:${call.id}/`;
    if (frame.depth + 1 > MAX_DELEGATION_DEPTH)
      return {
        status: 'done',
        error: { kind: 'too_deep', message: `Delegation is limited to ${MAX_DELEGATION_DEPTH} levels` },
        usage: zero(),
      };
    // The version is pinned on first use, so a replay runs the same definition.
    const spec = await ctx.steps.run<AgentSpec | null>(
      `${prefix}spec`,
      async () => (await loadAgentSpec(getDb(ctx.env.DB), ctx.tenantId, agentId))?.spec ?? null,
    );
    if (!spec) return { status: 'done', error: { kind: 'not_found', message: `Agent ${agentId} no longer exists` }, usage: zero() };
    const sub = await buildFrame(ctx, AgentSpecSchema.parse(spec), `${this.#o.label} → ${spec.name}`, this.#o.modelTimeoutMs, {
      prefix,
      via: qualified(frame, call.id),
      depth: frame.depth + 1,
    });
    const r = await this.run(sub, [], [{ role: 'user', content: input.task }]);
    if (r.status === 'waiting') return r;
    const output = { text: r.text, ...(r.json !== undefined ? { json: r.json } : {}), usage: r.usage };
    return { status: 'done', output, usage: r.usage };
  }
}

/** An agent ready to run: its tools resolved in the tenant and its model driver. */
export async function buildFrame(
  ctx: ExecContext,
  spec: AgentSpec,
  label: string,
  modelTimeoutMs: number,
  where: { prefix: string; via?: string | undefined; depth: number },
): Promise<Frame> {
  const { tools, problems } = await resolveTools(getDb(ctx.env.DB), ctx.tenantId, spec.tools);
  if (problems.length)
    throw new NodeError('error', `${label}: ${problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`, false, { problems });
  return { spec, tools, driver: await driverFor(spec, ctx, label, modelTimeoutMs), ...where };
}

/** Calls ids as the run names them: a delegated agent's are qualified by the call that delegated. */
function qualified(frame: Frame, id: string): string {
  return frame.via ? `${frame.via}>${id}` : id;
}

/** Every call gets an id unique within its agent (providers may omit or repeat them). */
function uniqueIds(calls: ToolCall[], step: number, seen: Set<string>): ToolCall[] {
  const used = new Set(seen);
  return calls.map((c, i) => {
    let id = c.id && /^[A-Za-z0-9_.:-]{1,100}$/.test(c.id) ? c.id : `call_${step}_${i}`;
    if (used.has(id)) id = `${id}_${step}_${i}`;
    used.add(id);
    return { id, name: c.name, input: c.input };
  });
}

function usageOf(r: ModelReply): Usage {
  return {
    provider: r.provider,
    model: r.model,
    inputTokens: r.usage.inputTokens,
    outputTokens: r.usage.outputTokens,
    costUsd: r.usage.costUsd,
  };
}

function asResult(o: ToolOutcome): CallResult {
  return o.ok ? { output: o.output ?? null } : { error: o.error };
}

/** Why a call's input does not fit the tool, or null. */
function inputProblem(tool: ResolvedTool, input: unknown): string | null {
  if (tool.ref.type === 'builtin') {
    const r = BUILTIN_INPUTS[tool.ref.name].safeParse(input);
    return r.success ? null : r.error.issues.map((i) => `${i.path.map(String).join('.') || '(input)'}: ${i.message}`).join('; ');
  }
  const errors = validateValue(tool.inputSchema, input, []);
  return errors.length ? errors.map((e) => `${e.path || '(input)'}: ${e.message}`).join('; ') : null;
}

/** A result as the model reads it: JSON text, capped. */
function resultText(result: CallResult): string {
  const text = JSON.stringify(result);
  return text.length > MAX_RESULT_CHARS ? `${text.slice(0, MAX_RESULT_CHARS)}… (truncated)` : text;
}
