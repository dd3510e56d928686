/**
 * The deployed bundle is minified (wrangler.toml `minify`); what keeps its errors readable is the
 * deploy's source-map upload to Sentry (scripts/deploy.mjs). This drives both halves against a local
 * Sentry speaking the real protocols: Sentry's own CLI uploads the bundle this run built, the
 * bundled Worker reports an unhandled error, and the error's minified frames are resolved through
 * the uploaded map, as Sentry resolves them, to our sources.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { SourceMap, type SourceMapPayload } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deployedRelease, mapFromRoot, parse, releaseFor, UsageError, uploadDeployed, uploadSourceMaps } from '../../scripts/deploy.mjs';
import { type ArtifactBundle, startFakeSentry } from '../support/node/fake-sentry';
import { buildWorker, PROJECT_ROOT, type RunningWorker, startWorker } from '../support/node/worker';
import { eventually } from '../support/shared/time';

type Frame = { filename?: string; abs_path?: string; function?: string; lineno?: number; colno?: number; in_app?: boolean };
type SentryException = { type: string; value: string; stacktrace?: { frames: Frame[] } };

let sentry: Awaited<ReturnType<typeof startFakeSentry>>;
let worker: RunningWorker | undefined;
const release = `e2e-${randomUUID()}`;
const sentryEnv = () => ({ SENTRY_URL: sentry.url, SENTRY_AUTH_TOKEN: 'sntrys_e2e', SENTRY_ORG: 'edgecrew', SENTRY_PROJECT: 'api' });

/**
 * `node scripts/deploy.mjs <args>` with `env` added: its exit code and output. Cloudflare's
 * credentials are replaced by invalid ones and wrangler's login by an empty config directory, so
 * nothing here can reach an account even if the script's checks broke.
 */
async function deploy(args: string[], env: Record<string, string> = {}) {
  const config = mkdtempSync(path.join(tmpdir(), 'edgecrew-deploy-test-'));
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, ['scripts/deploy.mjs', ...args], {
      cwd: PROJECT_ROOT,
      env: {
        ...process.env,
        CLOUDFLARE_API_TOKEN: 'invalid-token-for-tests',
        CLOUDFLARE_ACCOUNT_ID: '0'.repeat(32),
        XDG_CONFIG_HOME: config,
        ...env,
        CI: 'true',
        WRANGLER_SEND_METRICS: 'false',
      },
    });
    return { code: 0, output: stdout + stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, output: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  } finally {
    rmSync(config, { recursive: true, force: true });
  }
}

const usageError = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    if (err instanceof UsageError) return err.message;
    throw err;
  }
  throw new Error('no UsageError');
};

