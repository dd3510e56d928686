#!/usr/bin/env node
/**
 * Deploys the Worker to one environment and gives Sentry the source map of what it deployed.
 *
 *   node scripts/deploy.mjs <staging|production> [--dry-run] [--allow-dirty] [-- <more wrangler deploy args>]
 *   node scripts/deploy.mjs <staging|production> --upload-only
 *   (npm run deploy:staging, npm run deploy:production)
 *
 * 1. The console is built when its sources changed (wrangler.toml's [assets] serves it).
 * 2. `wrangler deploy --env <env> --outdir dist/<env> --var GIT_COMMIT:<release>`. The bundle is
 *    minified (wrangler.toml `minify`), and wrangler uploads its source map to Cloudflare
 *    (`upload_source_maps`), so Workers Logs show uncaught exceptions in our sources. The bundle and
 *    map it uploaded stay in dist/<env>, with the release in dist/<env>/release.txt.
 * 3. With SENTRY_AUTH_TOKEN, SENTRY_ORG and SENTRY_PROJECT set, `sentry-cli sourcemaps upload
 *    --release <release>` of that bundle: the errors the Worker reports through toucan-js carry
 *    `release: GIT_COMMIT` and frames in `/index.js`, which Sentry maps through this upload to
 *    `src/…` and `node_modules/…` lines. SENTRY_URL points sentry-cli at a self-hosted Sentry.
 *    `--upload-only` repeats this step alone for the last deploy, after an upload that failed.
 *
 * The release is GIT_COMMIT from the environment, else `git rev-parse HEAD`. With uncommitted
 * changes to tracked files the script stops before deploying, because that release would name a
 * commit without them; --allow-dirty deploys anyway. --dry-run (before or after `--`) builds
 * dist/<env> and uploads nothing, to Cloudflare or to Sentry. docs/operations.md, "Every deployment".
 */
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureConsoleBuilt } from './console-build.mjs';
import { git, wranglerBin } from './lib/tools.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const ENVIRONMENTS = ['staging', 'production'];
const SENTRY_VARS = ['SENTRY_AUTH_TOKEN', 'SENTRY_ORG', 'SENTRY_PROJECT'];
const OWN_OPTIONS = ['--dry-run', '--allow-dirty', '--upload-only'];
/** wrangler options this script sets itself: passed after `--` they would contradict it. */
const SET_HERE = ['--env', '-e', '--outdir', '--name', '--config', '-c'];
const RELEASE_FILE = 'release.txt';

/** Runs `command args` in the repository root with our stdout and stderr. */
function run(command, args, { env = process.env } = {}) {
  const what = `${basename(args[0] ?? command)} ${args[1] ?? ''}`.trim();
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, { cwd: ROOT, env, stdio: 'inherit' });
    child.on('error', reject);
    child.on('close', (code, signal) =>
      code === 0 ? resolvePromise() : reject(new Error(`${what} ${signal ? `was stopped by ${signal}` : `exited with ${code}`}`)),
    );
  });
}

/**
 * Which of SENTRY_AUTH_TOKEN, SENTRY_ORG and SENTRY_PROJECT `env` sets: `'all'`, `'none'`, or the
 * names missing when only some are (a typo would otherwise deploy without the upload).
 */
export function sentryUploadConfig(env = process.env) {
  const missing = SENTRY_VARS.filter((name) => !env[name]);
  if (missing.length === 0) return 'all';
  if (missing.length === SENTRY_VARS.length) return 'none';
  return missing;
}

/**
 * `map` (as wrangler wrote it in `bundleDir`) with its sources named from the repository root, `/`
 * between folders (`src/app.ts`, `node_modules/hono/dist/compose.js`), and no `sourceRoot`. Wrangler
 * sets `sourceRoot` to its `--outdir` as given, so a relative one is relative to wrangler's working
 * directory (the repository root), not to the map as the source-map spec reads it.
 */
export function mapFromRoot(map, bundleDir) {
  const base = map.sourceRoot ? resolve(ROOT, map.sourceRoot) : resolve(ROOT, bundleDir);
  const { sourceRoot: _dropped, ...rest } = map;
  return { ...rest, sources: map.sources.map((s) => relative(ROOT, resolve(base, s)).split(sep).join('/')) };
}

/**
 * Uploads the bundle in `dir` (index.js and index.js.map, as `wrangler deploy --outdir` wrote them)
 * to Sentry as an artifact bundle of `release`, with Sentry's own CLI: `~/index.js`, which matches
 * the `/index.js` frames toucan-js reports, and its map with sources named from the repository root
 * (a copy; dir is left as wrangler wrote it). `env` carries SENTRY_* (and SENTRY_URL).
 */
export async function uploadSourceMaps({ dir, release, env = process.env }) {
  const require = createRequire(import.meta.url);
  const sentryCli = require.resolve('@sentry/cli/bin/sentry-cli');
  const bundleDir = resolve(ROOT, dir);
  const staged = mkdtempSync(join(tmpdir(), 'edgecrew-sentry-'));
  try {
    copyFileSync(join(bundleDir, 'index.js'), join(staged, 'index.js'));
    const map = JSON.parse(readFileSync(join(bundleDir, 'index.js.map'), 'utf8'));
    writeFileSync(join(staged, 'index.js.map'), JSON.stringify(mapFromRoot(map, bundleDir)));
    const args = ['sourcemaps', 'upload', '--release', release, '--url-prefix', '~/', '--strict', staged];
    await run(process.execPath, [sentryCli, ...args], { env });
  } finally {
    rmSync(staged, { recursive: true, force: true });
  }
}

