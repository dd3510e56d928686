/**
 * Flow definitions: `{ input (JSON Schema), nodes, edges, policy }`, and the
 * validation run on save that reports every problem with its path.
 */
import { Validator } from '@cfworker/json-schema';
import { z } from '@hono/zod-openapi';
import { compile, ExpressionError, templateExpressions } from './expressions';
import { DEFAULT_BRANCHES } from './nodes/condition';
import { NODE_TYPES } from './nodes/registry';

export const RetrySchema = z
  .strictObject({
    maxAttempts: z.number().int().min(1).max(20).default(1),
    backoffMs: z.number().int().min(0).max(3_600_000).default(1000),
    maxBackoffMs: z
      .number()
      .int()
      .min(0)
      .max(24 * 3_600_000)
      .default(60_000),
    retryOn: z.array(z.enum(['error', 'timeout', 'network', 'http_5xx', 'http_429', 'provider', 'invalid_output'])).optional(),
  })
  .openapi('RetryPolicy');

export const NodeSchema = z
  .strictObject({
    id: z.string().regex(/^[A-Za-z_][A-Za-z0-9_-]{0,63}$/, 'ids start with a letter or _ and use letters, digits, _ and -'),
    type: z.string().min(1).max(32),
    config: z.record(z.string(), z.unknown()).default({}),
    retry: RetrySchema.optional(),
    timeoutMs: z
      .number()
      .int()
      .min(10)
      .max(15 * 60_000)
      .optional(),
  })
  .openapi('FlowNode');

export const EdgeSchema = z
  .strictObject({ from: z.string().min(1), to: z.string().min(1), when: z.string().min(1).max(64).optional() })
  .openapi('FlowEdge');

export const PolicySchema = z
  .strictObject({
    onFailure: z.enum(['fail_fast', 'continue']).default('fail_fast'),
    timeoutMs: z
      .number()
      .int()
      .min(1000)
      .max(30 * 24 * 3_600_000)
      .default(24 * 3_600_000),
    maxParallel: z.number().int().min(1).max(256).default(64),
  })
  .openapi('FlowPolicy');

export const DefinitionSchema = z
  .strictObject({
    input: z.record(z.string(), z.unknown()).default({ type: 'object' }).openapi({ description: 'JSON Schema for run input' }),
    vars: z.record(z.string(), z.unknown()).default({}),
    nodes: z.array(NodeSchema).min(1).max(500),
    edges: z.array(EdgeSchema).max(5000).default([]),
    policy: PolicySchema.default({ onFailure: 'fail_fast', timeoutMs: 24 * 3_600_000, maxParallel: 64 }),
  })
  .openapi('FlowDefinition');

export type FlowDefinition = z.infer<typeof DefinitionSchema>;
export type FlowNodeDef = z.infer<typeof NodeSchema>;

export interface DefinitionProblem {
  path: string;
  message: string;
  code: string;
}

