// Pure pieces of the events pipeline: retry policy, SSRF guard, filters, signatures (cross-checked with
// the official standardwebhooks library), secret encryption at rest.
import { Webhook } from 'standardwebhooks';
import { describe, expect, inject, it } from 'vitest';
import { isKnownFilter, matchesFilter } from '../../../src/events/catalog';
import { EXCERPT_BYTES, postWebhook } from '../../../src/events/http';
import {
  DISABLE_AFTER_EXHAUSTED,
  MAX_ATTEMPTS_PER_ROUND,
  outcomeOf,
  parseRetryAfter,
  RETRY_SCHEDULE_S,
  shouldDisable,
} from '../../../src/events/retry';
import { open, seal } from '../../../src/events/secret-box';
import { newSigningSecret, signatureHeaders } from '../../../src/events/signing';
import { BIND_CHUNK, bindChunks } from '../../../src/lib/bind-chunks';
import { checkTarget } from '../../../src/lib/targets';
import { retryDelayS } from '../../../src/queue/backoff';
import { keyOf } from '../../../src/queue/dead-letters';
import { inPool } from '../../../src/queue/pool';
import { SEND_BATCH_MAX, sendInBatches } from '../../../src/queue/send';

describe('retry policy', () => {
  it('follows the Standard Webhooks schedule: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h, then gives up', () => {
    expect(RETRY_SCHEDULE_S).toEqual([5, 300, 1800, 7200, 18000, 36000, 36000]);
    const delays = [];
    for (let n = 1; n < MAX_ATTEMPTS_PER_ROUND; n++) delays.push((outcomeOf(500, n, null) as { delayS: number }).delayS);
    expect(delays).toEqual([...RETRY_SCHEDULE_S]);
    expect(outcomeOf(500, MAX_ATTEMPTS_PER_ROUND, null)).toEqual({ kind: 'exhausted' });
    expect(outcomeOf(null, 1, null)).toEqual({ kind: 'retry', delayS: 5 });
  });

  it('counts only 2xx as success; 3xx and 4xx retry; 410 is gone', () => {
    expect(outcomeOf(204, 1, null)).toEqual({ kind: 'success' });
    expect(outcomeOf(302, 1, null).kind).toBe('retry');
    expect(outcomeOf(400, 1, null).kind).toBe('retry');
    expect(outcomeOf(410, 1, null)).toEqual({ kind: 'gone' });
  });

  it('honours Retry-After on 429 and 503 only, capped at the 12 h queue delay limit', () => {
    expect(outcomeOf(429, 1, 90)).toEqual({ kind: 'retry', delayS: 90 });
    expect(outcomeOf(503, 2, 7)).toEqual({ kind: 'retry', delayS: 7 });
    expect(outcomeOf(500, 1, 90)).toEqual({ kind: 'retry', delayS: 5 });
    expect(outcomeOf(429, 1, 10 ** 7)).toEqual({ kind: 'retry', delayS: 12 * 3600 });
    const now = Date.parse('2026-11-22T10:00:00Z');
    expect(parseRetryAfter('120', now)).toBe(120);
    expect(parseRetryAfter('Sun, 22 Nov 2026 10:01:00 GMT', now)).toBe(60);
    expect(parseRetryAfter('soon', now)).toBeNull();
    expect(parseRetryAfter(null, now)).toBeNull();
  });

  it('disables after N exhausted deliveries in a row or 5 days of failure', () => {
    const now = Date.parse('2026-11-22T10:00:00Z');
    expect(shouldDisable(DISABLE_AFTER_EXHAUSTED - 1, new Date(now - 3600_000).toISOString(), now)).toBe(false);
    expect(shouldDisable(DISABLE_AFTER_EXHAUSTED, new Date(now - 3600_000).toISOString(), now)).toBe(true);
    expect(shouldDisable(0, new Date(now - 5 * 24 * 3600_000).toISOString(), now)).toBe(true);
    expect(shouldDisable(0, null, now)).toBe(false);
  });
});

