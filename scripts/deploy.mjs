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
 *    map it uploaded stay in dist/<env>, with the release in dist/<env>/release.txt (a dry run
 *    builds into dist/<env>-dry-run instead, so it never touches what a retry would upload).
 * 3. With SENTRY_AUTH_TOKEN, SENTRY_ORG and SENTRY_PROJECT set, `sentry-cli sourcemaps upload
 *    --release <release>` of that bundle: the errors the Worker reports through toucan-js carry
 *    `release: GIT_COMMIT` and frames in `/index.js`, which Sentry maps through this upload to
 *    `src/…` and `node_modules/…` lines. SENTRY_URL points sentry-cli at a self-hosted Sentry.
 *    `--upload-only` repeats this step alone for the last deploy, after an upload that failed.
 *
 * The release is GIT_COMMIT from the environment, else `git rev-parse HEAD`. The script stops before
 * deploying when tracked files have uncommitted changes, or when GIT_COMMIT names another commit
 * than the checkout, because the release would name code that differs from what is deployed;
 * --allow-dirty deploys anyway. Changes under docs/ do not count (docs are not deployed, and `npm
 * test` rewrites docs/screenshots). --dry-run (before or after `--`, or given to npm) builds, on any
 * tree, and uploads nothing, to Cloudflare or to Sentry. docs/operations.md, "Every deployment".
 */
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureConsoleBuilt } from './console-build.mjs';
import { git, wranglerBin } from './lib/tools.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const ENVIRONMENTS = ['staging', 'production'];
const SENTRY_VARS = ['SENTRY_AUTH_TOKEN', 'SENTRY_ORG', 'SENTRY_PROJECT'];
const OWN_OPTIONS = ['--dry-run', '--allow-dirty', '--upload-only'];
/** wrangler options this script sets itself, or that would move what it builds: refused after `--`. */
const SET_HERE = ['--env', '-e', '--outdir', '--outfile', '--name', '--config', '-c', '--cwd', '--script'];
const RELEASE_FILE = 'release.txt';
/** What goes to Sentry: the bundle's entry and its map (wrangler writes one module of code). */
const SENTRY_FILES = ['index.js', 'index.js.map'];

/** A mistake in how the script was called: printed with the usage, exit code 2. */
export class UsageError extends Error {}

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

/** Whether npm was given `--dry-run` (`npm run deploy:staging --dry-run`, without the `--`). */
function npmDryRun(env = process.env) {
  return env.npm_config_dry_run === 'true' || env.npm_config_dry_run === '';
}

/**
 * The options in `argv`: this script's, then wrangler's after `--`. Throws a UsageError for anything
 * that would make the deploy differ from what the script reports: a second environment, an option
 * the script sets itself, GIT_COMMIT in any form, a dry run spelled other than `--dry-run`, and
 * options that mean nothing with `--upload-only`.
 */
export function parse(argv) {
  const dash = argv.indexOf('--');
  const own = dash === -1 ? argv : argv.slice(0, dash);
  const passThrough = dash === -1 ? [] : argv.slice(dash + 1);
  const positional = own.filter((a) => !a.startsWith('-'));
  const unknown = own.filter((a) => a.startsWith('-') && !OWN_OPTIONS.includes(a));
  if (unknown.length > 0) throw new UsageError(`unknown option ${unknown.join(' ')} (wrangler's own go after --)`);
  if (positional.length !== 1 || !ENVIRONMENTS.includes(positional[0])) {
    throw new UsageError(`name one environment: ${ENVIRONMENTS.join(' or ')}${positional.length ? ` (got ${positional.join(' ')})` : ''}`);
  }
  for (const arg of passThrough) {
    const flag = arg.split('=')[0];
    if (SET_HERE.includes(flag)) throw new UsageError(`${flag} is set by this script; it cannot be passed to wrangler after --`);
    if (arg.includes('GIT_COMMIT'))
      throw new UsageError(`${arg}: GIT_COMMIT is set by this script (set it in the environment to name the release)`);
    if (/^--dry-?run/i.test(arg) && arg !== '--dry-run') throw new UsageError(`${arg}: write a dry run as --dry-run`);
  }
  const uploadOnly = own.includes('--upload-only');
  if (uploadOnly && argv.length > 2) throw new UsageError('--upload-only takes no other option: it uploads the last deploy as it is');
  return {
    environment: positional[0],
    // `npm run deploy:x --dry-run` (no `--` first) gives npm the flag, not us: npm says so in npm_config_dry_run.
    dryRun: own.includes('--dry-run') || passThrough.includes('--dry-run') || npmDryRun(),
    allowDirty: own.includes('--allow-dirty'),
    uploadOnly,
    wranglerArgs: passThrough.filter((a) => a !== '--dry-run'),
  };
}

