/**
 * The FlowRun keeps its run row in memory between writes (durable-objects/flow-run/store.ts loadRun).
 * What it keeps must never outlive a write that did not happen: a transition that throws after it read
 * its own write rolls back, and the next read answers what storage holds.
 */
import { runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { loadRun, runStatus } from '../../../durable-objects/flow-run/store';
import { Transitions } from '../../../durable-objects/flow-run/transitions';
import { DefinitionSchema } from '../../../src/flows/definition';
import { flowRun } from '../../support/workers/durable-objects';

const definition = DefinitionSchema.parse({ nodes: [{ id: 'a', type: 'transform', config: { expression: '1' } }], edges: [] });

describe('the run row kept in memory', () => {
  it('a transition rolled back after reading its own write leaves the stored status, not the one it read', async () => {
    const stub = flowRun(`run_cache_${crypto.randomUUID()}`);
    await runInDurableObject(stub as unknown as DurableObjectStub, (_i, state) => {
      const sql = state.storage.sql;
      const t = new Transitions(state.storage);
      expect(
        t.runCreated({
          runId: 'run_cache',
          tenantId: 'ten_cache',
          flowId: 'flw_cache',
          flowVersion: 1,
          definition,
          input: null,
          settings: {},
          createdAt: new Date().toISOString(),
        }),
      ).toBe(true);
      expect(loadRun(sql)?.row.status).toBe('queued');
      // The start's hub report cannot be written: the start sets 'running', reads the run back for its
      // reports (which keeps it in memory), then throws, and the whole transition rolls back.
      sql.exec(
        `CREATE TRIGGER no_hub BEFORE INSERT ON reports WHEN NEW.receiver = 'hub' BEGIN SELECT RAISE(ABORT, 'injected: hub report'); END`,
      );
      expect(() => t.runStarted()).toThrow(/injected: hub report/);
      expect(sql.exec<{ status: string }>(`SELECT status FROM run`).one().status).toBe('queued');
      expect(loadRun(sql)?.row.status).toBe('queued');
      expect(runStatus(sql)).toBe('queued');
      // Once the report can be written, the start goes through and the kept row follows it.
      sql.exec(`DROP TRIGGER no_hub`);
      expect(t.runStarted()).not.toBeNull();
      expect(loadRun(sql)?.row.status).toBe('running');
      expect(runStatus(sql)).toBe('running');
    });
  });
});
