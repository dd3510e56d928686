// The delta coalescer (durable-objects/flow-run/deltas.ts): the first text after a quiet spell goes out at once,
// the rest of a burst in one event per 50 ms or 256 characters; other deltas keep their place.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { DELTA_FLUSH_CHARS, DELTA_FLUSH_MS, DeltaCoalescer } from '../../../durable-objects/flow-run/deltas';

describe('DeltaCoalescer', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('writes the first token at once, coalesces the burst after it, and writes at once again after a quiet spell', () => {
    vi.useFakeTimers();
    let now = 1_000;
    const out: unknown[] = [];
    const c = new DeltaCoalescer(
      (_id, d) => out.push(d),
      () => now,
    );
    c.push('n', { text: 'Hel' });
    expect(out).toEqual([{ text: 'Hel' }]);
    c.push('n', { text: 'lo ' });
    c.push('n', { text: 'there' });
    expect(out).toHaveLength(1);
    now += DELTA_FLUSH_MS;
    vi.advanceTimersByTime(DELTA_FLUSH_MS);
    expect(out).toEqual([{ text: 'Hel' }, { text: 'lo there' }]);
    now += DELTA_FLUSH_MS;
    c.push('n', { text: '!' });
    expect(out.at(-1)).toEqual({ text: '!' });
  });

  it('flushes a long buffer early, and text before a reset', () => {
    let now = 0;
    const out: unknown[] = [];
    const c = new DeltaCoalescer(
      (_id, d) => out.push(d),
      () => now,
    );
    c.push('n', { text: 'a' });
    c.push('n', { text: 'x'.repeat(DELTA_FLUSH_CHARS) });
    expect(out).toEqual([{ text: 'a' }, { text: 'x'.repeat(DELTA_FLUSH_CHARS) }]);
    now += 1;
    c.push('n', { text: 'partial' });
    c.push('n', { reset: true, reason: 'failover', provider: 'b' });
    expect(out.slice(-2)).toEqual([{ text: 'partial' }, { reset: true, reason: 'failover', provider: 'b' }]);
  });
});
