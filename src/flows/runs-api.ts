/** Worker-side run verbs: tenant checks in D1, then the run's FlowRun object does the work. */

import { and, desc, eq, lt } from 'drizzle-orm';
import { runs } from '../db/schema';
import { tokenFor } from '../feedback/feedback-service';
import { guardStream } from '../identity/stream-guard';
import type { ServiceCtx } from '../lib/context';
import { decodeCursor, toPage } from '../lib/pagination';
import { AppError, pointerOf } from '../lib/problem';
import { unwrap } from '../lib/result';
import { flowRunStub, tenantHubStub } from '../lib/stubs';
import type { AuthContext } from '../types';
import { ancestors } from './plan';
import { findRun, type RunRow, runState } from './run-lookup';
import { RUN_SSE_HEADERS, type RunView, TENANT_HEADER } from './run-model';
import { initiatorOf, loadVersion, startRun, tenantRunLimit } from './runs-service';

const notFound = (id: string) => new AppError('not_found', `Run ${id} not found.`);

/** The run's D1 index row, or its own object's answer before that row lands (./run-lookup.ts); 404 for any other tenant. */
async function runRow(ctx: ServiceCtx, id: string): Promise<RunRow> {
  const r = await findRun(ctx.env, ctx.db, ctx.tenantId, id);
  if (!r) throw notFound(id);
  return r;
}

function inputProblem(errors: Array<{ path: string; message: string; code: string }>): AppError {
  return new AppError(
    'validation_failed',
    `The run input does not match the flow's input schema: ${errors.map((e) => `${e.path}: ${e.message}`).join('; ')}`,
    {
      errors: errors.map((e) => ({ in: 'body' as const, path: e.path, pointer: pointerOf(e.path), message: e.message, code: e.code })),
    },
  );
}

type CreateArgs = { flowId: string; input: unknown; version?: number | undefined };

async function startFromFlow(ctx: ServiceCtx, { flowId, input, version }: CreateArgs, stream: boolean) {
  const { env } = ctx;
  const v = await ctx.timing.time('version', loadVersion(env, ctx.tenantId, flowId, version));
  if (!v) throw new AppError('not_found', `Flow ${flowId} not found.`);
  const started = await startRun(env, {
    tenantId: ctx.tenantId,
    createdBy: ctx.actor.id,
    version: v,
    input,
    initiator: initiatorOf(ctx),
    timing: ctx.timing,
    stream,
  });
  if ('code' in started) throw inputProblem(started.errors);
  return started;
}

export async function createRun(ctx: ServiceCtx, args: CreateArgs): Promise<RunView> {
  return (await startFromFlow(ctx, args, false)).view;
}

/**
 * Starts a run and opens its SSE stream from its first event in the same round trip to the run's
 * object (FlowRun.create), guarded like GET …/events. `stream` is null only when the run's object did
 * not return one (an object of the previous version while a deploy rolls out): open it with streamRun.
 */
export async function createRunStreaming(ctx: ServiceCtx, args: CreateArgs): Promise<{ view: RunView; stream: Response | null }> {
  const started = await startFromFlow(ctx, args, true);
  if (!started.events) return { view: started.view, stream: null };
  const res = new Response(started.events, { headers: RUN_SSE_HEADERS });
  return { view: started.view, stream: guardStream(ctx.db, authOf(ctx), res, (p) => ctx.waitUntil(p)) };
}

/** A run whose summary is in D1 but whose FlowRun storage went after its retention (src/flows/retention.ts). */
function expired(id: string): AppError {
  return new AppError(
    'gone',
    `Run ${id} finished longer ago than its plan's retention: its state and events were deleted. Its summary stays in GET /v1/runs.`,
  );
}

/** The run's object held nothing for the caller: 410 when the tenant's D1 index keeps its summary (past retention), else 404. */
async function missing(ctx: ServiceCtx, id: string): Promise<AppError> {
  const summary = await ctx.scope.select(runs, eq(runs.id, id)).get();
  return summary ? expired(id) : notFound(id);
}

/**
 * The run's state, with a presigned token its end user can rate it with (docs/feedback.md).
 *
 * One round trip: the run's object answers with its state, which names its tenant, so a run of
 * another tenant is not found without a D1 read first (issue 20: clients poll this while a run goes
 * on). D1 is read only when the object holds nothing: never a run (404), or past its retention with
 * its summary kept (410).
 */
export async function getRun(
  ctx: ServiceCtx,
  { id }: { id: string },
): Promise<RunView & { feedbackToken: { token: string; expiresAt: string } }> {
  const view = await runState(ctx.env, id);
  if (!view) throw await missing(ctx, id);
  if (view.tenantId !== ctx.tenantId) throw notFound(id);
  return { ...view, feedbackToken: await tokenFor(ctx, { type: 'run', id }) };
}

export async function listRuns(
  ctx: ServiceCtx,
  filter: { status?: RunRow['status'] | undefined; flowId?: string | undefined; limit: number; cursor?: string | undefined },
) {
  const after = decodeCursor(filter.cursor);
  const rows = (await ctx.scope
    .select(
      runs,
      and(
        filter.status ? eq(runs.status, filter.status) : undefined,
        filter.flowId ? eq(runs.flowId, filter.flowId) : undefined,
        after ? lt(runs.id, after) : undefined,
      ),
    )
    .orderBy(desc(runs.id))
    .limit(filter.limit + 1)
    .all()) as RunRow[];
  const page = toPage(rows, filter.limit, (r) => r.id);
  return {
    data: page.data.map((r) => ({
      id: r.id,
      flowId: r.flowId,
      flowVersion: r.flowVersion,
      status: r.status,
      parentRunId: r.parentRunId,
      rerunOf: r.rerunOf,
      createdBy: r.createdBy,
      createdAt: r.createdAt,
      startedAt: r.startedAt,
      finishedAt: r.finishedAt,
      durationMs: r.durationMs,
      usage: { inputTokens: r.inputTokens, outputTokens: r.outputTokens, costUsd: r.costUsd },
      error: r.error,
    })),
    nextCursor: page.nextCursor,
  };
}