/** The map's sources must be named from the repository root, with the text of ours. */
function expectSourcesFromRoot(map: { sources: string[]; sourcesContent: Array<string | null> }) {
  expect(map.sources).toContain('src/app.ts');
  expect(map.sources.filter((s) => s.startsWith('/') || s.includes('..') || s.includes('\\'))).toEqual([]);
  // Sentry shows the lines around a frame from sourcesContent. Some dependencies ship maps naming
  // sources they do not publish (null here); every file of ours must have its text.
  const ours = map.sources.flatMap((s, i) => (/^(src|durable-objects)\//.test(s) ? [map.sourcesContent[i]] : []));
  expect(ours.length).toBeGreaterThan(100);
  expect(ours.filter((text) => typeof text !== 'string' || text.length === 0)).toEqual([]);
}

beforeAll(async () => {
  sentry = await startFakeSentry();
});
afterAll(async () => {
  await worker?.dispose();
  await sentry?.close();
});

describe('Sentry source maps for the minified bundle', () => {
  let bundle: ArtifactBundle;

  it("uploads the bundle and its map with Sentry's CLI as an artifact bundle of the release", async () => {
    const dir = path.dirname(await buildWorker());
    await uploadSourceMaps({
      dir,
      release,
      env: { ...process.env, ...sentryEnv() },
    });
    expect(sentry.artifactBundles).toHaveLength(1);
    bundle = sentry.artifactBundles[0]!;
    expect(bundle).toMatchObject({ org: 'edgecrew', projects: ['api'], release, auth: 'Bearer sntrys_e2e' });
    const byUrl = Object.fromEntries(bundle.files.map((f) => [f.url, f]));
    expect(Object.keys(byUrl).sort()).toEqual(['~/index.js', '~/index.js.map']);
    expect(byUrl['~/index.js']).toMatchObject({ type: 'minified_source', headers: { sourcemap: 'index.js.map' } });
    expect(byUrl['~/index.js.map']!.type).toBe('source_map');
    // Minified: a few hundred long lines (license comments among them), not one statement per line.
    const code = byUrl['~/index.js']!.content;
    expect(code.length / code.split('\n').length).toBeGreaterThan(500);
    expectSourcesFromRoot(JSON.parse(byUrl['~/index.js.map']!.content));
  });

  it('resolves the frames of an error the minified Worker reports to our sources', async () => {
    expect(bundle, 'the upload above ran').toBeDefined();
    const sentryHost = new URL(sentry.url).host;
    // No migrations: the first D1 query fails ("no such table"), an error nothing handles.
    worker = await startWorker({
      migrate: false,
      echoLogs: 'none',
      bindings: { SENTRY_DSN: `http://publickey@${sentryHost}/7`, GIT_COMMIT: release },
    });
    const res = await worker.fetch('/v1/auth/signup', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        email: `${randomUUID()}@example.com`,
        password: 'correct horse battery staple',
        name: 'Sourcemaps',
        tenantName: 'Sourcemaps',
      }),
    });
    const problem = (await res.json()) as { status: number; errorId?: string };
    expect(res.status).toBe(500);
    const event = await eventually(
      () =>
        sentry.received
          .flatMap((r) => r.items)
          .find((i) => i.header.type === 'event' && (i.payload as { tags?: Record<string, string> }).tags?.error_id === problem.errorId)
          ?.payload as { release: string; exception: { values: SentryException[] } } | undefined,
      { what: 'the event at the fake Sentry' },
    );
    // The release names the upload's artifact bundle: this is how Sentry picks the map.
    expect(event.release).toBe(bundle.release);

    // Frames in the bundle's entry module: `/index.js` deployed (workerd names the module as wrangler
    // uploaded it, toucan-js adds the root), the bundle's own path here (Miniflare names it by its file).
    const frames = event.exception.values.flatMap((e) => e.stacktrace?.frames ?? []).filter((f) => f.abs_path?.endsWith('/index.js'));
    expect(frames.length).toBeGreaterThan(0);
    // The script's `sourcemap` header names its map, relative to the script's URL (as Sentry reads it).
    const mapName = bundle.files.find((f) => f.url === '~/index.js')!.headers.sourcemap;
    const mapFile = bundle.files.find((f) => f.url === `~/${mapName}`)!;
    const mapJson = JSON.parse(mapFile.content) as SourceMapPayload & { sourcesContent: string[] };
    const map = new SourceMap(mapJson);
    const resolved = frames.map((f) => {
      const entry = map.findEntry(f.lineno! - 1, f.colno! - 1) as { originalSource?: string; originalLine?: number };
      const source = entry.originalSource ?? '';
      const text = mapJson.sourcesContent[mapJson.sources.indexOf(source)]?.split('\n')[entry.originalLine ?? -1] ?? '';
      return { source, line: (entry.originalLine ?? -1) + 1, text: text.trim() };
    });
    // Every minified frame lands on a line of a real source.
    for (const r of resolved) expect(r.text, `${r.source}:${r.line}`).not.toBe('');
    // The failing query in the sign-up service, called from the sign-up route: our code, by file and line.
    expect(resolved).toContainEqual(
      expect.objectContaining({ source: 'src/identity/auth-service.ts', text: expect.stringContaining('.from(users)') }),
    );
    expect(resolved).toContainEqual(
      expect.objectContaining({ source: 'src/routes/auth.ts', text: expect.stringContaining('authService.signup(') }),
    );
  });
});

