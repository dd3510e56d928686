/**
 * Turns what was observed about one sandboxed run into the typed outcome. Pure:
 * the supervisor (sandbox.ts) collects the facts, this decides what they mean.
 */
import type { ToolErrorType } from './protocol.ts';

export interface RunFacts {
  /** The wall-clock timer fired and the sandbox was killed. */
  timedOut: boolean;
  timeoutMs: number;
  /** The sandbox's processes together passed `memoryMb` and were killed. */
  memoryExceeded: boolean;
  /** A stream passed its cap and the sandbox was killed. */
  overflow: 'stdout' | 'stderr' | 'result' | null;
  maxLogBytes: number;
  maxOutputBytes: number;
  /** The runner could not start or talk to bwrap. */
  spawnError: string | null;
  /** bwrap reported the sandbox's first process (from --json-status-fd). */
  sandboxStarted: boolean;
  /** bwrap's exit status: the tool's, or 128+signal when it died from a signal. */
  exitCode: number | null;
  /** What the bootstrap wrote on the result channel (fd 3). */
  result: Buffer;
  /** Tail of stderr, for the error message. */
  stderr: string;
  memoryMb: number;
}

export type Outcome = { ok: true; output: unknown; outputBytes: number } | { ok: false; type: ToolErrorType; message: string };

const fail = (type: ToolErrorType, message: string): Outcome => ({ ok: false, type, message });

const SIGNALS: Record<number, string> = {
  6: 'SIGABRT',
  9: 'SIGKILL',
  5: 'SIGTRAP',
  11: 'SIGSEGV',
  24: 'SIGXCPU',
  25: 'SIGXFSZ',
  15: 'SIGTERM',
};
// V8 aborts (SIGTRAP/SIGABRT) with these when the heap or address-space limit is reached.
const NODE_OOM = /heap out of memory|Reached heap limit|Fatal process out of memory|Array buffer allocation failed|Cannot allocate memory/i;
const PYTHON_OOM = /\bMemoryError\b/;

function lastLine(text: string): string {
  const lines = text
    .trim()
    .split('\n')
    .filter((l) => l.trim() && !l.startsWith('…['));
  return (lines[lines.length - 1] ?? '').slice(0, 500);
}

/** Parses the bootstrap's message: `{ ok: true, output }` or `{ ok: false, error: { type, message } }`. */
function fromResult(raw: Buffer, memoryMb: number): Outcome | null {
  if (raw.length === 0) return null;
  let msg: { ok?: unknown; output?: unknown; error?: { type?: unknown; message?: unknown } };
  try {
    msg = JSON.parse(raw.toString('utf8'));
  } catch {
    return fail('invalid_output', 'The tool wrote something other than one JSON result on the result channel.');
  }
  if (msg.ok === true && 'output' in msg) {
    return { ok: true, output: msg.output, outputBytes: Buffer.byteLength(JSON.stringify(msg.output) ?? 'null') };
  }
  const message = typeof msg.error?.message === 'string' ? msg.error.message.slice(0, 2000) : 'The tool failed.';
  switch (msg.error?.type) {
    case 'memory_limit':
      return fail('memory_limit', `The tool ran out of memory (limit ${memoryMb} MB): ${message}`);
    case 'invalid_output':
      return fail('invalid_output', message);
    case 'exception':
      return fail('exit_nonzero', message);
    default:
      return fail('invalid_output', 'The tool wrote an unrecognised result.');
  }
}

export function classify(f: RunFacts): Outcome {
  if (f.spawnError) return fail('sandbox_error', `The sandbox could not be started: ${f.spawnError}`);
  if (f.memoryExceeded) return fail('memory_limit', `The tool used more than its ${f.memoryMb} MB of memory.`);
  if (f.timedOut) return fail('timeout', `The tool did not finish within ${f.timeoutMs} ms.`);
  if (f.overflow === 'result') return fail('invalid_output', `The tool's result exceeded ${f.maxOutputBytes} bytes.`);
  if (f.overflow) return fail('invalid_output', `The tool wrote more than ${f.maxLogBytes} bytes to ${f.overflow}.`);

  const result = fromResult(f.result, f.memoryMb);
  if (result) return result;

  const code = f.exitCode;
  if (!f.sandboxStarted || (code === 1 && /^bwrap: /m.test(f.stderr))) {
    return fail('sandbox_error', `The sandbox could not be set up: ${lastLine(f.stderr) || `bwrap exited ${code}`}`);
  }
  if (code === null) return fail('sandbox_error', 'The sandbox ended without an exit status.');
  const signal = code > 128 ? code - 128 : 0;
  if (signal === 24 || signal === 9) return fail('timeout', `The tool used up its CPU time (killed by ${SIGNALS[signal]}).`);
  if (NODE_OOM.test(f.stderr) || PYTHON_OOM.test(f.stderr)) {
    return fail('memory_limit', `The tool ran out of memory (limit ${f.memoryMb} MB).`);
  }
  if (signal === 25) return fail('exit_nonzero', 'The tool wrote a file larger than the sandbox allows (SIGXFSZ).');
  if (code === 0) return fail('invalid_output', 'The tool exited without returning a result from main().');
  const how = signal > 0 ? `was killed by ${SIGNALS[signal] ?? `signal ${signal}`}` : `exited with code ${code}`;
  const detail = lastLine(f.stderr);
  return fail('exit_nonzero', `The tool ${how}${detail ? `: ${detail}` : '.'}`);
}
