// The queue consumer and the cron sweeper, driven through the Worker's real handlers.
import {
  createExecutionContext,
  createMessageBatch,
  createScheduledController,
  getQueueResult,
  waitOnExecutionContext,
} from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import worker from '../../src/index';
import { signup } from '../support/workers/tenants';

describe('EVENTS consumer', () => {
  it('acks valid events and retries malformed ones (they reach the DLQ after max_retries)', async () => {
    const points: unknown[] = [];
    const ANALYTICS = { writeDataPoint: (p: unknown) => void points.push(p) } as unknown as AnalyticsEngineDataset;
    const batch = createMessageBatch('edgecrew-events-dev', [
      {
        id: 'm1',
        timestamp: new Date(),
        attempts: 1,
        body: { id: 'evt_1', type: 'task.created', tenantId: 'tnt_a', occurredAt: new Date().toISOString(), sequence: 1, data: {} },
      },
      { id: 'm2', timestamp: new Date(), attempts: 1, body: { nonsense: true } },
    ]);
    const ctx = createExecutionContext();
    await worker.queue!(batch, { ...env, ANALYTICS }, ctx);
    const result = await getQueueResult(batch, ctx);
    expect(result.explicitAcks).toEqual(['m1']);
    expect(result.retryMessages.map((m) => m.msgId)).toEqual(['m2']);
    expect(points).toHaveLength(1);
  });
});

describe('cron sweeper', () => {
  it('purges refresh tokens long past expiry and keeps live ones', async () => {
    const owner = await signup('sweep');
    const old = new Date(Date.now() - 3 * 24 * 3600_000).toISOString();
    await env.DB.prepare(
      `INSERT INTO refresh_tokens (id, tenant_id, user_id, family_id, token_hash, expires_at) VALUES ('rtk_expired_sweep', ?, ?, 'rtf_x', 'hash-expired-sweep', ?)`,
    )
      .bind(owner.tenantId, owner.userId, old)
      .run();
    const ctx = createExecutionContext();
    await worker.scheduled!(createScheduledController({ scheduledTime: new Date(), cron: '*/1 * * * *' }), env, ctx);
    await waitOnExecutionContext(ctx);
    const gone = await env.DB.prepare(`SELECT id FROM refresh_tokens WHERE id = 'rtk_expired_sweep'`).first();
    expect(gone).toBeNull();
    const live = await env.DB.prepare(`SELECT COUNT(*) AS n FROM refresh_tokens WHERE user_id = ?`)
      .bind(owner.userId)
      .first<{ n: number }>();
    expect(live!.n).toBeGreaterThanOrEqual(1);
  });
});
