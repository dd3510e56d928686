/**
 * One MCP server per request (stateless Streamable HTTP): the official SDK's
 * protocol layer with our own tools/list and tools/call handlers, so inputs are
 * published as JSON Schema 2020-12 (the SDK's `registerTool` emits draft-07) and
 * every call runs with the caller's ServiceCtx. Service errors become tool
 * results with `isError` and the RFC 9457 problem as content, so the model can
 * read and correct them; protocol errors (unknown tool) stay JSON-RPC errors.
 */
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
import {
  CallToolRequestSchema,
  type CallToolResult,
  ErrorCode,
  GetPromptRequestSchema,
  ListPromptsRequestSchema,
  ListResourcesRequestSchema,
  ListResourceTemplatesRequestSchema,
  ListToolsRequestSchema,
  McpError,
  ReadResourceRequestSchema,
  type Tool,
} from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import type { ServiceCtx } from '../lib/context';
import { AppError, toProblem } from '../lib/problem';
import type { Logger } from '../observability/log';
import { errorFields } from '../observability/log';
import { getPrompt, listPrompts } from './prompts';
import { listTaskResources, readTaskResource, taskResourceTemplates } from './resources';
import { RunTaskStore, type StartRun } from './run-tasks';
import { TENANT_TOOL_PREFIX, tenantMcpTools } from './tenant-tools';
import { assertToolAllowed, type McpTool, startFlowRun, TOOLS, TOOLS_BY_NAME } from './tools';

export const SERVER_INFO = { name: 'edgecrew', title: 'Edgecrew', version: '0.1.0' } as const;

const INSTRUCTIONS =
  'Edgecrew: tasks, flows and tools for one tenant (the one your credential belongs to). ' +
  'Find tasks with find_tasks, or tasks and knowledge-base documents with search (read one in full with fetch); change tasks in batches (add_tasks, complete_tasks, reschedule_tasks, delete_tasks). ' +
  'run_flow starts a flow run and waits briefly; follow it with get_run and answer approval nodes with answer_approval.';

let listed: Tool[] | undefined;

/** The tools as MCP lists them: JSON Schema 2020-12 inputs, annotations, titles. */
export function toolDescriptors(): Tool[] {
  listed ??= TOOLS.map((t) => ({
    name: t.name,
    title: t.title,
    description: t.description,
    inputSchema: z.toJSONSchema(t.input, { target: 'draft-2020-12', io: 'input', unrepresentable: 'any' }) as Tool['inputSchema'],
    annotations: { title: t.title, ...t.annotations },
    ...(t.taskSupport ? { execution: { taskSupport: t.taskSupport } } : {}),
  }));
  return listed;
}

function problemResult(err: AppError, requestId: string): CallToolResult {
  const problem = toProblem(err, undefined, requestId);
  return { isError: true, content: [{ type: 'text', text: JSON.stringify(problem) }], structuredContent: { problem } };
}

function validationProblem(tool: McpTool, error: z.ZodError): AppError {
  return new AppError('validation_failed', `Invalid arguments for ${tool.name}: ${z.prettifyError(error)}`, {
    errors: error.issues.map((i) => ({
      in: 'body' as const,
      path: i.path.join('.'),
      pointer: `/${i.path.map(String).join('/')}`,
      message: i.message,
      code: i.code,
    })),
  });
}

export interface McpRequestDeps {
  ctx: ServiceCtx;
  origin: string;
  log: Logger;
}

/** A task-augmented call answers a task or a JSON-RPC error (never a tool result): the problem rides in `data`. */
function taskCallError(err: unknown, requestId: string): McpError {
  if (err instanceof McpError) return err;
  const problem = err instanceof AppError ? toProblem(err, undefined, requestId) : undefined;
  return new McpError(problem ? ErrorCode.InvalidParams : ErrorCode.InternalError, problem?.detail ?? 'Internal error', problem);
}

/** Starts the run a task-augmented run_flow asks for (the arguments checked as for a plain call). */
function runStarter(ctx: ServiceCtx): StartRun {
  return async (request) => {
    const tool = TOOLS_BY_NAME.get('run_flow')!;
    const params = (request.params ?? {}) as { arguments?: unknown };
    const parsed = tool.input.safeParse(params.arguments ?? {});
    if (!parsed.success) throw validationProblem(tool, parsed.error);
    const args = parsed.data as { flowId: string; input?: unknown; version?: number };
    return startFlowRun(ctx, args);
  };
}