/**
 * The release to deploy: `gitCommit` (GIT_COMMIT) or else `head`. Unless `allowDirty`, refuses when
 * `dirty` lists uncommitted changes or is null (git could not tell), and when `gitCommit` is a commit
 * hash other than `head`: the release would name code that differs from what is deployed.
 */
export function releaseFor({ gitCommit, head, dirty, allowDirty }) {
  const release = gitCommit || head;
  if (!release) throw new UsageError('no release: set GIT_COMMIT, or deploy from a git checkout');
  if (allowDirty) return release;
  if (dirty === null)
    throw new UsageError('git cannot tell whether there are uncommitted changes: deploy from a git checkout, or pass --allow-dirty');
  if (dirty) {
    throw new UsageError(
      `uncommitted changes, so release ${release.slice(0, 12)} would not be what it names:\n${dirty}\nCommit them, or pass --allow-dirty.`,
    );
  }
  if (gitCommit && head && /^[0-9a-f]{7,40}$/i.test(gitCommit) && !head.startsWith(gitCommit.toLowerCase())) {
    throw new UsageError(`GIT_COMMIT is ${gitCommit} but the checkout is at ${head}: check out that commit, or pass --allow-dirty`);
  }
  return release;
}

/** A source of a map as a path, or null when it is a URL of another scheme (`webpack://…`). */
function sourcePath(source, base) {
  if (source.startsWith('file:')) return fileURLToPath(source);
  if (/^[a-z][a-z0-9+.-]*:/i.test(source) && !isAbsolute(source)) return null;
  return resolve(base, source);
}

/**
 * `map` (as wrangler wrote it in `bundleDir`) with its sources named from the repository root, `/`
 * between folders (`src/app.ts`, `node_modules/hono/dist/compose.js`), and no `sourceRoot`. Wrangler
 * sets `sourceRoot` to its `--outdir` as given, so a relative one is relative to wrangler's working
 * directory (the repository root), not to the map as the source-map spec reads it. Sources that are
 * URLs of another scheme, or null, are kept as they are.
 */
export function mapFromRoot(map, bundleDir) {
  const base = map.sourceRoot ? (sourcePath(map.sourceRoot, ROOT) ?? resolve(ROOT, bundleDir)) : resolve(ROOT, bundleDir);
  const { sourceRoot: _dropped, ...rest } = map;
  const name = (s) => {
    const path = typeof s === 'string' ? sourcePath(s, base) : null;
    return path === null ? s : relative(ROOT, path).split(sep).join('/');
  };
  return { ...rest, sources: map.sources.map(name) };
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
    const [script, sourceMap] = SENTRY_FILES;
    copyFileSync(join(bundleDir, script), join(staged, script));
    const map = JSON.parse(readFileSync(join(bundleDir, sourceMap), 'utf8'));
    writeFileSync(join(staged, sourceMap), JSON.stringify(mapFromRoot(map, bundleDir)));
    const args = ['sourcemaps', 'upload', '--release', release, '--url-prefix', '~/', '--strict', staged];
    await run(process.execPath, [sentryCli, ...args], { env });
  } finally {
    rmSync(staged, { recursive: true, force: true });
  }
}

