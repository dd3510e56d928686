/**
 * The chaos suite's Worker: the real bundle (wrangler deploy --dry-run, as the bench builds it) on
 * workerd through Miniflare, with every binding wrangler.toml declares (D1, both Durable Object
 * classes, the EVENTS/WEBHOOKS/DLQ queues and their consumers, rate limiters), ENVIRONMENT=test and
 * crons off: the suite runs the cron sweeper itself, through the Worker's real `scheduled` handler,
 * at a `scheduledTime` of its choosing (time compression: "the sweeper as if it ran minutes later").
 */
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { convertV4MiniflareOptions, Miniflare } from 'miniflare';
import { unstable_getMiniflareWorkerOptions, unstable_readConfig } from 'wrangler';
import { applyMigrations, ROOT, readMigrations, TEST_VARS } from '../../bench/lib/workers.mjs';
import { generateSigningKeys } from '../../keys.mjs';

export const OURS = 'edgecrew';
export const CRON = '*/1 * * * *';
const MODULE_TYPES = { '.js': 'ESModule', '.mjs': 'ESModule', '.cjs': 'CommonJS', '.wasm': 'CompiledWasm', '.txt': 'Text', '.bin': 'Data' };

/** The bundle's entry, behind a two-line entry that drops info/debug console output inside the isolate. */
async function bundleModules(entry, keepLogs) {
  const dir = path.dirname(entry);
  const files = (await readdir(dir, { recursive: true, withFileTypes: true }))
    .filter((d) => d.isFile())
    .map((d) => path.join(d.parentPath, d.name))
    .filter((f) => f !== entry && MODULE_TYPES[path.extname(f)] !== undefined)
    .sort();
  const modules = [entry, ...files].map((f) => ({ type: MODULE_TYPES[path.extname(f)], path: f }));
  if (keepLogs) return modules;
  const silencer = {
    type: 'ESModule',
    path: path.join(dir, '__chaos_entry.mjs'),
    contents:
      'const noop = () => {};\nconsole.log = noop; console.info = noop; console.debug = noop;\n' +
      `export * from './${path.basename(entry)}';\nexport { default } from './${path.basename(entry)}';\n`,
  };
  return [silencer, ...modules];
}

/**
 * Starts the Worker and migrates its D1. `onLog(level, message)` gets warn/error lines (and info with keepLogs).
 * @returns {Promise<Chaos.Worker>}
 */
export async function startWorker({ entry, keepLogs = false, onLog = () => {} }) {
  const configPath = path.join(ROOT, 'wrangler.toml');
  const prev = process.env.WRANGLER_LOG;
  process.env.WRANGLER_LOG = 'error';
  const { workerOptions } = unstable_getMiniflareWorkerOptions(configPath, '', { overrides: { enableContainers: false } });
  const tomlVars = unstable_readConfig({ config: configPath }).vars ?? {};
  if (prev === undefined) delete process.env.WRANGLER_LOG;
  else process.env.WRANGLER_LOG = prev;
  const { modulesRules: _rules, cronTriggers: _crons, rootPath: _root, ...ours } = workerOptions;
  const options = convertV4MiniflareOptions({
    host: '127.0.0.1',
    port: 0,
    rootPath: ROOT,
    logRequests: false,
    handleStructuredLogs: ({ level, message }) => onLog(level, message),
    workers: [
      {
        ...ours,
        name: OURS,
        modules: await bundleModules(entry, keepLogs),
        modulesRoot: path.dirname(entry),
        bindings: {
          ...tomlVars,
          ...TEST_VARS,
          JWT_PRIVATE_KEYS: JSON.stringify(await generateSigningKeys(1)),
          WEBHOOK_SECRET_KEY: 'chaos-webhook-secret-key-0123456789abcdef0123456789abcdef',
          LLM_KEY_SECRET: 'chaos-llm-key-secret-0123456789abcdef0123456789abcdef',
        },
        unsafeDirectSockets: [{ host: '127.0.0.1', port: 0 }],
      },
    ],
  });
  const mf = new Miniflare(options);
  await mf.ready;
  const url = (await mf.unsafeGetDirectURL(OURS)).origin;
  const db = await mf.getD1Database('DB', OURS);
  await applyMigrations(db, await readMigrations());
  const worker = await mf.getWorker(OURS);
  const runs = await mf.getDurableObjectNamespace('FLOW_RUN', OURS);
  const hubs = await mf.getDurableObjectNamespace('TENANT_HUB', OURS);
  return {
    mf,
    url,
    db,
    flowRun: (runId) => runs.get(runs.idFromName(runId)),
    hub: (tenantId) => hubs.get(hubs.idFromName(tenantId)),
    queue: (binding) => mf.getQueueProducer(binding, OURS),
    /** The Worker's own cron handler (src/cron/sweeper.ts) as of `at` (ms since epoch). */
    sweep: (at = Date.now()) => worker.scheduled({ scheduledTime: new Date(at), cron: CRON }),
    dispose: () => mf.dispose(),
  };
}
