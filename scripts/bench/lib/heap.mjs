/**
 * Memory: each measured isolate's live JavaScript heap after a full garbage collection, read over
 * V8's inspector (as `npm run bench:profile` profiles, on the inspector port of the workerd running),
 * at points each suite chooses (its start on a fresh workerd, with its 1,000 sockets open, after its
 * hundreds of runs, at its end).
 *
 * Locally our Worker and every one of its Durable Objects share one isolate (`core:user:edgecrew`),
 * as the bare baseline and its objects share another, and Workflows a third: a point is the whole
 * isolate, code included. Production runs the same code in the same kind of isolate, with a 128 MB
 * limit per isolate (Workers' documented limit); objects it has evicted cost nothing there, while
 * here an object stays in memory for the whole suite. docs/performance.md, "Memory".
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { connectInspector } from './profiler.mjs';
import { markdownTable } from './report.mjs';

/** Workers' memory limit per isolate, printed beside the figures. */
export const ISOLATE_LIMIT_MB = 128;
/** At most this long per isolate read (connecting, the collection, the heap's size). */
const READ_TIMEOUT_MS = 10_000;
const POKE_EVERY_MS = 200;
const POKE_TIMEOUT_MS = 2_000;

const round2 = (v) => Math.round(v * 100) / 100;

/** A `poke` for `liveHeapMB`: one GET of `url`, its body read, bounded. */
export const pokeWith = (url) => () => fetch(url, { signal: AbortSignal.timeout(POKE_TIMEOUT_MS) }).then((res) => res.arrayBuffer());

/**
 * One isolate's live heap in MB after a full collection, or null when the inspector does not answer
 * within READ_TIMEOUT_MS. V8 runs the inspector's collection as a task on the isolate's thread, which
 * workerd runs only when the isolate has work: `poke` sends it a request (any answer will do), again
 * every POKE_EVERY_MS until the collection answers, since a request served before the task was posted
 * does not run it.
 */
async function liveHeapMB(port, isolate, poke) {
  const deadline = performance.now() + READ_TIMEOUT_MS;
  const connecting = connectInspector(port, isolate);
  const inspector = await Promise.race([connecting, sleep(READ_TIMEOUT_MS, null)]);
  if (!inspector) {
    // A session that opens after all would keep this process alive: close it when it does.
    connecting.then((late) => late.close()).catch(() => {});
    return null;
  }
  try {
    // Settled at once either way: a protocol error reads as no figure, never as an unhandled rejection.
    let state = 'waiting';
    const collection = inspector.send('HeapProfiler.collectGarbage').then(
      () => {
        state = 'collected';
      },
      () => {
        state = 'failed';
      },
    );
    while (state === 'waiting' && performance.now() < deadline) {
      await poke().catch(() => {});
      await Promise.race([collection, sleep(POKE_EVERY_MS)]);
    }
    if (state !== 'collected') return null;
    const usage = await Promise.race([inspector.send('Runtime.getHeapUsage'), sleep(Math.max(0, deadline - performance.now()), null)]);
    return usage ? round2(usage.usedSize / 1e6) : null;
  } finally {
    inspector.close();
  }
}

/**
 * A recorder of memory points for one run of the bench. `attach` names the running workerd's inspector
 * port and its isolates: `{ side, workers, poke, only? }` for each side (ours, the baseline, Workflows:
 * the inspector targets whose heaps add up to the side, e.g. `userIsolate('edgecrew')`; `only`: the one
 * suite whose points read it). `point(suite, label, units?)` reads every side and keeps the point;
 * `units` is what the suite holds at that point, counted the same way at each of its points:
 * `{ count: { runs: 200 } }` (runs made since the suite's first counted point) or `{ count: { sockets: 1000 } }` (sockets open now),
 * and `sides`, the sides that made them (default: every side). `points` is the list so far.
 */
export function memoryRecorder() {
  const points = [];
  let current = null;
  return {
    points,
    /** The isolates of the workerd now running (a suite on a fresh workerd calls this again). */
    attach({ port, isolates }) {
      current = { port, isolates };
    },
    async point(suite, label, units = null) {
      if (!current) return null;
      const heap = {};
      for (const { side, workers, poke, only } of current.isolates) {
        if (only !== undefined && only !== suite) continue;
        let total = 0;
        for (const worker of workers) {
          const v = await liveHeapMB(current.port, worker, poke).catch(() => null);
          total = total === null || v === null ? null : total + v;
        }
        heap[side] = total === null ? null : round2(total);
      }
      const p = {
        suite,
        label,
        ...(units ? { units: units.count, ...(units.sides ? { unitSides: units.sides } : {}) } : {}),
        heapMB: heap,
      };
      points.push(p);
      return p;
    },
  };
}

