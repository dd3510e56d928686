#!/usr/bin/env node
/**
 * npm run bench:agents — the agent loop's overhead per tool call, beside its baseline in one run:
 * the same model exchange made directly against the fake provider.
 *
 * Starts the fake OpenAI-compatible provider (test/support/node/fake-openai.ts, scripted replies)
 * and the real Worker bundle (wrangler deploy --dry-run) on workerd through Miniflare
 * (lib/workers.mjs). A tenant (plan pro) and an admin API key go straight into D1; the provider and
 * a flow with one agent node are created through the API.
 *
 *   agent     BENCH_AGENT_RUNS sequential runs (after 2 warm-ups). Each run: BENCH_AGENT_CALLS model
 *             steps that each ask for one built-in tool call (listTasks, through the task service
 *             and the tenant's hub), then a final text answer: CALLS + 1 model calls and CALLS tool
 *             calls, every one a durable step with its events. Timed from POST /v1/flows/{id}/runs
 *             to the `run.completed` frame on GET /v1/runs/{id}/events (SSE).
 *   direct    the same CALLS + 1 streamed chat completions (same replies, same growing message
 *             list) sent straight to the fake provider from this process, one after another.
 *
 * Per tool call overhead = (agent p50 − direct p50) ÷ CALLS: what a durable tool call adds to a
 * model exchange (run start, steps, events, the tool itself). ratio = agent ÷ direct.
 * Writes bench-results/agents-<timestamp>.json.
 *
 * Env: BENCH_AGENT_RUNS (default 20), BENCH_AGENT_CALLS (default 5).
 */
import { createHmac, randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startFakeOpenAi } from '../../test/support/node/fake-openai.ts';
import { applyMigrations, buildWorker, ROOT, readMigrations, startWorkers, TEST_VARS } from './lib/workers.mjs';

const RUNS = Number(process.env.BENCH_AGENT_RUNS ?? 20);
const CALLS = Number(process.env.BENCH_AGENT_CALLS ?? 5);
const WARMUP = 2;
const log = (m) => process.stderr.write(`bench:agents: ${m}\n`);

const pct = (sorted, p) =>
  sorted.length === 0 ? null : Math.round(sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] * 10) / 10;
const stats = (ms) => {
  const s = [...ms].sort((a, b) => a - b);
  return {
    n: s.length,
    p50: pct(s, 50),
    p99: pct(s, 99),
    mean: s.length ? Math.round((s.reduce((a, b) => a + b, 0) / s.length) * 10) / 10 : null,
  };
};

/** One run's replies: CALLS tool-calling steps, then the answer. */
function replies(run) {
  const out = [];
  for (let i = 0; i < CALLS; i++)
    out.push({ text: 'Checking.', toolCalls: [{ id: `call_${run}_${i}`, name: 'listTasks', arguments: { limit: 5 } }] });
  out.push({ text: 'Nothing is due.' });
  return out;
}

async function script(fake, tag, name, list) {
  const res = await fetch(`${fake.url}/__script/${tag}/${name}`, { method: 'PUT', body: JSON.stringify({ replies: list }) });
  if (res.status !== 204) throw new Error(`scripting the fake: ${res.status}`);
}

async function seedTenant(db, pepper) {
  const tenantId = `tnt_benchagents${randomBytes(4).toString('hex')}`;
  const key = `ek_live_${randomBytes(32).toString('base64url')}`;
  const hash = createHmac('sha256', pepper).update(key).digest('hex');
  await db.batch([
    db.prepare(`INSERT INTO tenants (id, name, plan) VALUES (?, 'bench agents', 'pro')`).bind(tenantId),
    db
      .prepare(
        `INSERT INTO api_keys (id, tenant_id, name, role, prefix, key_hash, created_by) VALUES (?, ?, 'bench', 'admin', ?, ?, 'bench')`,
      )
      .bind(`key_${tenantId.slice(4)}`, tenantId, key.slice(0, 12), hash),
  ]);
  return { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
}

async function post(api, route, body, status = 201) {
  const res = await fetch(`${api.url}${route}`, { method: 'POST', headers: api.headers, body: JSON.stringify(body) });
  const text = await res.text();
  if (res.status !== status) throw new Error(`POST ${route}: ${res.status} ${text.slice(0, 300)}`);
  return JSON.parse(text);
}

/** Reads the run's SSE stream until its terminal frame; resolves to that event's type. */
async function untilFinished(api, runId) {
  const res = await fetch(`${api.url}/v1/runs/${runId}/events`, { headers: api.headers });
  if (res.status !== 200) throw new Error(`events ${res.status}`);
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`run ${runId}: the stream ended without a terminal event`);
      buffer += value;
      const m = /event: (run\.(?:completed|failed|cancelled))/.exec(buffer);
      if (m) return m[1];
      buffer = buffer.slice(-200);
    }
  } finally {
    reader.cancel().catch(() => {});
  }
}

/** One agent run through the API, timed to its run.completed frame. */
async function agentRun(api, flowId) {
  const t0 = performance.now();
  const run = await post(api, `/v1/flows/${flowId}/runs`, { input: {} });
  const end = await untilFinished(api, run.id);
  if (end !== 'run.completed') throw new Error(`run ${run.id} ended with ${end}`);
  return performance.now() - t0;
}

