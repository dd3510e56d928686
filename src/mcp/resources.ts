/**
 * MCP resources: the tenant's tasks, so a client can attach one as context (`edgecrew://tasks/<id>`).
 * resources/list pages through the open tasks (as find_tasks with status open), resources/read
 * answers one task as JSON (as GET /v1/tasks/{id}), and one template names the URI form. Read with
 * `data:read` and the OAuth scope `tasks:read` (src/mcp/scopes.ts), through the same task service
 * verbs as HTTP; another tenant's task is "resource not found". No subscriptions: this stateless
 * server keeps no channel to notify on.
 */
import type { ListResourcesResult, ListResourceTemplatesResult, ReadResourceResult } from '@modelcontextprotocol/sdk/types.js';
import { ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js';
import { can } from '../identity/roles';
import type { ServiceCtx } from '../lib/context';
import { decodeCursor, encodeCursor } from '../lib/pagination';
import { AppError, toProblem } from '../lib/problem';
import * as tasks from '../tasks/service';

export const TASK_URI_PREFIX = 'edgecrew://tasks/';
const PAGE = 50;
/** JSON-RPC code for an unknown resource (MCP resources spec). */
const RESOURCE_NOT_FOUND = -32002;

/** A service error as the JSON-RPC error a resource request answers (the problem rides in `data`). */
function resourceError(err: unknown, ctx: ServiceCtx, uri?: string): unknown {
  if (!(err instanceof AppError)) return err;
  const problem = toProblem(err, undefined, ctx.requestId);
  if (err.code === 'not_found') return new McpError(RESOURCE_NOT_FOUND, 'Resource not found', { uri, problem });
  return new McpError(err.status >= 500 ? ErrorCode.InternalError : ErrorCode.InvalidRequest, err.message, { problem });
}

function assertCanRead(ctx: ServiceCtx): void {
  if (!can(ctx.role, 'data:read')) throw new AppError('forbidden', `Your role '${ctx.role}' does not allow 'data:read'.`);
}

export async function listTaskResources(ctx: ServiceCtx, cursor: string | undefined): Promise<ListResourcesResult> {
  try {
    assertCanRead(ctx);
    const page = await tasks.listTasks(ctx, { status: 'open', limit: PAGE, after: decodeCursor(cursor) });
    return {
      resources: page.data.map((t) => ({
        uri: `${TASK_URI_PREFIX}${t.id}`,
        name: t.id,
        title: t.title,
        description: `Open task "${t.title}"${t.dueAt || t.dueDate ? `, due ${t.dueAt ?? t.dueDate}` : ''}`,
        mimeType: 'application/json',
      })),
      ...(page.nextCursor ? { nextCursor: encodeCursor(page.nextCursor) } : {}),
    };
  } catch (err) {
    throw resourceError(err, ctx);
  }
}

export function taskResourceTemplates(): ListResourceTemplatesResult {
  return {
    resourceTemplates: [
      {
        uriTemplate: `${TASK_URI_PREFIX}{taskId}`,
        name: 'task',
        title: 'Task',
        description: 'One task of the tenant as JSON (the task object of GET /v1/tasks/{id}).',
        mimeType: 'application/json',
      },
    ],
  };
}

export async function readTaskResource(ctx: ServiceCtx, uri: string): Promise<ReadResourceResult> {
  try {
    assertCanRead(ctx);
    const id = uri.startsWith(TASK_URI_PREFIX) ? uri.slice(TASK_URI_PREFIX.length) : '';
    if (!/^[A-Za-z0-9_]{1,64}$/.test(id)) throw new AppError('not_found', 'Resource not found.');
    const task = await tasks.getTask(ctx, { id });
    return { contents: [{ uri, mimeType: 'application/json', text: JSON.stringify(task) }] };
  } catch (err) {
    throw resourceError(err, ctx, uri);
  }
}
