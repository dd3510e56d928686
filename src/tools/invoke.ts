/**
 * Invoking a tool: resolve the version, validate the input against its
 * inputSchema, run it in the tool runner's sandbox, validate the output against
 * its outputSchema, record the invocation (D1, compact row) and count it
 * (Analytics Engine). Used by POST /v1/tools/{id}/invoke and by flow `tool` nodes.
 */
import type { Config } from '../config';
import { type Db, getDb } from '../db/client';
import { toolInvocations } from '../db/schema';
import { TenantScope } from '../db/tenant-scope';
import type { ServiceCtx } from '../lib/context';
import { newId } from '../lib/ids';
import { AppError, type FieldError } from '../lib/problem';
import { writeCounter } from '../observability/analytics';
import { validateValue } from './json-schema';
import type { ToolErrorType } from './model';
import { resolveVersion } from './registry';
import { callRunner, type RunnerTransport, runnerTransport, type SandboxMode } from './runner-client';

/** What invoking a tool needs; build it with `toolDeps(env, config)` outside a request. */
export interface ToolDeps {
  db: Db;
  config: Config;
  env: { TOOL_RUNNER?: Env['TOOL_RUNNER']; ANALYTICS?: AnalyticsEngineDataset };
  /** Who is invoking, for the invocation log. Default `'flow'`. */
  source?: 'api' | 'flow';
  /** Overrides the transport (tests). */
  transport?: RunnerTransport;
}

export function toolDeps(env: Env, config: Config, source: 'api' | 'flow' = 'flow'): ToolDeps {
  return { db: getDb(env.DB), config, env, source };
}

interface Invocation {
  invocationId: string;
  /** The runner's isolation mode, when the tool ran. */
  sandbox: SandboxMode | null;
  toolId: string;
  version: number;
  durationMs: number;
  stdout: string;
  stderr: string;
}

export type ToolResult =
  | (Invocation & { ok: true; output: unknown })
  | (Invocation & {
      ok: false;
      error: { type: ToolErrorType; message: string; errors?: FieldError[] };
      /** The runner was busy or unreachable (the tool did not run): worth retrying, after this many seconds when known. */
      retryable?: boolean;
      retryAfterS?: number | null;
    });

const bytes = (value: unknown) => (value === undefined ? 0 : new TextEncoder().encode(JSON.stringify(value)).length);

/**
 * Runs `version` (a number or `'latest'`) of the tenant's tool on `input`.
 * Resolves to the tool's output or a typed error; throws `AppError('not_found')`
 * only for an unknown tool or version.
 */
