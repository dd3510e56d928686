/**
 * The hub's outbox publisher (durable-objects/tenant-hub/outbox.ts, issue 20): it publishes the events a
 * committed write appended without reading them back, reads the table whenever it cannot know, and
 * marks sent pages with the next write's transaction (or shortly after). Run inside a real hub's storage
 * with the real EVENTS queue, tapped to see what it accepted. Every test ends by checking that each row
 * marked published was sent, with its own id and sequence: a mark on an unsent row is a lost event.
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
  id: string;
  type: string;
  published_at: string | null;
  attempts: number;
};

/** The real EVENTS queue, recording what it accepted; it can refuse sends (an outage) or hold one open. */
function tappedQueue() {
  const sent: OutboxEvent[][] = [];
  let refuse = 0;
  let hold: Promise<void> | null = null;
  const queue = {
    send: (body: unknown, opts?: QueueSendOptions) => env.EVENTS.send(body, opts),
    sendBatch: async (msgs: Iterable<MessageSendRequest>, opts?: QueueSendBatchOptions) => {
      const list = [...msgs];
      if (hold) await hold;
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
  /** The next sends wait until the returned function is called. */
  const holdSends = () => {
    let release!: () => void;
    hold = new Promise<void>((resolve) => {
      release = resolve;
    });
    return () => {
      hold = null;
      release();
    };
  };
  return { queue, sent, refuseNext, holdSends };
}

type Tap = ReturnType<typeof tappedQueue>;

/**
 * A hub nobody else writes to, its storage and an Outbox of the test's own over it, already past its
 * start-up read of the table (a new Outbox's first publish reads it), so later publishes go from memory.
 */
async function withOutbox(
  name: string,
  fn: (o: { sql: SqlStorage; outbox: Outbox; tap: Tap; handed: OutboxEvent[][] }) => Promise<void>,
  { deliver = false, wants = () => true }: { deliver?: boolean; wants?: () => boolean } = {},
) {
  const tap = tappedQueue();
  /** What the outbox handed to `deliver` (the hub's direct webhooks), a call each. */
  const handed: OutboxEvent[][] = [];
  await runInDurableObject(hub(`tnt_${name}_${crypto.randomUUID()}`), async (_i, state) => {
    // The journal of appended events is keyed by this object: it must be one object per storage.
    expect(state.storage.sql).toBe(state.storage.sql);
    const outbox = new Outbox(state.storage, tap.queue, deliver ? (events) => handed.push(events) : undefined, wants);
    expect(await outbox.publish()).toBe(0);
    await fn({ sql: state.storage.sql, outbox, tap, handed });
    outbox.flushMarks();
    expectMarkedWereSent(state.storage.sql, tap);
  });
}

const rows = (sql: SqlStorage): Row[] =>
  sql
    .exec<Row>(
      `SELECT sequence, json_extract(event, '$.id') AS id, json_extract(event, '$.type') AS type, published_at, attempts
       FROM outbox ORDER BY sequence`,
    )
    .toArray();

/** Every row marked published was accepted by the queue, with the row's id and sequence, exactly once. */
function expectMarkedWereSent(sql: SqlStorage, tap: Tap): void {
  const sent = tap.sent.flat().map((e) => [e.sequence, e.id]);
  const marked = rows(sql)
    .filter((r) => r.published_at !== null)
    .map((r) => [r.sequence, r.id]);
  expect(sent).toEqual(marked);
}

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
      expect(tap.sent[0]!.map((e) => [e.sequence, e.id, e.type])).toEqual(table.map((r) => [r.sequence, r.id, r.type]));
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
      expect(tap.sent[1]![0]!.sequence).toBe(after[2]!.sequence);
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

  it('an event appended outside a commit, between two sent from memory, is found in the table and sent in order', async () => {
    await withOutbox('untracked', async ({ sql, outbox, tap }) => {
      outbox.commit(() => insertEvent(sql, event('test.first')));
      expect(await outbox.publish()).toBe(1);
      insertEvent(sql, event('test.outside'));
      outbox.commit(() => insertEvent(sql, event('test.last')));
      expect(await outbox.publish()).toBe(2);
      expect(tap.sent.map((page) => page.map((e) => e.type))).toEqual([['test.first'], ['test.outside', 'test.last']]);
      // Nothing is sent twice by the next publish.
      expect(await outbox.publish()).toBe(0);
    });
  });

  it('a refused send marks nothing; the next publish sends the same events again, first, with the later ones', async () => {
    await withOutbox('refused', async ({ sql, outbox, tap }) => {
      outbox.commit(() => insertEvent(sql, event('test.zero')));
      expect(await outbox.publish()).toBe(1);
      outbox.commit(() => insertEvent(sql, event('test.one')));
      tap.refuseNext(1);
      expect(await outbox.publish()).toBe(0);
      expect(rows(sql).map((r) => [r.type, r.published_at !== null, r.attempts])).toEqual([
        ['test.zero', true, 0],
        ['test.one', false, 1],
      ]);
      expect(readSchedule(sql, outbox.sentThrough()).pending).toBe(true);
      outbox.commit(() => insertEvent(sql, event('test.two')));
      expect(await outbox.publish()).toBe(2);
      expect(tap.sent.map((page) => page.map((e) => e.type))).toEqual([['test.zero'], ['test.one', 'test.two']]);
    });
  });

  it('events committed while a send is in flight follow it in the same publish, in order', async () => {
    await withOutbox('in-flight', async ({ sql, outbox, tap }) => {
      outbox.commit(() => insertEvent(sql, event('test.early')));
      const release = tap.holdSends();
      const publishing = outbox.publish();
      outbox.commit(() => insertEvent(sql, event('test.during')));
      release();
      expect(await publishing).toBe(2);
      expect(tap.sent.map((page) => page.map((e) => e.type))).toEqual([['test.early'], ['test.during']]);
    });
  });

  it('more than a page goes out a page at a time, in order', async () => {
    await withOutbox('pages', async ({ sql, outbox, tap }) => {
      outbox.commit(() => {
        for (let i = 0; i < 150; i++) insertEvent(sql, event('test.many'));
      });
      expect(await outbox.publish()).toBe(150);
      expect(tap.sent.map((page) => page.length)).toEqual([100, 50]);
      const sequences = tap.sent.flat().map((e) => e.sequence);
      expect(sequences).toEqual(rows(sql).map((r) => r.sequence));
    });
  });

  it('handOver gives the webhooks what commits appended before any send, once; a publish from memory hands nothing', async () => {
    await withOutbox(
      'hand-over',
      async ({ sql, outbox, tap, handed }) => {
        outbox.commit(() => {
          insertEvent(sql, event('test.a'));
          insertEvent(sql, event('test.b'));
        });
        outbox.commit(() => insertEvent(sql, event('test.c')));
        expect(handed).toEqual([]);
        outbox.handOver();
        expect(tap.sent).toEqual([]);
        expect(handed.map((page) => page.map((e) => [e.sequence, e.id]))).toEqual([rows(sql).map((r) => [r.sequence, r.id])]);
        expect(await outbox.publish()).toBe(3);
        outbox.handOver();
        expect(handed).toHaveLength(1);
        // Sent before its hand-over: still handed over, once.
        outbox.commit(() => insertEvent(sql, event('test.d')));
        expect(await outbox.publish()).toBe(1);
        expect(handed).toHaveLength(1);
        outbox.handOver();
        outbox.handOver();
        expect(handed.map((page) => page.map((e) => e.type))).toEqual([['test.a', 'test.b', 'test.c'], ['test.d']]);
      },
      { deliver: true },
    );
  });

  it('while the webhooks want nothing, commits keep nothing to hand over; once they do, the next commit is handed over', async () => {
    let wanted = false;
    await withOutbox(
      'hand-over-unwanted',
      async ({ sql, outbox, tap, handed }) => {
        outbox.commit(() => insertEvent(sql, event('test.unwanted')));
        expect(outbox.handOverPending()).toBe(false);
        outbox.handOver();
        expect(handed).toEqual([]);
        wanted = true;
        outbox.commit(() => insertEvent(sql, event('test.wanted')));
        expect(outbox.handOverPending()).toBe(true);
        outbox.handOver();
        expect(outbox.handOverPending()).toBe(false);
        expect(handed.map((page) => page.map((e) => e.type))).toEqual([['test.wanted']]);
        // The queue gets both either way, in order.
        expect(await outbox.publish()).toBe(2);
        expect(tap.sent.flat().map((e) => e.type)).toEqual(['test.unwanted', 'test.wanted']);
      },
      { deliver: true, wants: () => wanted },
    );
  });

  it('events only the table knows are handed over once their page is sent, with the committed ones of that page', async () => {
    await withOutbox(
      'hand-over-table',
      async ({ sql, outbox, tap, handed }) => {
        outbox.commit(() => insertEvent(sql, event('test.first')));
        outbox.handOver();
        expect(await outbox.publish()).toBe(1);
        insertEvent(sql, event('test.outside'));
        outbox.commit(() => insertEvent(sql, event('test.last')));
        // The table knows an event memory does not: the committed one waits for it, in order.
        outbox.handOver();
        expect(handed.map((page) => page.map((e) => e.type))).toEqual([['test.first']]);
        // A refused send hands nothing from the table.
        tap.refuseNext(1);
        expect(await outbox.publish()).toBe(0);
        expect(handed.map((page) => page.map((e) => e.type))).toEqual([['test.first']]);
        outbox.handOver();
        expect(handed).toHaveLength(1);
        expect(await outbox.publish()).toBe(2);
        outbox.handOver();
        expect(handed.map((page) => page.map((e) => e.type))).toEqual([['test.first'], ['test.outside', 'test.last']]);
        expect(handed.flat().map((e) => e.sequence)).toEqual(rows(sql).map((r) => r.sequence));
      },
      { deliver: true },
    );
  });

  it('after start-up, what commits append waits for the page read from the table, then follows it in order', async () => {
    const tap = tappedQueue();
    const handed: OutboxEvent[][] = [];
    await runInDurableObject(hub(`tnt_restart_${crypto.randomUUID()}`), async (_i, state) => {
      const sql = state.storage.sql;
      // Left pending by an earlier instance.
      const before = new Outbox(state.storage, tap.queue);
      before.commit(() => {
        insertEvent(sql, event('test.old-1'));
        insertEvent(sql, event('test.old-2'));
      });
      // A new instance: its first write's event must not overtake the older ones.
      const outbox = new Outbox(state.storage, tap.queue, (events) => handed.push(events));
      outbox.commit(() => insertEvent(sql, event('test.new')));
      outbox.handOver();
      expect(handed).toEqual([]);
      const release = tap.holdSends();
      const publishing = outbox.publish();
      // Committed while the table's page is on its way: after it, not before.
      outbox.commit(() => insertEvent(sql, event('test.during')));
      outbox.handOver();
      expect(handed).toEqual([]);
      release();
      expect(await publishing).toBe(4);
      outbox.handOver();
      expect(handed.flat().map((e) => e.type)).toEqual(['test.old-1', 'test.old-2', 'test.new', 'test.during']);
      outbox.flushMarks();
      expectMarkedWereSent(sql, tap);
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
