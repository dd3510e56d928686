#!/usr/bin/env node
/**
 * npm run bench:chat — time to first chunk of an assistant turn, beside its baseline in one run: the
 * same model call made directly against the fake provider.
 *
 * Starts the fake OpenAI-compatible provider (test/support/node/fake-openai.ts, scripted replies) and
 * the real Worker bundle (wrangler deploy --dry-run) on workerd through Miniflare (lib/workers.mjs).
 * A tenant (plan pro) and an admin API key go straight into D1; the provider (model alias
 * `assistant`, so the built-in assistant uses it) is created through the API.
 *
 *   chat      BENCH_CHAT_TURNS turns (after 2 warm-ups), each a new chat: POST /v1/chat as the AI
 *             SDK's DefaultChatTransport sends it, read as SSE. Timed from the request to the first
 *             `text-delta` chunk (the answer's first words: run start, agent node, model call,
 *             event log, chat object, stream), to the first chunk of any kind, and to `[DONE]`.
 *   direct    the same streamed chat completion (same reply) sent straight to the fake from this
 *             process: to its first content delta, and to `[DONE]`.
 *
 * ratio = chat ÷ direct, p50 time to the first text. Writes bench-results/chat-<timestamp>.json.
 * Env: BENCH_CHAT_TURNS (default 30).
 */
import { createHmac, randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startFakeOpenAi } from '../../test/support/node/fake-openai.ts';
import { applyMigrations, buildWorker, ROOT, readMigrations, startWorkers, TEST_VARS } from './lib/workers.mjs';

const TURNS = Number(process.env.BENCH_CHAT_TURNS ?? 30);
const WARMUP = 2;
const ANSWER = 'Nothing is due today, so the afternoon is yours.';
const log = (m) => process.stderr.write(`bench:chat: ${m}\n`);

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

async function seedTenant(db, pepper) {
  const tenantId = `tnt_benchchat${randomBytes(4).toString('hex')}`;
  const key = `ek_live_${randomBytes(32).toString('base64url')}`;
  const hash = createHmac('sha256', pepper).update(key).digest('hex');
  await db.batch([
    db.prepare(`INSERT INTO tenants (id, name, plan) VALUES (?, 'bench chat', 'pro')`).bind(tenantId),
    db
      .prepare(
        `INSERT INTO api_keys (id, tenant_id, name, role, prefix, key_hash, created_by) VALUES (?, ?, 'bench', 'admin', ?, ?, 'bench')`,
      )
      .bind(`key_${tenantId.slice(4)}`, tenantId, key.slice(0, 12), hash),
  ]);
  return { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
}

/** Reads an SSE body, noting when `first(data)` first holds and when the stream ends. */
async function timeStream(res, t0, first) {
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  let any = null;
  let hit = null;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value;
    let cut = buffer.indexOf('\n\n');
    while (cut >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      cut = buffer.indexOf('\n\n');
      const data = block
        .split('\n')
        .find((l) => l.startsWith('data: '))
        ?.slice(6);
      if (data === undefined) continue;
      any ??= performance.now() - t0;
      if (hit === null && data !== '[DONE]' && first(JSON.parse(data))) hit = performance.now() - t0;
    }
  }
  return { first: any, text: hit, done: performance.now() - t0 };
}

async function chatTurn(api, turn) {
  const t0 = performance.now();
  const res = await fetch(`${api.url}/v1/chat`, {
    method: 'POST',
    headers: api.headers,
    body: JSON.stringify({
      id: `bench${turn}${randomBytes(4).toString('hex')}`,
      messages: [{ id: `u${turn}`, role: 'user', parts: [{ type: 'text', text: 'What is due today?' }] }],
      trigger: 'submit-message',
    }),
  });
  if (res.status !== 200) throw new Error(`POST /v1/chat: ${res.status} ${(await res.text()).slice(0, 300)}`);
  const t = await timeStream(res, t0, (c) => c.type === 'text-delta');
  if (t.text === null) throw new Error(`turn ${turn}: no text`);
  return t;
}

