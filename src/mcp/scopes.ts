/**
 * The OAuth scopes a /mcp request needs (docs/mcp.md "OAuth"), read from its JSON-RPC body before the
 * MCP server runs, so a token without them is refused with 403 `insufficient_scope` (RFC 6750 §3.1)
 * and the client can step up. initialize, ping, tools/list, prompts/* and the like need only a valid token.
 */
import { MCP_SCOPES, type McpScope } from '../oauth/scopes';
import { TENANT_TOOL_PREFIX } from './tenant-tools';
import { TOOLS_BY_NAME } from './tools';

function scopeOf(message: unknown): McpScope | undefined {
  if (message === null || typeof message !== 'object') return undefined;
  const { method, params } = message as { method?: unknown; params?: { name?: unknown } };
  if (method === 'tools/call' && typeof params?.name === 'string') {
    const tool = TOOLS_BY_NAME.get(params.name);
    if (tool) return tool.scope;
    // The tenant's own tools (tool_<name>) run through invoke; an unknown name is the server's "Unknown tool".
    return params.name.startsWith(TENANT_TOOL_PREFIX) ? 'tools:invoke' : undefined;
  }
  // Resources are the tenant's tasks (src/mcp/resources.ts).
  if (typeof method === 'string' && method.startsWith('resources/')) return 'tasks:read';
  // The Tasks extension's tasks are flow runs (src/mcp/run-tasks.ts).
  if (typeof method === 'string' && method.startsWith('tasks/')) return 'flows:run';
  return undefined;
}

/** Every scope the message (or batch) needs, in catalogue order. */
export function scopesNeeded(body: unknown): McpScope[] {
  const needed = new Set((Array.isArray(body) ? body : [body]).map(scopeOf));
  return MCP_SCOPES.filter((s) => needed.has(s));
}
