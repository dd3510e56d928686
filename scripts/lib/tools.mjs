/**
 * The command-line tools the scripts run: wrangler (from node_modules, with the Node that runs the
 * script) and git.
 */
import { spawnSync } from 'node:child_process';
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
