/**
 * The tenant's tasks, live: a snapshot (GET /v1/sync/snapshot), then the sync WebSocket
 * (GET /v1/sync/ws?since=<version>, opened with a single-use stream ticket) for every change after it.
 *
 * - Gap-free: a dropped socket reconnects with `since` = the last version applied, and the server
 *   replays exactly what was missed before going live.
 * - `resync` frame (too far behind, or older than the tombstone horizon): reload the snapshot, replace
 *   the tasks with it, and apply the frames that arrived meanwhile when they are newer than its version.
 * - Every change carries the whole task, so a change is applied when it is at least as new as the
 *   task we hold (`version` is the task's place in the tenant's change log). Our own writes (HTTP)
 *   are applied from their answers at once, and their change frames then arrive as no-ops.
 */
import type { Client, Schemas } from '../../api/client';

export type Task = Schemas['Task'];
export type SyncStatus = 'connecting' | 'live' | 'reconnecting' | 'resyncing' | 'stopped';

type Frame =
  | ({ type: 'change' } & Schemas['Change'])
  | { type: 'synced'; version: number }
  | { type: 'resync'; reason: string; version: number; snapshot: string }
  | { type: 'pong' }
  | { type: string; [k: string]: unknown };

const MAX_BACKOFF_MS = 10_000;
/** A prefetched first snapshot page is used only this soon after it was asked for. */
const PREFETCH_FRESH_MS = 10_000;
const PING_MS = 25_000;

interface Snapshot {
  tasks: Map<string, Task>;
  version: number;
}
let prefetched: { client: Client; at: number; snapshot: Promise<Snapshot> } | null = null;