describe('SSRF guard', () => {
  const refused = [
    'http://example.com/hook', // https only when deployed
    'https://127.0.0.1/x',
    'https://127.1/x',
    'https://2130706433/x',
    'https://0x7f000001/x',
    'https://0.0.0.0/x',
    'https://10.1.2.3/x',
    'https://172.16.0.1/x',
    'https://192.168.1.1/x',
    'https://169.254.169.254/latest/meta-data',
    'https://100.64.0.1/x',
    'https://[::1]/x',
    'https://[::ffff:127.0.0.1]/x',
    'https://[fd00::1]/x',
    'https://[fe80::1]/x',
    'https://localhost/x',
    'https://api.localhost/x',
    'https://printer.local/x',
    'https://intranet/x',
    'https://user:pw@example.com/x',
    'file:///etc/passwd',
  ];
  it.each(refused)('refuses %s in staging/production', (url) => expect(checkTarget(url, true).ok).toBe(false));
  it('allows public https targets when deployed, and loopback in development/test', () => {
    expect(checkTarget('https://hooks.example.com/edgecrew?x=1', true)).toEqual({ ok: true });
    expect(checkTarget('https://93.184.215.14/x', true)).toEqual({ ok: true });
    expect(checkTarget('https://[2606:4700::1111]/x', true)).toEqual({ ok: true });
    expect(checkTarget('http://127.0.0.1:8080/hook', false)).toEqual({ ok: true });
  });
});

describe('event filters', () => {
  it('matches exact types, family wildcards and *', () => {
    expect(matchesFilter(['*'], 'task.created')).toBe(true);
    expect(matchesFilter(['task.*'], 'task.created')).toBe(true);
    expect(matchesFilter(['task.*'], 'tasks.created')).toBe(false);
    expect(matchesFilter(['member.removed'], 'member.joined')).toBe(false);
    expect(isKnownFilter('api_key.*')).toBe(true);
    expect(isKnownFilter('flow.*')).toBe(false);
  });
});

describe('Standard Webhooks signatures', () => {
  it('are verified by the official standardwebhooks library, with one or two secrets', async () => {
    const [a, b] = [newSigningSecret(), newSigningSecret()];
    const body = JSON.stringify({ type: 'task.created', data: { ü: 'ünïcode' } });
    const ts = Math.floor(Date.now() / 1000);
    const one = await signatureHeaders([a], 'evt_1', ts, body);
    expect(new Webhook(a).verify(body, one)).toMatchObject({ type: 'task.created' });
    const both = await signatureHeaders([b, a], 'evt_1', ts, body);
    expect(new Webhook(a).verify(body, both)).toBeTruthy();
    expect(new Webhook(b).verify(body, both)).toBeTruthy();
    expect(() => new Webhook(newSigningSecret()).verify(body, both)).toThrow();
    expect(() => new Webhook(a).verify(`${body} `, one)).toThrow();
  });
});

describe('secret encryption at rest', () => {
  const key = 'k1-0123456789abcdef0123456789abcdef';
  it('round-trips, is bound to its row, and decrypts under a rotated key list', async () => {
    const sealed = await seal(key, 'whk_a', 'whsec_secret');
    expect(sealed).not.toContain('whsec');
    expect(await open(key, 'whk_a', sealed)).toBe('whsec_secret');
    await expect(open(key, 'whk_b', sealed)).rejects.toThrow();
    // The second-to-last character carries only ciphertext bits (the last may carry unused ones): change it.
    const at = sealed.length - 2;
    const tampered = sealed.slice(0, at) + (sealed[at] === 'A' ? 'B' : 'A') + sealed.slice(at + 1);
    expect(tampered).not.toBe(sealed);
    await expect(open(key, 'whk_a', tampered)).rejects.toThrow();
    expect(await open(`k2-new-0123456789abcdef0123456789abcdef,${key}`, 'whk_a', sealed)).toBe('whsec_secret');
    await expect(open('other-0123456789abcdef0123456789abcdef', 'whk_a', sealed)).rejects.toThrow(/no WEBHOOK_SECRET_KEY/);
  });
});

