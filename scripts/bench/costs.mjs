#!/usr/bin/env node
/**
 * npm run bench:costs
 *
 * What each platform primitive our requests and runs are made of costs workerd's one thread locally:
 * a Durable Object RPC, one that writes, a Durable Object `fetch`, a new object, a D1 call, a Queue
 * send, a rate-limiter call, a new event-loop turn and one SQLite statement. Each is called many times
 * in a row from a Durable Object of a tiny Worker on its own workerd (same Miniflare, same tmpfs storage
 * as `npm run bench`), and the workerd process's CPU time (Linux /proc) is divided by the calls. The
 * baseline is the first row, a bare RPC round trip between two objects: every figure is also printed
 * as a multiple of it, measured in the same run (rows alternate over BENCH_COST_ROUNDS rounds; the
 * median is kept).
 *
 * It prices the local limits docs/performance.md names: the local emulations of D1, Queues and the rate
 * limiter are services on the same thread, so a call to one costs that thread far more than a call
 * between two objects, while in production they are network round trips that cost the Worker wall
 * time, not CPU. A run or a task write that makes one call fewer to them is that much cheaper here.
 *
 * Env: BENCH_COST_ROUNDS (measured rounds, after one discarded, default 3), BENCH_COST_SCALE (calls per
 * row ÷ the default, default 1).
 * Writes bench-results/costs-<timestamp>.json. Linux only (the CPU comes from /proc).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { convertV4MiniflareOptions, Miniflare } from 'miniflare';
import { cpuBetween, sampleCpu } from './lib/cpu.mjs';
import { markdownTable } from './lib/report.mjs';
import { ROOT, STATE_NOTE } from './lib/workers.mjs';

const WORKER = `
import { DurableObject } from 'cloudflare:workers';

export class Callee extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    ctx.storage.sql.exec('CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)');
  }
  echo(x) {
    return x;
  }
  write(x) {
    this.ctx.storage.sql.exec('INSERT INTO t (v) VALUES (?)', JSON.stringify(x));
    return 1;
  }
  async fetch() {
    return new Response('ok');
  }
}

// A run summary as a FlowRun reports it: the payload of the RPC rows.
const PAYLOAD = { id: 'run_01', tenantId: 'ten_01', flowId: 'flw_01', flowVersion: 1, status: 'succeeded', createdAt: '2026-12-05T00:00:00.000Z',
  startedAt: '2026-12-05T00:00:00.010Z', finishedAt: '2026-12-05T00:00:00.020Z', durationMs: 10, inputTokens: 0, outputTokens: 0, costUsd: 0, error: null };

const PRIMITIVES = {
  rpc: (self) => self.callee.echo(PAYLOAD),
  rpcWrite: (self) => self.callee.write(PAYLOAD),
  doFetch: async (self) => (await self.callee.fetch('http://callee/events')).text(),
  newObject: (self) => self.env.CALLEE.get(self.env.CALLEE.newUniqueId()).echo(1),
  d1: (self) => self.env.DB.prepare('UPDATE r SET v = ? WHERE id = 1').bind(JSON.stringify(PAYLOAD)).run(),
  queueSend: (self) => self.env.Q.send(PAYLOAD, { contentType: 'json' }),
  rateLimit: (self) => self.env.RL.limit({ key: 'ten_01' }),
  turn: () => new Promise((resolve) => setTimeout(resolve, 0)),
  statement: (self) => self.ctx.storage.sql.exec('SELECT v FROM t WHERE id = ?', 1).toArray(),
};

export class Caller extends DurableObject {
  get callee() {
    return this.env.CALLEE.get(this.env.CALLEE.idFromName('callee'));
  }
  async run(kind, n) {
    if (kind === 'statement') this.ctx.storage.sql.exec('CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)');
    const call = PRIMITIVES[kind];
    if (!call) throw new Error('no primitive ' + kind);
    for (let i = 0; i < n; i++) await call(this);
    return n;
  }
}

export default {
  async fetch(req, env) {
    const url = new URL(req.url);
    if (url.pathname === '/setup') {
      await env.DB.exec('CREATE TABLE IF NOT EXISTS r (id INTEGER PRIMARY KEY, v TEXT)');
      await env.DB.prepare('INSERT OR IGNORE INTO r (id, v) VALUES (1, ?)').bind('').run();
      return new Response('ok');
    }
    const caller = env.CALLER.get(env.CALLER.idFromName('caller'));
    return Response.json(await caller.run(url.searchParams.get('kind'), Number(url.searchParams.get('n'))));
  },
  async queue(batch) {
    batch.ackAll();
  },
};
`;

/** The rows, in order (the first is the baseline), with how many calls make one measurement. */
const ROWS = [
  { kind: 'rpc', calls: 10000, what: 'Durable Object RPC round trip, a small object each way, its stub made per call (the baseline)' },
  { kind: 'rpcWrite', calls: 5000, what: 'Durable Object RPC that writes a row (its commit included)' },
  { kind: 'doFetch', calls: 5000, what: 'Durable Object `fetch`, a 2-byte answer read to its end' },
  { kind: 'newObject', calls: 500, what: 'a new Durable Object: created, its SQLite opened, one RPC' },
  { kind: 'd1', calls: 1000, what: 'D1 call: one UPDATE (local D1 is a service on the same thread)' },
  { kind: 'queueSend', calls: 2000, what: 'Queue send, its delivery to a consumer that acks included (300 ms after the last send)' },
  { kind: 'rateLimit', calls: 2000, what: 'rate limiter `limit()` (local emulation)' },
  { kind: 'turn', calls: 10000, what: 'a new event-loop turn (`setTimeout(0)`)' },
  { kind: 'statement', calls: 100000, what: 'one SQLite statement in the object (`exec` + `toArray`)' },
];

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function main() {
  if (sampleCpu() === null) {
    console.error('bench:costs: needs Linux /proc for the CPU figures');
    return 2;
  }
  const rounds = Number(process.env.BENCH_COST_ROUNDS ?? 3);
  const scale = Number(process.env.BENCH_COST_SCALE ?? 1);
  if (!(Number.isInteger(rounds) && rounds > 0 && scale > 0))
    throw new Error('BENCH_COST_ROUNDS must be a positive integer, BENCH_COST_SCALE positive');
  const mf = new Miniflare(
    convertV4MiniflareOptions({
      host: '127.0.0.1',
      port: 0,
      workers: [
        {
          name: 'costs',
          modules: true,
          script: WORKER,
          compatibilityDate: '2025-09-01',
          d1Databases: ['DB'],
          queueProducers: { Q: 'costs-queue' },
          queueConsumers: { 'costs-queue': { maxBatchSize: 100, maxBatchTimeout: 0.05 } },
          ratelimits: { RL: { name: 'RL', namespace_id: '9100', simple: { limit: 1_000_000_000, period: 60 } } },
          durableObjects: { CALLER: { className: 'Caller', useSQLite: true }, CALLEE: { className: 'Callee', useSQLite: true } },
        },
      ],
    }),
  );
  try {
    await mf.ready;
    await (await mf.dispatchFetch('http://costs/setup')).text();
    const measure = async (kind, n) => {
      const before = sampleCpu();
      const res = await mf.dispatchFetch(`http://costs/?kind=${kind}&n=${n}`);
      if (!res.ok) throw new Error(`bench:costs: ${kind} answered ${res.status}: ${await res.text()}`);
      await res.text();
      // A queue's deliveries come after its sends: let them land in this row, not the next.
      if (kind === 'queueSend') await new Promise((resolve) => setTimeout(resolve, 300));
      return ((cpuBetween(before, sampleCpu())?.workerdMs ?? 0) * 1000) / n;
    };
    // Warm-up: one whole round, discarded, so no row pays for compiling the code or opening a service
    // (a first round read up to twice the later ones).
    for (const r of ROWS) await measure(r.kind, Math.max(1, Math.round(r.calls * scale)));
    const samples = new Map(ROWS.map((r) => [r.kind, []]));
    for (let round = 0; round < rounds; round++) {
      for (const r of ROWS) {
        const us = await measure(r.kind, Math.max(1, Math.round(r.calls * scale)));
        samples.get(r.kind).push(us);
        console.error(`bench:costs: round ${round + 1}/${rounds}: ${r.kind} ${us.toFixed(1)} µs per call`);
      }
    }
    const base = median(samples.get('rpc'));
    const rows = ROWS.map((r) => {
      const all = samples.get(r.kind);
      const us = median(all);
      const tenth = (v) => Math.round(v * 10) / 10;
      return {
        kind: r.kind,
        what: r.what,
        usPerCall: tenth(us),
        minUs: tenth(Math.min(...all)),
        maxUs: tenth(Math.max(...all)),
        timesRpc: Math.round((us / base) * 100) / 100,
        samples: all,
      };
    });
    console.log(
      `\n${markdownTable(
        ['primitive', 'what one call is', 'workerd CPU per call', 'rounds: min–max', '× an RPC round trip'],
        rows.map((r) => [
          r.kind,
          r.what,
          `${r.usPerCall.toFixed(1)} µs`,
          `${r.minUs.toFixed(1)}–${r.maxUs.toFixed(1)} µs`,
          r.timesRpc.toFixed(2),
        ]),
        { left: 2 },
      )}`,
    );
    console.log(
      `\nworkerd CPU per call = the workerd process's CPU time (Linux /proc) over ${ROWS.map((r) => r.calls).join('/')} calls in a row (× ${scale}), median of ${rounds} alternating rounds after one discarded; run storage ${STATE_NOTE}. /proc counts in 10 ms ticks: a row of 400 ms is read to about 3 %.`,
    );
    const report = { at: new Date().toISOString(), rounds, scale, storage: STATE_NOTE, rows };
    const dir = path.join(ROOT, 'bench-results');
    await mkdir(dir, { recursive: true });
    const file = path.join(dir, `costs-${report.at.replace(/[:.]/g, '-')}.json`);
    await writeFile(file, `${JSON.stringify(report, null, 2)}\n`);
    console.log(`\nwrote ${path.relative(ROOT, file)}`);
    return 0;
  } finally {
    await mf.dispose();
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
