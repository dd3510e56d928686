/**
 * The command-line tools the scripts and tests run: wrangler (from node_modules, with the Node that
 * runs the script) and git.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** wrangler's CLI entry, as its package.json names it; run it with `process.execPath`. */
export function wranglerBin() {
  const require = createRequire(import.meta.url);
  const pkgPath = require.resolve('wrangler/package.json');
  const bin = require(pkgPath).bin;
  return join(dirname(pkgPath), typeof bin === 'string' ? bin : bin.wrangler);
}

/** `git <args>` in the repository root: its trimmed output, or null when git fails or is missing. */
export function git(...args) {
  const r = spawnSync('git', args, { cwd: ROOT, encoding: 'utf8', timeout: 10_000 });
  return r.status === 0 ? r.stdout.trim() : null;
}

/**
 * Builds the Worker as it is deployed: `wrangler deploy --dry-run --outdir <outdir>` of wrangler.toml's
 * top level (minified, as it says; `minify: false` keeps our names for a profile), with
 * `--containers-rollout=none` because building the tool runner's image needs Docker. Resolves with
 * `<outdir>/index.js`; rejects with wrangler's output when it fails, takes longer than `timeoutMs`,
 * or writes no index.js.
 */
export function buildBundle({ outdir, minify = true, timeoutMs = 180_000 }) {
  const args = [wranglerBin(), 'deploy', '--dry-run', '--outdir', outdir, '--env=', '--containers-rollout=none'];
  if (!minify) args.push('--minify=false');
  args.push('--config', join(ROOT, 'wrangler.toml'));
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, args, {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0', WRANGLER_SEND_METRICS: 'false', CI: 'true' },
    });
    let output = '';
    child.stdout.on('data', (b) => (output += b));
    child.stderr.on('data', (b) => (output += b));
    const timer = setTimeout(() => {
      child.kill('SIGTERM');
      reject(new Error(`wrangler deploy --dry-run took longer than ${timeoutMs / 1000} s:\n${output}`));
    }, timeoutMs);
    child.on('error', (err) => (clearTimeout(timer), reject(err)));
    child.on('close', (code) => {
      clearTimeout(timer);
      const entry = join(outdir, 'index.js');
      if (code !== 0) reject(new Error(`wrangler deploy --dry-run exited ${code}:\n${output}`));
      else if (!existsSync(entry)) reject(new Error(`wrangler deploy --dry-run wrote no ${entry}:\n${output}`));
      else resolvePromise(entry);
    });
  });
}
