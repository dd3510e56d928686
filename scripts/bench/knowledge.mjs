#!/usr/bin/env node
/**
 * npm run bench:knowledge — knowledge-base retrieval beside its baseline in one run.
 *
 * Starts the real Worker bundle on workerd through Miniflare (lib/workers.mjs) with a bare baseline
 * Worker (knowledge-baseline-worker.js: brute-force cosine over as many int8 vectors of the same
 * dimensions in a bare Durable Object). A pro-plan tenant and an admin API key go straight into D1;
 * everything else goes through the public API and the real EVENTS queue consumer.
 *
 *   ingest    documents of CHUNKS_PER_DOC chunks (16-word chunks, local embedder at DIMS dims) uploaded
 *             until the knowledge base holds each size in BENCH_KB_SIZES; chunks/s from the first
 *             upload to the last document indexed.
 *   query     at each size, BENCH_KB_QUERIES sequential POST …/query (vector and hybrid, topK 10),
 *             and the same number of baseline brute-force searches over the same count of vectors.
 *   shards    a knowledge base of BENCH_KB_SHARD_CHUNKS chunks with 1, 4 and 16 shards: hybrid p50/p99.
 *
 * Writes bench-results/knowledge-<timestamp>.json.
 * Env: BENCH_KB_SIZES (default 1000,10000,50000), BENCH_KB_QUERIES (default 100),
 *      BENCH_KB_SHARD_CHUNKS (default 10000), BENCH_KB_DIMS (default 768).
 */
import { createHmac, randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { applyMigrations, BENCH_DIR, buildWorker, ROOT, readMigrations, startWorkers, TEST_VARS } from './lib/workers.mjs';

const SIZES = (process.env.BENCH_KB_SIZES ?? '1000,10000,50000').split(',').map(Number);
const QUERIES = Number(process.env.BENCH_KB_QUERIES ?? 100);
const SHARD_CHUNKS = Number(process.env.BENCH_KB_SHARD_CHUNKS ?? 10000);
const DIMS = Number(process.env.BENCH_KB_DIMS ?? 768);
const CHUNKS_PER_DOC = 500;
const WORDS_PER_CHUNK = 16;
const BARE = 'knowledge-baseline';
const log = (m) => process.stderr.write(`bench:knowledge: ${m}\n`);

const pct = (sorted, p) =>
  sorted.length === 0 ? null : Math.round(sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] * 10) / 10;
const stats = (ms) => {
  const s = [...ms].sort((a, b) => a - b);
  return { n: s.length, p50: pct(s, 50), p99: pct(s, 99) };
};

const VOCAB = Array.from({ length: 5000 }, (_, i) => `w${(i * 2654435761) % 1000003}`);
let wordSeed = 7;
function word() {
  wordSeed = (Math.imul(wordSeed, 1103515245) + 12345) >>> 0;
  return VOCAB[(wordSeed >>> 8) % VOCAB.length];
}
/** A document of `chunks` chunks: paragraphs of exactly WORDS_PER_CHUNK words (chunking maxTokens = 16, overlap 0). */
function documentText(chunks) {
  return Array.from({ length: chunks }, () => `${Array.from({ length: WORDS_PER_CHUNK }, word).join(' ')}.`).join('\n\n');
}

