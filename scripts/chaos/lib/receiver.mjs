/**
 * A webhook receiver on 127.0.0.1, as a customer runs one: every request is verified with the
 * official `standardwebhooks` library against the endpoint's secret, and recorded with its
 * `webhook-id` and the answer it got. Each endpoint (`/hooks/<name>`) has a behaviour the
 * scenario switches at will:
 *
 *   { kind: 'ok' }                                 200 at once
 *   { kind: 'slow', ms }                           200 after `ms`
 *   { kind: 'hang' }                               never answers (the socket is dropped on the next switch)
 *   { kind: 'status', status, retryAfter?, times? } `status` (with Retry-After) to the first `times`
 *                                                  requests of each webhook-id (all when absent), then 200
 *
 * Lost and duplicated are counted from what arrived, per webhook-id: delivered = answered 2xx at
 * least once; duplicated = answered 2xx more than once (a repeat after a failure or timeout is the
 * documented retry, not a duplicate).
 */
import { createServer } from 'node:http';
import { Webhook } from 'standardwebhooks';

export async function startReceiver() {
  /** name → { secret, behaviour, hung: Set<res> } */
  const endpoints = new Map();
  /** Every request: { name, webhookId, verified, status (answered; null while hanging / never), at, payload } */
  const log = [];
  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const m = /^\/hooks\/([\w.-]+)$/.exec(new URL(req.url ?? '/', 'http://x').pathname);
      const ep = m && endpoints.get(m[1]);
      if (req.method !== 'POST' || !ep) return res.writeHead(404).end();
      const body = Buffer.concat(chunks).toString('utf8');
      const headers = {
        'webhook-id': String(req.headers['webhook-id'] ?? ''),
        'webhook-timestamp': String(req.headers['webhook-timestamp'] ?? ''),
        'webhook-signature': String(req.headers['webhook-signature'] ?? ''),
      };
      let payload = null;
      let verified = false;
      try {
        payload = new Webhook(ep.secret).verify(body, headers);
        verified = true;
      } catch {
        try {
          payload = JSON.parse(body);
        } catch {}
      }
      const rec = { name: m[1], webhookId: headers['webhook-id'], verified, status: null, at: Date.now(), answeredAt: null, payload };
      log.push(rec);
      const answer = (status, extra = {}) => {
        if (res.writableEnded || res.destroyed) return;
        rec.status = status;
        rec.answeredAt = Date.now();
        res.writeHead(status, { 'content-type': 'application/json', ...extra }).end('{}');
      };
      if (!verified) return answer(400);
      const b = ep.behaviour;
      if (b.kind === 'ok') return answer(200);
      if (b.kind === 'slow') return void setTimeout(() => answer(200), b.ms);
      if (b.kind === 'hang') {
        ep.hung.add(res);
        res.on('close', () => ep.hung.delete(res));
        return;
      }
      const seen = (ep.seen.get(rec.webhookId) ?? 0) + 1;
      ep.seen.set(rec.webhookId, seen);
      if (b.times === undefined || seen <= b.times)
        return answer(b.status, b.retryAfter === undefined ? {} : { 'retry-after': String(b.retryAfter) });
      return answer(200);
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${server.address().port}`;

  const records = (name) => log.filter((r) => r.name === name);
  return {
    url,
    /** The endpoint URL for `name` (register its secret once the webhook exists). */
    hookUrl: (name) => `${url}/hooks/${name}`,
    register(name, secret, behaviour = { kind: 'ok' }) {
      endpoints.set(name, { secret, behaviour, hung: new Set(), seen: new Map() });
    },
    /** Switches the endpoint's behaviour; requests left hanging are dropped (their sender gave up long ago). */
    behave(name, behaviour) {
      const ep = endpoints.get(name);
      for (const res of ep.hung) res.destroy();
      ep.hung.clear();
      ep.behaviour = behaviour;
      ep.seen.clear();
    },
    records,
    /** Per webhook-id: requests, 2xx answers, first 2xx time. */
    byId(name) {
      const out = new Map();
      for (const r of records(name)) {
        const e = out.get(r.webhookId) ?? { requests: 0, ok: 0, firstOkAt: null, payload: r.payload, statuses: [] };
        e.requests += 1;
        e.statuses.push(r.status);
        if (r.status !== null && r.status >= 200 && r.status < 300) {
          e.ok += 1;
          e.firstOkAt ??= r.answeredAt;
        }
        out.set(r.webhookId, e);
      }
      return out;
    },
    /**
     * Lost/duplicated against what should have arrived: `expected` is a list of predicates or ids
     * (payload → key); here, a set of keys and `keyOf(payload)` giving an arrival's key.
     */
    tally(names, expectedKeys, keyOf = (p) => p?.id) {
      const list = [names].flat().flatMap((n) => records(n));
      const okByKey = new Map();
      const okById = new Map();
      for (const r of list) {
        if (r.status === null || r.status < 200 || r.status >= 300) continue;
        okById.set(r.webhookId, (okById.get(r.webhookId) ?? 0) + 1);
        const k = keyOf(r.payload);
        okByKey.set(k, (okByKey.get(k) ?? 0) + 1);
      }
      const expected = [...expectedKeys];
      const lost = expected.filter((k) => !okByKey.has(k)).length;
      const duplicated = [...okById.values()].reduce((s, n) => s + Math.max(0, n - 1), 0);
      return {
        expected: expected.length,
        delivered: expected.length - lost,
        lost,
        duplicated,
        requests: list.length,
        unverified: list.filter((r) => !r.verified).length,
      };
    },
    close: () =>
      new Promise((r) => {
        for (const ep of endpoints.values()) for (const res of ep.hung) res.destroy();
        server.closeAllConnections();
        server.close(r);
      }),
  };
}
