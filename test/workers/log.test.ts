// Structured logs (src/observability/log.ts): one JSON line per call, secrets redacted at any depth.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createLogger } from '../../src/observability/log';

afterEach(() => vi.restoreAllMocks());

function lines(spy: { mock: { calls: unknown[][] } }) {
  return spy.mock.calls.map((c) => JSON.parse(String(c[0])));
}

describe('createLogger', () => {
  it('writes one line with level, message, time, base fields and the call’s fields', () => {
    const out = vi.spyOn(console, 'log').mockImplementation(() => {});
    const err = vi.spyOn(console, 'error').mockImplementation(() => {});
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const log = createLogger({ requestId: 'req-1', env: 'test' });
    log.info('request', { status: 200 });
    log.error('boom', { errorId: 'err_1' });
    log.warn('careful');
    const [info] = lines(out);
    expect(info).toMatchObject({ level: 'info', msg: 'request', requestId: 'req-1', env: 'test', status: 200 });
    expect(Number.isNaN(Date.parse(info.time))).toBe(false);
    expect(lines(err)[0]).toMatchObject({ level: 'error', msg: 'boom', errorId: 'err_1', requestId: 'req-1' });
    expect(lines(warn)[0]).toMatchObject({ level: 'warn', msg: 'careful' });
  });

  it('redacts secret-looking keys at any depth, in arrays too, and nothing else', () => {
    const out = vi.spyOn(console, 'log').mockImplementation(() => {});
    const deep = { a: { b: { c: { d: { e: { f: { g: { apiKey: 'k-123', keep: 1 } } } } } } } };
    createLogger({ token: 'base-token' }).info('x', {
      password: 'hunter2',
      headers: { Authorization: 'Bearer abc', accept: 'json' },
      items: [{ client_secret: 's' }, { name: 'ok' }],
      deep,
    });
    const line = JSON.stringify(lines(out)[0]);
    for (const secret of ['hunter2', 'Bearer abc', 'base-token', '"s"', 'k-123']) expect(line).not.toContain(secret);
    const parsed = lines(out)[0];
    expect(parsed.headers).toEqual({ Authorization: '[redacted]', accept: 'json' });
    expect(parsed.items).toEqual([{ client_secret: '[redacted]' }, { name: 'ok' }]);
    expect(parsed.deep.a.b.c.d.e.f.g).toEqual({ apiKey: '[redacted]', keep: 1 });
  });

  it('child() adds fields to every line without changing its parent', () => {
    const out = vi.spyOn(console, 'log').mockImplementation(() => {});
    const parent = createLogger({ requestId: 'r' });
    parent.child({ runId: 'run_1' }).info('child line');
    parent.info('parent line');
    const [child, own] = lines(out);
    expect(child).toMatchObject({ requestId: 'r', runId: 'run_1' });
    expect(own.runId).toBeUndefined();
  });
});
