/**
 * One invocation in one wasm guest process, supervised the way sandbox.ts
 * supervises bubblewrap: a guest from the warm pool gets the job, its pipes are
 * read with the same caps, a wall-clock timer and a memory watch kill it, its
 * fetches go through the invocation's egress proxy, and classify.ts turns the
 * facts into the same typed outcome.
 */

import { rm } from 'node:fs/promises';
import type { ClientRequest } from 'node:http';
import type { Readable, Writable } from 'node:stream';
import { RunCaptures } from '../capture.ts';
import type { RunnerConfig } from '../config.ts';
import { processMemory, watchMemory } from '../memory-watch.ts';
import type { InvocationRequest, InvocationResult } from '../protocol.ts';
import { prepareEgress, STARTUP_GRACE_MS, signalNumber, waitForPipes } from '../sandbox.ts';
import { egressFetch, type GuestFetchRequest } from './egress-fetch.ts';
import type { WarmGuest, WarmPool } from './pool.ts';

const FD = { result: 3, fetchOut: 4, fetchIn: 5 } as const;
/** Bytes of fetch requests a guest may send in one invocation (bodies are base64 in them). */
const MAX_FETCH_REQUEST_BYTES = 16 * 1024 * 1024;

/** Runs one invocation to completion; never throws (failures are typed results). */
export async function runInWasm(
  cfg: RunnerConfig,
  pool: WarmPool,
  req: InvocationRequest,
  running: Set<() => void>,
): Promise<InvocationResult> {
  const started = performance.now();
  const empty = { stdout: '', stderr: '', stdoutBytes: 0, stderrBytes: 0 };
  let egress: Awaited<ReturnType<typeof prepareEgress>> | null = null;
  try {
    if (req.network.mode === 'allow') egress = await prepareEgress(cfg, req.network.hosts, false);
  } catch (err) {
    return { ok: false, error: { type: 'sandbox_error', message: `egress proxy: ${(err as Error).message}` }, durationMs: 0, ...empty };
  }
  let guest: WarmGuest;
  try {
    guest = await pool.take(req.runtime);
  } catch (err) {
    if (egress) await closeEgress(egress);
    return {
      ok: false,
      error: { type: 'sandbox_error', message: `The sandbox could not be started: ${(err as Error).message}` },
      durationMs: Math.round(performance.now() - started),
      ...empty,
    };
  }
  // The tool's clock starts now: loading the interpreter was the pool's time, not the tool's.
  const toolStarted = performance.now();
  const { child } = guest;
  const pipes = child.stdio as unknown as [Writable, Readable, Readable, Readable, Readable, Writable, Readable];

  let timedOut = false;
  let memoryExceeded = false;
  let exited = false;
  const kill = () => {
    // After the exit the pid may be reused by an unrelated process: never signal it then.
    if (child.pid === undefined || exited) return;
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      child.kill('SIGKILL');
    }
  };
  running.add(kill);
  const captures = new RunCaptures({ stdout: pipes[1], stderr: pipes[2], result: pipes[FD.result] }, cfg, kill);
  for (const p of pipes) p?.on('error', () => undefined);

  const inFlight = new Set<ClientRequest>();
  serveFetches(pipes[FD.fetchOut], pipes[FD.fetchIn], egress?.socket ?? null, inFlight, kill);

  // What the interpreter itself occupies is not the tool's: the limit applies to growth from here.
  const baseline = child.pid === undefined ? 0 : processMemory(child.pid);
  const job = {
    code: req.code,
    input: req.input ?? null,
    memoryMb: req.memoryMb,
    workDirBytes: cfg.workDirBytes,
    network: req.network.mode,
  };
  pipes[0].end(JSON.stringify(job));

  const timer = setTimeout(() => {
    if (exited) return;
    timedOut = true;
    kill();
  }, req.timeoutMs + STARTUP_GRACE_MS);
  const memory =
    child.pid === undefined
      ? null
      : watchMemory(child.pid, baseline + req.memoryMb * 1024 * 1024, () => {
          if (exited) return;
          memoryExceeded = true;
          kill();
        });

  const exitCode = await new Promise<number | null>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve(exitStatus(child.exitCode, child.signalCode));
    child.once('exit', (code, signal) => resolve(exitStatus(code, signal)));
  });
  exited = true;
  clearTimeout(timer);
  memory?.stop();
  running.delete(kill);
  // Everything the guest wrote before it exited is read before deciding (see waitForPipes).
  await waitForPipes([pipes[1], pipes[2], pipes[FD.result]]);
  for (const r of inFlight) r.destroy();
  for (const p of pipes) p?.destroy();
  if (egress) await closeEgress(egress);

  return captures.settle(
    {
      timedOut,
      memoryExceeded,
      timeoutMs: req.timeoutMs,
      spawnError: null,
      sandboxStarted: true,
      exitCode,
      memoryMb: req.memoryMb,
    },
    cfg,
    toolStarted,
  );
}

/** Answers the guest's fetch requests (NDJSON both ways); without an allow-list every one is refused. */
function serveFetches(
  requests: Readable,
  replies: Writable,
  proxySocket: string | null,
  inFlight: Set<ClientRequest>,
  kill: () => void,
): void {
  let buffered = '';
  let received = 0;
  requests.setEncoding('utf8');
  requests.on('data', (chunk: string) => {
    received += chunk.length;
    if (received > MAX_FETCH_REQUEST_BYTES) return kill();
    buffered += chunk;
    for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      let msg: GuestFetchRequest & { id: number };
      try {
        msg = JSON.parse(line);
      } catch {
        return kill();
      }
      const answer = (reply: object) => {
        if (!replies.destroyed) replies.write(`${JSON.stringify({ id: msg.id, ...reply })}\n`);
      };
      if (proxySocket === null) answer({ ok: false, error: "network is 'none' for this tool" });
      else void egressFetch(proxySocket, msg, inFlight).then(answer);
    }
  });
}

async function closeEgress(egress: Awaited<ReturnType<typeof prepareEgress>>): Promise<void> {
  await egress.proxy.close();
  await rm(egress.dir, { recursive: true, force: true });
}

function exitStatus(code: number | null, signal: NodeJS.Signals | null): number | null {
  if (code !== null) return code;
  return signal ? 128 + (signalNumber(signal) ?? 0) : null;
}
