/**
 * Per-stage breakdown of a request (where each millisecond goes), from the `Server-Timing` header our
 * Worker sends outside staging and production (src/observability/timing.ts): `credential`, `ratelimit`,
 * the hot path's D1 and Durable Object round trips, and `total` (the Worker's own time for the request).
 * `client` is the time the bench saw for the same request, so client − total is the transport and queueing.
 */
import { markdownTable } from './report.mjs';

/** `a;dur=1.2, b;dur=3` → [{ name: 'a', ms: 1.2 }, …] (repeated names are kept, e.g. two hub calls). */
export function parseServerTiming(header) {
  if (!header) return [];
  return header
    .split(',')
    .map((part) => {
      const [name, ...params] = part.trim().split(';');
      const dur = params.map((p) => p.trim()).find((p) => p.startsWith('dur='));
      return { name: name.trim(), ms: dur ? Number(dur.slice(4)) : Number.NaN };
    })
    .filter((s) => s.name && Number.isFinite(s.ms));
}

const pct = (sorted, p) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] : null);
const round = (v) => (v === null ? null : Math.round(v * 100) / 100);

/**
 * Summary per stage over many requests: `samples` is a list of { stages: [{name, ms}], clientMs }.
 * A stage's `share` is its mean over the mean of `total` (stages that overlap can add up past 1).
 */
export function summarizeStages(samples) {
  const by = new Map();
  const add = (name, ms) => by.set(name, [...(by.get(name) ?? []), ms]);
  for (const s of samples) {
    const seen = new Map();
    for (const st of s.stages) seen.set(st.name, (seen.get(st.name) ?? 0) + st.ms);
    for (const [name, ms] of seen) add(name, ms);
    if (typeof s.clientMs === 'number') add('client', s.clientMs);
  }
  const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const totalMean = by.has('total') ? mean(by.get('total')) : null;
  const rows = [...by].map(([name, xs]) => {
    const sorted = [...xs].sort((a, b) => a - b);
    const m = mean(xs);
    return {
      stage: name,
      n: xs.length,
      meanMs: round(m),
      p50Ms: round(pct(sorted, 50)),
      p95Ms: round(pct(sorted, 95)),
      share: totalMean && name !== 'client' && name !== 'total' ? round(m / totalMean) : null,
    };
  });
  // Stages in the order they happen, then the Worker's total and the client's view.
  const order = (r) => (r.stage === 'total' ? 1 : r.stage === 'client' ? 2 : 0);
  return rows.sort((a, b) => order(a) - order(b));
}

/** The breakdown as a table; `baseline` ({ label, p50Ms, p95Ms }) is printed under it, from the same run. */
export function formatStages(title, rows, baseline) {
  const f = (v) => (v === null || v === undefined ? '-' : v < 10 ? v.toFixed(2) : v.toFixed(1));
  const head = [title, 'n', 'mean ms', 'p50 ms', 'p95 ms', 'share of total'];
  const cells = rows.map((r) => [
    r.stage,
    String(r.n),
    f(r.meanMs),
    f(r.p50Ms),
    f(r.p95Ms),
    r.share === null ? '' : `${Math.round(r.share * 100)} %`,
  ]);
  if (baseline)
    cells.push([`baseline: ${baseline.label}`, String(baseline.n ?? ''), f(baseline.meanMs), f(baseline.p50Ms), f(baseline.p95Ms), '']);
  return markdownTable(head, cells);
}

/**
 * Sends `n` requests at `concurrency` through `send()` (→ Response) and collects their Server-Timing
 * stages and client times. Bodies are drained; a non-2xx is counted, not timed.
 */
export async function probeStages(send, { n = 200, concurrency = 16 } = {}) {
  const samples = [];
  let errors = 0;
  let next = 0;
  const worker = async () => {
    while (next < n) {
      next++;
      const t0 = performance.now();
      const res = await send();
      await res.arrayBuffer();
      const clientMs = performance.now() - t0;
      if (res.status < 200 || res.status > 299) {
        errors++;
        continue;
      }
      samples.push({ stages: parseServerTiming(res.headers.get('server-timing')), clientMs });
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { samples, errors };
}

/** Client-side latency summary of a probe (the baseline's row under a breakdown). */
export function clientSummary(label, samples) {
  const xs = samples.map((s) => s.clientMs).sort((a, b) => a - b);
  const mean = xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null;
  return { label, n: xs.length, meanMs: round(mean), p50Ms: round(pct(xs, 50)), p95Ms: round(pct(xs, 95)) };
}
