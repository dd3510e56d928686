// wrangler.toml: bindings are not inherited by [env.*], so every environment must repeat them,
// each with its own resources; and both deploy dry runs must bundle without a warning.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { unstable_readConfig } from 'wrangler';

const run = promisify(execFile);
const ENVS = ['staging', 'production'] as const;

// The subset of wrangler's config we check (its own types lean on @cloudflare/workers-types, which
// the Worker's tsconfig must not load next to the generated runtime types).
interface Cfg {
  name: string;
  d1_databases: Array<{ binding: string; database_name: string; migrations_dir: string }>;
  durable_objects: { bindings: Array<{ name: string; class_name: string }> };
  queues: {
    producers?: Array<{ binding: string; queue: string }>;
    consumers?: Array<{ queue: string; dead_letter_queue?: string; max_retries?: number }>;
  };
  analytics_engine_datasets: Array<{ binding: string; dataset: string }>;
  ratelimits: Array<{ name: string }>;
  triggers: { crons?: string[] };
  vars: Record<string, unknown>;
  migrations: Array<{ new_sqlite_classes?: string[] }>;
  containers?: Array<{ class_name: string; image: string }>;
}

function shape(env?: string) {
  const c = unstable_readConfig({ config: 'wrangler.toml', ...(env ? { env } : {}) }) as unknown as Cfg;
  return {
    name: c.name,
    d1: c.d1_databases.map((d) => ({ binding: d.binding, name: d.database_name, migrations: d.migrations_dir })),
    dos: c.durable_objects.bindings.map((b) => `${b.name}:${b.class_name}`).sort(),
    producers: c.queues.producers?.map((p) => ({ binding: p.binding, queue: p.queue })) ?? [],
    consumers: c.queues.consumers?.map((q) => ({ queue: q.queue, dlq: q.dead_letter_queue, retries: q.max_retries })) ?? [],
    analytics: c.analytics_engine_datasets.map((a) => ({ binding: a.binding, dataset: a.dataset })),
    ratelimits: c.ratelimits.map((r) => r.name).sort(),
    crons: c.triggers.crons ?? [],
    vars: Object.keys(c.vars).sort(),
    sqliteClasses: c.migrations.flatMap((m) => m.new_sqlite_classes ?? []).sort(),
    containers: (c.containers ?? []).map((x) => ({ className: x.class_name, image: x.image })),
  };
}

describe('wrangler.toml environments', () => {
  const base = shape();

  it('the default environment has every binding the Worker needs', () => {
    expect(base.d1.map((d) => d.binding)).toEqual(['DB']);
    expect(base.dos).toEqual([
      'CHAT_THREAD:ChatThread',
      'FLOW_RUN:FlowRun',
      'KNOWLEDGE_SHARD:KnowledgeShard',
      'TENANT_HUB:TenantHub',
      'TOOL_RUNNER:ToolRunnerContainer',
    ]);
    expect(base.sqliteClasses).toEqual(['ChatThread', 'FlowRun', 'KnowledgeShard', 'TenantHub', 'ToolRunnerContainer']);
    // wrangler resolves the image path against the config file.
    expect(base.containers).toEqual([
      { className: 'ToolRunnerContainer', image: expect.stringMatching(/\/containers\/tool-runner\/Dockerfile$/) },
    ]);
    expect(base.producers.map((p) => p.binding)).toEqual(['EVENTS', 'WEBHOOKS']);
    // Both work queues dead-letter into one DLQ, and the Worker consumes that DLQ (src/queue/dead-letters.ts).
    const dlq = base.consumers[0]?.dlq;
    expect(dlq).toBeTruthy();
    expect(base.consumers.map((c) => c.queue)).toEqual([base.producers[0]!.queue, base.producers[1]!.queue, dlq]);
    expect(base.consumers[1]!.dlq).toBe(dlq);
    expect(base.analytics.map((a) => a.binding)).toEqual(['ANALYTICS']);
    expect(base.ratelimits).toEqual(['RL_AUTH', 'RL_AUTH_FAIL', 'RL_FREE', 'RL_PRO']);
    expect(base.crons.length).toBeGreaterThan(0);
  });

  for (const env of ENVS) {
    it(`${env} repeats every binding with its own resources`, () => {
      const e = shape(env);
      expect(e.name).toBe(`edgecrew-${env}`);
      expect(e.d1.map((d) => d.binding)).toEqual(base.d1.map((d) => d.binding));
      expect(e.d1[0]!.name).not.toBe(base.d1[0]!.name);
      expect(e.d1[0]!.migrations).toBe('migrations');
      expect(e.dos).toEqual(base.dos);
      expect(e.containers).toEqual(base.containers);
      expect(e.producers.map((p) => p.binding)).toEqual(['EVENTS', 'WEBHOOKS']);
      for (const p of e.producers) expect(p.queue).toContain(env);
      expect(e.consumers.map((c) => c.queue)).toEqual([e.producers[0]!.queue, e.producers[1]!.queue, e.consumers[0]!.dlq]);
      expect(e.consumers[0]!.dlq).toContain(env);
      expect(e.consumers[1]!.dlq).toBe(e.consumers[0]!.dlq);
      expect(e.analytics[0]!.dataset).toContain(env);
      expect(e.ratelimits).toEqual(base.ratelimits);
      expect(e.crons).toEqual(base.crons);
      expect(e.vars).toEqual(base.vars);
    });
  }

  it('every environment serves the console (console/dist) with SPA fallback, the API paths first to the Worker', () => {
    for (const env of ['', ...ENVS]) {
      const c = unstable_readConfig({ config: 'wrangler.toml', ...(env ? { env } : {}) }) as unknown as {
        assets?: { directory?: string; not_found_handling?: string; run_worker_first?: boolean | string[] };
      };
      expect(c.assets?.directory, env).toMatch(/console\/dist$/);
      expect(c.assets?.not_found_handling, env).toBe('single-page-application');
      expect(c.assets?.run_worker_first, env).toEqual(
        expect.arrayContaining(['/v1/*', '/mcp', '/mcp/*', '/health', '/openapi.json', '/.well-known/*']),
      );
    }
  });

  for (const env of ENVS) {
    it(`wrangler deploy --dry-run --env ${env} bundles without a warning`, async () => {
      // --containers-rollout=none: with a [[containers]] entry a dry run otherwise builds the image, which needs a Docker engine.
      const { stdout, stderr } = await run(
        'npx',
        ['wrangler', 'deploy', '--dry-run', '--env', env, '--outdir', `.wrangler/tmp/dry-run-${env}`, '--containers-rollout=none'],
        {
          env: { ...process.env, WRANGLER_SEND_METRICS: 'false', NO_COLOR: '1', FORCE_COLOR: '0' },
          maxBuffer: 16 * 1024 * 1024,
        },
      );
      const out = `${stdout}\n${stderr}`;
      expect(out).toContain('--dry-run: exiting now.');
      expect(out).not.toMatch(/\bWARNING\b|\[WARN/);
    }, 120_000);
  }
  it('worker-configuration.d.ts is current with wrangler.toml and .dev.vars.example (npm run types regenerates it)', async () => {
    // `wrangler types --check` exits non-zero when the generated file is stale; execFile rejects then.
    const { stdout } = await run('npx', ['wrangler', 'types', '--env-interface', 'Env', '--env-file', '.dev.vars.example', '--check'], {
      env: { ...process.env, WRANGLER_SEND_METRICS: 'false', NO_COLOR: '1', FORCE_COLOR: '0' },
    });
    expect(stdout).toContain('up to date');
  }, 60_000);
});
