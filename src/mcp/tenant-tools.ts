/**
 * The tenant's own tools as MCP tools, when the tenant opts in (`settings.mcpExposeTools: true`,
 * PATCH /v1/tenant). Each latest tool version is listed as `tool_<name>` with its description and
 * input JSON Schema, and a call is `POST /v1/tools/{id}/invoke` through the same invoke verb
 * (input checked against the tool's schema, the runner, the invocation record) after the same
 * `data:write` check. An input schema that is not an object (MCP requires one) is wrapped as
 * `{ input: <schema> }` and unwrapped on the call.
 */
import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import { and, desc, eq } from 'drizzle-orm';
import { z } from 'zod';
import { tenants, tools, toolVersions } from '../db/schema';
import type { ServiceCtx } from '../lib/context';
import { invoke } from '../tools/invoke';
import type { McpTool, ToolAnnotations } from './tools';

export const TENANT_TOOL_PREFIX = 'tool_';
/** Tools listed at most (the newest first). */
export const MAX_EXPOSED_TOOLS = 100;

/** What the server knows of a tool it cannot vet: it may write and reach out (clients should confirm). */
const ANNOTATIONS: ToolAnnotations = { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: true };

export interface TenantMcpTool {
  descriptor: Tool;
  tool: McpTool;
}

const isObjectSchema = (s: unknown) => typeof s === 'object' && s !== null && (s as { type?: unknown }).type === 'object';

/** The tenant's exposed tools; none unless the tenant opted in. */
export async function tenantMcpTools(ctx: ServiceCtx): Promise<TenantMcpTool[]> {
  const tenant = await ctx.db.select({ settings: tenants.settings }).from(tenants).where(eq(tenants.id, ctx.tenantId)).get();
  if (tenant?.settings?.mcpExposeTools !== true) return [];
  const rows = await ctx.db
    .select({ tool: tools, v: toolVersions })
    .from(tools)
    .innerJoin(toolVersions, and(eq(toolVersions.toolId, tools.id), eq(toolVersions.version, tools.latestVersion)))
    .where(ctx.scope.where(tools, undefined))
    .orderBy(desc(tools.id))
    .limit(MAX_EXPOSED_TOOLS)
    .all();
  return rows.map(({ tool, v }) => {
    const wrapped = !isObjectSchema(v.inputSchema);
    const name = `${TENANT_TOOL_PREFIX}${tool.name}`;
    const description = tool.description || `The tenant's tool ${tool.name}.`;
    const inputSchema = wrapped
      ? {
          $schema: 'https://json-schema.org/draft/2020-12/schema',
          type: 'object',
          properties: { input: v.inputSchema },
          required: ['input'],
          additionalProperties: false,
        }
      : v.inputSchema;
    const mcpTool: McpTool = {
      name,
      title: tool.name,
      description,
      permission: 'data:write',
      scope: 'tools:invoke',
      annotations: ANNOTATIONS,
      // The tool's own JSON Schema is checked by invoke (422 with field paths); here only "an object".
      input: z.record(z.string(), z.unknown()),
      run: ({ ctx: c }, args) => invoke(c, { toolId: tool.id, input: wrapped ? (args as { input?: unknown }).input : args }),
    };
    return {
      tool: mcpTool,
      descriptor: {
        name,
        title: tool.name,
        description,
        inputSchema: inputSchema as Tool['inputSchema'],
        annotations: { title: tool.name, ...ANNOTATIONS },
      },
    };
  });
}
