/**
 * The wasm guest's side of its pipes to the runner (src/wasm/supervisor.ts):
 *   fd 0  the job (JSON, read once)        fd 1, 2  the tool's stdout, stderr
 *   fd 3  one JSON result, as bootstrap/*  fd 4, 5  fetch requests out, replies in (NDJSON)
 *   fd 6  "ready" once the interpreter is loaded
 * Self-contained (imports nothing from the runner): this directory is all the
 * guest process may read besides its interpreter's package.
 */
import { closeSync, readSync, writeSync } from 'node:fs';
import { Socket } from 'node:net';

export const FD = { job: 0, stdout: 1, stderr: 2, result: 3, fetchOut: 4, fetchIn: 5, status: 6 } as const;

export interface Job {
  code: string;
  input: unknown;
  memoryMb: number;
  workDirBytes: number;
  network: 'none' | 'allow';
}

export interface FetchRequest {
  url: string;
  method: string;
  headers: Record<string, string>;
  /** base64 */
  body: string | null;
}
export type FetchReply =
  | { ok: true; status: number; statusText: string; headers: [string, string][]; body: string }
  | { ok: false; error: string };

const sleeper = new Int32Array(new SharedArrayBuffer(4));

// Names in `ps`: a waiting pool member is `edgecrew-warm`; once it has a job, `edgecrew-guest`
// (the tests check that no guest outlives its invocation).
process.title = 'edgecrew-warm';

/**
 * An error that escapes the guest's own code ends the process with one short report on stderr and
 * exit status 1, classified like any tool that exits non-zero (classify.ts: its last line is the
 * detail). Node's default report prints the source line where the error was thrown, which for
 * Pyodide's minified interpreter is its whole 1.2 MB first line: past the stderr cap, so the run was
 * reported as invalid_output with a megabyte of JavaScript as its stderr.
 */
function crashReport(err: unknown): string {
  const lines = (value: string) =>
    value
      .split('\n')
      .filter((l) => l.trim())
      .map((l) => (l.length > 300 ? `${l.slice(0, 300)}…` : l));
  if (!(err instanceof Error)) return `${lines(String(err)).slice(-20).join('\n')}\n`;
  // The frames only: V8's stack starts with the message, which for a PythonError is a traceback.
  const head = `${err.name}: ${err.message}`;
  const trace = err.stack?.startsWith(head) ? err.stack.slice(head.length) : (err.stack ?? '');
  const stack = lines(trace)
    .filter((l) => /^\s+at /.test(l))
    .slice(0, 10);
  // The message last: a PythonError's message is the Python traceback, whose last line names the exception.
  const message = lines(err.message).slice(-20);
  const last = message.pop() ?? '';
  return `${[...stack, ...message, `${err.name}: ${last}`].join('\n')}\n`;
}

for (const event of ['uncaughtException', 'unhandledRejection'] as const)
  process.on(event, (err: unknown) => {
    try {
      let report: string;
      try {
        report = crashReport(err);
      } catch {
        report = `${event}: a value that cannot be described\n`; // e.g. Object.create(null) thrown
      }
      writeAll(FD.stderr, report);
    } finally {
      process.exit(1);
    }
  });

/** Writes all of `data` to a pipe, waiting out EAGAIN (the runner reads as fast as it can; a stop on a cap kills us). */
export function writeAll(fd: number, data: Uint8Array | string): void {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  let off = 0;
  while (off < bytes.length) {
    try {
      off += writeSync(fd, bytes, off, bytes.length - off);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
      Atomics.wait(sleeper, 0, 0, 1);
    }
  }
}

export function signalReady(): void {
  writeAll(FD.status, 'ready\n');
  closeSync(FD.status);
}

/** Blocks until the runner has written the whole job and closed the pipe. */
export function readJob(): Job {
  const chunks: Buffer[] = [];
  const buf = Buffer.alloc(64 * 1024);
  for (;;) {
    let n: number;
    try {
      n = readSync(FD.job, buf, 0, buf.length, null);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
      Atomics.wait(sleeper, 0, 0, 2);
      continue;
    }
    if (n === 0) break;
    chunks.push(Buffer.from(buf.subarray(0, n)));
  }
  process.title = 'edgecrew-guest';
  return JSON.parse(Buffer.concat(chunks).toString('utf8')) as Job;
}

export type ResultMessage =
  | { ok: true; output: unknown }
  | { ok: false; error: { type: 'exception' | 'invalid_output' | 'memory_limit'; message: string } };

/** The one result, then exit 0: exactly what bootstrap/node.mjs and bootstrap/python.py do. */
export function sendResult(message: ResultMessage | string): never {
  let text: string;
  if (typeof message === 'string') text = message;
  else {
    try {
      text = JSON.stringify(message);
    } catch (err) {
      text = JSON.stringify({
        ok: false,
        error: { type: 'invalid_output', message: `main() returned a value that is not JSON: ${(err as Error).message}` },
      });
    }
  }
  writeAll(FD.result, text);
  process.exit(0);
}

/** A fetch carried out by the runner through this invocation's egress proxy (allow-list and private-address rules there). */
export function fetchBridge(): (req: FetchRequest) => Promise<FetchReply> {
  const pending = new Map<number, (reply: FetchReply) => void>();
  let next = 0;
  let buffered = '';
  let replies: Socket | null = null;
  return (req) => {
    if (!replies) {
      // A libuv pipe handle, not an fs stream: a blocking read parked in the thread pool would hang process.exit().
      replies = new Socket({ fd: FD.fetchIn, readable: true, writable: false });
      replies.setEncoding('utf8');
      replies.on('data', (chunk: string | Buffer) => {
        buffered += chunk;
        for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
          const line = buffered.slice(0, nl);
          buffered = buffered.slice(nl + 1);
          const { id, ...reply } = JSON.parse(line) as FetchReply & { id: number };
          pending.get(id)?.(reply as FetchReply);
          pending.delete(id);
          // Only a fetch in flight keeps the guest alive, as in Node.
          if (pending.size === 0) replies?.unref();
        }
      });
    }
    const id = ++next;
    replies.ref();
    return new Promise<FetchReply>((resolve) => {
      pending.set(id, resolve);
      writeAll(FD.fetchOut, `${JSON.stringify({ id, ...req })}\n`);
    });
  };
}

/**
 * Removes the host's own ways out from the global scope before tool code runs:
 * the tool's only network is the bridge above. (Code generation from strings is
 * off for the whole process, and the permission model bars files, processes,
 * workers and native addons; see docs/tools.md for what remains.)
 */
export function lockDown(): void {
  for (const name of ['fetch', 'WebSocket', 'EventSource', 'XMLHttpRequest', 'navigator', 'require', 'module', 'Deno', 'Bun']) {
    try {
      delete (globalThis as Record<string, unknown>)[name];
    } catch {
      // not configurable: nothing to remove
    }
  }
}
