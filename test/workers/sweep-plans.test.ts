// Every query a sweep job runs (each job of every src/*/sweep.ts) is answered through an index:
// the sweeper runs every minute against the platform's one database, so no full table scan.
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import type { SweepJob } from '../../src/cron/job';
import { SWEEP_JOBS } from '../../src/cron/sweeper';
import { newId } from '../../src/lib/ids';
import { signup } from '../support/workers/tenants';

const modules = import.meta.glob<Record<string, unknown>>('../../src/*/sweep.ts', { eager: true });
const isJob = (v: unknown): v is SweepJob =>
  typeof v === 'object' && v !== null && typeof (v as SweepJob).name === 'string' && typeof (v as SweepJob).run === 'function';
const jobsInFiles = Object.entries(modules).flatMap(([file, mod]) =>
  Object.values(mod)
    .filter(isJob)
    .map((job) => ({ file, job })),
);

interface Query {
  sql: string;
  params: unknown[];
}

/** `db` recording every statement prepared through it, with the parameters bound to it. */
function recording(db: D1Database, log: Query[]): D1Database {
  return new Proxy(db, {
    get(target, prop) {
      if (prop === 'prepare')
        return (sql: string) => {
          const entry: Query = { sql, params: [] };
          log.push(entry);
          const stmt = target.prepare(sql);
          const bind = stmt.bind.bind(stmt);
          stmt.bind = (...params: unknown[]) => {
            entry.params = params;
            return bind(...params);
          };
          return stmt;
        };
      const value = Reflect.get(target, prop, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

async function seed() {
  // Rows that make each job go past its first query (a due dead letter, an unforwarded outbox event).
  const owner = await signup('sweep-plans');
  const old = new Date(Date.now() - 3600_000).toISOString();
  const event = { id: newId('evt'), type: 'tenant.updated', tenantId: owner.tenantId, occurredAt: old, sequence: 1, data: {} };
  await env.DB.batch([
    env.DB.prepare(
      `INSERT INTO dead_letters (id, tenant_id, queue, kind, body, status, next_redrive_at, updated_at) VALUES (?, ?, 'events', 'event', ?, 'pending', ?, ?)`,
    ).bind(`evt:${event.id}`, owner.tenantId, JSON.stringify(event), old, old),
    env.DB.prepare(`INSERT INTO event_outbox (id, tenant_id, type, occurred_at, data) VALUES (?, ?, 'tenant.updated', ?, '{}')`).bind(
      newId('evt'),
      owner.tenantId,
      old,
    ),
  ]);
}

describe('sweep query plans', () => {
  it('every job in src/*/sweep.ts is registered with the sweeper', () => {
    expect(jobsInFiles.length).toBeGreaterThan(0);
    for (const { file, job } of jobsInFiles) expect(SWEEP_JOBS.includes(job), `${job.name} (${file})`).toBe(true);
  });

  it('every sweep query uses an index (EXPLAIN QUERY PLAN shows no full scan)', async () => {
    await seed();
    const scans: string[] = [];
    for (const job of SWEEP_JOBS) {
      const log: Query[] = [];
      await job.run({ ...env, DB: recording(env.DB, log) }, new Date());
      expect(log.length, `${job.name} ran no query`).toBeGreaterThan(0);
      for (const q of log) {
        const plan = await env.DB.prepare(`EXPLAIN QUERY PLAN ${q.sql}`)
          .bind(...q.params)
          .all<{ detail: string }>();
        const details = plan.results.map((r) => r.detail);
        console.log('PLAN', job.name, q.sql.slice(0, 90), '=>', details.join(' | '));
        for (const d of details)
          if (/^SCAN (?!CONSTANT ROW)\S+$/.test(d)) scans.push(`${job.name}: ${d}\n  ${q.sql}\n  ${details.join(' | ')}`);
      }
    }
    expect(scans).toEqual([]);
  });
});