/** Every page of GET /v1/sync/snapshot: the tenant's tasks and the version to continue from. */
async function fetchSnapshot(client: Client): Promise<Snapshot> {
  const tasks = new Map<string, Task>();
  let cursor: string | undefined;
  let version = 0;
  do {
    const query = { limit: 100, ...(cursor ? { cursor } : {}) };
    const page = await client.call(client.api.GET('/v1/sync/snapshot', { params: { query } }));
    version = page.version;
    for (const item of page.data) if (item.entity === 'task') tasks.set(item.entityId, item.data as Task);
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
  return { tasks, version };
}

/**
 * Starts loading the snapshot now (while the session's /v1/me and the board's code are still on
 * their way); the board's TaskSync takes it over if it starts within a few seconds.
 */
export function prefetchSnapshot(client: Client): void {
  const snapshot = fetchSnapshot(client);
  snapshot.catch(() => undefined);
  prefetched = { client, at: Date.now(), snapshot };
}

function takePrefetched(client: Client): Promise<Snapshot> | null {
  const p = prefetched;
  prefetched = null;
  return p && p.client === client && Date.now() - p.at < PREFETCH_FRESH_MS ? p.snapshot : null;
}

export class TaskSync {
  readonly #client: Client;
  #tasks = new Map<string, Task>();
  #version = 0;
  #status: SyncStatus = 'connecting';
  #socket: WebSocket | null = null;
  #stopped = false;
  /** Bumped by start() and stop(): async work of an earlier run stops when it sees a newer one. */
  #run = 0;
  #attempt = 0;
  #retry: ReturnType<typeof setTimeout> | undefined;
  #ping: ReturnType<typeof setInterval> | undefined;
  /** Frames held while a snapshot loads (resync). */
  #held: Array<Schemas['Change']> | null = null;
  #listeners = new Set<() => void>();
  #snapshot: { tasks: Task[]; version: number; status: SyncStatus } = { tasks: [], version: 0, status: 'connecting' };
  /** Set once the first snapshot is in. */
  loaded = false;

  constructor(client: Client) {
    this.#client = client;
  }

  // ---- React (useSyncExternalStore) -------------------------------------------------------------
  subscribe = (listener: () => void): (() => void) => {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  };
  getSnapshot = () => this.#snapshot;

  #emit(): void {
    this.#snapshot = { tasks: [...this.#tasks.values()], version: this.#version, status: this.#status };
    for (const l of this.#listeners) l();
  }

  #setStatus(status: SyncStatus): void {
    if (this.#status === status) return;
    this.#status = status;
    // Same task array: a status change re-renders the badge, not the board.
    this.#snapshot = { ...this.#snapshot, status };
    for (const l of this.#listeners) l();
  }

  // ---- lifecycle --------------------------------------------------------------------------------
  async start(): Promise<void> {
    const run = ++this.#run;
    this.#stopped = false;
    await this.#loadSnapshot();
    if (run === this.#run) void this.#connect(run);
  }

  stop(): void {
    this.#run += 1;
    this.#stopped = true;
    clearTimeout(this.#retry);
    clearInterval(this.#ping);
    const s = this.#socket;
    this.#socket = null;
    s?.close(1000, 'page closed');
    this.#setStatus('stopped');
  }

  /** Pages through the snapshot (or takes the prefetched one) and replaces the tasks with it; returns its version. */
  async #loadSnapshot(): Promise<number> {
    const early = takePrefetched(this.#client);
    const { tasks, version } = early ? await early.catch(() => fetchSnapshot(this.#client)) : await fetchSnapshot(this.#client);
    this.#tasks = tasks;
    this.#version = version;
    this.loaded = true;
    this.#emit();
    return version;
  }

  async #connect(run: number): Promise<void> {
    if (this.#stopped || run !== this.#run) return;
    let url: string;
    try {
      url = await this.#client.streamUrl('/v1/sync/ws', { since: String(this.#version) });
    } catch {
      this.#scheduleReconnect(run);
      return;
    }
    if (this.#stopped || run !== this.#run) return;
    const socket = new WebSocket(url.replace(/^http/, 'ws'));
    this.#socket = socket;
    socket.onmessage = (e) => {
      if (this.#socket !== socket) return;
      let frame: Frame;
      try {
        frame = JSON.parse(String(e.data)) as Frame;
      } catch {
        return;
      }
      this.#onFrame(frame);
    };
    socket.onclose = () => {
      if (this.#socket !== socket) return;
      this.#socket = null;
      clearInterval(this.#ping);
      this.#scheduleReconnect(run);
    };
    socket.onopen = () => {
      clearInterval(this.#ping);
      this.#ping = setInterval(() => socket.readyState === WebSocket.OPEN && socket.send('{"type":"ping"}'), PING_MS);
    };
  }

  #scheduleReconnect(run: number): void {
    if (this.#stopped || run !== this.#run) return;
    this.#setStatus('reconnecting');
    const delay = Math.min(MAX_BACKOFF_MS, 250 * 2 ** this.#attempt) * (0.5 + Math.random() / 2);
    this.#attempt += 1;
    clearTimeout(this.#retry);
    this.#retry = setTimeout(() => void this.#connect(run), delay);
  }

  /** Drops the socket as a network failure would (for the reconnect path; also used by tests through the UI). */
  dropConnection(): void {
    this.#socket?.close(4000, 'dropped by client');
  }

  #onFrame(frame: Frame): void {
    switch (frame.type) {
      case 'change': {
        const change = frame as Schemas['Change'];
        if (this.#held) this.#held.push(change);
        else if (this.#apply(change)) this.#emit();
        return;
      }
      case 'synced':
        this.#attempt = 0;
        this.#setStatus('live');
        return;
      case 'resync':
        void this.#resync();
        return;
      default:
        return;
    }
  }

  async #resync(): Promise<void> {
    this.#held = [];
    this.#setStatus('resyncing');
    try {
      const version = await this.#loadSnapshot();
      const held = this.#held;
      this.#held = null;
      for (const change of held) if (change.version > version) this.#apply(change);
      this.#setStatus('live');
      this.#emit();
    } catch {
      this.#held = null;
      // Start over on a new socket from what we hold; the server will say resync again if needed.
      this.dropConnection();
    }
  }

  /** Applies one change; returns whether anything changed. */
  #apply(change: Schemas['Change']): boolean {
    if (change.version > this.#version) this.#version = change.version;
    if (change.entity !== 'task') return change.version === this.#version;
    const held = this.#tasks.get(change.entityId);
    if (change.op === 'delete') {
      if (!held || held.version > change.version) return false;
      this.#tasks.delete(change.entityId);
      return true;
    }
    const task = change.data as Task;
    if (held && held.version > task.version) return false;
    this.#tasks.set(change.entityId, task);
    return true;
  }

  // ---- local writes (HTTP answers) ----------------------------------------------------------------
  /** Applies a task the API just answered with. */
  upsert(task: Task): void {
    const held = this.#tasks.get(task.id);
    if (held && held.version > task.version) return;
    this.#tasks.set(task.id, task);
    this.#emit();
  }

  remove(taskId: string): void {
    if (this.#tasks.delete(taskId)) this.#emit();
  }

  get(taskId: string): Task | undefined {
    return this.#tasks.get(taskId);
  }
}