async function seedTenant(db, pepper) {
  const tenantId = `tnt_benchkb${randomBytes(4).toString('hex')}`;
  const key = `ek_live_${randomBytes(32).toString('base64url')}`;
  const hash = createHmac('sha256', pepper).update(key).digest('hex');
  await db.batch([
    db.prepare(`INSERT INTO tenants (id, name, plan) VALUES (?, 'bench knowledge', 'pro')`).bind(tenantId),
    db
      .prepare(
        `INSERT INTO api_keys (id, tenant_id, name, role, prefix, key_hash, created_by) VALUES (?, ?, 'bench', 'admin', ?, ?, 'bench')`,
      )
      .bind(`key_${tenantId.slice(4)}`, tenantId, key.slice(0, 12), hash),
  ]);
  return { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
}

async function req(api, method, route, body, status) {
  const res = await fetch(`${api.url}${route}`, {
    method,
    headers: api.headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (status !== undefined && res.status !== status) throw new Error(`${method} ${route}: ${res.status} ${text.slice(0, 300)}`);
  return text ? JSON.parse(text) : null;
}

async function createKb(api, shards) {
  return (
    await req(
      api,
      'POST',
      '/v1/knowledge-bases',
      {
        name: `bench ${shards}`,
        embedding: { provider: 'local', model: 'hashed-ngrams', dimensions: DIMS },
        chunking: { maxTokens: WORDS_PER_CHUNK, overlap: 0 },
        shards,
      },
      201,
    )
  ).id;
}

/** Uploads documents until `kb` holds `target` chunks; resolves when all are indexed. Returns chunks/s. */
async function fill(api, kb, from, target) {
  const t0 = performance.now();
  let n = from;
  let i = 0;
  const docs = [];
  while (n < target) {
    const chunks = Math.min(CHUNKS_PER_DOC, target - n);
    docs.push(
      (await req(api, 'POST', `/v1/knowledge-bases/${kb}/documents`, { source: `doc-${from}-${i++}`, content: documentText(chunks) }, 202))
        .documentId,
    );
    n += chunks;
  }
  for (;;) {
    let indexed = 0;
    let cursor = null;
    do {
      const page = await req(
        api,
        'GET',
        `/v1/knowledge-bases/${kb}/documents?limit=100${cursor ? `&cursor=${cursor}` : ''}`,
        undefined,
        200,
      );
      for (const d of page.data) {
        if (d.status === 'failed') throw new Error(`document ${d.id} failed: ${d.error}`);
        if (d.status === 'indexed') indexed++;
      }
      cursor = page.nextCursor;
    } while (cursor);
    if (indexed >= docs.length + Math.ceil(from / CHUNKS_PER_DOC)) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  return Math.round(((target - from) / ((performance.now() - t0) / 1000)) * 10) / 10;
}

async function timeQueries(api, kb, mode) {
  const ms = [];
  for (let i = 0; i < QUERIES; i++) {
    const body = { query: `${word()} ${word()} ${word()}`, mode, topK: 10 };
    const t0 = performance.now();
    await req(api, 'POST', `/v1/knowledge-bases/${kb}/query`, body, 200);
    ms.push(performance.now() - t0);
  }
  return stats(ms);
}

async function timeBare(bareUrl, n) {
  const load = await fetch(`${bareUrl}load?n=${n}&dims=${DIMS}`);
  if (load.status !== 200) throw new Error(`baseline load ${load.status}`);
  const ms = [];
  for (let i = 0; i < QUERIES; i++) {
    const t0 = performance.now();
    const res = await fetch(`${bareUrl}query?k=10&s=${i}`);
    await res.text();
    ms.push(performance.now() - t0);
  }
  return stats(ms);
}

function bareWorker({ compatibilityDate, compatibilityFlags, directSocket, assets }) {
  return [
    {
      name: BARE,
      compatibilityDate,
      compatibilityFlags,
      modules: [{ type: 'ESModule', path: path.join(BENCH_DIR, 'knowledge-baseline-worker.js') }],
      modulesRoot: BENCH_DIR,
      durableObjects: { VEC: { className: 'BareVectors', useSQLite: true } },
      unsafeDirectSockets: directSocket,
      // Behind the same Static Assets router as ours (lib/workers.mjs baselineAssetsRouter).
      ...(assets ? { assets } : {}),
    },
  ];
}

async function main() {
  log('building the Worker…');
  const build = await buildWorker();
  const { mf, oursUrl } = await startWorkers({ entry: build.entry, extraWorkers: bareWorker });
  try {
    const bareUrl = String(await mf.unsafeGetDirectURL(BARE));
    const db = await mf.getD1Database('DB', 'edgecrew');
    await applyMigrations(db, await readMigrations());
    const api = { url: String(oursUrl).replace(/\/$/, ''), headers: await seedTenant(db, TEST_VARS.TOKEN_PEPPER) };

    const sizes = [];
    const kb = await createKb(api, 1);
    let held = 0;
    for (const size of SIZES) {
      log(`ingesting to ${size} chunks…`);
      const chunksPerS = await fill(api, kb, held, size);
      held = size;
      log(`querying at ${size} chunks…`);
      sizes.push({
        chunks: size,
        ingestChunksPerS: chunksPerS,
        vector: await timeQueries(api, kb, 'vector'),
        hybrid: await timeQueries(api, kb, 'hybrid'),
        keyword: await timeQueries(api, kb, 'keyword'),
        bareBruteForce: await timeBare(bareUrl, size),
      });
    }
    const shards = [];
    for (const n of [1, 4, 16]) {
      log(`${SHARD_CHUNKS} chunks over ${n} shard(s)…`);
      const id = await createKb(api, n);
      const chunksPerS = await fill(api, id, 0, SHARD_CHUNKS);
      shards.push({ shards: n, chunks: SHARD_CHUNKS, ingestChunksPerS: chunksPerS, hybrid: await timeQueries(api, id, 'hybrid') });
    }

    const cell = (v, w = 9) => String(v ?? '-').padStart(w);
    console.log(`\nknowledge query latency (ms, ${QUERIES} sequential queries, topK 10, ${DIMS} dims, 1 shard) and ingestion`);
    console.log(
      `${'chunks'.padStart(8)} | ${['vector p50', 'p99', 'hybrid p50', 'p99', 'keyword p50', 'p99', 'bare p50', 'p99', 'ingest/s'].map((h) => cell(h, 11)).join(' | ')}`,
    );
    for (const s of sizes)
      console.log(
        `${String(s.chunks).padStart(8)} | ${[s.vector.p50, s.vector.p99, s.hybrid.p50, s.hybrid.p99, s.keyword.p50, s.keyword.p99, s.bareBruteForce.p50, s.bareBruteForce.p99, s.ingestChunksPerS].map((v) => cell(v, 11)).join(' | ')}`,
      );
    console.log(`\nhybrid latency by shard count (${SHARD_CHUNKS} chunks)`);
    console.log(`${'shards'.padStart(8)} | ${['p50', 'p99', 'ingest/s'].map((h) => cell(h, 11)).join(' | ')}`);
    for (const s of shards)
      console.log(
        `${String(s.shards).padStart(8)} | ${[s.hybrid.p50, s.hybrid.p99, s.ingestChunksPerS].map((v) => cell(v, 11)).join(' | ')}`,
      );

    const out = path.join(ROOT, 'bench-results', `knowledge-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
    await mkdir(path.dirname(out), { recursive: true });
    await writeFile(
      out,
      JSON.stringify(
        {
          at: new Date().toISOString(),
          host: { cpus: os.cpus().length, platform: os.platform() },
          dims: DIMS,
          queries: QUERIES,
          sizes,
          shards,
        },
        null,
        2,
      ),
    );
    log(`wrote ${path.relative(ROOT, out)}`);
  } finally {
    await mf.dispose();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