/** The same exchange straight to the fake: CALLS + 1 streamed completions, the conversation growing as the loop's does. */
async function directRun(fake, tag, run) {
  const base = `${fake.url}/t/${tag}/@direct/v1/chat/completions`;
  const messages = [
    { role: 'system', content: 'You are Bench.' },
    { role: 'user', content: 'What is due?' },
  ];
  const tools = [{ type: 'function', function: { name: 'listTasks', description: 'List tasks.', parameters: { type: 'object' } } }];
  const t0 = performance.now();
  for (const [i, r] of replies(run).entries()) {
    const res = await fetch(base, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'fake-gpt-mini', messages, tools, stream: true, stream_options: { include_usage: true } }),
    });
    const text = await res.text();
    if (res.status !== 200 || !text.includes('[DONE]')) throw new Error(`direct ${res.status}`);
    if (r.toolCalls) {
      const call = r.toolCalls[0];
      messages.push({
        role: 'assistant',
        content: r.text,
        tool_calls: [{ id: call.id, type: 'function', function: { name: call.name, arguments: '{"limit":5}' } }],
      });
      messages.push({ role: 'tool', tool_call_id: call.id, content: '{"output":{"data":[],"nextCursor":null}}' });
    } else if (i !== CALLS) throw new Error('unexpected reply');
  }
  return performance.now() - t0;
}

async function main() {
  const fake = await startFakeOpenAi();
  log('building the Worker…');
  const build = await buildWorker();
  const { mf, oursUrl } = await startWorkers({ entry: build.entry });
  try {
    const db = await mf.getD1Database('DB', 'edgecrew');
    await applyMigrations(db, await readMigrations());
    const api = { url: String(oursUrl).replace(/\/$/, ''), headers: await seedTenant(db, TEST_VARS.TOKEN_PEPPER) };
    const tag = `bench${randomBytes(4).toString('hex')}`;
    const total = WARMUP + RUNS;
    await script(fake, tag, 'main', Array.from({ length: total }, (_, r) => replies(r)).flat());
    await script(fake, tag, 'direct', Array.from({ length: total }, (_, r) => replies(r)).flat());
    await post(api, '/v1/llm/providers', {
      name: 'fake',
      kind: 'openai',
      baseUrl: `${fake.url}/t/${tag}/@main/v1`,
      models: { fast: { model: 'fake-gpt-mini' } },
    });
    const definition = {
      nodes: [
        {
          id: 'agent',
          type: 'agent',
          config: {
            agent: {
              name: 'Bench',
              providers: ['fake'],
              model: 'fast',
              maxSteps: CALLS + 1,
              tools: [{ type: 'builtin', name: 'listTasks' }],
            },
            prompt: 'What is due?',
          },
        },
      ],
    };
    const flowId = (await post(api, '/v1/flows', { name: 'bench agent', definition })).id;

    log(`${WARMUP} warm-up runs per side, then ${RUNS} runs of ${CALLS} tool calls, alternating agent and direct`);
    const agent = [];
    const direct = [];
    for (let r = 0; r < total; r++) {
      // Alternate so drift (GC, storage growth) hits both sides alike.
      const a = await agentRun(api, flowId);
      const d = await directRun(fake, tag, r);
      if (r >= WARMUP) {
        agent.push(a);
        direct.push(d);
      }
    }
    const result = { agent: stats(agent), direct: stats(direct) };
    result.perToolCallOverheadP50Ms = Math.round(((result.agent.p50 - result.direct.p50) / CALLS) * 10) / 10;
    result.ratioP50 = Math.round((result.agent.p50 / result.direct.p50) * 100) / 100;

    const cell = (v, w = 10) => String(v ?? '-').padStart(w);
    console.log(`\nagent run of ${CALLS} tool calls + ${CALLS + 1} model calls vs the same model calls direct (ms, ${RUNS} runs)`);
    console.log(`${''.padEnd(26)}${cell('p50')}${cell('p99')}${cell('mean')}`);
    console.log(`${'agent node (via the API)'.padEnd(26)}${cell(result.agent.p50)}${cell(result.agent.p99)}${cell(result.agent.mean)}`);
    console.log(`${'direct to the provider'.padEnd(26)}${cell(result.direct.p50)}${cell(result.direct.p99)}${cell(result.direct.mean)}`);
    console.log(`ratio (p50, agent ÷ direct): ${result.ratioP50}`);
    console.log(`overhead per tool call (p50): ${result.perToolCallOverheadP50Ms} ms`);

    const dir = path.join(ROOT, 'bench-results');
    await mkdir(dir, { recursive: true });
    const file = path.join(dir, `agents-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
    await writeFile(
      file,
      `${JSON.stringify({ at: new Date().toISOString(), host: { cpus: os.cpus().length, node: process.version }, runs: RUNS, calls: CALLS, ...result }, null, 2)}\n`,
    );
    log(`wrote ${path.relative(ROOT, file)}`);
  } finally {
    await mf.dispose();
    await fake.close();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