describe('outbound requests', () => {
  const hook = (q: string) => `${inject('webhookReceiverUrl')}/hooks/http-unit-${Math.random().toString(36).slice(2, 8)}?${q}`;

  it('give up after the timeout', async () => {
    const r = await postWebhook(hook('delayMs=2000'), {}, '{}', 200);
    expect(r).toMatchObject({ status: null, error: 'timeout after 200 ms' });
    expect(r.durationMs).toBeLessThan(1500);
  });

  it('keep at most 1 KiB of the response, never splitting a character', async () => {
    const r = await postWebhook(hook('big=1'), {}, '{}');
    expect(r.status).toBe(200);
    expect(new TextEncoder().encode(r.excerpt!).byteLength).toBeLessThanOrEqual(EXCERPT_BYTES);
    expect(r.excerpt!.length).toBe(EXCERPT_BYTES / 2);
    expect(r.excerpt).not.toContain('\uFFFD');
  });

  it('do not follow redirects (a 3xx is a failed attempt)', async () => {
    const r = await postWebhook(hook('redirect=1'), {}, '{}');
    expect(r.status).toBe(302);
  });
});

describe('queue redelivery backoff', () => {
  it('waits minutes on infrastructure errors: 1, 2, 4, 8, then 15 min (about 30 min to the DLQ at max_retries = 5)', () => {
    expect([1, 2, 3, 4, 5, 6].map(retryDelayS)).toEqual([60, 120, 240, 480, 900, 900]);
  });
});

describe('dead letter keys', () => {
  it('key a message by what it carries, so one that dies again updates its row; garbage is not re-driven', () => {
    const ev = { id: 'evt_1', type: 'task.created', tenantId: 'tnt_1', occurredAt: new Date().toISOString(), sequence: 1, data: {} };
    expect(keyOf(ev, 'm1')).toMatchObject({ id: 'evt:evt_1', tenantId: 'tnt_1', queue: 'events', redrivable: true });
    expect(keyOf({ kind: 'webhook_attempt', deliveryId: 'dlv_1', attempt: 3, trigger: 'retry' }, 'm2')).toMatchObject({
      id: 'job:dlv_1:3',
      queue: 'webhooks',
    });
    expect(keyOf({ nonsense: true }, 'm3')).toMatchObject({ id: 'msg:m3', redrivable: false });
  });
});

describe('inPool', () => {
  it('runs every item even when one fails, and throws the first failure only once all have finished', async () => {
    const finished: number[] = [];
    const run = inPool([0, 1, 2, 3, 4], 2, async (i) => {
      if (i === 0) throw new Error('item 0 failed');
      await new Promise((r) => setTimeout(r, 20 * i));
      finished.push(i);
    });
    await expect(run).rejects.toThrow('item 0 failed');
    // Nothing was still running behind the caller when it saw the failure.
    expect(finished.sort()).toEqual([1, 2, 3, 4]);
  });
});

describe('bindChunks', () => {
  it('splits a list into statements of at most BIND_CHUNK values (or the size given), in order, none empty', () => {
    const ids = Array.from({ length: 2 * BIND_CHUNK + 1 }, (_, i) => i);
    const chunks = bindChunks(ids);
    expect(chunks.map((c) => c.length)).toEqual([BIND_CHUNK, BIND_CHUNK, 1]);
    expect(chunks.flat()).toEqual(ids);
    expect(bindChunks([])).toEqual([]);
    expect(bindChunks([1, 2, 3, 4, 5], 2)).toEqual([[1, 2], [3, 4], [5]]);
    expect(BIND_CHUNK).toBeLessThan(100); // D1's and Durable Object SQLite's bound-value limit
  });
});

describe('sendInBatches', () => {
  it('sends every message in order, at most SEND_BATCH_MAX per sendBatch call, and nothing for none', async () => {
    const calls: number[][] = [];
    // Records the calls a Queue binding would get.
    const queue = {
      async sendBatch(messages: Iterable<MessageSendRequest<number>>) {
        calls.push([...messages].map((m) => m.body));
      },
    } as unknown as Queue<number>;
    const bodies = Array.from({ length: 2 * SEND_BATCH_MAX + 7 }, (_, i) => i);
    await sendInBatches(
      queue,
      bodies.map((body) => ({ body })),
    );
    expect(calls.map((c) => c.length)).toEqual([SEND_BATCH_MAX, SEND_BATCH_MAX, 7]);
    expect(calls.flat()).toEqual(bodies);
    calls.length = 0;
    await sendInBatches(queue, []);
    expect(calls).toEqual([]);
    expect(SEND_BATCH_MAX).toBe(100); // Queues' sendBatch limit
  });
});
