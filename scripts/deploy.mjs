#!/usr/bin/env node
/**
 * Deploys the Worker to one environment and gives Sentry the source map of what it deployed.
 *
 *   node scripts/deploy.mjs <staging|production> [--dry-run] [--allow-dirty] [-- <more wrangler deploy args>]
 *   (npm run deploy:staging, npm run deploy:production)
 *
 * 1. The console is built when its sources changed (wrangler.toml's [assets] serves it).
 * 2. `wrangler deploy --env <env> --outdir dist/<env> --var GIT_COMMIT:<release>`. The bundle is
 *    minified (wrangler.toml `minify`), and wrangler uploads its source map to Cloudflare
 *    (`upload_source_maps`), so Workers Logs show uncaught exceptions in our sources. The bundle and
 *    map it uploaded stay in dist/<env>.
 * 3. With SENTRY_AUTH_TOKEN, SENTRY_ORG and SENTRY_PROJECT set, `sentry-cli sourcemaps upload
 *    --release <release> dist/<env>`: the errors the Worker reports through toucan-js carry
 *    `release: GIT_COMMIT` and frames in `/index.js`, which Sentry maps through this upload to
 *    `src/…` and `node_modules/…` lines. SENTRY_URL points sentry-cli at a self-hosted Sentry.
 *
 * The release is GIT_COMMIT from the environment, else `git rev-parse HEAD`. With uncommitted
 * changes the script stops before deploying, because that release would name a commit without
 * them; --allow-dirty deploys anyway. --dry-run builds dist/<env> and uploads nothing, to Cloudflare
 * or to Sentry. docs/operations.md, "Every deployment".
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureConsoleBuilt } from './console-build.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const ENVIRONMENTS = ['staging', 'production'];
const SENTRY_VARS = ['SENTRY_AUTH_TOKEN', 'SENTRY_ORG', 'SENTRY_PROJECT'];
const require = createRequire(import.meta.url);

/** Runs `command args` in the repository root, output to ours; resolves with its stdout when `capture`. */
function run(command, args, { env = process.env, capture = false } = {}) {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, { cwd: ROOT, env, stdio: ['inherit', capture ? 'pipe' : 'inherit', 'inherit'] });
    let out = '';
    child.stdout?.on('data', (b) => (out += b));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolvePromise(out) : reject(new Error(`${relative(ROOT, command) || command} ${args[0] ?? ''} exited with ${code}`)),
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
 * Uploads the bundle in `dir` (index.js and index.js.map, as `wrangler deploy --outdir` wrote them) to
 * Sentry as an artifact bundle of `release`, with Sentry's own CLI. Files are named `~/index.js`,
 * which matches the `/index.js` frames toucan-js reports; the map's sources are made relative to the
 * repository (`src/app.ts`, `node_modules/hono/…`). `env` carries SENTRY_* (and SENTRY_URL).
 */
export function uploadSourceMaps({ dir, release, env = process.env }) {
  const sentryCli = require.resolve('@sentry/cli/bin/sentry-cli');
  const bundleDir = resolve(ROOT, dir);
  // The map names its sources from dir (`../../src/app.ts`); sentry-cli resolves them against dir
  // and strips this prefix, which leaves paths from the repository root.
  const stripPrefix = `${bundleDir}/${relative(bundleDir, ROOT)}/`;
  const args = ['sourcemaps', 'upload', '--release', release, '--url-prefix', '~/', '--strip-prefix', stripPrefix, '--strict', bundleDir];
  return run(process.execPath, [sentryCli, ...args], { env });
}

function usage(message) {
  if (message) console.error(`deploy: ${message}\n`);
  console.error('usage: node scripts/deploy.mjs <staging|production> [--dry-run] [--allow-dirty] [-- <wrangler deploy args>]');
  process.exit(2);
}

async function main(argv) {
  const dash = argv.indexOf('--');
  const own = dash === -1 ? argv : argv.slice(0, dash);
  const passThrough = dash === -1 ? [] : argv.slice(dash + 1);
  const environment = own.find((a) => !a.startsWith('-'));
  const unknown = own.filter((a) => a.startsWith('-') && a !== '--dry-run' && a !== '--allow-dirty');
  if (unknown.length > 0) usage(`unknown option ${unknown.join(' ')} (wrangler's own go after --)`);
  if (!ENVIRONMENTS.includes(environment)) usage(`the environment must be one of ${ENVIRONMENTS.join(', ')}`);
  const dryRun = own.includes('--dry-run');

  const sentry = sentryUploadConfig();
  if (Array.isArray(sentry)) {
    usage(`Sentry's source-map upload needs all of ${SENTRY_VARS.join(', ')}; ${sentry.join(', ')} not set`);
  }

  const release = process.env.GIT_COMMIT || (await run('git', ['rev-parse', 'HEAD'], { capture: true })).trim();
  const dirty = (await run('git', ['status', '--porcelain', '--untracked-files=no'], { capture: true })).trim();
  if (dirty && !process.env.GIT_COMMIT && !own.includes('--allow-dirty')) {
    usage(
      `uncommitted changes, so release ${release.slice(0, 12)} would not be what it names:\n${dirty}\nCommit them, or pass --allow-dirty.`,
    );
  }

  await ensureConsoleBuilt({ quiet: false, log: (line) => console.log(line) });
  const outdir = join('dist', environment);
  rmSync(join(ROOT, outdir), { recursive: true, force: true });
  const wrangler = join(dirname(require.resolve('wrangler/package.json')), 'bin', 'wrangler.js');
  await run(process.execPath, [
    wrangler,
    'deploy',
    '--env',
    environment,
    '--outdir',
    outdir,
    '--var',
    `GIT_COMMIT:${release}`,
    ...(dryRun ? ['--dry-run'] : []),
    ...passThrough,
  ]);
  if (!existsSync(join(ROOT, outdir, 'index.js.map'))) {
    throw new Error(`wrangler wrote no ${outdir}/index.js.map: is upload_source_maps still on in wrangler.toml?`);
  }

  if (sentry === 'none') {
    console.log('\nSentry: SENTRY_AUTH_TOKEN, SENTRY_ORG and SENTRY_PROJECT are not set, so no source map was uploaded;');
    console.log('errors reported to Sentry from this release show minified frames (docs/operations.md, "Sentry").');
  } else if (dryRun) {
    const files = readdirSync(join(ROOT, outdir)).filter((f) => /\.(js|map)$/.test(f));
    console.log(
      `\nSentry (dry run): would upload ${files.join(', ')} for release ${release} to ${process.env.SENTRY_ORG}/${process.env.SENTRY_PROJECT}.`,
    );
  } else {
    console.log(`\nSentry: uploading the source map for release ${release}`);
    await uploadSourceMaps({ dir: outdir, release });
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).catch((err) => {
    console.error(`deploy: ${err instanceof Error ? err.message : err}`);
    process.exit(1);
  });
}
