/**
 * Follows a run's event stream (GET /v1/runs/{id}/events) with the browser's EventSource. Browsers
 * cannot set headers on it, so each connection spends a fresh single-use stream ticket
 * (POST /v1/stream-tickets) and resumes with `?after=<last seq>`: the ticket cannot be reused, so
 * EventSource's own reconnect is replaced by ours (docs/flows.md, "Server-Sent Events").
 */
import type { RunEvent } from './run-state';

/** Every event type the run stream sends (src/routes/run-event-schemas.ts). EventSource needs them named. */
export const RUN_EVENT_TYPES = [
  'run.created',
  'run.started',
  'run.waiting',
  'run.resumed',
  'run.completed',
  'run.failed',
  'run.cancelled',
  'node.started',
  'node.delta',
  'node.step',
  'node.tool_call',
  'node.tool_result',
  'node.resumed',
  'node.usage',
  'node.waiting',
  'node.fanout',
  'node.child',
  'node.signalled',
  'node.retrying',
  'node.succeeded',
  'node.failed',
  'node.skipped',
  'node.cancelled',
] as const;

const TERMINAL = new Set(['run.completed', 'run.failed', 'run.cancelled']);

export interface RunStreamOptions {
  runId: string;
  /** Start after this seq (0: the whole log). */
  after: number;
  /** The stream's URL with a fresh ticket (POST /v1/stream-tickets) and `query` (the console client's `streamUrl`). */
  streamUrl: (path: string, query: Record<string, string>) => Promise<string>;
  onEvent: (e: RunEvent) => void;
  /** The connection state, for the page's "live" badge. */
  onState?: (state: 'connecting' | 'live' | 'ended' | 'error') => void;
}

/**
 * Opens the stream and keeps it open until the run's terminal event (or `close()`). Returns the
 * closer. A dropped connection reconnects after the last seq seen, with a new ticket.
 */
export function followRun(o: RunStreamOptions): () => void {
  const path = `/v1/runs/${encodeURIComponent(o.runId)}/events`;
  let last = o.after;
  let es: EventSource | null = null;
  let closed = false;
  let failures = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;

  const retry = () => {
    es?.close();
    es = null;
    if (closed) return;
    o.onState?.('error');
    failures++;
    timer = setTimeout(connect, Math.min(10_000, 500 * 2 ** Math.min(failures, 5)));
  };

  const onFrame = (m: MessageEvent<string>) => {
    let e: RunEvent;
    try {
      e = JSON.parse(m.data) as RunEvent;
    } catch {
      return;
    }
    failures = 0;
    if (e.seq > last) last = e.seq;
    o.onEvent(e);
    if (TERMINAL.has(e.type)) {
      // The server ends the stream after the terminal event; EventSource would reconnect with a spent ticket.
      es?.close();
      es = null;
      o.onState?.('ended');
    }
  };

  async function connect() {
    if (closed) return;
    o.onState?.('connecting');
    let url: string;
    try {
      url = await o.streamUrl(path, { after: String(last) });
    } catch {
      retry();
      return;
    }
    if (closed) return;
    const source = new EventSource(url);
    es = source;
    source.onopen = () => o.onState?.('live');
    for (const t of RUN_EVENT_TYPES) source.addEventListener(t, onFrame as EventListener);
    // A slow reader is cut off with `stream.closed`; carry on after what we have.
    source.addEventListener('stream.closed', () => retry());
    source.onerror = () => {
      if (es === source) retry();
    };
  }

  void connect();
  return () => {
    closed = true;
    clearTimeout(timer);
    es?.close();
    es = null;
  };
}
