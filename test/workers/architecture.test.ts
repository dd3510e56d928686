// Architectural rules enforced as tests (style.md: "the boundary enforced by a lint rule, not a wiki page").
import { describe, expect, it } from 'vitest';

const routes = import.meta.glob('../../src/routes/*.ts', { query: '?raw', import: 'default', eager: true }) as Record<string, string>;
const services = import.meta.glob('../../src/identity/*-service.ts', { query: '?raw', import: 'default', eager: true }) as Record<
  string,
  string
>;

describe('architecture', () => {
  it('route handlers never touch SQL: no drizzle or schema imports under src/routes', () => {
    expect(Object.keys(routes).length).toBeGreaterThan(5);
    for (const [file, src] of Object.entries(routes)) {
      expect({ file, drizzle: /from 'drizzle-orm/.test(src) }).toEqual({ file, drizzle: false });
      expect({ file, schema: /db\/schema'/.test(src) }).toEqual({ file, schema: false });
    }
  });

  it('services never import Hono', () => {
    expect(Object.keys(services).length).toBeGreaterThan(3);
    for (const [file, src] of Object.entries(services)) {
      expect({ file, hono: /from 'hono/.test(src) }).toEqual({ file, hono: false });
    }
  });
});