export function buildServer({ ctx, origin, log }: McpRequestDeps): McpServer {
  const mcp = new McpServer(SERVER_INFO, {
    capabilities: {
      tools: { listChanged: false },
      // The tenant's tasks as resources (src/mcp/resources.ts) and a few prompts (src/mcp/prompts.ts); no subscriptions.
      resources: { listChanged: false },
      prompts: { listChanged: false },
      // logging/setLevel is accepted (the SDK's handler); the server sends no log notifications today.
      logging: {},
      // Tasks extension (experimental): run_flow may answer a task that is the durable run (src/mcp/run-tasks.ts).
      tasks: { list: {}, cancel: {}, requests: { tools: { call: {} } } },
    },
    taskStore: new RunTaskStore(ctx, runStarter(ctx)),
    instructions: INSTRUCTIONS,
  });
  mcp.server.setRequestHandler(ListToolsRequestSchema, async () => ({
    tools: [...toolDescriptors(), ...(await tenantMcpTools(ctx)).map((t) => t.descriptor)],
  }));
  mcp.server.setRequestHandler(ListResourcesRequestSchema, (request) => listTaskResources(ctx, request.params?.cursor));
  mcp.server.setRequestHandler(ListResourceTemplatesRequestSchema, () => taskResourceTemplates());
  mcp.server.setRequestHandler(ReadResourceRequestSchema, (request) => readTaskResource(ctx, request.params.uri));
  mcp.server.setRequestHandler(ListPromptsRequestSchema, () => listPrompts());
  mcp.server.setRequestHandler(GetPromptRequestSchema, (request) => getPrompt(request.params.name, request.params.arguments));
  mcp.server.setRequestHandler(CallToolRequestSchema, async (request, extra): Promise<CallToolResult> => {
    const name = request.params.name;
    const tool =
      TOOLS_BY_NAME.get(name) ??
      (name.startsWith(TENANT_TOOL_PREFIX) ? (await tenantMcpTools(ctx)).find((t) => t.tool.name === name)?.tool : undefined);
    if (!tool) throw new McpError(ErrorCode.InvalidParams, `Unknown tool: ${request.params.name}`);
    if (request.params.task) {
      if (!tool.taskSupport || !extra.taskStore) throw new McpError(ErrorCode.InvalidParams, `${tool.name} does not run as a task.`);
      try {
        assertToolAllowed(ctx, tool);
        const task = await extra.taskStore.createTask({ ttl: request.params.task.ttl ?? null });
        log.info('mcp tool call', { tool: tool.name, ok: true, task: task.taskId });
        // The SDK validates a task-augmented call's answer as CreateTaskResult.
        return { task } as unknown as CallToolResult;
      } catch (err) {
        if (!(err instanceof AppError) && !(err instanceof McpError))
          log.error('mcp task creation failed', { tool: tool.name, ...errorFields(err) });
        throw taskCallError(err, ctx.requestId);
      }
    }
    try {
      assertToolAllowed(ctx, tool);
      const parsed = tool.input.safeParse(request.params.arguments ?? {});
      if (!parsed.success) throw validationProblem(tool, parsed.error);
      const out = (await tool.run({ ctx, origin }, parsed.data)) as Record<string, unknown>;
      log.info('mcp tool call', { tool: tool.name, ok: true });
      return { content: [{ type: 'text', text: JSON.stringify(out) }], structuredContent: out };
    } catch (err) {
      if (err instanceof AppError) {
        log.info('mcp tool call', { tool: tool.name, ok: false, problem: err.code });
        return problemResult(err, ctx.requestId);
      }
      log.error('mcp tool call failed', { tool: tool.name, ...errorFields(err) });
      return problemResult(new AppError('internal_error', 'The tool failed unexpectedly; the error was logged.'), ctx.requestId);
    }
  });
  return mcp;
}

/** Answers one MCP POST: a fresh server and stateless transport (no session id), JSON responses. */
export async function handleMcp(deps: McpRequestDeps, request: Request, parsedBody: unknown): Promise<Response> {
  const transport = new WebStandardStreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
  const mcp = buildServer(deps);
  await mcp.connect(transport);
  try {
    return await transport.handleRequest(request, { parsedBody });
  } finally {
    // JSON mode: the response is complete once handleRequest resolves.
    await mcp.close();
  }
}