function usage(message) {
  if (message) console.error(`deploy: ${message}\n`);
  console.error('usage: node scripts/deploy.mjs <staging|production> [--dry-run] [--allow-dirty] [-- <wrangler deploy args>]');
  console.error('       node scripts/deploy.mjs <staging|production> --upload-only');
  process.exit(2);
}

/** The options of `argv` (this script's, then wrangler's after `--`), or a usage error. */
function parse(argv) {
  const dash = argv.indexOf('--');
  const own = dash === -1 ? argv : argv.slice(0, dash);
  const passThrough = dash === -1 ? [] : argv.slice(dash + 1);
  const positional = own.filter((a) => !a.startsWith('-'));
  const unknown = own.filter((a) => a.startsWith('-') && !OWN_OPTIONS.includes(a));
  if (unknown.length > 0) usage(`unknown option ${unknown.join(' ')} (wrangler's own go after --)`);
  if (positional.length !== 1 || !ENVIRONMENTS.includes(positional[0])) {
    usage(`name one environment: ${ENVIRONMENTS.join(' or ')}${positional.length ? ` (got ${positional.join(' ')})` : ''}`);
  }
  const clash = passThrough.find(
    (a, i) => SET_HERE.includes(a.split('=')[0]) || (/^GIT_COMMIT[:=]/.test(a) && passThrough[i - 1] === '--var'),
  );
  if (clash) usage(`${clash} is set by this script; it cannot be passed to wrangler after --`);
  return {
    environment: positional[0],
    dryRun: own.includes('--dry-run') || passThrough.includes('--dry-run'),
    allowDirty: own.includes('--allow-dirty'),
    uploadOnly: own.includes('--upload-only'),
    wranglerArgs: passThrough.filter((a) => a !== '--dry-run'),
  };
}

async function main(argv) {
  const options = parse(argv);
  const { environment } = options;
  const outdir = join(ROOT, 'dist', environment);
  const sentry = sentryUploadConfig();
  if (Array.isArray(sentry)) {
    usage(`Sentry's source-map upload needs all of ${SENTRY_VARS.join(', ')}; ${sentry.join(', ')} not set`);
  }

  if (options.uploadOnly) {
    if (sentry !== 'all') usage(`--upload-only needs ${SENTRY_VARS.join(', ')}`);
    const releaseFile = join(outdir, RELEASE_FILE);
    if (!existsSync(releaseFile)) usage(`no deploy to upload: dist/${environment}/${RELEASE_FILE} is written by a deploy (not a dry run)`);
    const release = readFileSync(releaseFile, 'utf8').trim();
    console.log(`Sentry: uploading the source map of dist/${environment} for release ${release}`);
    await uploadSourceMaps({ dir: outdir, release });
    return;
  }

  const release = process.env.GIT_COMMIT || git('rev-parse', 'HEAD');
  if (!release) usage('no release: set GIT_COMMIT, or deploy from a git checkout');
  const dirty = git('status', '--porcelain', '--untracked-files=no');
  if (dirty === null) usage('git status failed: deploy from a git checkout');
  if (dirty && !options.allowDirty) {
    usage(
      `uncommitted changes, so release ${release.slice(0, 12)} would not be what it names:\n${dirty}\nCommit them, or pass --allow-dirty.`,
    );
  }

  await ensureConsoleBuilt({ quiet: false, log: (line) => console.log(line) });
  rmSync(outdir, { recursive: true, force: true });
  // An absolute --outdir: wrangler writes it as the map's sourceRoot (mapFromRoot reads either).
  await run(process.execPath, [
    wranglerBin(),
    'deploy',
    '--env',
    environment,
    '--outdir',
    outdir,
    '--var',
    `GIT_COMMIT:${release}`,
    ...(options.dryRun ? ['--dry-run'] : []),
    ...options.wranglerArgs,
  ]);
  if (!existsSync(join(outdir, 'index.js.map'))) {
    throw new Error(`wrangler wrote no dist/${environment}/index.js.map: is upload_source_maps still on in wrangler.toml?`);
  }
  if (!options.dryRun) writeFileSync(join(outdir, RELEASE_FILE), `${release}\n`);

  if (sentry === 'none') {
    console.log('\nSentry: SENTRY_AUTH_TOKEN, SENTRY_ORG and SENTRY_PROJECT are not set, so no source map was uploaded;');
    console.log('errors reported to Sentry from this release show minified frames (docs/operations.md, "Sentry and source maps").');
  } else if (options.dryRun) {
    const files = readdirSync(outdir).filter((f) => /\.(js|map)$/.test(f));
    console.log(
      `\nSentry (dry run): would upload ${files.join(', ')} for release ${release} to ${process.env.SENTRY_ORG}/${process.env.SENTRY_PROJECT}.`,
    );
  } else {
    console.log(`\nSentry: uploading the source map for release ${release}`);
    try {
      await uploadSourceMaps({ dir: outdir, release });
    } catch (err) {
      throw new Error(
        `the Worker is deployed (release ${release}), but the source-map upload to Sentry failed: ${err instanceof Error ? err.message : err}.\n` +
          `Retry the upload alone: node scripts/deploy.mjs ${environment} --upload-only`,
      );
    }
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).catch((err) => {
    console.error(`deploy: ${err instanceof Error ? err.message : err}`);
    process.exit(1);
  });
}
