/**
 * http: one outbound request with a timeout, to hosts on the tenant's
 * allow-list only (and never to private, loopback or link-local targets in
 * staging/production). Sends the node's idempotency key so retries are safe.
 * Reads at most HTTP_RESPONSE_MAX_BYTES of the response: a longer body fails
 * the node (kind `limit`) and the rest is never read.
 */
import { z } from 'zod';
import { isDeployed } from '../../config';
import { isPrivateHost } from '../../lib/targets';
import { HTTP_RESPONSE_MAX_BYTES } from '../ceilings';
import { defineNode, NodeError } from './types';

export const httpNode = defineNode({
  type: 'http',
  config: z.strictObject({
    url: z.string().min(1).max(4000),
    method: z.enum(['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD']).default('GET'),
    headers: z.record(z.string().max(256), z.string().max(4000)).optional(),
    body: z.string().max(10_000).optional().describe('JSONata expression whose value is sent as JSON'),
    timeoutMs: z.number().int().min(100).max(120_000).default(10_000),
  }),
  async run(config, ctx) {
    const url = parseUrl(await ctx.render(config.url), ctx.nodeId);
    const allow = ctx.tenantSettings.httpAllowlist ?? [];
    if (!hostAllowed(url.hostname, allow)) {
      throw new NodeError('forbidden', `http '${ctx.nodeId}': host ${url.hostname} is not on the tenant's HTTP allow-list`, false);
    }
    if (isDeployed(ctx.config) && isPrivateHost(url.hostname)) {
      throw new NodeError('forbidden', `http '${ctx.nodeId}': private, loopback and link-local targets are refused`, false);
    }
    const headers = new Headers();
    for (const [k, v] of Object.entries(config.headers ?? {})) headers.set(k, await ctx.render(v));
    headers.set('idempotency-key', ctx.idempotencyKey);
    let body: string | undefined;
    if (config.body !== undefined) {
      body = JSON.stringify(await ctx.evaluate(config.body));
      if (!headers.has('content-type')) headers.set('content-type', 'application/json');
    }
    const timeout = AbortSignal.timeout(config.timeoutMs);
    let res: Response;
    try {
      res = await fetch(url, { method: config.method, headers, body, signal: AbortSignal.any([ctx.signal, timeout]), redirect: 'manual' });
    } catch (err) {
      if (timeout.aborted) throw new NodeError('timeout', `http '${ctx.nodeId}': no answer within ${config.timeoutMs} ms`, true);
      if (ctx.signal.aborted) throw new NodeError('cancelled', `http '${ctx.nodeId}': cancelled`, false);
      throw new NodeError('network', `http '${ctx.nodeId}': ${(err as Error).message}`, true);
    }
    const text = await readCapped(res, HTTP_RESPONSE_MAX_BYTES, ctx.nodeId, url.host);
    let parsed: unknown = text;
    if ((res.headers.get('content-type') ?? '').includes('json')) {
      try {
        parsed = JSON.parse(text);
      } catch {
        // keep the text
      }
    }
    const output = { status: res.status, headers: Object.fromEntries(res.headers), body: parsed };
    if (res.status === 429)
      throw new NodeError('http_429', `http '${ctx.nodeId}': 429 from ${url.host}`, true, { retryAfter: res.headers.get('retry-after') });
    if (res.status >= 500) throw new NodeError('http_5xx', `http '${ctx.nodeId}': ${res.status} from ${url.host}`, true);
    if (res.status >= 400)
      throw new NodeError('http_4xx', `http '${ctx.nodeId}': ${res.status} from ${url.host}`, false, { body: text.slice(0, 500) });
    return { status: 'succeeded', output };
  },
});

/**
 * The body as text, reading no more than `max` bytes: a declared or actual length past it cancels the
 * stream (the connection is dropped, the rest never buffered) and fails the node.
 */
async function readCapped(res: Response, max: number, nodeId: string, host: string): Promise<string> {
  const tooLarge = (seen: string) =>
    new NodeError('limit', `http '${nodeId}': the response from ${host} is larger than ${max} bytes (${seen})`, false, {
      limit: 'http_response_bytes',
      max,
      status: res.status,
    });
  const declared = Number(res.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > max) {
    await res.body?.cancel();
    throw tooLarge(`content-length ${declared}`);
  }
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      await reader.cancel().catch(() => undefined);
      throw tooLarge(`stopped reading after ${size} bytes`);
    }
    chunks.push(value);
  }
  const all = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    all.set(c, at);
    at += c.byteLength;
  }
  return new TextDecoder().decode(all);
}

function parseUrl(raw: string, nodeId: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new NodeError('expression', `http '${nodeId}': '${raw.slice(0, 200)}' is not a URL`, false);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new NodeError('forbidden', `http '${nodeId}': only http(s) URLs`, false);
  return url;
}

/** `example.com` allows that host; `*.example.com` its subdomains; `*` anything (not recommended). */
export function hostAllowed(host: string, allow: string[]): boolean {
  const h = host.toLowerCase();
  return allow.some((a) => {
    const p = a.toLowerCase();
    if (p === '*') return true;
    if (p.startsWith('*.')) return h.endsWith(p.slice(1));
    return h === p;
  });
}
