// The tool-runner image cannot be built here (no Docker engine; .ci/run builds it where one
// answers), so this checks that its Dockerfile agrees with the repository: the entrypoint is the
// start script npm start and the tests run, every file the runner loads is copied in, every COPY
// source exists and passes .dockerignore, and `npm ci` in the image installs what the root
// lockfile pins for the runner.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { RUNNER_ENTRY } from '../support/node/tool-runner';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const RUNNER_DIR = 'containers/tool-runner';
const DOCKERFILE = readFileSync(path.join(ROOT, RUNNER_DIR, 'Dockerfile'), 'utf8');

/** Dockerfile instructions with continuation lines joined and comments dropped. */
function instructions(text: string): { op: string; args: string }[] {
  const joined = text.replace(/\\\n/g, ' ');
  return joined
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      const [op, ...rest] = l.split(/\s+/);
      return { op: op!.toUpperCase(), args: rest.join(' ') };
    });
}
const INSTR = instructions(DOCKERFILE);
const WORKDIR = INSTR.filter((i) => i.op === 'WORKDIR').pop()?.args ?? '/';
const COPIES = INSTR.filter((i) => i.op === 'COPY').map((i) => {
  const parts = i.args.split(/\s+/).filter((p) => !p.startsWith('--'));
  const dest = parts.pop()!;
  return { sources: parts, dest: path.posix.resolve(WORKDIR, dest) };
});

/** Where a repository path ends up in the image (null when no COPY brings it in). */
function inImage(repoPath: string): string | null {
  for (const { sources, dest } of COPIES) {
    for (const src of sources) {
      const s = src.replace(/\/$/, '');
      if (repoPath === s) return sources.length > 1 || dest.endsWith('/') ? path.posix.join(dest, path.posix.basename(s)) : dest;
      if (repoPath.startsWith(`${s}/`)) return path.posix.join(dest, repoPath.slice(s.length + 1));
    }
  }
  return null;
}

/** The root .dockerignore (an allow-list: `*` then `!path` lines). */
function admitted(repoPath: string): boolean {
  const lines = readFileSync(path.join(ROOT, '.dockerignore'), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  let ok = true;
  for (const l of lines) {
    const negate = l.startsWith('!');
    const pattern = (negate ? l.slice(1) : l).replace(/\/$/, '');
    const hit = pattern === '*' || repoPath === pattern || repoPath.startsWith(`${pattern}/`);
    if (hit) ok = negate;
  }
  return ok;
}

/** Every runner file reachable from main.ts: relative imports and files read via `new URL('…', import.meta.url)`. */
function runnerFiles(): string[] {
  const seen = new Set<string>();
  const queue = [path.relative(ROOT, RUNNER_ENTRY)];
  while (queue.length > 0) {
    const file = queue.shift()!;
    if (seen.has(file)) continue;
    seen.add(file);
    if (!/\.(ts|mjs|js)$/.test(file)) continue;
    const text = readFileSync(path.join(ROOT, file), 'utf8');
    const refs = [
      ...text.matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)'/g),
      ...text.matchAll(/new URL\('(\.{1,2}\/[^']+)', import\.meta\.url\)/g),
    ].map((m) => m[1]!);
    for (const ref of refs) {
      const target = path.join(path.dirname(file), ref);
      if (!existsSync(path.join(ROOT, target))) throw new Error(`${file} refers to ${ref}, which does not exist`);
      // A directory (`new URL('./guest/', import.meta.url)`) is loaded whole.
      if (statSync(path.join(ROOT, target)).isDirectory())
        for (const name of readdirSync(path.join(ROOT, target))) queue.push(path.join(target, name));
      else queue.push(target);
    }
  }
  return [...seen].sort();
}

