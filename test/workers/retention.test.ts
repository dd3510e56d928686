// Retention sweeps (docs/operations.md): old rows go, recent ones and live runs stay, and a purged
// webhook delivery takes its attempt log with it.
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { purgeExpiredRecords, RETENTION_DAYS } from '../../src/db/sweep';
import { purgeEventHistory } from '../../src/events/sweep';
import { newId } from '../../src/lib/ids';
import { signup } from '../support/workers/tenants';
import { createHook, deliveries, runBatch } from './events/_support';

const DAY = 24 * 3600_000;
const ago = (days: number) => new Date(Date.now() - days * DAY).toISOString();
const count = async (sql: string, ...params: unknown[]) =>
  (await env.DB.prepare(sql)
    .bind(...params)
    .first<{ n: number }>())!.n;

describe('retention', () => {
  it('purges audit entries, finished runs and tool invocations past their horizon, nothing else', async () => {
    const t = await signup('retention');
    const old = {
      audit: ago(RETENTION_DAYS.auditLog + 1),
      runs: ago(RETENTION_DAYS.runs + 1),
      tools: ago(RETENTION_DAYS.toolInvocations + 1),
    };
    const audit = (id: string, at: string) =>
      env.DB.prepare(
        `INSERT INTO audit_log (id, tenant_id, actor_type, action, created_at) VALUES (?, ?, 'system', 'test.retention', ?)`,
      ).bind(id, t.tenantId, at);
    const run = (id: string, status: string, finishedAt: string | null, at: string) =>
      env.DB.prepare(
        `INSERT INTO runs (id, tenant_id, flow_id, flow_version, status, created_by, created_at, finished_at, updated_at) VALUES (?, ?, 'flw_x', 1, ?, 'usr_x', ?, ?, ?)`,
      ).bind(id, t.tenantId, status, at, finishedAt, at);
    const invocation = (id: string, at: string) =>
      env.DB.prepare(
        `INSERT INTO tool_invocations (id, tenant_id, tool_id, version, source, outcome, duration_ms, input_bytes, output_bytes, log_bytes, created_at) VALUES (?, ?, 'tool_x', 1, 'api', 'ok', 1, 1, 1, 0, ?)`,
      ).bind(id, t.tenantId, at);
    await env.DB.batch([
      audit(newId('aud'), old.audit),
      audit(newId('aud'), ago(1)),
      run(newId('run'), 'succeeded', old.runs, old.runs),
      run(newId('run'), 'failed', ago(1), ago(1)),
      run(newId('run'), 'waiting', null, old.runs),
      invocation(newId('inv'), old.tools),
      invocation(newId('inv'), ago(1)),
    ]);
    const result = await purgeExpiredRecords.run(env, new Date());
    expect(result).toMatchObject({ auditLog: 1, runs: 1, toolInvocations: 1 });
    expect(await count('SELECT count(*) AS n FROM audit_log WHERE tenant_id = ? AND created_at < ?', t.tenantId, ago(2))).toBe(0);
    expect(await count('SELECT count(*) AS n FROM runs WHERE tenant_id = ?', t.tenantId)).toBe(2);
    expect(await count(`SELECT count(*) AS n FROM runs WHERE tenant_id = ? AND status = 'waiting'`, t.tenantId)).toBe(1);
    expect(await count('SELECT count(*) AS n FROM tool_invocations WHERE tenant_id = ?', t.tenantId)).toBe(1);
  });

  it('a finished webhook delivery past 30 days goes with its attempt log', async () => {
    const t = await signup('retention-hook');
    const hook = await createHook(t);
    await runBatch([
      { id: newId('evt'), type: 'task.created', tenantId: t.tenantId, occurredAt: new Date().toISOString(), sequence: 1, data: {} },
    ]);
    const [d] = await deliveries(t, hook.id);
    expect(d).toMatchObject({ status: 'succeeded' });
    expect(await count('SELECT count(*) AS n FROM webhook_attempts WHERE delivery_id = ?', d!.id)).toBe(1);
    await env.DB.prepare('UPDATE webhook_deliveries SET updated_at = ? WHERE id = ?').bind(ago(31), d!.id).run();
    await purgeEventHistory.run(env, new Date());
    expect(await count('SELECT count(*) AS n FROM webhook_deliveries WHERE id = ?', d!.id)).toBe(0);
    expect(await count('SELECT count(*) AS n FROM webhook_attempts WHERE delivery_id = ?', d!.id)).toBe(0);
  });
});