export async function invokeTool(
  deps: ToolDeps,
  tenantId: string,
  toolId: string,
  version: number | 'latest',
  input: unknown,
): Promise<ToolResult> {
  const scope = new TenantScope(deps.db, tenantId);
  const v = await resolveVersion(scope, toolId, version);
  const invocationId = newId('inv');
  const base: Invocation = { invocationId, sandbox: null, toolId, version: v.version, durationMs: 0, stdout: '', stderr: '' };
  let result: ToolResult;
  let logBytes = 0;
  let outputBytes = 0;

  const inputErrors = validateValue(v.inputSchema, input, ['input']);
  if (inputErrors.length > 0) {
    result = {
      ...base,
      ok: false,
      error: {
        type: 'invalid_input',
        message: `The input does not match the tool's inputSchema: ${summary(inputErrors)}`,
        errors: inputErrors,
      },
    };
  } else {
    const transport = deps.transport ?? runnerTransport(deps.config, deps.env);
    const secret = deps.config.TOOL_RUNNER_SECRET;
    if (!transport || !secret) {
      result = {
        ...base,
        ok: false,
        retryable: false,
        error: {
          type: 'sandbox_error',
          message: 'No tool runner is configured (TOOL_RUNNER_URL or the TOOL_RUNNER binding, and TOOL_RUNNER_SECRET).',
        },
      };
    } else {
      const network = v.network === 'none' ? { mode: 'none' as const } : { mode: 'allow' as const, hosts: v.network.allow };
      const reply = await callRunner(transport, secret, {
        id: invocationId,
        tenant: tenantId,
        runtime: v.runtime,
        code: v.code,
        input,
        timeoutMs: v.timeoutMs,
        memoryMb: v.memoryMb,
        network,
      });
      if (!reply.ran) {
        result = {
          ...base,
          ok: false,
          retryable: reply.retryable,
          retryAfterS: reply.retryAfterS,
          error: { type: 'sandbox_error', message: reply.message },
        };
      } else {
        const r = reply.result;
        const ran = { ...base, sandbox: r.sandbox ?? null, durationMs: r.durationMs, stdout: r.stdout, stderr: r.stderr };
        logBytes = r.stdoutBytes + r.stderrBytes;
        if (!r.ok) result = { ...ran, ok: false, error: r.error };
        else {
          outputBytes = r.outputBytes;
          const outputErrors =
            v.outputSchema === null || v.outputSchema === undefined ? [] : validateValue(v.outputSchema, r.output, ['output']);
          result =
            outputErrors.length > 0
              ? {
                  ...ran,
                  ok: false,
                  error: {
                    type: 'invalid_output',
                    message: `The output does not match the tool's outputSchema: ${summary(outputErrors)}`,
                    errors: outputErrors,
                  },
                }
              : { ...ran, ok: true, output: r.output };
        }
      }
    }
  }

  const outcome = result.ok ? 'ok' : result.error.type;
  await scope
    .insert(toolInvocations, {
      id: invocationId,
      toolId,
      version: v.version,
      source: deps.source ?? 'flow',
      outcome,
      durationMs: result.durationMs,
      inputBytes: bytes(input),
      outputBytes,
      logBytes,
      sandbox: result.sandbox,
    })
    .run();
  // blob1 'tool_invocation', blob2 tool, blob3 version, blob4 runtime, blob5 outcome, blob6 source; double1 duration ms.
  writeCounter(
    deps.env.ANALYTICS,
    'tool_invocation',
    tenantId,
    [toolId, String(v.version), v.runtime, outcome, deps.source ?? 'flow'],
    result.durationMs,
  );
  return result;
}

function summary(errors: FieldError[]): string {
  const shown = errors.slice(0, 3).map((e) => `${e.path || '(root)'}: ${e.message}`);
  return shown.join('; ') + (errors.length > 3 ? ` (+${errors.length - 3} more)` : '');
}

/** POST /v1/tools/{id}/invoke: the caller's tool on one input (see `invokeForApi` for the answer's shape). */
export async function invoke(ctx: ServiceCtx, input: { toolId: string; input?: unknown; version?: number | undefined }) {
  return invokeForApi(toolDeps(ctx.env, ctx.config, 'api'), ctx.tenantId, input.toolId, input);
}

/**
 * The HTTP view of an invocation (its transport injectable, for tests): invalid input is the caller's 422; a runner
 * that could not run the tool at all (busy, unreachable, misconfigured) is a 503;
 * anything the tool itself did is a 200 with `ok` and its output or typed error.
 */
export async function invokeForApi(
  deps: ToolDeps,
  tenantId: string,
  toolId: string,
  body: { input?: unknown; version?: number | undefined },
) {
  const result = await invokeTool({ ...deps, source: 'api' }, tenantId, toolId, body.version ?? 'latest', body.input);
  if (result.ok) return result;
  const { retryable, retryAfterS, ...rest } = result;
  if (result.error.type === 'invalid_input') {
    throw new AppError('validation_failed', result.error.message, {
      errors: result.error.errors ?? [],
      extensions: { invocationId: result.invocationId },
    });
  }
  if (retryable !== undefined) {
    throw new AppError('service_unavailable', result.error.message, {
      headers: retryable ? { 'Retry-After': String(retryAfterS ?? 1) } : {},
      extensions: { invocationId: result.invocationId },
    });
  }
  return rest;
}
