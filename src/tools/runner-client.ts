/**
 * The Worker's client for the tool runner: one protocol, two transports.
 * `TOOL_RUNNER_URL` (local dev, tests: the runner as a plain process) wins when
 * set; otherwise the Cloudflare Containers binding `TOOL_RUNNER` (production).
 * Every request is signed: HMAC-SHA256 over `timestamp.method.path.body` with
 * TOOL_RUNNER_SECRET (containers/tool-runner/src/auth.ts checks it).
 */
import { getRandom } from '@cloudflare/containers';
import type { Config } from '../config';
import { toHex } from '../identity/encoding';
import { TOOL_TRANSPORT_GRACE_MS, type ToolRuntime } from './model';

export const INVOCATIONS_PATH = '/v1/invocations';
/** Container instances invocations are spread over (each runs TOOL_RUNNER_CONCURRENCY sandboxes). */
export const CONTAINER_INSTANCES = 4;

export interface RunnerRequest {
  id: string;
  /** The tenant invoking: the runner caps each tenant's share of its sandboxes (503 `tenant_busy` past it). */
  tenant: string;
  runtime: ToolRuntime;
  code: string;
  input: unknown;
  timeoutMs: number;
  memoryMb: number;
  network: { mode: 'none' } | { mode: 'allow'; hosts: string[] };
}

/** The runner's isolation mode (containers/tool-runner/src/mode.ts). */
export type SandboxMode = 'bwrap' | 'wasm';
export const SANDBOX_MODES = ['bwrap', 'wasm'] as const satisfies readonly SandboxMode[];

/** The runner's answer (containers/tool-runner/src/protocol.ts `InvocationResult`). */
export type RunnerResult = {
  /** Which isolation ran the tool (absent from runners older than the wasm mode). */
  sandbox?: SandboxMode;
  durationMs: number;
  stdout: string;
  stderr: string;
  stdoutBytes: number;
  stderrBytes: number;
} & (
  | { ok: true; output: unknown; outputBytes: number }
  | { ok: false; error: { type: 'timeout' | 'memory_limit' | 'exit_nonzero' | 'invalid_output' | 'sandbox_error'; message: string } }
);

/** Either the tool ran (whatever its outcome), or the runner could not be used. */
export type RunnerReply =
  | { ran: true; result: RunnerResult }
  | { ran: false; retryable: boolean; retryAfterS: number | null; message: string };

export type RunnerTransport = (request: Request) => Promise<Response>;

/** Picks the transport for this deployment; null when neither is configured. */
export function runnerTransport(config: Config, env: { TOOL_RUNNER?: Env['TOOL_RUNNER'] }): RunnerTransport | null {
  const base = config.TOOL_RUNNER_URL;
  if (base) return (request) => fetch(new Request(new URL(new URL(request.url).pathname, base), request));
  const binding = env.TOOL_RUNNER;
  if (binding) {
    return async (request) => {
      const stub = await getRandom(binding, CONTAINER_INSTANCES);
      return stub.fetch(request);
    };
  }
  return null;
}

const keys = new Map<string, Promise<CryptoKey>>();
function hmacKey(secret: string): Promise<CryptoKey> {
  let key = keys.get(secret);
  if (!key) {
    key = crypto.subtle.importKey('raw', new TextEncoder().encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
    keys.set(secret, key);
  }
  return key;
}

/** The signature headers for one request (exported for tests). */
export async function signRequest(
  secret: string,
  method: string,
  path: string,
  body: string,
  now = Date.now(),
): Promise<Record<string, string>> {
  const timestamp = String(now);
  const mac = await crypto.subtle.sign(
    'HMAC',
    await hmacKey(secret),
    new TextEncoder().encode(`${timestamp}.${method.toUpperCase()}.${path}.${body}`),
  );
  return { 'x-edgecrew-timestamp': timestamp, 'x-edgecrew-signature': toHex(mac) };
}

/** Sends one invocation to the runner and waits for it. Never throws. */
export async function callRunner(transport: RunnerTransport, secret: string, req: RunnerRequest): Promise<RunnerReply> {
  const body = JSON.stringify(req);
  let res: Response;
  try {
    const headers = { 'content-type': 'application/json', ...(await signRequest(secret, 'POST', INVOCATIONS_PATH, body)) };
    res = await transport(
      new Request(`http://tool-runner${INVOCATIONS_PATH}`, {
        method: 'POST',
        body,
        headers,
        signal: AbortSignal.timeout(req.timeoutMs + TOOL_TRANSPORT_GRACE_MS),
      }),
    );
  } catch (err) {
    return { ran: false, retryable: true, retryAfterS: null, message: `The tool runner is unreachable: ${(err as Error).message}` };
  }
  if (res.status === 503) {
    const reason = ((await res.json().catch(() => null)) as { error?: unknown } | null)?.error;
    const after = Number(res.headers.get('retry-after'));
    return {
      ran: false,
      retryable: true,
      retryAfterS: Number.isFinite(after) && after > 0 ? after : 1,
      message:
        reason === 'tenant_busy'
          ? "The tenant is running its share of the tool runner's sandboxes; retry when one of its invocations ends."
          : 'The tool runner is at capacity.',
    };
  }
  if (res.status === 401) {
    await res.body?.cancel();
    // Misconfiguration (TOOL_RUNNER_SECRET differs between the Worker and the runner), not the tool's fault.
    return { ran: false, retryable: false, retryAfterS: null, message: 'The tool runner refused our credentials.' };
  }
  if (res.status !== 200) {
    const text = (await res.text()).slice(0, 300);
    return { ran: false, retryable: res.status >= 500, retryAfterS: null, message: `The tool runner answered ${res.status}: ${text}` };
  }
  try {
    return { ran: true, result: (await res.json()) as RunnerResult };
  } catch {
    return { ran: false, retryable: true, retryAfterS: null, message: 'The tool runner sent an unreadable answer.' };
  }
}

/** GET /health on the runner (unsigned: it reveals no secrets); throws when it does not answer 200. */
export async function runnerHealth(transport: RunnerTransport, timeoutMs: number): Promise<{ sandbox: SandboxMode | null }> {
  const res = await transport(new Request('http://tool-runner/health', { signal: AbortSignal.timeout(timeoutMs) }));
  if (res.status !== 200) {
    await res.body?.cancel();
    throw new Error(`the tool runner answered ${res.status}`);
  }
  const body = (await res.json()) as { sandbox?: unknown };
  return { sandbox: SANDBOX_MODES.includes(body.sandbox as SandboxMode) ? (body.sandbox as SandboxMode) : null };
}
