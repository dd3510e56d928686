/**
 * Bench-only baseline for the flows suite (`npm run bench -- --only flows`): the same
 * step shapes as our flows, as a Cloudflare Workflow running locally in workerd
 * (Miniflare's `workflows` option, set in scripts/bench/flows.mjs; never in the
 * product wrangler.toml). Every step is a no-op `step.do` returning a small number,
 * like the no-op `transform` nodes it is compared with.
 *
 *   linear    N sequential steps, each adding 1 to the previous result
 *   parallel  N steps started together (Promise.all)
 *   fan       1 step, N-2 parallel steps, 1 step joining them (the 10-node flow)
 *
 * `POST /run?shape=…&steps=N` creates one instance and answers once it is complete,
 * timed inside this Worker from just before `create()` to the first `status()` that
 * reports `complete`. Locally `status()` waits while the instance is busy (the engine
 * is a Durable Object), so a poll rarely repeats; POLL_MS only spaces the retries.
 */
import { WorkflowEntrypoint } from 'cloudflare:workers';

const POLL_MS = 1;
const TIMEOUT_MS = 60_000;

export class BenchWorkflow extends WorkflowEntrypoint {
  async run(event, step) {
    const { shape, steps } = event.payload;
    if (shape === 'linear') {
      let value = 0;
      for (let i = 0; i < steps; i++) {
        const prev = value;
        value = await step.do(`s${i}`, async () => prev + 1);
      }
      return { value };
    }
    if (shape === 'parallel') {
      const values = await Promise.all(Array.from({ length: steps }, (_, i) => step.do(`p${i}`, async () => i)));
      return { value: values.length };
    }
    // fan: a → (steps-2 in parallel) → z
    const first = await step.do('a', async () => 1);
    const mid = await Promise.all(Array.from({ length: steps - 2 }, (_, i) => step.do(`m${i}`, async () => first + i)));
    const value = await step.do('z', async () => mid.reduce((s, v) => s + v, 0));
    return { value };
  }
}

const json = (body, status = 200) => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function runOnce(env, shape, steps) {
  const t0 = Date.now();
  const instance = await env.BENCH.create({ params: { shape, steps } });
  const createMs = Date.now() - t0;
  let polls = 0;
  for (;;) {
    const s = await instance.status();
    polls++;
    if (s.status === 'complete') return { ms: Date.now() - t0, createMs, polls, output: s.output ?? null };
    if (s.status === 'errored' || s.status === 'terminated')
      throw new Error(`workflow ${instance.id} ${s.status}: ${JSON.stringify(s.error ?? null)}`);
    if (Date.now() - t0 > TIMEOUT_MS) throw new Error(`workflow ${instance.id} still ${s.status} after ${TIMEOUT_MS} ms`);
    await sleep(POLL_MS);
  }
}

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    // The bench's memory points (lib/heap.mjs) need the engine's isolate to run a task: asking for an
    // instance that does not exist reaches it (locally that brings one small engine object into being,
    // the same one every time, counted in the Workflows figures from the suite's first point on).
    if (request.method === 'GET' && url.pathname === '/engine') {
      const answer = await env.BENCH.get('bench-memory-point')
        .then((instance) => instance.status())
        .then((s) => s.status)
        .catch((err) => String(err?.message ?? err));
      return json({ answer });
    }
    if (request.method !== 'POST' || url.pathname !== '/run')
      return json({ error: 'POST /run?shape=linear|parallel|fan&steps=N, or GET /engine' }, 404);
    const shape = url.searchParams.get('shape');
    const steps = Number(url.searchParams.get('steps'));
    if (!['linear', 'parallel', 'fan'].includes(shape) || !Number.isInteger(steps) || steps < (shape === 'fan' ? 3 : 1) || steps > 1000) {
      return json({ error: 'bad shape or steps' }, 400);
    }
    try {
      return json(await runOnce(env, shape, steps));
    } catch (err) {
      return json({ error: String(err?.message ?? err) }, 500);
    }
  },
};