describe('scripts/deploy.mjs', () => {
  it('names the sources from the repository root whatever sourceRoot wrangler wrote', () => {
    const sources = ['../../src/app.ts', '../../node_modules/hono/dist/compose.js'];
    const clean = ['src/app.ts', 'node_modules/hono/dist/compose.js'];
    // wrangler writes its --outdir as sourceRoot: relative to its working directory (the root) when relative.
    expect(mapFromRoot({ version: 3, sourceRoot: 'dist/production', sources }, 'dist/production').sources).toEqual(clean);
    const abs = path.join(PROJECT_ROOT, 'dist', 'staging');
    expect(mapFromRoot({ version: 3, sourceRoot: abs, sources, mappings: 'AAAA' }, abs)).toEqual({
      version: 3,
      sources: clean,
      mappings: 'AAAA',
    });
    expect(mapFromRoot({ version: 3, sourceRoot: `file://${abs}`, sources }, abs).sources).toEqual(clean);
    expect(mapFromRoot({ version: 3, sources }, abs).sources).toEqual(clean);
    // Other schemes and missing names are left alone.
    expect(mapFromRoot({ version: 3, sources: ['webpack://pkg/./src/x.ts', null] }, abs).sources).toEqual([
      'webpack://pkg/./src/x.ts',
      null,
    ]);
  });

  it('reads its options strictly: one environment, nothing wrangler would read differently', () => {
    expect(parse(['production'])).toEqual({
      environment: 'production',
      dryRun: false,
      allowDirty: false,
      uploadOnly: false,
      wranglerArgs: [],
    });
    expect(parse(['staging', '--allow-dirty', '--', '--dry-run', '--containers-rollout=none'])).toMatchObject({
      dryRun: true,
      allowDirty: true,
      wranglerArgs: ['--containers-rollout=none'],
    });
    expect(usageError(() => parse([]))).toMatch(/name one environment: staging or production/);
    expect(usageError(() => parse(['staging', 'production']))).toMatch(/got staging production/);
    expect(usageError(() => parse(['prod']))).toMatch(/name one environment/);
    expect(usageError(() => parse(['production', '--force']))).toMatch(/unknown option --force/);
    for (const flag of ['--env=staging', '-e', '--outdir', '--config=x.toml', '--cwd', '--name']) {
      expect(
        usageError(() => parse(['production', '--', flag, 'x'])),
        flag,
      ).toMatch(/is set by this script/);
    }
    for (const args of [['--var', 'GIT_COMMIT:abc'], ['--var=GIT_COMMIT:abc'], ['--var', 'FOO:1', 'GIT_COMMIT:abc']]) {
      expect(
        usageError(() => parse(['production', '--', ...args])),
        args.join(' '),
      ).toMatch(/GIT_COMMIT is set by this script/);
    }
    for (const flag of ['--dry-run=true', '--dryRun', '--dry-run=false']) {
      expect(
        usageError(() => parse(['production', '--', flag])),
        flag,
      ).toMatch(/write a dry run as --dry-run/);
    }
    // `npm run deploy:production --dry-run`: npm keeps the flag and says so in npm_config_dry_run.
    const npmFlag = process.env.npm_config_dry_run;
    try {
      process.env.npm_config_dry_run = 'true';
      expect(parse(['production']).dryRun).toBe(true);
    } finally {
      if (npmFlag === undefined) delete process.env.npm_config_dry_run;
      else process.env.npm_config_dry_run = npmFlag;
    }
    expect(parse(['production', '--upload-only']).uploadOnly).toBe(true);
    expect(usageError(() => parse(['production', '--upload-only', '--dry-run']))).toMatch(/--upload-only takes no other option/);
    expect(usageError(() => parse(['production', '--upload-only', '--', '--x']))).toMatch(/--upload-only takes no other option/);
  });

  it('releases only committed code under the name of the commit it is', () => {
    const head = 'a'.repeat(40);
    expect(releaseFor({ head, dirty: '', allowDirty: false })).toBe(head);
    expect(releaseFor({ gitCommit: head, head, dirty: '', allowDirty: false })).toBe(head);
    expect(releaseFor({ gitCommit: 'aaaaaaa', head, dirty: '', allowDirty: false })).toBe('aaaaaaa');
    expect(releaseFor({ gitCommit: 'v1.2.3', head, dirty: '', allowDirty: false })).toBe('v1.2.3');
    expect(usageError(() => releaseFor({ head, dirty: ' M src/app.ts', allowDirty: false }))).toMatch(
      /uncommitted changes[\s\S]*src\/app\.ts/,
    );
    // GIT_COMMIT does not skip the check (CI servers set it on every build).
    expect(usageError(() => releaseFor({ gitCommit: head, head, dirty: ' M src/app.ts', allowDirty: false }))).toMatch(/uncommitted/);
    expect(usageError(() => releaseFor({ gitCommit: 'b'.repeat(40), head, dirty: '', allowDirty: false }))).toMatch(
      /GIT_COMMIT is b+ but the checkout is at a+/,
    );
    expect(usageError(() => releaseFor({ head: null, dirty: null, allowDirty: false }))).toMatch(/no release/);
    expect(usageError(() => releaseFor({ gitCommit: 'abc1234', head: null, dirty: null, allowDirty: false }))).toMatch(/git cannot tell/);
    // --allow-dirty: outside a checkout with GIT_COMMIT, or with changes.
    expect(releaseFor({ gitCommit: 'abc1234', head: null, dirty: null, allowDirty: true })).toBe('abc1234');
    expect(releaseFor({ head, dirty: ' M src/app.ts', allowDirty: true })).toBe(head);
  });

  it('refuses, before building anything, calls that would deploy the wrong thing (exit code 2)', async () => {
    const before = sentry.artifactBundles.length;
    const clash = await deploy(['production', '--', '--env', 'staging']);
    expect(clash.code).toBe(2);
    expect(clash.output).toMatch(/--env is set by this script[\s\S]*usage: node scripts\/deploy\.mjs/);
    expect(clash.output).not.toMatch(/Building|Total Upload/);
    const partial = await deploy(['production', '--dry-run'], { SENTRY_ORG: 'edgecrew', SENTRY_AUTH_TOKEN: '', SENTRY_PROJECT: '' });
    expect(partial.code).toBe(2);
    expect(partial.output).toMatch(/SENTRY_AUTH_TOKEN, SENTRY_PROJECT not set/);
    const uploadOnly = await deploy(['production', '--upload-only'], { SENTRY_ORG: '', SENTRY_AUTH_TOKEN: '', SENTRY_PROJECT: '' });
    expect(uploadOnly.code).toBe(2);
    expect(uploadOnly.output).toMatch(/--upload-only needs SENTRY_AUTH_TOKEN/);
    expect(sentry.artifactBundles).toHaveLength(before);
  });

  it('--upload-only uploads the release a deploy recorded; a failed upload says the Worker is deployed', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'edgecrew-deployed-'));
    try {
      const built = path.dirname(await buildWorker());
      for (const f of ['index.js', 'index.js.map']) copyFileSync(path.join(built, f), path.join(dir, f));
      expect(usageError(() => deployedRelease(dir))).toMatch(/no deploy to upload/);
      writeFileSync(path.join(dir, 'release.txt'), 'deployed-1\n');
      expect(deployedRelease(dir)).toBe('deployed-1');
      const retry = 'node scripts/deploy.mjs production --upload-only';
      await uploadDeployed({ dir, release: deployedRelease(dir), retry, env: { ...process.env, ...sentryEnv() } });
      expect(sentry.artifactBundles.at(-1)?.release).toBe('deployed-1');
      // Sentry unreachable: the error says what happened to the Worker and how to retry.
      const down = { ...process.env, ...sentryEnv(), SENTRY_URL: 'http://127.0.0.1:9' };
      await expect(uploadDeployed({ dir, release: 'deployed-2', retry, env: down })).rejects.toThrow(
        /the Worker is deployed \(release deployed-2\), but the source-map upload to Sentry failed[\s\S]*Retry the upload alone: node scripts\/deploy\.mjs production --upload-only/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it('a dry run builds as a deploy would, into its own folder, and uploads nothing; its bundle uploads with clean sources', async () => {
    const before = sentry.artifactBundles.length;
    // --dry-run after `--` counts as the script's own. A dry run goes on whatever the tree holds, even
    // with a GIT_COMMIT that is not the checkout's (a deploy would refuse both).
    const commit = '0123456789abcdef0123456789abcdef01234567';
    const run = await deploy(['production', '--', '--dry-run', '--containers-rollout=none'], {
      ...sentryEnv(),
      GIT_COMMIT: commit,
    });
    expect(run.code, run.output).toBe(0);
    expect(run.output).toContain(
      `Sentry (dry run): would upload index.js, index.js.map of dist/production-dry-run for release ${commit} to edgecrew/api`,
    );
    expect(sentry.artifactBundles).toHaveLength(before);
    // Its own folder: dist/production (a real deploy's, which --upload-only retries) is not touched.
    const dist = path.join(PROJECT_ROOT, 'dist', 'production-dry-run');
    expect(existsSync(path.join(dist, 'release.txt')), 'a dry run records no deployed release').toBe(false);
    // What the deploy builds uploads with the same clean names as the test run's bundle.
    await uploadSourceMaps({ dir: dist, release: 'dry-run-check', env: { ...process.env, ...sentryEnv() } });
    const uploaded = sentry.artifactBundles.at(-1)!;
    expect(uploaded.release).toBe('dry-run-check');
    expectSourcesFromRoot(JSON.parse(uploaded.files.find((f) => f.url === '~/index.js.map')!.content));
    // The folder itself is left as wrangler wrote it (the copy uploaded was rewritten).
    expect(JSON.parse(readFileSync(path.join(dist, 'index.js.map'), 'utf8')).sourceRoot).toBe(dist);
  }, 120_000);
});
