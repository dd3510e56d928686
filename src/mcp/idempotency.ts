/**
 * Idempotency for MCP tool calls that create things (`add_tasks`): the same
 * records the HTTP `Idempotency-Key` middleware keeps in the tenant's hub
 * (src/middleware/idempotency.ts), keyed by the caller and an `mcp:` namespace
 * so a tool call never replays an HTTP answer or the reverse. The first result
 * is stored sealed for 24 h and returned again for a retry with the same key and
 * arguments; other arguments under the same key are refused, as is a retry while
 * the first call is still running.
 */
import { sha256Hex } from '../identity/encoding';
import type { ServiceCtx } from '../lib/context';
import { AppError } from '../lib/problem';
import { secretBox } from '../lib/secret-box';
import { tenantHubStub } from '../lib/stubs';
import { errorFields } from '../observability/log';
import { MAX_TOOL_REQUEST_MS } from '../tools/model';

const TTL_MS = 24 * 3600_000;
/** As for HTTP (src/middleware/idempotency.ts): a claim outlasts the longest call, so a retry never runs it twice. */
const LEASE_MS = MAX_TOOL_REQUEST_MS + 30_000;
const box = secretBox({ secretName: 'TOKEN_PEPPER', info: 'edgecrew mcp tool result v1' });

async function fingerprint(tool: string, args: unknown): Promise<string> {
  return sha256Hex(`mcp ${tool}\n${JSON.stringify(args)}`);
}

/** Runs `fn` once per (caller, key): a retry with the same arguments gets the stored result and `replayed: true`. */
export async function onceFor<T>(
  ctx: ServiceCtx,
  tool: string,
  key: string,
  args: unknown,
  fn: () => Promise<T>,
): Promise<{ result: T; replayed: boolean }> {
  const scoped = `${ctx.actor.id}:mcp:${tool}:${key}`;
  const aad = `${ctx.tenantId}:${scoped}`;
  const print = await fingerprint(tool, args);
  const hub = tenantHubStub(ctx.env, ctx.tenantId);
  const begun = await hub.idempotencyBegin(ctx.tenantId, scoped, print, { leaseMs: LEASE_MS, ttlMs: TTL_MS });
  if (begun.state === 'mismatch') {
    throw new AppError('idempotency_key_reused', `This idempotencyKey was already used with different ${tool} arguments.`);
  }
  if (begun.state === 'in_flight') {
    throw new AppError('conflict', 'A call with this idempotencyKey is still in progress; retry after it completes.', {
      headers: { 'retry-after': '1' },
    });
  }
  if (begun.state === 'replay') {
    const plain = await box.open(ctx.config.TOKEN_PEPPER, aad, begun.response.body);
    return { result: JSON.parse(plain) as T, replayed: true };
  }
  let result: T;
  try {
    result = await fn();
  } catch (err) {
    await hub.idempotencyRelease(ctx.tenantId, scoped, print).catch(() => undefined);
    throw err;
  }
  try {
    const sealed = await box.seal(ctx.config.TOKEN_PEPPER, aad, JSON.stringify(result));
    await hub.idempotencyComplete(ctx.tenantId, scoped, print, { status: 200, headers: {}, body: sealed });
  } catch (err) {
    // The writes committed: report them rather than invite a retry (the claim expires after its lease).
    console.error(JSON.stringify({ message: 'mcp idempotency record failed', key: scoped, ...errorFields(err) }));
  }
  return { result, replayed: false };
}
