/**
 * A local Resend-compatible email API on 127.0.0.1 (the HTTP provider of src/email/transport.ts),
 * speaking Resend's wire protocol: `POST /emails` with a Bearer key and JSON `{ from, to, subject,
 * text, html, reply_to?, headers? }` → 200 `{ id }`; an `Idempotency-Key` seen before answers the
 * first answer again without sending a second email; 401 without the key; 422 for a bad body.
 *
 * Scripted by the recipient's local part (the test picks the address), for notification mail only
 * (requests with a `List-Unsubscribe` header), so the same account's verification mail goes through:
 *   `ratelimited-…@…`  the first request for an idempotency key answers 429 with `Retry-After: 3`
 *   `invalid-…@…`      422 `validation_error` (the provider refuses the address)
 *
 *   GET /__sent?to=<address>  every request for that recipient, in arrival order:
 *                             `{ at, idempotencyKey, status, id, body }` (`at`: ms when it arrived)
 */
import { createServer, type Server } from 'node:http';
import { eventually } from '../shared/time';

export const FAKE_RESEND_KEY = 're_test_0123456789';

export interface ResendRequest {
  at: number;
  idempotencyKey: string | null;
  status: number;
  id: string | null;
  body: Record<string, any> | null;
}

export interface FakeResend {
  url: string;
  requests: ResendRequest[];
  close(): Promise<void>;
}

export async function startFakeResend(port = 0): Promise<FakeResend> {
  const requests: ResendRequest[] = [];
  const byKey = new Map<string, { status: number; body: string }>();
  const limited = new Set<string>();
  let seq = 0;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://x');
      if (req.method === 'GET' && url.pathname === '/__sent') {
        const to = url.searchParams.get('to');
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(requests.filter((r) => r.body?.to?.includes(to))));
        return;
      }
      if (req.method !== 'POST' || url.pathname !== '/emails') {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ statusCode: 404, name: 'not_found', message: 'Not found' }));
        return;
      }
      const at = Date.now();
      const key = (req.headers['idempotency-key'] as string | undefined) ?? null;
      let body: Record<string, any> | null = null;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {}
      const answer = (status: number, payload: unknown, headers: Record<string, string> = {}, id: string | null = null) => {
        requests.push({ at, idempotencyKey: key, status, id, body });
        res.writeHead(status, { 'content-type': 'application/json', ...headers });
        res.end(JSON.stringify(payload));
      };
      if (req.headers.authorization !== `Bearer ${FAKE_RESEND_KEY}`)
        return answer(401, { statusCode: 401, name: 'missing_api_key', message: 'Missing API key in the authorization header.' });
      const to: string | undefined = Array.isArray(body?.to) ? body.to[0] : body?.to;
      if (!body || typeof body.from !== 'string' || !to || typeof body.subject !== 'string')
        return answer(422, { statusCode: 422, name: 'validation_error', message: 'from, to and subject are required' });
      if (key && byKey.has(key)) {
        const first = byKey.get(key)!;
        return answer(first.status, JSON.parse(first.body), {}, JSON.parse(first.body).id ?? null);
      }
      const local = to.slice(0, to.indexOf('@'));
      const notification = typeof body.headers?.['List-Unsubscribe'] === 'string';
      if (notification && local.startsWith('invalid-'))
        return answer(422, { statusCode: 422, name: 'validation_error', message: `Invalid \`to\` field: ${to}` });
      if (notification && local.startsWith('ratelimited-') && key && !limited.has(key)) {
        limited.add(key);
        return answer(429, { statusCode: 429, name: 'rate_limit_exceeded', message: 'Too many requests.' }, { 'retry-after': '3' });
      }
      seq += 1;
      const id = `re_${String(seq).padStart(8, '0')}`;
      if (key) byKey.set(key, { status: 200, body: JSON.stringify({ id }) });
      answer(200, { id }, {}, id);
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const address = server.address();
  const actual = typeof address === 'object' && address ? address.port : port;
  return {
    url: `http://127.0.0.1:${actual}`,
    requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** The Worker bindings that send its email through `resend` (the HTTP provider). */
export function emailThrough(resend: FakeResend): Record<string, string> {
  return {
    EMAIL_PROVIDER: 'http',
    EMAIL_HTTP_URL: resend.url,
    EMAIL_HTTP_API_KEY: FAKE_RESEND_KEY,
    EMAIL_FROM: 'notifications@edgecrew.test',
  };
}

/** The first email `resend` accepted for `address` with `subject` (waits for it). */
export function mailTo(resend: FakeResend, address: string, subject: string): Promise<ResendRequest> {
  return eventually(() => resend.requests.find((r) => r.status === 200 && r.body?.to?.includes(address) && r.body?.subject === subject), {
    what: `"${subject}" to ${address}`,
    timeoutMs: 20_000,
    intervalMs: 100,
  });
}

/**
 * Confirms `address` as its owner would: the link in the signup's verification email, then the
 * page's button (a POST to the same path). Throws unless the Worker answers 200.
 */
export async function verifyEmail(
  worker: { fetch(path: string, init?: RequestInit): Promise<Response> },
  resend: FakeResend,
  address: string,
): Promise<void> {
  const mail = await mailTo(resend, address, 'Confirm your email address');
  const link = new URL(/https?:\/\/\S+\/v1\/auth\/verify-email\/\S+/.exec(String(mail.body?.text))![0]);
  const res = await worker.fetch(link.pathname, { method: 'POST' });
  if (res.status !== 200) throw new Error(`verifying ${address}: ${res.status} ${await res.text()}`);
}