describe('the tool-runner image agrees with the repository', () => {
  it('runs the same start script as npm start and the tests, under tini, on Node 24', () => {
    const entry = INSTR.find((i) => i.op === 'ENTRYPOINT')!;
    const argv = JSON.parse(entry.args) as string[];
    expect(argv.slice(0, 3)).toEqual(['/usr/bin/tini', '--', 'node']);
    const script = argv[3]!;
    expect(script).toBe(inImage(path.relative(ROOT, RUNNER_ENTRY)));
    expect(readFileSync(path.join(ROOT, 'scripts/start.mjs'), 'utf8')).toContain(
      "resolve(ROOT, 'containers', 'tool-runner', 'src', 'main.ts')",
    );
    expect(INSTR.find((i) => i.op === 'FROM')?.args).toMatch(/^node:24\b/);
    const pkg = JSON.parse(readFileSync(path.join(ROOT, RUNNER_DIR, 'package.json'), 'utf8'));
    expect(pkg.engines.node).toBe('>=24');
  });

  it('copies in every file the runner loads (sources, bootstraps, wasm guests)', () => {
    const files = runnerFiles();
    // The graph reaches both modes: bubblewrap's bootstraps and the wasm guests with their own files.
    expect(files).toEqual(
      expect.arrayContaining([
        `${RUNNER_DIR}/bootstrap/node.mjs`,
        `${RUNNER_DIR}/bootstrap/python.py`,
        `${RUNNER_DIR}/src/wasm/guest/python.ts`,
        `${RUNNER_DIR}/src/wasm/guest/bootstrap.py`,
        `${RUNNER_DIR}/src/wasm/guest/prelude.js`,
      ]),
    );
    for (const f of files) {
      expect(inImage(f), f).not.toBeNull();
      expect(admitted(f), `${f} is excluded by .dockerignore`).toBe(true);
    }
  });

  it('every COPY source exists in the build context and passes .dockerignore', () => {
    expect(COPIES.length).toBeGreaterThan(0);
    for (const { sources } of COPIES) {
      for (const src of sources) {
        expect(existsSync(path.join(ROOT, src)), src).toBe(true);
        expect(admitted(src.replace(/\/$/, '')), `${src} is excluded by .dockerignore`).toBe(true);
      }
    }
  });

  it('wrangler builds it from the repository root, where the lockfile is', () => {
    const toml = readFileSync(path.join(ROOT, 'wrangler.toml'), 'utf8');
    const images = [...toml.matchAll(/image = "([^"]+)"\nimage_build_context = "([^"]+)"/g)];
    expect(images).toHaveLength((toml.match(/^image = /gm) ?? []).length);
    for (const [, image, context] of images) {
      expect(image).toBe(`./${RUNNER_DIR}/Dockerfile`);
      expect(path.resolve(ROOT, context!)).toBe(path.resolve(ROOT));
    }
  });

  it('npm ci in the image installs exactly what the root lockfile pins for the runner', () => {
    const root = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
    const runner = JSON.parse(readFileSync(path.join(ROOT, RUNNER_DIR, 'package.json'), 'utf8'));
    const lock = JSON.parse(readFileSync(path.join(ROOT, 'package-lock.json'), 'utf8'));
    expect(root.workspaces).toContain(RUNNER_DIR);
    expect(inImage('package.json')).toBe('/opt/edgecrew/package.json');
    expect(inImage('package-lock.json')).toBe('/opt/edgecrew/package-lock.json');
    expect(inImage(`${RUNNER_DIR}/package.json`)).toBe(`/opt/edgecrew/${RUNNER_DIR}/package.json`);
    const ci = INSTR.find((i) => i.op === 'RUN' && /\bnpm ci\b/.test(i.args))?.args ?? '';
    expect(ci).toContain(`--workspace=${RUNNER_DIR}`);
    expect(ci).toContain('--omit=dev');
    // The COPY of the sources comes after the install, so source edits reuse the dependency layer.
    expect(DOCKERFILE.indexOf('npm ci')).toBeLessThan(DOCKERFILE.indexOf(`COPY ${RUNNER_DIR}/src`));
    expect(lock.packages[RUNNER_DIR].dependencies).toEqual(runner.dependencies);
    for (const [name, version] of Object.entries(runner.dependencies as Record<string, string>)) {
      expect(lock.packages[`node_modules/${name}`]?.version, name).toBe(version);
    }
  });

  it('listens where the Container class expects it', () => {
    const port = /TOOL_RUNNER_PORT=(\d+)/.exec(DOCKERFILE)?.[1];
    const container = readFileSync(path.join(ROOT, 'src/tools/container.ts'), 'utf8');
    expect(container).toContain(`defaultPort = ${port}`);
    expect(INSTR.find((i) => i.op === 'EXPOSE')?.args).toBe(port);
  });
});
