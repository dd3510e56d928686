/**
 * Run status fan-out: the D1 summary row (backs GET /v1/runs), the tenant's
 * sync stream and events (through its hub), the tenant's run slot, and the
 * parent run of a child.
 */

import { type RunStatus, TERMINAL } from '../../src/flows/run-model';
import { DEFAULT_MAX_ACTIVE_RUNS } from '../../src/flows/runs-service';
import { flowRunStub, tenantHubStub } from '../../src/lib/stubs';
import { loadRun, summary } from './store';

export async function reportRunStatus(env: Env, sql: SqlStorage, status: RunStatus): Promise<void> {
  const s = summary(sql);
  const l = loadRun(sql);
  if (!s || !l) return;
  await env.DB.prepare(
    `UPDATE runs SET status = ?, started_at = ?, finished_at = ?, duration_ms = ?, input_tokens = ?, output_tokens = ?, cost_usd = ?, error = ?, updated_at = ? WHERE id = ?`,
  )
    .bind(
      status,
      s.startedAt,
      s.finishedAt,
      s.durationMs,
      s.inputTokens,
      s.outputTokens,
      s.costUsd,
      s.error,
      new Date().toISOString(),
      s.id,
    )
    .run();
  const hub = tenantHubStub(env, s.tenantId);
  await hub.runChanged(s.tenantId, { ...s, status });
  if (!TERMINAL.has(status)) return;
  if (l.parent) {
    const output = l.row.output === null ? null : JSON.parse(l.row.output);
    await flowRunStub(env, l.parent.runId).childFinished(l.parent.nodeId, l.parent.index, status, output, s.error);
    return;
  }
  // Free the slot; the hub answers which queued runs of this tenant may start now.
  const next = await hub.releaseRun(s.tenantId, s.id, DEFAULT_MAX_ACTIVE_RUNS);
  await Promise.all(next.map((runId) => flowRunStub(env, runId).start()));
}
