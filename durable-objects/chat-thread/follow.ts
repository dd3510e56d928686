/**
 * Following a turn's run: its event stream (the FlowRun's SSE) from the turn's stored cursor, each
 * event handed to `apply` (which stores its chunks and the new cursor in one transaction). The run
 * is created first if it is not yet (idempotent per run id). A broken stream reconnects from the
 * cursor with backoff; a run that stays missing, or cannot be created, fails the turn.
 */
import { sseData } from '../../src/flows/llm/sse';
import { type RunEvent, TENANT_HEADER } from '../../src/flows/run-model';
import { flowRunStub } from '../../src/lib/stubs';
import type { Turn } from './store';

/** How long the follower waits before reconnecting to a run's event stream, at most. */
const BACKOFF_MAX_MS = 5_000;
/** A run that cannot be found for this long (never started, or expired) fails its turn. */
const RUN_LOST_MS = 60_000;
/** Creating a turn's run failing this often (D1 or the run's object unavailable) fails the turn. */
const START_ATTEMPTS = 5;

export interface FollowHooks {
  env: Env;
  /** The chat's tenant: the run's object opens its stream only for its own tenant (TENANT_HEADER). */
  tenantId: string;
  /** The turn as stored now (null: gone). */
  turn(): Turn | null;
  /** Creates and starts the run; 'gone' when the turn ended meanwhile. */
  startRun(): Promise<'started' | 'gone'>;
  /** One event; 'stop' when the turn's segment ended (or the turn is no longer running). */
  apply(e: RunEvent): 'go' | 'stop';
  fail(error: string): void;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function followRun(h: FollowHooks): Promise<void> {
  let backoff = 100;
  let lostSince: number | null = null;
  let startFailures = 0;
  const pause = async () => {
    await sleep(backoff);
    backoff = Math.min(backoff * 2, BACKOFF_MAX_MS);
  };
  for (;;) {
    const t = h.turn();
    if (t?.row.status !== 'running') return;
    if (!t.row.run_started) {
      try {
        if ((await h.startRun()) === 'gone') return;
      } catch (err) {
        if (++startFailures >= START_ATTEMPTS)
          return h.fail(`The assistant could not start: ${err instanceof Error ? err.message : String(err)}`);
        await pause();
      }
      continue;
    }
    const abort = new AbortController();
    try {
      const res = await flowRunStub(h.env, t.row.run_id).fetch('https://flow-run/events', {
        headers: { 'last-event-id': String(t.row.cursor), [TENANT_HEADER]: h.tenantId },
        signal: abort.signal,
      });
      if (res.status === 404) {
        await res.body?.cancel();
        lostSince ??= Date.now();
        if (Date.now() - lostSince > RUN_LOST_MS) return h.fail('The run behind this turn was lost.');
      } else if (res.body) {
        lostSince = null;
        for await (const data of sseData(res.body, abort.signal)) {
          const e = parseEvent(data);
          if (!e) continue;
          backoff = 100;
          if (h.apply(e) === 'stop') {
            abort.abort();
            return;
          }
        }
      }
    } catch {
      // The run's stream broke (its object moved or restarted): reconnect from the cursor.
    }
    abort.abort();
    await pause();
  }
}

function parseEvent(data: string): RunEvent | null {
  try {
    const e = JSON.parse(data) as RunEvent;
    return typeof e?.seq === 'number' && typeof e.type === 'string' ? e : null;
  } catch {
    return null;
  }
}
