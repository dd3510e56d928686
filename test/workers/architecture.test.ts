// Architectural rules enforced as tests: only what Biome's lint rules (biome.json, noRestrictedImports) cannot express.
import { describe, expect, it } from 'vitest';

const raw = (files: Record<string, unknown>) => files as Record<string, string>;
const src = raw(import.meta.glob('../../src/**/*.ts', { query: '?raw', import: 'default', eager: true }));
const routes = raw(import.meta.glob('../../src/routes/*.ts', { query: '?raw', import: 'default', eager: true }));
const services = raw(
  import.meta.glob(['../../src/{identity,tasks,flows,events,tools,agents}/**/*.ts'], { query: '?raw', import: 'default', eager: true }),
);

/** The parameter list of each exported function: `name` → top-level parameters (text). */
function exportedParams(text: string): Array<{ name: string; params: string[] }> {
  const out: Array<{ name: string; params: string[] }> = [];
  for (const m of text.matchAll(/export (?:async )?function (\w+)(?:<[^(]*>)?\(/g)) {
    const params: string[] = [];
    let depth = 0;
    let current = '';
    for (let i = m.index + m[0].length; i < text.length; i++) {
      const ch = text[i]!;
      if (depth === 0 && ch === ')') break;
      if ('({[<'.includes(ch)) depth++;
      if (')}]>'.includes(ch) && text[i - 1] !== '=') depth--;
      if (depth === 0 && ch === ',') {
        params.push(current.trim());
        current = '';
      } else current += ch;
    }
    if (current.trim()) params.push(current.trim());
    out.push({ name: m[1]!, params });
  }
  return out;
}

describe('architecture', () => {
  it('authentication is resolved once per request, in src/middleware/auth.ts', () => {
    expect(Object.keys(src).length).toBeGreaterThan(50);
    const callers = Object.entries(src)
      .filter(([, text]) => /\bresolveCredential\(/.test(text.replace(/export async function resolveCredential\(/, '')))
      .map(([file]) => file);
    expect(callers).toEqual(['../../src/middleware/auth.ts']);
    const readers = Object.entries(src)
      .filter(([, text]) => /header\(['"]authorization['"]\)/i.test(text))
      .map(([file]) => file);
    expect(readers).toEqual(['../../src/middleware/auth.ts']);
  });

  it('service verbs take (ctx, input): a ServiceCtx/RequestCtx first, then at most one input object', () => {
    const verbs = Object.entries(services).flatMap(([file, text]) =>
      exportedParams(text)
        .filter((f) => /^(?:ctx|\{[^}]*\})\s*:\s*(?:ServiceCtx|RequestCtx)\b/.test(f.params[0] ?? ''))
        .map((f) => ({ file, verb: f.name, params: f.params.length })),
    );
    expect(verbs.length).toBeGreaterThan(40);
    expect(verbs.filter((v) => v.params > 2)).toEqual([]);
    // The retired shapes: a tenant call plus positional ids, or `env` beside the context.
    for (const [file, text] of Object.entries(services)) {
      expect({ file, retired: /\b(?:TenantCall|ServiceDeps)\b/.test(text) }).toEqual({ file, retired: false });
    }
  });

  it('a handler that reads c.var.ctx sits behind guarded(...) (authenticate builds the context)', () => {
    let handlers = 0;
    for (const [file, text] of Object.entries(routes)) {
      for (const block of text.split(/\.openapi\(\s*(?=createRoute\()/).slice(1)) {
        if (!block.includes('c.var.ctx')) continue;
        handlers++;
        const path = /path: '([^']+)'/.exec(block)?.[1];
        expect({ file, path, guarded: /middleware: guarded\(/.test(block) }).toEqual({ file, path, guarded: true });
      }
    }
    expect(handlers).toBeGreaterThan(40);
  });
  it('sweep jobs: domains own them and only the registry (src/cron/sweeper.ts) and the entry import the registry', () => {
    const importers = Object.entries(src)
      .filter(([, text]) => /from '[./]*cron\/sweeper'/.test(text))
      .map(([file]) => file.replace('../../', ''));
    expect(importers.sort()).toEqual(['src/index.ts']);
    const registry = src['../../src/cron/sweeper.ts']!;
    const listed = [...registry.matchAll(/from '\.\.\/(\w+)\/sweep'/g)].map((m) => m[1]).sort();
    const owners = Object.keys(src)
      .map((f) => /^\.\.\/\.\.\/src\/(\w+)\/sweep\.ts$/.exec(f)?.[1])
      .filter((d): d is string => Boolean(d))
      .sort();
    expect(listed).toEqual(owners);
  });
});
