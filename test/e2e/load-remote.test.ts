/**
 * `npm run load` against a deployed Worker (LOAD_TARGET): here the bundled Worker on workerd over
 * real HTTP stands in for staging. The runner seeds nothing in a database: it creates the load's
 * flow and a webhook endpoint per key through the public API, runs Locust (Debian's python3-locust),
 * verifies the deliveries at its receiver and deletes what it created. Without Locust the suite
 * fails under CI (`.ci/run` installs it) and is skipped loudly elsewhere (test/support/node/requires.ts).
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { api, signup } from '../support/node/api';
import { describeRequiring } from '../support/node/requires';
import { PROJECT_ROOT, type RunningWorker, startWorker } from '../support/node/worker';

const PYTHON = process.env.LOCUST_PYTHON ?? '/usr/bin/python3';
const hasLocust = spawnSync(PYTHON, ['-c', 'import locust, websocket'], { stdio: 'ignore', timeout: 30_000 }).status === 0;

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

/** Runs scripts/load/run.mjs with `env`; resolves with its exit code and output. */
function runLoad(env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(PROJECT_ROOT, 'scripts/load/run.mjs')], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c));
    child.stderr.on('data', (c: Buffer) => (output += c));
    child.on('exit', (code) => resolve({ code, output }));
  });
}

let worker: RunningWorker;
let out: string;
beforeAll(async () => {
  if (!hasLocust) return;
  worker = await startWorker();
  out = await mkdtemp(path.join(tmpdir(), 'edgecrew-load-'));
});
afterAll(async () => {
  await worker?.dispose();
  if (out) await rm(out, { recursive: true, force: true });
});

describeRequiring(
  'npm run load against a deployed Worker (LOAD_TARGET)',
  { available: hasLocust, why: `Locust in ${PYTHON} (apt-get install python3-locust python3-websocket, or set LOCUST_PYTHON)` },
  () => {
    it('loads the target through its public API, verifies the webhooks and deletes the flows and endpoints it made', async () => {
      const owners = [await signup(worker, 'load-remote-a'), await signup(worker, 'load-remote-b')];
      const keys: string[] = [];
      for (const owner of owners) {
        const created = await api(worker, 'POST', '/v1/api-keys', owner.accessToken, { name: 'load test', role: 'admin' });
        expect(created.status, JSON.stringify(created.body)).toBe(201);
        keys.push(created.body.key as string);
      }
      const port = await freePort();
      const { code, output } = await runLoad({
        LOAD_TARGET: `${worker.url}/ignored/path`,
        LOAD_API_KEYS: keys.join(', '),
        LOAD_RECEIVER_URL: `http://127.0.0.1:${port}/`,
        LOAD_RECEIVER_PORT: String(port),
        LOAD_USERS: '4',
        LOAD_SPAWN_RATE: '4',
        LOAD_SECONDS: '6',
        LOAD_OUT: out,
      });
      expect(code, output).toBe(0);
      expect(output).toContain(`Worker at ${worker.url}`);
      const summary = JSON.parse(await readFile(path.join(out, 'latest.json'), 'utf8'));
      expect(summary).toMatchObject({ target: worker.url, users: 4, tenants: 2, locustExit: 0 });
      const row = (name: string) => summary.rows.find((r: { name: string }) => r.name === name);
      expect(row('POST /v1/tasks').requests).toBeGreaterThan(0);
      expect(row('Aggregated')).toMatchObject({ failures: 0 });
      expect(row('Aggregated').requests).toBeGreaterThan(10);
      expect(summary.webhooks).toMatchObject({ measured: true, unverified: 0 });
      expect(summary.webhooks.verified).toBeGreaterThan(0);
      // What the run made is gone; the tenants' own things are not touched.
      for (const owner of owners) {
        const flows = await api(worker, 'GET', '/v1/flows', owner.accessToken);
        expect(flows.body.data).toEqual([]);
        const hooks = await api(worker, 'GET', '/v1/webhooks', owner.accessToken);
        expect(hooks.body.data).toEqual([]);
        const tasks = await api(worker, 'GET', '/v1/tasks', owner.accessToken);
        expect(tasks.body.data.length).toBeGreaterThan(0);
      }
    }, 120_000);

    it('without LOAD_RECEIVER_URL registers no endpoint and says the webhook row was not measured', async () => {
      const owner = await signup(worker, 'load-remote-c');
      const created = await api(worker, 'POST', '/v1/api-keys', owner.accessToken, { name: 'load test', role: 'admin' });
      const { code, output } = await runLoad({
        LOAD_TARGET: worker.url,
        LOAD_API_KEYS: created.body.key as string,
        LOAD_USERS: '2',
        LOAD_SPAWN_RATE: '2',
        LOAD_SECONDS: '3',
        LOAD_OUT: out,
      });
      expect(code, output).toBe(0);
      expect(output).toContain('WEBHOOK commit→verified receipt (not measured)');
      expect(JSON.parse(await readFile(path.join(out, 'latest.json'), 'utf8')).webhooks).toMatchObject({ measured: false, received: 0 });
      expect((await api(worker, 'GET', '/v1/flows', owner.accessToken)).body.data).toEqual([]);
    }, 120_000);

    it('refuses a target without keys, two keys of one tenant, and a target that is not a URL, before any traffic', async () => {
      const noKeys = await runLoad({ LOAD_TARGET: worker.url, LOAD_API_KEYS: ' , ', LOAD_OUT: out });
      expect(noKeys.code).toBe(2);
      expect(noKeys.output).toContain('LOAD_TARGET needs LOAD_API_KEYS');
      const owner = await signup(worker, 'load-remote-d');
      const created = await api(worker, 'POST', '/v1/api-keys', owner.accessToken, { name: 'load test', role: 'admin' });
      const twice = await runLoad({ LOAD_TARGET: worker.url, LOAD_API_KEYS: `${created.body.key},${created.body.key}`, LOAD_OUT: out });
      expect(twice.code).toBe(2);
      expect(twice.output).toContain('two keys of tenant');
      // Refused before its flow was made, and the one made for the first key was deleted.
      expect((await api(worker, 'GET', '/v1/flows', owner.accessToken)).body.data).toEqual([]);
      const notUrl = await runLoad({ LOAD_TARGET: 'staging', LOAD_OUT: out });
      expect(notUrl.code).not.toBe(0);
      expect(notUrl.output).toContain('LOAD_TARGET must be a URL');
    }, 60_000);
  },
);
