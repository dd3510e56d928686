/**
 * The hub's outbox publisher (durable-objects/tenant-hub/outbox.ts, issue 20): it publishes the events a
 * committed write appended without reading them back, reads the table whenever it cannot know, and
 * marks sent pages with the next write's transaction (or shortly after). Run inside a real hub's storage
 * with the real EVENTS queue, tapped to see what was sent.
 */
import { runInDurableObject } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { MARK_AFTER_MS, Outbox } from '../../../durable-objects/tenant-hub/outbox';
import { readSchedule } from '../../../durable-objects/tenant-hub/schedule';
import { insertEvent, type OutboxEvent } from '../../../durable-objects/tenant-hub/sync-log';
import { hub } from '../../support/workers/durable-objects';

type Row = {
  sequence: number;
  type: string;
  published_at: string | null;
  attempts: number;
};

/** The real EVENTS queue, recording what it accepted; `refuse` makes its next sends fail as an outage would. */
function tappedQueue() {
  const sent: OutboxEvent[][] = [];
  let refuse = 0;
  const queue = {
    send: (body: unknown, opts?: QueueSendOptions) => env.EVENTS.send(body, opts),
    sendBatch: async (msgs: Iterable<MessageSendRequest>, opts?: QueueSendBatchOptions) => {
      const list = [...msgs];
      if (refuse > 0) {
        refuse--;
        throw new Error('Queue send failed: injected outage');
      }
      await env.EVENTS.sendBatch(list, opts);
      sent.push(list.map((m) => m.body as OutboxEvent));
    },
  } as unknown as Queue;
  const refuseNext = (times: number) => {
    refuse = times;
  };
  return { queue, sent, refuseNext };
}

/** A hub nobody else writes to, its storage and an Outbox of the test's own over it. */
async function withOutbox(
  name: string,
  fn: (o: { sql: SqlStorage; outbox: Outbox; tap: ReturnType<typeof tappedQueue> }) => Promise<void>,
) {
  const tap = tappedQueue();
  await runInDurableObject(hub(`tnt_${name}_${crypto.randomUUID()}`), async (_i, state) => {
    await fn({ sql: state.storage.sql, outbox: new Outbox(state.storage, tap.queue), tap });
  });
}

const rows = (sql: SqlStorage): Row[] =>
  sql.exec<Row>(`SELECT sequence, json_extract(event, '$.type') AS type, published_at, attempts FROM outbox ORDER BY sequence`).toArray();

let n = 0;
const event = (type: string) => ({ id: `evt_test${++n}`, type, tenantId: 'tnt_outbox', occurredAt: new Date().toISOString(), data: { n } });

describe('hub outbox publisher', () => {
  it('sends what a commit appended, in order, with the sequences in the table; the next commit marks them', async () => {
    await withOutbox('memory', async ({ sql, outbox, tap }) => {
      outbox.commit(() => {
        insertEvent(sql, event('test.a'));
        insertEvent(sql, event('test.b'));
      });
      expect(await outbox.publish()).toBe(2);
      const table = rows(sql);
      expect(tap.sent).toHaveLength(1);
      expect(tap.sent[0]!.map((e) => [e.sequence, e.type])).toEqual(table.map((r) => [r.sequence, r.type]));
      // Sent, not yet marked: the schedule does not count them as waiting.
      expect(table.every((r) => r.published_at === null)).toBe(true);
      expect(readSchedule(sql, outbox.sentThrough()).pending).toBe(false);
      expect(readSchedule(sql).pending).toBe(true);

      outbox.commit(() => insertEvent(sql, event('test.c')));
      const after = rows(sql);
      expect(after.map((r) => [r.type, r.published_at !== null])).toEqual([
        ['test.a', true],
        ['test.b', true],
        ['test.c', false],
      ]);
      expect(await outbox.publish()).toBe(1);
      expect(tap.sent.map((page) => page.map((e) => e.type))).toEqual([['test.a', 'test.b'], ['test.c']]);
    });
  });

  it('a write that throws sends nothing of its own, and its marks wait for the next one', async () => {
    await withOutbox('rollback', async ({ sql, outbox, tap }) => {
      outbox.commit(() => insertEvent(sql, event('test.kept')));
      await outbox.publish();
      expect(() =>
        outbox.commit(() => {
          insertEvent(sql, event('test.rolled-back'));
          throw new Error('write refused');
        }),
      ).toThrow('write refused');
      expect(rows(sql).map((r) => [r.type, r.published_at])).toEqual([['test.kept', null]]);
      expect(await outbox.publish()).toBe(0);
      outbox.commit(() => insertEvent(sql, event('test.next')));
      expect(await outbox.publish()).toBe(1);
      expect(tap.sent.flat().map((e) => e.type)).toEqual(['test.kept', 'test.next']);
      expect(rows(sql).map((r) => [r.type, r.published_at !== null])).toEqual([
        ['test.kept', true],
        ['test.next', false],
      ]);
    });
  });

  it('an event appended outside a commit is found in the table and sent in order with the rest', async () => {
    await withOutbox('untracked', async ({ sql, outbox, tap }) => {
      outbox.commit(() => insertEvent(sql, event('test.first')));
      insertEvent(sql, event('test.outside'));
      outbox.commit(() => insertEvent(sql, event('test.last')));
      expect(await outbox.publish()).toBe(3);
      expect(tap.sent.flat().map((e) => e.type)).toEqual(['test.first', 'test.outside', 'test.last']);
      // Nothing is sent twice by the next publish.
      expect(await outbox.publish()).toBe(0);
    });
  });

  it('a refused send marks nothing; the next publish sends the same events again, first, with the later ones', async () => {
    await withOutbox('refused', async ({ sql, outbox, tap }) => {
      outbox.commit(() => insertEvent(sql, event('test.one')));
      tap.refuseNext(1);
      expect(await outbox.publish()).toBe(0);
      expect(rows(sql).map((r) => [r.type, r.published_at, r.attempts])).toEqual([['test.one', null, 1]]);
      expect(readSchedule(sql, outbox.sentThrough()).pending).toBe(true);
      outbox.commit(() => insertEvent(sql, event('test.two')));
      expect(await outbox.publish()).toBe(2);
      expect(tap.sent.flat().map((e) => e.type)).toEqual(['test.one', 'test.two']);
    });
  });

  it('with no write to carry them, sent pages are marked shortly after, or at once by flushMarks', async () => {
    await withOutbox('timer', async ({ sql, outbox }) => {
      outbox.commit(() => insertEvent(sql, event('test.quiet')));
      await outbox.publish();
      expect(rows(sql)[0]!.published_at).toBeNull();
      await new Promise((r) => setTimeout(r, MARK_AFTER_MS + 100));
      expect(rows(sql)[0]!.published_at).not.toBeNull();
      expect(outbox.sentThrough()).toBe(0);

      outbox.commit(() => insertEvent(sql, event('test.flushed')));
      await outbox.publish();
      outbox.flushMarks();
      expect(rows(sql).every((r) => r.published_at !== null)).toBe(true);
      expect(readSchedule(sql).pending).toBe(false);
    });
  });
});