export async function cancelRun(ctx: ServiceCtx, { id, reason }: { id: string; reason?: string | undefined }) {
  await runRow(ctx, id);
  return unwrap(await flowRunStub(ctx.env, id).cancel(reason)) as unknown as RunView;
}

export async function signalRun(ctx: ServiceCtx, { id, node, payload }: { id: string; node?: string | undefined; payload: unknown }) {
  await runRow(ctx, id);
  // Who approves comes from the credential, never from the payload.
  const signer = { actorType: ctx.actor.type, actorId: ctx.actor.id, role: ctx.role };
  return unwrap(await flowRunStub(ctx.env, id).signal(node, payload, signer)) as unknown as RunView;
}

/** Resume: failed/cancelled nodes run again (succeeded ones keep their outputs), through admission. */
export async function resumeRun(ctx: ServiceCtx, { id }: { id: string }) {
  const { env } = ctx;
  const row = await runRow(ctx, id);
  if (row.parentRunId) throw new AppError('conflict', 'Resume the parent run instead of a child run.');
  const stub = flowRunStub(env, id);
  unwrap(await stub.resume());
  const admitted = await tenantHubStub(env, ctx.tenantId).admitRun(ctx.tenantId, id, await tenantRunLimit(env, ctx.tenantId));
  if (admitted === 'start') await stub.start();
  return getRun(ctx, { id });
}

/** Rerun from a node: a new run of the same version; outputs upstream of `fromNode` are reused. */
export async function rerunFrom(ctx: ServiceCtx, { id, fromNode, input }: { id: string; fromNode: string; input?: unknown }) {
  const { env } = ctx;
  const row = await runRow(ctx, id);
  const old = await runState(env, id);
  if (!old) throw notFound(id);
  const v = await loadVersion(env, ctx.tenantId, row.flowId, row.flowVersion);
  if (!v) throw new AppError('not_found', `Flow ${row.flowId} version ${row.flowVersion} not found.`);
  if (!v.definition.nodes.some((n) => n.id === fromNode)) {
    throw new AppError('validation_failed', `Node '${fromNode}' is not in this flow.`, {
      errors: [{ in: 'body', path: 'fromNode', pointer: '/fromNode', message: 'Unknown node', code: 'unknown_node' }],
    });
  }
  const upstream = ancestors(v.definition, fromNode);
  const reuse: Record<string, { output: unknown; branch: string | null }> = {};
  for (const n of old.nodes) if (upstream.has(n.id) && n.status === 'succeeded') reuse[n.id] = { output: n.output, branch: n.branch };
  const started = await startRun(env, {
    tenantId: ctx.tenantId,
    createdBy: ctx.actor.id,
    version: v,
    input: input === undefined ? old.input : input,
    rerunOf: id,
    reuse,
    initiator: initiatorOf(ctx),
  });
  if ('code' in started) throw inputProblem(started.errors);
  return started.view;
}

/** Forwards SSE / WebSocket requests to the run's object after the tenant check; the stream ends with the caller's credential. */
export async function streamRun(
  ctx: ServiceCtx,
  { id, request, kind }: { id: string; request: Request; kind: 'events' | 'ws' },
): Promise<Response> {
  if (kind === 'ws' && request.headers.get('upgrade')?.toLowerCase() !== 'websocket') {
    await runRow(ctx, id); // an unknown run is a 404 before the missing upgrade is a 400
    throw new AppError('bad_request', 'This endpoint needs a WebSocket upgrade (Upgrade: websocket).', {
      headers: { upgrade: 'websocket' },
    });
  }
  const url = new URL(request.url);
  url.pathname = `/${kind}`;
  url.searchParams.delete('ticket');
  // One round trip: the run's object opens the stream only for the caller's tenant (TENANT_HEADER), so
  // the run need not be looked up first (issue 20: a new run is not in D1's index yet, and the lookup
  // then read the run's whole state from its object before the stream request went to it again).
  const headers = new Headers({ [TENANT_HEADER]: ctx.tenantId });
  for (const h of ['last-event-id', 'upgrade', 'sec-websocket-key', 'sec-websocket-version', 'sec-websocket-protocol']) {
    const v = request.headers.get(h);
    if (v) headers.set(h, v);
  }
  const res = id.startsWith('run_')
    ? ((await flowRunStub(ctx.env, id).fetch(new Request(url, { headers }))) as unknown as Response)
    : new Response(null, { status: 404 });
  if (res.status === 404) {
    // Not this tenant's, never was, or past retention (its object empty, its summary kept: 410).
    await res.body?.cancel();
    throw await missing(ctx, id);
  }
  return guardStream(ctx.db, authOf(ctx), res, (p) => ctx.waitUntil(p));
}

function authOf(ctx: ServiceCtx): AuthContext {
  return {
    tenantId: ctx.tenantId,
    actorId: ctx.actor.id,
    actorType: ctx.actor.type,
    role: ctx.role,
    credentialId: ctx.credential.id,
    plan: ctx.credential.plan,
    expiresAt: ctx.credential.expiresAt,
  };
}
