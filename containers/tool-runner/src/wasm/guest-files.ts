/**
 * The guest's files as guests load them: its TypeScript stripped to JavaScript
 * once per runner start, into a private temporary directory the sandbox uid may
 * read (not write). Stripping types on every guest start cost ~60 ms of its
 * ~150 ms; the sources stay TypeScript and are type-checked as such.
 */
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { stripTypeScriptTypes } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const SOURCE_DIR = fileURLToPath(new URL('./guest/', import.meta.url));

/** Writes the runnable guest directory; returns its path (removed when the runner exits). */
export function prepareGuestFiles(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'edgecrew-guest-'));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  for (const name of readdirSync(SOURCE_DIR)) {
    const text = readFileSync(path.join(SOURCE_DIR, name), 'utf8');
    if (name.endsWith('.ts')) {
      // Relative imports name the stripped files.
      const js = quietly(() => stripTypeScriptTypes(text, { mode: 'strip' })).replace(/(from\s+'\.\/[\w-]+)\.ts'/g, "$1.mjs'");
      writeFileSync(path.join(dir, name.replace(/\.ts$/, '.mjs')), js, { mode: 0o644 });
    } else writeFileSync(path.join(dir, name), text, { mode: 0o644 });
  }
  chmodSync(dir, 0o755);
  return dir;
}

/** Runs `fn` without Node's "stripTypeScriptTypes is experimental" warning on the runner's stderr (it is the same feature that runs the runner). */
function quietly<T>(fn: () => T): T {
  const emit = process.emitWarning;
  process.emitWarning = (() => undefined) as typeof process.emitWarning;
  try {
    return fn();
  } finally {
    process.emitWarning = emit;
  }
}