/**
 * The upload after a deploy (`retry` is how to run it again). A failure says that the Worker is
 * deployed all the same, and how to retry the upload alone.
 */
export async function uploadDeployed({ dir, release, retry, env = process.env }) {
  try {
    await uploadSourceMaps({ dir, release, env });
  } catch (err) {
    throw new Error(
      `the Worker is deployed (release ${release}), but the source-map upload to Sentry failed: ${err instanceof Error ? err.message : err}.\n` +
        `Retry the upload alone: ${retry}`,
    );
  }
}

/** The release a deploy recorded in `dir` (release.txt), for `--upload-only`. */
export function deployedRelease(dir) {
  const file = join(dir, RELEASE_FILE);
  if (!existsSync(file)) throw new UsageError(`no deploy to upload: ${relative(ROOT, file)} is written by a deploy (not a dry run)`);
  return readFileSync(file, 'utf8').trim();
}

const USAGE = [
  'usage: node scripts/deploy.mjs <staging|production> [--dry-run] [--allow-dirty] [-- <wrangler deploy args>]',
  '       node scripts/deploy.mjs <staging|production> --upload-only',
].join('\n');

async function main(argv) {
  const options = parse(argv);
  const { environment } = options;
  const sentry = sentryUploadConfig();
  if (Array.isArray(sentry)) {
    throw new UsageError(`Sentry's source-map upload needs all of ${SENTRY_VARS.join(', ')}; ${sentry.join(', ')} not set`);
  }
  const retry = `node scripts/deploy.mjs ${environment} --upload-only`;

  if (options.uploadOnly) {
    if (sentry !== 'all') throw new UsageError(`--upload-only needs ${SENTRY_VARS.join(', ')}`);
    const dir = join(ROOT, 'dist', environment);
    const release = deployedRelease(dir);
    console.log(`Sentry: uploading the source map of dist/${environment} for release ${release}`);
    await uploadSourceMaps({ dir, release });
    return;
  }

  const release = releaseFor({
    gitCommit: process.env.GIT_COMMIT,
    head: git('rev-parse', 'HEAD'),
    // docs/ is not deployed, and `npm test` rewrites docs/screenshots: changes there do not count.
    dirty: git('status', '--porcelain', '--untracked-files=no', '--', '.', ':(exclude)docs'),
    // A dry run changes nothing, so it builds whatever the tree holds.
    allowDirty: options.allowDirty || options.dryRun,
  });

  await ensureConsoleBuilt({ quiet: false, log: (line) => console.log(line) });
  const outdir = join(ROOT, 'dist', options.dryRun ? `${environment}-dry-run` : environment);
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
  const dist = relative(ROOT, outdir);
  if (!options.dryRun) writeFileSync(join(outdir, RELEASE_FILE), `${release}\n`);
  if (!existsSync(join(outdir, 'index.js.map'))) {
    const deployed = options.dryRun ? '' : `the Worker is deployed (release ${release}), but `;
    throw new Error(`${deployed}wrangler wrote no ${dist}/index.js.map: is upload_source_maps still on in wrangler.toml?`);
  }

  if (sentry === 'none') {
    console.log('\nSentry: SENTRY_AUTH_TOKEN, SENTRY_ORG and SENTRY_PROJECT are not set, so no source map was uploaded;');
    console.log('errors reported to Sentry from this release show minified frames (docs/operations.md, "Sentry and source maps").');
  } else if (options.dryRun) {
    console.log(
      `\nSentry (dry run): would upload ${SENTRY_FILES.join(', ')} of ${dist} for release ${release} to ${process.env.SENTRY_ORG}/${process.env.SENTRY_PROJECT}.`,
    );
  } else {
    console.log(`\nSentry: uploading the source map for release ${release}`);
    await uploadDeployed({ dir: outdir, release, retry });
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).catch((err) => {
    if (err instanceof UsageError) {
      console.error(`deploy: ${err.message}\n\n${USAGE}`);
      process.exit(2);
    }
    console.error(`deploy: ${err instanceof Error ? err.message : err}`);
    process.exit(1);
  });
}
