/**
 * One bounded autocannon run over loopback. Latency is taken from autocannon's
 * per-response timings (sub-millisecond precision; its own histogram rounds to whole ms).
 */
import autocannon from 'autocannon';
import { cpuBetween, sampleCpu } from './cpu.mjs';

/** Hard ceiling on top of autocannon's own duration, in case a run never finishes. */
const GRACE_MS = 15_000;

/**
 * `setupRequest` (optional) rewrites every request before it is sent (autocannon's hook):
 * `(req) => req` where req is `{ method, path, headers, body }`, e.g. to rotate credentials
 * over several tenants (rate limits) or vary `cf-connecting-ip` per request.
 *
 * @param {{ url: string, method?: string, headers?: Record<string,string>, body?: string,
 *           durationS: number, connections: number, timeoutS?: number,
 *           setupRequest?: (req: { method: string, path: string, headers: Record<string,string>, body?: string }) => object }} opts
 */
export function runLoad({ url, method = 'GET', headers = {}, body, durationS, connections, timeoutS = 10, setupRequest }) {
  return new Promise((resolve, reject) => {
    let latencies = new Float64Array(1 << 16);
    let n = 0;
    const statuses = {};
    const cpu0 = sampleCpu();
    const started = process.hrtime.bigint();
    const instance = autocannon(
      {
        url,
        method,
        headers,
        body,
        connections,
        // One request template per connection, rebuilt through setupRequest before each send.
        ...(setupRequest ? { requests: [{ method, path: new URL(url).pathname + new URL(url).search, headers, body, setupRequest }] } : {}),
        pipelining: 1,
        duration: durationS,
        // autocannon only checks for the end of `duration` on each sample tick (default 1 s,
        // which turns 2.5 s into 3 s); tick faster so the run length is what was asked for.
        sampleInt: 100,
        timeout: timeoutS,
        // Both sides of a comparison get the same treatment; no progress bar or table from autocannon.
        renderProgressBar: false,
        renderResultsTable: false,
        renderLatencyTable: false,
      },
      (err, result) => {
        clearTimeout(guard);
        if (err) return reject(err);
        const elapsedS = Number(process.hrtime.bigint() - started) / 1e9;
        resolve(summarize(result, latencies.subarray(0, n), statuses, elapsedS, cpuBetween(cpu0, sampleCpu())));
      },
    );
    const guard = setTimeout(
      () => {
        instance.stop();
        reject(new Error(`load run against ${url} did not finish within ${durationS}s + ${GRACE_MS / 1000}s`));
      },
      durationS * 1000 + GRACE_MS,
    );
    instance.on('response', (_client, statusCode, _bytes, responseTimeMs) => {
      if (n === latencies.length) {
        const grown = new Float64Array(latencies.length * 2);
        grown.set(latencies);
        latencies = grown;
      }
      latencies[n++] = responseTimeMs;
      statuses[statusCode] = (statuses[statusCode] ?? 0) + 1;
    });
  });
}

function summarize(result, latencies, statuses, elapsedS, cpu) {
  return {
    cpu,
    responses: latencies.length,
    elapsedS,
    statuses,
    non2xx: result.non2xx,
    // autocannon counts timeouts inside `errors`; keep them apart.
    socketErrors: result.errors - result.timeouts,
    timeouts: result.timeouts,
    latencies,
  };
}

/**
 * A scenario's `ours` or `base` (a path, a request object, or a function of the setup's result) as
 * the request the runner sends: method, path, absolute url, headers (the setup's first), body and
 * the per-request rewrite.
 */
export function toRequest(spec, setup, origin) {
  const resolved = typeof spec === 'function' ? spec(setup) : spec;
  const r = typeof resolved === 'string' ? { path: resolved } : resolved;
  if (!r || typeof r.path !== 'string' || !r.path.startsWith('/')) throw new Error(`bad request spec: ${JSON.stringify(resolved)}`);
  return {
    method: (r.method ?? 'GET').toUpperCase(),
    path: r.path,
    url: new URL(r.path, origin).href,
    headers: { ...(setup.headers ?? {}), ...(r.headers ?? {}) },
    body: r.body,
    perRequest: typeof r.perRequest === 'function' ? r.perRequest : undefined,
  };
}

/** Merges several runs against the same target into one sample. */
export function merge(runs) {
  const total = runs.reduce((s, r) => s + r.latencies.length, 0);
  const latencies = new Float64Array(total);
  let off = 0;
  const statuses = {};
  for (const r of runs) {
    latencies.set(r.latencies, off);
    off += r.latencies.length;
    for (const [code, count] of Object.entries(r.statuses)) statuses[code] = (statuses[code] ?? 0) + count;
  }
  const elapsedS = runs.reduce((s, r) => s + r.elapsedS, 0);
  const socketErrors = runs.reduce((s, r) => s + r.socketErrors, 0);
  const timeouts = runs.reduce((s, r) => s + r.timeouts, 0);
  const non2xx = runs.reduce((s, r) => s + r.non2xx, 0);
  latencies.sort();
  const cpus = runs.map((r) => r.cpu).filter((c) => c !== null);
  const cpu =
    cpus.length === 0
      ? null
      : {
          machineBusyPct: round1(avg(cpus.map((c) => c.machineBusyPct))),
          benchPct: round1(avg(cpus.map((c) => c.benchPct))),
          foreignPct: round1(avg(cpus.map((c) => c.foreignPct))),
          foreignPctMax: Math.max(...cpus.map((c) => c.foreignPct)),
          workerdMs: cpus.reduce((sum, c) => sum + (c.workerdMs ?? 0), 0),
        };
  const pct = (p) => (total === 0 ? null : round(latencies[Math.min(total - 1, Math.max(0, Math.ceil((p / 100) * total) - 1))]));
  return {
    requests: total,
    durationS: round(elapsedS),
    reqPerSec: elapsedS > 0 ? Math.round(total / elapsedS) : 0,
    latencyMs: {
      p50: pct(50),
      p90: pct(90),
      p99: pct(99),
      max: total === 0 ? null : round(latencies[total - 1]),
      mean: total === 0 ? null : round(latencies.reduce((s, v) => s + v, 0) / total),
    },
    statuses,
    cpu,
    // workerd CPU per response (both Workers share the process; each side's slices are measured alone).
    cpuMsPerRequest: cpu === null || total === 0 ? null : Math.round((cpu.workerdMs / total) * 1000) / 1000,
    errors: non2xx + socketErrors + timeouts,
    non2xx,
    socketErrors,
    timeouts,
  };
}

const round = (v) => Math.round(v * 1000) / 1000;
const round1 = (v) => Math.round(v * 10) / 10;
const avg = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
