/**
 * The tenant hub's run slots (durable-objects/tenant-hub/run-admission.ts), driven directly on a hub's
 * storage: admissions are numbered in arrival order whatever the slots hold at the time (none, only
 * active, only queued), a number is never given twice, and freed slots go to the queue in that order.
 */
import { runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { admit, listSlots, release } from '../../../durable-objects/tenant-hub/run-admission';
import { HUB_MIGRATIONS } from '../../../durable-objects/tenant-hub/schema';
import { hub } from '../../support/workers/durable-objects';

describe('run admission', () => {
  it('numbers admissions in arrival order with no slot, only active or only queued slots held; frees go to the queue in order', async () => {
    const out = await runInDurableObject(hub('tnt_admission_order'), (_i, state) => {
      const sql = state.storage.sql;
      const steps: Record<string, unknown> = {};
      steps.first = admit(sql, 'run_a', 1); // no slot held
      steps.second = admit(sql, 'run_b', 1); // the one slot active
      steps.third = admit(sql, 'run_c', 1);
      steps.queue = listSlots(sql, 10);
      steps.again = admit(sql, 'run_b', 1); // idempotent: still queued, same place
      steps.queueAgain = listSlots(sql, 10);
      steps.afterA = release(sql, 'run_a', 1); // b takes the slot
      steps.bGone = release(sql, 'run_b', 0); // cancelled; the stored limit (1) still applies: c takes it
      steps.cGone = release(sql, 'run_c', 1); // nothing held
      steps.fourth = admit(sql, 'run_d', 0); // a limit of 0: queued with no active slot
      steps.fifth = admit(sql, 'run_e', 0); // only queued slots held
      steps.slots = listSlots(sql, 10);
      return steps;
    });
    expect(out).toMatchObject({
      first: 'start',
      second: 'queued',
      third: 'queued',
      again: 'queued',
      afterA: ['run_b'],
      bGone: ['run_c'],
      cGone: [],
      fourth: 'queued',
      fifth: 'queued',
    });
    const queue = out.queue as { runId: string; seq: number }[];
    expect(queue.map((s) => s.runId)).toEqual(['run_a', 'run_b', 'run_c']);
    expect(new Set(queue.map((s) => s.seq)).size).toBe(3);
    expect(out.queueAgain).toEqual(out.queue);
    const slots = out.slots as { runId: string; state: string; seq: number }[];
    expect(slots.map((s) => [s.runId, s.state])).toEqual([
      ['run_d', 'queued'],
      ['run_e', 'queued'],
    ]);
    // e came after d, admitted while only queued slots were held; d after a, b and c, whose slots are gone.
    expect(slots[0]!.seq).toBeLessThan(slots[1]!.seq);
    expect(slots[0]!.seq).toBeGreaterThan(Math.max(...queue.map((s) => s.seq)));
  });

  it("the sweeper's release of an admission it read never frees the run's next admission (a seq is never given twice)", async () => {
    const out = await runInDurableObject(hub('tnt_admission_reuse'), (_i, state) => {
      const sql = state.storage.sql;
      admit(sql, 'run_r', 5);
      const read = listSlots(sql, 10)[0]!; // what the sweeper read
      release(sql, 'run_r', 5); // the run's own release
      admit(sql, 'run_r', 5); // resumed: admitted again
      const promoted = release(sql, 'run_r', 5, read.seq); // the sweeper acts on what it read
      return { read, promoted, slots: listSlots(sql, 10) };
    });
    expect(out.promoted).toEqual([]);
    expect(out.slots).toHaveLength(1);
    expect(out.slots[0]).toMatchObject({ runId: 'run_r', state: 'active' });
    expect(out.slots[0]!.seq).toBeGreaterThan(out.read.seq);
  });

  it('a hub from before the seq counter (schema 19) numbers its next admission past the slots it held', async () => {
    const seed = HUB_MIGRATIONS.find((m) => m.version === 19)!.sql;
    const out = await runInDurableObject(hub('tnt_admission_seed'), (_i, state) => {
      const sql = state.storage.sql;
      // As such a hub stood: slots numbered up to 41 and no counter.
      sql.exec(`DELETE FROM hub_meta WHERE key = 'run_seq'`);
      sql.exec(`INSERT INTO run_slots (run_id, state, seq) VALUES ('run_old_a', 'active', 40), ('run_old_b', 'queued', 41)`);
      sql.exec(seed);
      admit(sql, 'run_new', 1);
      return listSlots(sql, 10);
    });
    expect(out.map((s) => [s.runId, s.seq])).toEqual([
      ['run_old_a', 40],
      ['run_old_b', 41],
      ['run_new', 42],
    ]);
  });
});