async function directCall(fake, tag) {
  const t0 = performance.now();
  const res = await fetch(`${fake.url}/t/${tag}/@direct/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      model: 'fake-gpt',
      messages: [
        { role: 'system', content: 'You are the assistant.' },
        { role: 'user', content: 'What is due today?' },
      ],
      stream: true,
      stream_options: { include_usage: true },
    }),
  });
  if (res.status !== 200) throw new Error(`direct ${res.status}`);
  return timeStream(res, t0, (c) => typeof c.choices?.[0]?.delta?.content === 'string' && c.choices[0].delta.content !== '');
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
    const total = WARMUP + TURNS;
    for (const name of ['main', 'direct']) {
      const res = await fetch(`${fake.url}/__script/${tag}/${name}`, {
        method: 'PUT',
        body: JSON.stringify({ replies: Array.from({ length: total }, () => ({ text: ANSWER })) }),
      });
      if (res.status !== 204) throw new Error(`scripting the fake: ${res.status}`);
    }
    const provider = await fetch(`${api.url}/v1/llm/providers`, {
      method: 'POST',
      headers: api.headers,
      body: JSON.stringify({
        name: 'fake',
        kind: 'openai',
        baseUrl: `${fake.url}/t/${tag}/@main/v1`,
        models: { assistant: { model: 'fake-gpt' } },
      }),
    });
    if (provider.status !== 201) throw new Error(`provider: ${provider.status} ${await provider.text()}`);

    log(`${WARMUP} warm-up turns per side, then ${TURNS} turns, alternating chat and direct`);
    const chat = { first: [], text: [], done: [] };
    const direct = { text: [], done: [] };
    for (let r = 0; r < total; r++) {
      const c = await chatTurn(api, r);
      const d = await directCall(fake, tag);
      if (r < WARMUP) continue;
      chat.first.push(c.first);
      chat.text.push(c.text);
      chat.done.push(c.done);
      direct.text.push(d.text);
      direct.done.push(d.done);
    }
    const result = {
      chat: { firstChunk: stats(chat.first), firstText: stats(chat.text), done: stats(chat.done) },
      direct: { firstText: stats(direct.text), done: stats(direct.done) },
    };
    result.ratioFirstTextP50 = Math.round((result.chat.firstText.p50 / result.direct.firstText.p50) * 100) / 100;
    result.ratioDoneP50 = Math.round((result.chat.done.p50 / result.direct.done.p50) * 100) / 100;

    const cell = (v, w = 10) => String(v ?? '-').padStart(w);
    const row = (label, s) => console.log(`${label.padEnd(34)}${cell(s.p50)}${cell(s.p99)}${cell(s.mean)}`);
    console.log(`\nassistant turn vs the same model call direct (ms, ${TURNS} turns)`);
    console.log(`${''.padEnd(34)}${cell('p50')}${cell('p99')}${cell('mean')}`);
    row('chat: first chunk (start)', result.chat.firstChunk);
    row('chat: first text-delta', result.chat.firstText);
    row('chat: [DONE]', result.chat.done);
    row('direct: first content delta', result.direct.firstText);
    row('direct: [DONE]', result.direct.done);
    console.log(`ratio (p50 first text, chat ÷ direct): ${result.ratioFirstTextP50}`);
    console.log(`ratio (p50 whole turn, chat ÷ direct): ${result.ratioDoneP50}`);

    const dir = path.join(ROOT, 'bench-results');
    await mkdir(dir, { recursive: true });
    const file = path.join(dir, `chat-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
    await writeFile(
      file,
      `${JSON.stringify({ at: new Date().toISOString(), host: { cpus: os.cpus().length, node: process.version }, turns: TURNS, ...result }, null, 2)}\n`,
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