/** Checks a structurally valid definition; returns every problem found (empty = valid). */
export function checkDefinition(def: FlowDefinition): DefinitionProblem[] {
  const problems: DefinitionProblem[] = [];
  const index = new Map<string, number>();
  def.nodes.forEach((n, i) => {
    if (index.has(n.id))
      problems.push({
        path: `nodes[${i}].id`,
        message: `duplicate node id '${n.id}' (first at nodes[${index.get(n.id)}])`,
        code: 'duplicate_id',
      });
    else index.set(n.id, i);
    const type = NODE_TYPES[n.type];
    if (!type) {
      problems.push({
        path: `nodes[${i}].type`,
        message: `unknown node type '${n.type}'; known: ${Object.keys(NODE_TYPES).sort().join(', ')}`,
        code: 'unknown_type',
      });
      return;
    }
    const cfg = type.config.safeParse(n.config);
    if (!cfg.success) {
      for (const issue of cfg.error.issues) {
        problems.push({
          path: `nodes[${i}].config${issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('')}`,
          message: issue.message,
          code: 'invalid_config',
        });
      }
    } else {
      problems.push(...checkExpressions(cfg.data as Record<string, unknown>, `nodes[${i}].config`, n.type));
    }
  });
  def.edges.forEach((e, i) => {
    if (!index.has(e.from))
      problems.push({ path: `edges[${i}].from`, message: `edge from unknown node '${e.from}'`, code: 'dangling_edge' });
    if (!index.has(e.to)) problems.push({ path: `edges[${i}].to`, message: `edge to unknown node '${e.to}'`, code: 'dangling_edge' });
    if (e.from === e.to) problems.push({ path: `edges[${i}]`, message: `self-loop on '${e.from}'`, code: 'cycle' });
    const src = def.nodes[index.get(e.from) ?? -1];
    if (src && e.when !== undefined) {
      if (src.type !== 'condition')
        problems.push({
          path: `edges[${i}].when`,
          message: `only edges leaving a condition node take 'when' ('${e.from}' is ${src.type})`,
          code: 'invalid_edge',
        });
      else {
        const branches = (src.config.branches as string[] | undefined) ?? DEFAULT_BRANCHES;
        if (!branches.includes(e.when))
          problems.push({
            path: `edges[${i}].when`,
            message: `'${e.when}' is not a branch of '${e.from}' (${branches.join(', ')}); '${e.to}' would be unreachable`,
            code: 'unreachable',
          });
      }
    }
  });
  const cycle = findCycle(def);
  if (cycle) problems.push({ path: 'edges', message: `cycle: ${cycle.join(' → ')}`, code: 'cycle' });
  try {
    new Validator(def.input as never);
  } catch (err) {
    problems.push({ path: 'input', message: `not a valid JSON Schema: ${(err as Error).message}`, code: 'invalid_schema' });
  }
  return problems;
}

const EXPRESSION_FIELDS = new Set(['expression', 'body', 'until', 'items', 'input', 'messages']);
const TEMPLATE_FIELDS = new Set(['url', 'prompt', 'system', 'message']);

function checkExpressions(config: Record<string, unknown>, base: string, _type: string): DefinitionProblem[] {
  const out: DefinitionProblem[] = [];
  const check = (expr: string, path: string) => {
    try {
      compile(expr);
    } catch (err) {
      out.push({ path, message: err instanceof ExpressionError ? err.message : String(err), code: 'invalid_expression' });
    }
  };
  for (const [k, v] of Object.entries(config)) {
    if (typeof v !== 'string') continue;
    if (EXPRESSION_FIELDS.has(k)) check(v, `${base}.${k}`);
    if (TEMPLATE_FIELDS.has(k)) for (const e of templateExpressions(v)) check(e, `${base}.${k}`);
  }
  const headers = config.headers;
  if (headers && typeof headers === 'object')
    for (const [h, v] of Object.entries(headers))
      if (typeof v === 'string') for (const e of templateExpressions(v)) check(e, `${base}.headers.${h}`);
  return out;
}

/** Returns one cycle as a list of node ids (first repeated at the end), or null. */
export function findCycle(def: Pick<FlowDefinition, 'nodes' | 'edges'>): string[] | null {
  const out = new Map<string, string[]>();
  for (const n of def.nodes) out.set(n.id, []);
  for (const e of def.edges) out.get(e.from)?.push(e.to);
  const state = new Map<string, 0 | 1 | 2>();
  const stack: string[] = [];
  const visit = (id: string): string[] | null => {
    state.set(id, 1);
    stack.push(id);
    for (const next of out.get(id) ?? []) {
      if (!out.has(next)) continue;
      const s = state.get(next) ?? 0;
      if (s === 1) return [...stack.slice(stack.indexOf(next)), next];
      if (s === 0) {
        const c = visit(next);
        if (c) return c;
      }
    }
    stack.pop();
    state.set(id, 2);
    return null;
  };
  for (const n of def.nodes)
    if ((state.get(n.id) ?? 0) === 0) {
      const c = visit(n.id);
      if (c) return c;
    }
  return null;
}

/** Validates run input against the flow's input schema; returns field problems. */
export function checkInput(schema: Record<string, unknown>, input: unknown): DefinitionProblem[] {
  const result = new Validator(schema as never, '2020-12', false).validate(input);
  if (result.valid) return [];
  return result.errors
    .filter((e) => e.keyword !== 'properties' && e.keyword !== 'allOf')
    .map((e) => ({ path: `input${e.instanceLocation.replace(/^#/, '').replace(/\//g, '.')}`, message: e.error, code: e.keyword }));
}
