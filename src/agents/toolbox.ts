/**
 * An agent's tool references resolved against its tenant: the name, description
 * and input schema the model sees, and whether a call needs an approval or runs
 * on the client. Used on save (every reference that does not exist is a problem
 * at its path) and by the loop at run time (the same resolution, so what was
 * validated is what runs).
 */
import { and, eq, inArray, isNull } from 'drizzle-orm';
import { z } from 'zod';
import type { Db } from '../db/client';
import { agents, agentVersions, flows, flowVersions, knowledgeBases, llmProviders, tools, toolVersions } from '../db/schema';
import { TenantScope } from '../db/tenant-scope';
import { schemaProblem } from '../flows/llm/output';
import {
  type AgentSpec,
  type AgentToolRef,
  APPROVAL_BY_DEFAULT,
  BUILTIN_DESCRIPTIONS,
  BUILTIN_INPUTS,
  CLIENT_SIDE_TOOLS,
  TOOL_NAME_PATTERN,
} from './contract';

export interface ResolvedTool {
  /** Position in the agent's `tools`. */
  index: number;
  ref: AgentToolRef;
  /** The name the model sees (unique within the agent). */
  name: string;
  description: string;
  /** Always an object schema (what function calling takes). */
  inputSchema: Record<string, unknown>;
  /** The target's own schema was not an object: the model's `{ input }` is unwrapped before the call. */
  wrapped: boolean;
  requiresApproval: boolean;
  clientSide: boolean;
}

export interface SpecProblem {
  path: string;
  message: string;
  code: string;
}

/** How deep a manager may delegate (a manager's agent's agent's …). */
export const MAX_DELEGATION_DEPTH = 4;

/** A free-text name as a function name the providers accept. */
export function toolNameOf(text: string): string {
  const slug = text
    .trim()
    .replace(/[^A-Za-z0-9_-]+/g, '_')
    .replace(/^_+|_+$/g, '')
    .slice(0, 64);
  return slug === '' ? 'tool' : slug;
}

const AGENT_INPUT = {
  type: 'object',
  properties: { task: { type: 'string', description: 'What the agent should do, with everything it needs to know' } },
  required: ['task'],
  additionalProperties: false,
};

const KNOWLEDGE_INPUT = {
  type: 'object',
  properties: {
    query: { type: 'string', minLength: 1, maxLength: 4000, description: 'What to look for, in words' },
    topK: { type: 'integer', minimum: 1, maximum: 50, description: 'How many passages (default 5)' },
  },
  required: ['query'],
  additionalProperties: false,
};

/** JSON Schema of a built-in's input, trimmed of what only costs tokens. */
export function builtinInputSchema(name: keyof typeof BUILTIN_INPUTS): Record<string, unknown> {
  return tidy(z.toJSONSchema(BUILTIN_INPUTS[name])) as Record<string, unknown>;
}

