#!/usr/bin/env node
/**
 * Builds the web console (console/ → console/dist, which wrangler.toml's [assets] serves) when its
 * inputs changed since the last build. `npm start`, `npm run build`, the deploy scripts and both test
 * configurations' global setups call it, so nobody runs a second command.
 *
 * Staleness: a SHA-256 over the console's sources, its config and the SDK and permission matrix it
 * imports, kept in console/.dist-stamp (git-ignored, outside dist so it is never served).
 *
 *   node scripts/console-build.mjs           build if stale
 *   node scripts/console-build.mjs --force   build now
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CONSOLE = join(ROOT, 'console');
export const CONSOLE_DIST = join(CONSOLE, 'dist');
const STAMP = join(CONSOLE, '.dist-stamp');
/** Held while building, so two test runs starting together do not both write console/dist. */
const LOCK = join(CONSOLE, '.dist-lock');
const LOCK_STALE_MS = 5 * 60_000;
/** Everything the bundle is made from. */
const INPUTS = [
  'console/src',
  'console/index.html',
  'console/public',
  'console/vite.config.ts',
  'console/package.json',
  'sdk/src',
  'src/identity/roles.ts',
];

function files(path) {
  if (!existsSync(path)) return [];
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path, { withFileTypes: true }).flatMap((e) => files(join(path, e.name)));
}

/** The hash of the console's inputs. */
export function consoleInputsHash() {
  const hash = createHash('sha256');
  for (const file of INPUTS.flatMap((p) => files(join(ROOT, p))).sort()) {
    hash.update(relative(ROOT, file));
    hash.update('\0');
    hash.update(readFileSync(file));
    hash.update('\0');
  }
  return hash.digest('hex');
}

/** Whether console/dist is missing or older than its inputs. */
export function consoleStale() {
  if (!existsSync(join(CONSOLE_DIST, 'index.html')) || !existsSync(STAMP)) return true;
  return readFileSync(STAMP, 'utf8').trim() !== consoleInputsHash();
}

/** Runs `vite build` in console/ with this Node; rejects with its output when it fails. */
function viteBuild({ quiet }) {
  const vite = join(ROOT, 'node_modules', 'vite', 'bin', 'vite.js');
  if (!existsSync(vite)) return Promise.reject(new Error('vite is not installed. Run `npm install` first.'));
  return new Promise((ok, fail) => {
    const child = spawn(process.execPath, [vite, 'build', '--logLevel', quiet ? 'warn' : 'info'], {
      cwd: CONSOLE,
      stdio: quiet ? ['ignore', 'pipe', 'pipe'] : 'inherit',
      // Always a production build: vitest sets NODE_ENV=test, which would give React's development build.
      env: { ...process.env, NO_COLOR: '1', NODE_ENV: 'production' },
    });
    let out = '';
    child.stdout?.on('data', (c) => (out += c));
    child.stderr?.on('data', (c) => (out += c));
    child.on('error', fail);
    child.on('close', (code) => (code === 0 ? ok() : fail(new Error(`console build (vite build) exited ${code}\n${out}`))));
  });
}

/**
 * Builds the console unless it is up to date. Returns whether it built.
 * @param {{ force?: boolean, quiet?: boolean, log?: (m: string) => void }} [options]
 */
export async function ensureConsoleBuilt({ force = false, quiet = true, log = () => undefined } = {}) {
  const upToDate = (hash) =>
    existsSync(join(CONSOLE_DIST, 'index.html')) && existsSync(STAMP) && readFileSync(STAMP, 'utf8').trim() === hash;
  if (!force && upToDate(consoleInputsHash())) return false;
  await acquireLock(log);
  try {
    // Another process may have built it while we waited.
    const hash = consoleInputsHash();
    if (!force && upToDate(hash)) return false;
    log('building the console (console/ → console/dist)…');
    const started = Date.now();
    await viteBuild({ quiet });
    writeFileSync(STAMP, `${hash}\n`);
    log(`console built in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    return true;
  } finally {
    rmSync(LOCK, { recursive: true, force: true });
  }
}

async function acquireLock(log) {
  const deadline = Date.now() + LOCK_STALE_MS;
  let told = false;
  for (;;) {
    try {
      mkdirSync(LOCK);
      return;
    } catch (err) {
      if (err.code !== 'EEXIST') throw err;
    }
    // A lock left by a killed build is taken over once it is older than any build takes.
    const age = Date.now() - (statSync(LOCK, { throwIfNoEntry: false })?.mtimeMs ?? Date.now());
    if (age > LOCK_STALE_MS || Date.now() > deadline) {
      rmSync(LOCK, { recursive: true, force: true });
      continue;
    }
    if (!told) log('waiting for another console build to finish…');
    told = true;
    await new Promise((r) => setTimeout(r, 250));
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const force = process.argv.includes('--force');
  ensureConsoleBuilt({ force, quiet: false, log: (m) => console.log(`[console] ${m}`) })
    .then((built) => {
      if (!built) console.log('[console] up to date (console/dist)');
    })
    .catch((err) => {
      console.error(err.message);
      process.exit(1);
    });
}