/**
 * The report's `memory`: every point with each side's growth since the suite's first reading of that
 * side, and, at a point with units after an earlier one of the same suite, the growth between the two
 * in KB per unit made in between (e.g. KB per run, per socket), for the sides that made them. The first
 * point with units is not divided: the growth up to it is also the code compiled and the caches filled
 * as the suite warmed up.
 */
export function summarizeMemory(points) {
  /** `${suite} ${side}` → the suite's first non-null reading of that side. */
  const first = new Map();
  const lastWithUnits = new Map();
  const rows = points.map((p) => {
    const prev = p.units ? lastWithUnits.get(p.suite) : undefined;
    if (p.units) lastWithUnits.set(p.suite, p);
    const made = prev ? Object.values(p.units)[0] - Object.values(prev.units)[0] : 0;
    const growth = {};
    const perUnit = {};
    for (const [side, v] of Object.entries(p.heapMB)) {
      const key = `${p.suite} ${side}`;
      if (v !== null && !first.has(key)) first.set(key, v);
      const s = first.get(key);
      growth[side] = v === null || s === undefined ? null : round2(v - s);
      if (prev && (!p.unitSides || p.unitSides.includes(side))) {
        const before = prev.heapMB[side];
        perUnit[side] = v === null || before == null || !(made > 0) ? null : Math.round(((v - before) * 1e4) / made) / 10;
      }
    }
    return {
      name: `${p.suite}: ${p.label}`,
      heapMB: p.heapMB,
      growthMB: growth,
      ...(p.units ? { units: p.units } : {}),
      ...(prev ? { perUnitSince: prev.label, growthKBPerUnit: perUnit } : {}),
    };
  });
  const ours = points.map((p) => p.heapMB.ours).filter((v) => typeof v === 'number');
  return {
    note: `live JS heap of each side's isolates after a full garbage collection (V8 inspector), MB; growth = since the suite's first reading; KB/unit = growth since the suite's previous point with a count, ÷ the runs made or sockets opened in between, for the sides that made them. Locally no object is evicted during a suite; production's limit is ${ISOLATE_LIMIT_MB} MB per isolate.`,
    limitMB: ISOLATE_LIMIT_MB,
    oursPeakMB: ours.length > 0 ? Math.max(...ours) : null,
    rows,
  };
}

const SIDES = [
  ['ours', 'ours'],
  ['base', 'base'],
  ['workflows', 'Workflows'],
];
const fmt = (v, digits = 1) => (v === null || v === undefined ? '-' : v.toFixed(digits));

/** The memory table: each point's heap per isolate, its growth since the suite's start, and per unit. */
export function formatMemoryTable(memory) {
  const sides = SIDES.filter(([key]) => memory.rows.some((r) => r.heapMB[key] !== undefined));
  const perUnit = memory.rows.some((r) => r.growthKBPerUnit);
  const header = [
    'memory: live heap after a full GC',
    ...sides.map(([, label]) => `${label} MB`),
    ...sides.map(([, label]) => `${label} growth MB`),
    ...(perUnit ? ['per unit', ...sides.map(([, label]) => `${label} KB/unit`)] : []),
  ];
  const rows = memory.rows.map((r) => [
    r.name,
    ...sides.map(([key]) => fmt(r.heapMB[key])),
    ...sides.map(([key]) => fmt(r.growthMB[key], 2)),
    ...(perUnit
      ? [r.growthKBPerUnit ? Object.keys(r.units)[0].replace(/s$/, '') : '-', ...sides.map(([key]) => fmt(r.growthKBPerUnit?.[key]))]
      : []),
  ]);
  const peak = memory.oursPeakMB === null ? 'Ours could not be read.' : `Ours at most ${memory.oursPeakMB} MB here.`;
  return [markdownTable(header, rows), '', `${memory.note} ${peak}`].join('\n');
}
