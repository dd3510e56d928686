/**
 * A sync socket write is the same write as HTTP (issue 13 item 3): each HTTP bad-input case sent as a
 * `mutate` frame gets the same status, code, detail and field errors, and applies nothing.
 */
import { runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import type { TenantHub } from '../../../durable-objects/tenant-hub/tenant-hub';
import { untilSynced } from '../../support/shared/sync';
import { hub } from '../../support/workers/durable-objects';
import { call } from '../../support/workers/http';
import { addMember, signup } from '../../support/workers/tenants';
import { openSync, type WorkerWebSocket } from '../../support/workers/websocket';
import { createTask, type Json, syncPage } from './_support';

type Op = 'task.create' | 'task.update' | 'task.complete' | 'task.delete';

/** The HTTP request a frame stands for. */
function httpOf(op: Op, taskId: string | undefined, input: unknown, ifMatch?: number) {
  const headers: Record<string, string> = ifMatch === undefined ? {} : { 'if-match': `"v${ifMatch}"` };
  if (op === 'task.create') return { path: '/v1/tasks', method: 'POST', body: input, headers };
  if (op === 'task.update') return { path: `/v1/tasks/${taskId}`, method: 'PATCH', body: input, headers };
  if (op === 'task.complete') return { path: `/v1/tasks/${taskId}/complete`, method: 'POST', headers };
  return { path: `/v1/tasks/${taskId}`, method: 'DELETE', headers };
}

let seq = 0;
async function ackOf(sock: WorkerWebSocket, frame: Json): Promise<Json> {
  const clientMutationId = `cm-${++seq}`;
  sock.send({ type: 'mutate', clientMutationId, ...frame });
  for (;;) {
    const f = await sock.nextJson();
    if (f.type === 'ack' && f.clientMutationId === clientMutationId) return f;
  }
}

describe('sync socket mutations take the HTTP path', () => {
  it('each HTTP bad-input case answers the same over the socket, and nothing is applied', async () => {
    const owner = await signup('same-write');
    const stranger = await signup('same-write-other');
    const task = await createTask(owner, { title: 'existing' });
    const sock = await openSync(owner.accessToken);
    await untilSynced(sock);
    const before = (await syncPage(owner.accessToken)).version;

    const cases: Array<{ name: string; op: Op; taskId?: string; input?: unknown; ifMatch?: number; status: number }> = [
      { name: 'empty title', op: 'task.create', input: { title: '' }, status: 422 },
      { name: 'unknown field', op: 'task.create', input: { title: 'x', tenantId: 'ten_x' }, status: 422 },
      { name: 'wrong types', op: 'task.create', input: { title: 5, priority: 'high' }, status: 422 },
      { name: 'assignee from another tenant', op: 'task.create', input: { title: 'x', assigneeId: stranger.userId }, status: 422 },
      { name: 'update to a non-member assignee', op: 'task.update', taskId: task.id, input: { assigneeId: stranger.userId }, status: 422 },
      { name: 'bad patch', op: 'task.update', taskId: task.id, input: { priority: 9 }, status: 422 },
      { name: 'unknown task', op: 'task.update', taskId: 'tsk_00000000000000000000000000', input: { title: 'ghost' }, status: 404 },
      { name: 'stale If-Match', op: 'task.complete', taskId: task.id, ifMatch: task.version - 1 || 999, status: 412 },
      { name: 'stale If-Match on delete', op: 'task.delete', taskId: task.id, ifMatch: 999, status: 412 },
    ];
    for (const c of cases) {
      const h = httpOf(c.op, c.taskId, c.input, c.ifMatch);
      const res = await call(h.path, {
        method: h.method,
        token: owner.accessToken,
        headers: h.headers,
        ...(h.body ? { body: h.body } : {}),
      });
      const problem = (await res.json()) as Json;
      expect(res.status, `${c.name}: ${JSON.stringify(problem)}`).toBe(c.status);
      const ack = await ackOf(sock, { op: c.op, taskId: c.taskId, input: c.input, ifMatch: c.ifMatch });
      expect(ack, c.name).toMatchObject({ ok: false, status: problem.status, detail: problem.detail });
      expect(problem.type, c.name).toBe(`https://edgecrew.dev/problems/${ack.code.replaceAll('_', '-')}`);
      expect(ack.errors, c.name).toEqual(problem.errors);
    }
    // Nothing above changed the tenant.
    expect((await syncPage(owner.accessToken)).version).toBe(before);
    await sock.close();
  });

  it('a viewer is refused over both transports with the same 403', async () => {
    const owner = await signup('same-write-viewer');
    const viewer = await addMember(owner, 'viewer');
    const res = await call('/v1/tasks', { token: viewer.accessToken, body: { title: 'nope' } });
    const problem = (await res.json()) as Json;
    expect(res.status).toBe(403);
    const sock = await openSync(viewer.accessToken);
    await untilSynced(sock);
    const ack = await ackOf(sock, { op: 'task.create', input: { title: 'nope' } });
    expect(ack).toMatchObject({ ok: false, code: 'forbidden', status: 403, detail: problem.detail });
    await sock.close();
  });

  it('a member assignee is accepted over the socket as over HTTP', async () => {
    const owner = await signup('same-write-ok');
    const member = await addMember(owner, 'member');
    const sock = await openSync(owner.accessToken);
    await untilSynced(sock);
    const ack = await ackOf(sock, { op: 'task.create', input: { title: 'for the member', assigneeId: member.userId } });
    expect(ack).toMatchObject({ ok: true, result: { title: 'for the member', assigneeId: member.userId } });
    await sock.close();
  });

  it('frames are charged to the credential like requests: past the plan budget an ack is a 429', async () => {
    // RL_FREE allows 600 per 60 s window per credential; 2 × 600 + 1 frames are over it even across a window boundary.
    const owner = await signup('same-write-rate');
    const sock = await openSync(owner.accessToken);
    await untilSynced(sock);
    const total = 1201;
    for (let i = 0; i < total; i++) {
      sock.send({ type: 'mutate', clientMutationId: `rl-${i}`, op: 'task.complete', taskId: 'tsk_00000000000000000000000000' });
    }
    const codes: Record<string, number> = {};
    let limited: Json | undefined;
    for (let seen = 0; seen < total; ) {
      const f = await sock.nextJson();
      if (f.type !== 'ack') continue;
      seen++;
      codes[f.code] = (codes[f.code] ?? 0) + 1;
      if (f.code === 'rate_limited') limited ??= f;
    }
    expect(codes.not_found).toBeGreaterThan(0);
    expect(codes.rate_limited).toBeGreaterThan(0);
    expect(limited).toMatchObject({ ok: false, status: 429, detail: expect.stringMatching(/^Rate limit exceeded/) });
    await sock.close();
  }, 120_000);

  it('remembered socket answers expire after a day: each write forgets a few of the oldest', async () => {
    const owner = await signup('same-write-prune');
    const stub = hub(owner.tenantId);
    const old = new Date(Date.now() - 25 * 3600_000).toISOString();
    await runInDurableObject(stub, (_i: TenantHub, state) => {
      for (let n = 0; n < 30; n++) {
        state.storage.sql.exec(`INSERT INTO client_mutations (key, response, created_at) VALUES (?, '{}', ?)`, `old:${n}`, old);
      }
    });
    const sock = await openSync(owner.accessToken);
    await untilSynced(sock);
    expect(await ackOf(sock, { op: 'task.create', input: { title: 'one' } })).toMatchObject({ ok: true });
    const count = () =>
      runInDurableObject(stub, (_i: TenantHub, state) => ({
        old: state.storage.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM client_mutations WHERE key LIKE 'old:%'`).one().n,
        all: state.storage.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM client_mutations`).one().n,
      }));
    expect(await count()).toEqual({ old: 10, all: 11 });
    expect(await ackOf(sock, { op: 'task.create', input: { title: 'two' } })).toMatchObject({ ok: true });
    expect(await count()).toEqual({ old: 0, all: 2 });
    await sock.close();
  });
});
