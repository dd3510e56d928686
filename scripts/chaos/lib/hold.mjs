/**
 * The far end of a flow's `http` node: it records every request with its `Idempotency-Key` (an
 * idempotent API applies each key's effect once, so re-sent requests are harmless). While `holding`, requests are
 * kept open (the run is mid-step); `answerAll()` answers what is held and everything after.
 */
import { createServer } from 'node:http';

export async function startHoldServer() {
  const hits = [];
  const held = new Set();
  let holding = true;
  const answer = (res) => {
    if (!res.writableEnded && !res.destroyed) res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
  };
  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const key = String(req.headers['idempotency-key'] ?? '');
      hits.push({ key, at: Date.now() });
      if (!holding) return answer(res);
      held.add(res);
      res.on('close', () => held.delete(res));
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    hits,
    /** Distinct idempotency keys seen (each effect applied once). */
    keys: () => new Set(hits.map((h) => h.key)),
    hold() {
      holding = true;
    },
    answerAll() {
      holding = false;
      for (const res of held) answer(res);
      held.clear();
    },
    close: () =>
      new Promise((r) => {
        for (const res of held) res.destroy();
        server.closeAllConnections();
        server.close(r);
      }),
  };
}
