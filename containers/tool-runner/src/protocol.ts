/**
 * The wire protocol between the Worker and the runner (POST /v1/invocations).
 * The Worker's client (src/tools/runner-client.ts) speaks the same shapes.
 */

export const RUNTIMES = ['node', 'python3'] as const;
export type Runtime = (typeof RUNTIMES)[number];

export const ERROR_TYPES = ['timeout', 'memory_limit', 'exit_nonzero', 'invalid_output', 'sandbox_error'] as const;
export type ToolErrorType = (typeof ERROR_TYPES)[number];

export const LIMITS = {
  minTimeoutMs: 100,
  maxTimeoutMs: 60_000,
  minMemoryMb: 32,
  maxMemoryMb: 2048,
  maxCodeBytes: 256 * 1024,
  maxHosts: 32,
} as const;

export type Network = { mode: 'none' } | { mode: 'allow'; hosts: string[] };

export interface InvocationRequest {
  /** Caller's id for logs (the Worker's invocation id). */
  id: string;
  /**
   * The tenant the invocation runs for: its share of the sandboxes is capped (TOOL_RUNNER_TENANT_CONCURRENCY).
   * The Worker always sends it; a request without one (an operator's direct call) is bounded by the total only.
   */
  tenant?: string;
  runtime: Runtime;
  code: string;
  input: unknown;
  timeoutMs: number;
  memoryMb: number;
  network: Network;
}

interface Common {
  durationMs: number;
  stdout: string;
  stderr: string;
  stdoutBytes: number;
  stderrBytes: number;
}
/** On the wire each result also carries `sandbox: 'bwrap' | 'wasm'`, the mode that ran it (server.ts adds it). */
export type InvocationResult =
  | (Common & { ok: true; output: unknown; outputBytes: number })
  | (Common & { ok: false; error: { type: ToolErrorType; message: string } });

/** `host`, `*.host` or either with `:port`; lower-case letters, digits, dots, dashes. */
export const HOST_PATTERN = /^(\*\.)?[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*(:\d{1,5})?$/;

/** Validates a parsed body; returns the request or a list of problems. */
export function parseInvocation(body: unknown): { ok: true; value: InvocationRequest } | { ok: false; errors: string[] } {
  const errors: string[] = [];
  const b = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
  const int = (name: string, min: number, max: number) => {
    const v = b[name];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) errors.push(`${name} must be an integer in [${min}, ${max}]`);
  };
  if (typeof b.id !== 'string' || !/^[A-Za-z0-9_.:-]{1,128}$/.test(b.id)) errors.push('id must be a short identifier');
  if (b.tenant !== undefined && (typeof b.tenant !== 'string' || !/^[A-Za-z0-9_.:-]{1,128}$/.test(b.tenant)))
    errors.push('tenant must be a short identifier');
  if (!RUNTIMES.includes(b.runtime as Runtime)) errors.push(`runtime must be one of ${RUNTIMES.join(', ')}`);
  if (typeof b.code !== 'string' || b.code.length === 0 || Buffer.byteLength(b.code) > LIMITS.maxCodeBytes) {
    errors.push(`code must be a non-empty string of at most ${LIMITS.maxCodeBytes} bytes`);
  }
  if (!('input' in b)) errors.push('input is required');
  int('timeoutMs', LIMITS.minTimeoutMs, LIMITS.maxTimeoutMs);
  int('memoryMb', LIMITS.minMemoryMb, LIMITS.maxMemoryMb);
  const n = b.network as Record<string, unknown> | undefined;
  if (n?.mode === 'allow') {
    const hosts = n.hosts;
    if (
      !Array.isArray(hosts) ||
      hosts.length === 0 ||
      hosts.length > LIMITS.maxHosts ||
      !hosts.every((h) => typeof h === 'string' && HOST_PATTERN.test(h))
    ) {
      errors.push(`network.hosts must list 1 to ${LIMITS.maxHosts} host names`);
    }
  } else if (n?.mode !== 'none') errors.push("network.mode must be 'none' or 'allow'");
  if (errors.length > 0) return { ok: false, errors };
  return { ok: true, value: b as unknown as InvocationRequest };
}
