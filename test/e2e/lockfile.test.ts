// `npm ci` refuses a lock that lacks an optional per-platform build the dependency tree declares
// (e.g. workerd's darwin and windows binaries), so a lock written on one OS breaks installs on the
// others. Every optional dependency named anywhere in the lock must have its own entry.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

interface LockEntry {
  version?: string;
  optionalDependencies?: Record<string, string>;
  os?: string[];
  cpu?: string[];
}
interface Lock {
  lockfileVersion: number;
  packages: Record<string, LockEntry>;
}

/** Where npm would resolve `name` from the package at `from` (node_modules lookup, innermost first). */
function resolveFrom(packages: Lock['packages'], from: string, name: string): string | null {
  let dir = from;
  for (;;) {
    const candidate = dir ? `${dir}/node_modules/${name}` : `node_modules/${name}`;
    if (packages[candidate]) return candidate;
    if (!dir) return null;
    const cut = dir.lastIndexOf('/node_modules/');
    dir = cut < 0 ? '' : dir.slice(0, cut);
  }
}

/** The optional dependencies declared in the lock that have no entry of their own. */
function missingOptionalEntries(lock: Lock): string[] {
  const missing: string[] = [];
  for (const [path, entry] of Object.entries(lock.packages)) {
    for (const name of Object.keys(entry.optionalDependencies ?? {})) {
      if (!resolveFrom(lock.packages, path, name)) missing.push(`${path || '(root)'} → ${name}`);
    }
  }
  return missing;
}

describe('package-lock.json', () => {
  const lock = JSON.parse(readFileSync('package-lock.json', 'utf8')) as Lock;

  it('lists every optional per-platform build the dependency tree declares (npm ci on Linux, macOS and Windows)', () => {
    expect(lock.lockfileVersion).toBeGreaterThanOrEqual(3);
    expect(missingOptionalEntries(lock)).toEqual([]);
    // The builds that matter most, named: workerd runs the Worker locally on every OS.
    for (const platform of ['darwin-64', 'darwin-arm64', 'linux-64', 'linux-arm64', 'windows-64']) {
      expect(lock.packages[`node_modules/@cloudflare/workerd-${platform}`]?.version, platform).toBeTruthy();
    }
  });

  it('the check catches a lock written on one OS (an entry removed is reported)', () => {
    const trimmed: Lock = structuredClone(lock);
    delete trimmed.packages['node_modules/@cloudflare/workerd-darwin-arm64'];
    expect(missingOptionalEntries(trimmed)).toContain('node_modules/workerd → @cloudflare/workerd-darwin-arm64');
  });
});
