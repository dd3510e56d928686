/**
 * Which index a feedback page reads (durable-objects/tenant-hub/feedback.ts `listFeedback`), asked of
 * the hub's own SQLite with EXPLAIN QUERY PLAN on the statement the list runs: a key's page must not
 * sort the whole key (a tenant rating every AI output has most of its feedback under one key).
 */
import { runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { listFeedback } from '../../../durable-objects/tenant-hub/feedback';
import type { FeedbackFilter } from '../../../src/feedback/model';
import { hub } from '../../support/workers/durable-objects';
import { planRecorder } from '../../support/workers/query-plans';
import { signup } from '../../support/workers/tenants';

/** The plan of every statement listFeedback runs for `f`, one line per step. */
async function plansOf(tenantId: string, f: FeedbackFilter): Promise<string[]> {
  return runInDurableObject(hub(tenantId), (_i, state) => {
    const { sql, plans } = planRecorder(state.storage.sql);
    listFeedback(sql, f);
    return plans;
  });
}

describe('feedback pages read an index that fits their filters', () => {
  it('a key: (key, id), no sort; a key and a time window: (key, updated_at); a target: its own index', async () => {
    const owner = await signup('feedback-plans');
    const key = await plansOf(owner.tenantId, { key: 'accuracy', limit: 50 });
    expect(key.join('; ')).toContain('feedback_key_id_idx');
    expect(key.join('; ')).not.toMatch(/TEMP B-TREE/);
    const after = await plansOf(owner.tenantId, { key: 'accuracy', limit: 50, after: 'fb_01' });
    expect(after.join('; ')).toMatch(/feedback_key_id_idx \(key=\? AND id<\?\)/);
    const window = await plansOf(owner.tenantId, { key: 'accuracy', limit: 50, from: '2026-01-01T00:00:00Z', to: '2026-02-01T00:00:00Z' });
    expect(window.join('; ')).toContain('feedback_key_time_idx');
    const target = await plansOf(owner.tenantId, { targetType: 'run', targetId: 'run_x', key: 'accuracy', limit: 50 });
    expect(target.join('; ')).toContain('feedback_rater_uq');
    const all = await plansOf(owner.tenantId, { limit: 50 });
    expect(all.join('; ')).not.toMatch(/TEMP B-TREE/);
  });
});