function tidy(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(tidy);
  if (!value || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  const o = value as Record<string, unknown>;
  for (const [k, v] of Object.entries(o)) {
    if (k === '$schema') continue;
    if (k === 'pattern' && typeof o.format === 'string') continue;
    out[k] = tidy(v);
  }
  return out;
}

function asObjectSchema(schema: unknown): { schema: Record<string, unknown>; wrapped: boolean } {
  if (schema && typeof schema === 'object' && (schema as { type?: unknown }).type === 'object')
    return { schema: schema as Record<string, unknown>, wrapped: false };
  if (schema === true || (schema && typeof schema === 'object' && Object.keys(schema).length === 0))
    return { schema: { type: 'object' }, wrapped: false };
  return { schema: { type: 'object', properties: { input: schema }, required: ['input'] }, wrapped: true };
}

/**
 * Resolves every reference; a reference that cannot be resolved is a problem at `tools[i]…` and is
 * left out of `tools`. `selfId`: the agent being saved (a delegation back to it is a cycle).
 */
export async function resolveTools(
  db: Db,
  tenantId: string,
  refs: AgentToolRef[],
  selfId?: string,
): Promise<{ tools: ResolvedTool[]; problems: SpecProblem[] }> {
  const scope = new TenantScope(db, tenantId);
  const problems: SpecProblem[] = [];
  const resolved = await Promise.all(
    refs.map(async (ref, index): Promise<ResolvedTool | null> => {
      const at = `tools[${index}]`;
      const approval = (dflt: boolean) => ref.requiresApproval ?? dflt;
      switch (ref.type) {
        case 'builtin': {
          return {
            index,
            ref,
            name: ref.name,
            description: ref.description ?? BUILTIN_DESCRIPTIONS[ref.name],
            inputSchema: builtinInputSchema(ref.name),
            wrapped: false,
            requiresApproval: approval(APPROVAL_BY_DEFAULT.has(ref.name)),
            clientSide: CLIENT_SIDE_TOOLS.has(ref.name),
          };
        }
        case 'tool': {
          const row = await db
            .select({ name: tools.name, description: tools.description, inputSchema: toolVersions.inputSchema })
            .from(tools)
            .innerJoin(toolVersions, and(eq(toolVersions.toolId, tools.id), eq(toolVersions.version, ref.version ?? tools.latestVersion)))
            .where(scope.where(tools, eq(tools.id, ref.toolId)))
            .get();
          if (!row) {
            const exists = ref.version !== undefined && (await scope.select(tools, eq(tools.id, ref.toolId)).get());
            problems.push(
              exists
                ? { path: `${at}.version`, message: `Tool ${ref.toolId} has no version ${ref.version}`, code: 'not_found' }
                : { path: `${at}.toolId`, message: `No tool ${ref.toolId} in this tenant`, code: 'not_found' },
            );
            return null;
          }
          const { schema, wrapped } = asObjectSchema(row.inputSchema);
          return {
            index,
            ref,
            name: ref.name ?? toolNameOf(row.name),
            description: ref.description ?? row.description,
            inputSchema: schema,
            wrapped,
            requiresApproval: approval(false),
            clientSide: false,
          };
        }
        case 'flow': {
          const row = await db
            .select({ name: flows.name, description: flows.description, definition: flowVersions.definition })
            .from(flows)
            .innerJoin(
              flowVersions,
              and(
                eq(flowVersions.flowId, flows.id),
                eq(flowVersions.version, flows.latestVersion),
                eq(flowVersions.tenantId, flows.tenantId),
              ),
            )
            .where(scope.where(flows, and(eq(flows.id, ref.flowId), isNull(flows.deletedAt))))
            .get();
          if (!row) {
            problems.push({ path: `${at}.flowId`, message: `No flow ${ref.flowId} in this tenant`, code: 'not_found' });
            return null;
          }
          const { schema, wrapped } = asObjectSchema((row.definition as { input?: unknown }).input ?? { type: 'object' });
          return {
            index,
            ref,
            name: ref.name ?? toolNameOf(row.name),
            description: ref.description ?? row.description ?? `Runs the flow '${row.name}'.`,
            inputSchema: schema,
            wrapped,
            requiresApproval: approval(false),
            clientSide: false,
          };
        }
        case 'knowledge': {
          const kb = (await scope.select(knowledgeBases, eq(knowledgeBases.id, ref.knowledgeBaseId)).get()) as { name: string } | undefined;
          if (!kb) {
            problems.push({
              path: `${at}.knowledgeBaseId`,
              message: `No knowledge base ${ref.knowledgeBaseId} in this tenant`,
              code: 'not_found',
            });
            return null;
          }
          return {
            index,
            ref,
            name: ref.name ?? toolNameOf(`search_${kb.name}`),
            description:
              ref.description ??
              `Searches the knowledge base '${kb.name}' and returns the most relevant passages with their document title and source. Cite the sources you use.`,
            inputSchema: KNOWLEDGE_INPUT,
            wrapped: false,
            requiresApproval: approval(false),
            clientSide: false,
          };
        }
        case 'agent': {
          const row = await loadAgentSpec(db, tenantId, ref.agentId);
          if (!row) {
            problems.push({ path: `${at}.agentId`, message: `No agent ${ref.agentId} in this tenant`, code: 'not_found' });
            return null;
          }
          if (selfId !== undefined && (ref.agentId === selfId || (await delegatesTo(db, tenantId, row.spec, selfId)))) {
            problems.push({
              path: `${at}.agentId`,
              message: `Agent ${ref.agentId} delegates back to this agent (a cycle)`,
              code: 'cycle',
            });
            return null;
          }
          const s = row.spec;
          const about = [s.role, s.goal].filter((x) => x !== '').join(' — ');
          return {
            index,
            ref,
            name: ref.name ?? toolNameOf(s.name),
            description: ref.description ?? row.description ?? (about || `Delegates a task to the agent '${s.name}'.`),
            inputSchema: AGENT_INPUT,
            wrapped: false,
            requiresApproval: approval(false),
            clientSide: false,
          };
        }
      }
    }),
  );
  const list = resolved.filter((t): t is ResolvedTool => t !== null);
  const seen = new Map<string, number>();
  for (const t of list) {
    if (!TOOL_NAME_PATTERN.test(t.name))
      problems.push({ path: `tools[${t.index}].name`, message: `'${t.name}' is not a usable tool name`, code: 'invalid_name' });
    const first = seen.get(t.name);
    if (first !== undefined)
      problems.push({
        path: `tools[${t.index}]`,
        message: `Two tools are named '${t.name}' (also tools[${first}]); give one a \`name\``,
        code: 'duplicate_tool_name',
      });
    else seen.set(t.name, t.index);
  }
  return { tools: list, problems };
}

/** An agent's latest (or given) version, tenant-scoped; null when it does not exist or was deleted. */
export async function loadAgentSpec(
  db: Db,
  tenantId: string,
  agentId: string,
  version?: number,
): Promise<{ id: string; version: number; description: string | null; spec: AgentSpec } | null> {
  const scope = new TenantScope(db, tenantId);
  const row = await db
    .select({ description: agents.description, latest: agents.latestVersion, spec: agentVersions.spec, version: agentVersions.version })
    .from(agents)
    .innerJoin(
      agentVersions,
      and(
        eq(agentVersions.agentId, agents.id),
        eq(agentVersions.tenantId, agents.tenantId),
        eq(agentVersions.version, version ?? agents.latestVersion),
      ),
    )
    .where(scope.where(agents, and(eq(agents.id, agentId), isNull(agents.deletedAt))))
    .get();
  return row ? { id: agentId, version: row.version, description: row.description, spec: row.spec as unknown as AgentSpec } : null;
}

/** Whether `spec` reaches `target` through its agent tools (latest versions, bounded walk). */
async function delegatesTo(db: Db, tenantId: string, spec: AgentSpec, target: string): Promise<boolean> {
  const seen = new Set<string>();
  let frontier = spec.tools.flatMap((t) => (t.type === 'agent' ? [t.agentId] : []));
  for (let depth = 0; depth < 16 && frontier.length > 0; depth++) {
    if (frontier.includes(target)) return true;
    const next: string[] = [];
    for (const id of frontier) {
      if (seen.has(id) || seen.size >= 200) continue;
      seen.add(id);
      const a = await loadAgentSpec(db, tenantId, id);
      for (const t of a?.spec.tools ?? []) if (t.type === 'agent') next.push(t.agentId);
    }
    frontier = next;
  }
  return false;
}

/** The other problems of a definition: unknown providers, an unusable output schema. */
export async function specProblems(db: Db, tenantId: string, spec: AgentSpec): Promise<SpecProblem[]> {
  const problems: SpecProblem[] = [];
  if (spec.providers.length > 0) {
    const rows = await new TenantScope(db, tenantId)
      .select(llmProviders, inArray(llmProviders.name, spec.providers))
      .all()
      .then((r) => r as Array<{ name: string }>);
    const known = new Set(rows.map((r) => r.name));
    spec.providers.forEach((p, i) => {
      if (!known.has(p))
        problems.push({ path: `providers[${i}]`, message: `No LLM provider named '${p}' in this tenant`, code: 'not_found' });
    });
  }
  if (spec.outputSchema !== undefined) {
    const problem = schemaProblem(spec.outputSchema);
    if (problem) problems.push({ path: 'outputSchema', message: `Not a usable JSON Schema: ${problem}`, code: 'invalid_schema' });
  }
  return problems;
}
