/**
 * A tenant hub with a long change log (200,000 changes over 1,000 tasks, written through the hub's
 * ENVIRONMENT=test-only seeding RPC, as `npm run bench:sync` does) while 5 sockets reconnect at
 * `since=0` every 200 ms and task writes continue. Two clients check that nothing is lost or
 * applied twice: a live socket connected before the storm, and a client that follows the resync
 * protocol from `since=0` (resync frame → GET /v1/sync/snapshot → live frames after its version).
 */
import WebSocket from 'ws';
import { seedTenant, sleep, until, writeTasks } from '../lib/api.mjs';
import { ms, stats } from '../lib/stats.mjs';

const SEED_CHUNK = 20_000;
const RECONNECT_MS = 200;

function wsUrl(c, since) {
  return `${c.url.replace(/^http/, 'ws')}/v1/sync/ws?since=${since}`;
}

/** A socket that records every frame: change versions (to find repeats) and the tasks it saw. */
function follow(c, since) {
  const state = { frames: [], versions: new Map(), tasks: new Map(), first: null, open: false };
  const ws = new WebSocket(wsUrl(c, since), { headers: { authorization: `Bearer ${c.key}` }, perMessageDeflate: false });
  const opened = new Promise((resolve, reject) => {
    ws.once('message', (data) => resolve(JSON.parse(String(data))));
    ws.once('error', reject);
  });
  ws.on('message', (data) => {
    const f = JSON.parse(String(data));
    state.frames.push(f);
    state.first ??= f;
    if (f.type !== 'change') return;
    state.versions.set(f.version, (state.versions.get(f.version) ?? 0) + 1);
    if (f.entity === 'task') state.tasks.set(f.entityId, f);
  });
  return { state, opened, close: () => ws.close() };
}

/** One storm handshake at since=0: time to the first frame and its type and size. */
function handshake(c) {
  return new Promise((resolve) => {
    const started = performance.now();
    const ws = new WebSocket(wsUrl(c, 0), { headers: { authorization: `Bearer ${c.key}` }, perMessageDeflate: false });
    const timer = setTimeout(() => (ws.terminate(), resolve({ ms: null, type: 'timeout', bytes: 0 })), 30_000);
    ws.once('message', (data) => {
      clearTimeout(timer);
      const text = String(data);
      ws.close();
      resolve({ ms: performance.now() - started, type: JSON.parse(text).type, bytes: text.length });
    });
    ws.once('error', () => (clearTimeout(timer), resolve({ ms: null, type: 'error', bytes: 0 })));
  });
}

export const syncCatchUp = {
  name: 'sync-200k',
  injects:
    '200,000 changes in one tenant log (test-only seeding RPC); then 5 sockets reconnect at since=0 every 200 ms while tasks are written at 40/s. Task-write p99 before and during; a live socket and a resyncing client must each see every write exactly once.',
  async run({ w, quick, log }) {
    const changes = quick ? 50_000 : 200_000;
    const durationMs = quick ? 6_000 : 10_000;
    const c = await seedTenant(w, 'sync');
    const hub = w.hub(c.tenantId);
    const seedStart = Date.now();
    let version = 0;
    for (let done = 0; done < changes; done += SEED_CHUNK)
      version = await hub.seedHistoryForBench(c.tenantId, { changes: Math.min(SEED_CHUNK, changes - done), entities: 1_000, ageMs: 0 });
    const seedMs = Date.now() - seedStart;
    log(`sync-200k: ${changes} changes seeded in ${ms(seedMs)} (log at version ${version})`);

    const live = follow(c, version);
    if ((await live.opened).type !== 'synced') throw new Error(`live socket: first frame ${JSON.stringify(live.state.first)}`);
    const before = await writeTasks(c, { rate: 40, durationMs, connections: 4, label: 'sync before' });

    // The resyncing client: since=0 → resync(V) → snapshot pages → live frames after V.
    const resyncing = follow(c, 0);
    const signal = await resyncing.opened;
    if (signal.type !== 'resync') throw new Error(`since=0 first frame ${JSON.stringify(signal)}`);
    let stop = false;
    const handshakes = [];
    const storm = Promise.all(
      Array.from({ length: 5 }, async () => {
        while (!stop) {
          const t = performance.now();
          handshakes.push(await handshake(c));
          await sleep(t + RECONNECT_MS - performance.now());
        }
      }),
    );
    const snapshot = new Map();
    const snapshotting = (async () => {
      let cursor = null;
      do {
        const page = await c.must('GET', `/v1/sync/snapshot?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
        if (page.version !== signal.version) throw new Error(`snapshot at version ${page.version}, resync said ${signal.version}`);
        for (const item of page.data) if (item.entity === 'task') snapshot.set(item.entityId, item.data);
        cursor = page.nextCursor;
      } while (cursor);
    })();
    const during = await writeTasks(c, { rate: 40, durationMs, connections: 4, label: 'sync during' });
    stop = true;
    await Promise.all([storm, snapshotting]);

    const written = [...before.ids, ...during.ids];
    const resyncState = () => {
      const tasks = new Map(snapshot);
      for (const f of resyncing.state.frames)
        if (f.type === 'change' && f.entity === 'task' && f.version > signal.version) tasks.set(f.entityId, f.data);
      return tasks;
    };
    await until(async () => (written.every((id) => live.state.tasks.has(id) && resyncState().has(id)) ? true : undefined), {
      timeoutMs: 15_000,
    });
    live.close();
    resyncing.close();
    const finalState = resyncState();
    const lostLive = written.filter((id) => !live.state.tasks.has(id)).length;
    const lostResync = written.filter((id) => !finalState.has(id)).length;
    const repeats = (s) => [...s.versions.values()].reduce((a, n) => a + Math.max(0, n - 1), 0);
    const hs = stats(handshakes.filter((h) => h.ms !== null).map((h) => h.ms));
    const firstFrames = {};
    for (const h of handshakes) firstFrames[h.type] = (firstFrames[h.type] ?? 0) + 1;
    const bounded =
      handshakes.length > 0 && handshakes.every((h) => h.type === 'resync') && Math.max(...handshakes.map((h) => h.bytes)) < 4096;
    const b = stats(before.latencies);
    const d = stats(during.latencies);
    return {
      figures: `${changes / 1000}k changes, ${handshakes.length} handshakes at since=0 p99 ${ms(hs.p99)}; task write p99 ${ms(b.p99)} before → ${ms(d.p99)} during`,
      lost: lostLive + lostResync + before.failures.length + during.failures.length,
      duplicated: repeats(live.state) + repeats(resyncing.state),
      goal: { text: 'every since=0 handshake answers one bounded resync frame', met: bounded },
      details: {
        changes,
        seedMs,
        handshake: { ...hs, firstFrames, maxFirstFrameBytes: Math.max(0, ...handshakes.map((h) => h.bytes)) },
        writes: { before: { ...b, failures: before.failures.length }, during: { ...d, failures: during.failures.length } },
        liveSocket: { lost: lostLive, repeatedVersions: repeats(live.state) },
        resyncClient: {
          resyncVersion: signal.version,
          snapshotTasks: snapshot.size,
          lost: lostResync,
          repeatedVersions: repeats(resyncing.state),
        },
      },
    };
  },
};
