/** Requests to the Worker under test from inside workerd (its real fetch handler), and their answers. */
import { exports } from 'cloudflare:workers';
import { expect } from 'vitest';

export const BASE = 'https://api.test';

let ipCounter = 0;
/** A distinct client IP per caller, so per-IP login throttling never couples tests. */
export function freshIp(): string {
  ipCounter += 1;
  return `198.51.${(ipCounter >> 8) & 255}.${ipCounter & 255}`;
}

export interface CallOptions {
  method?: string;
  body?: unknown;
  rawBody?: string;
  token?: string;
  headers?: Record<string, string>;
  ip?: string;
}

/** One request through the Worker's fetch handler; `body` is sent as JSON, the method defaults to GET/POST. */
export async function call(path: string, opts: CallOptions = {}): Promise<Response> {
  const headers: Record<string, string> = { 'cf-connecting-ip': opts.ip ?? freshIp(), ...opts.headers };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  let body: string | undefined;
  if (opts.rawBody !== undefined) body = opts.rawBody;
  else if (opts.body !== undefined) {
    body = JSON.stringify(opts.body);
    headers['content-type'] ??= 'application/json';
  }
  return exports.default.fetch(new Request(BASE + path, { method: opts.method ?? (body ? 'POST' : 'GET'), headers, body }));
}

/** `fetch`-shaped access to the Worker, for transport-agnostic helpers (test/support/shared/tenants.ts). */
export function fetchWorker(path: string, init?: RequestInit): Promise<Response> {
  const headers = new Headers(init?.headers);
  if (!headers.has('cf-connecting-ip')) headers.set('cf-connecting-ip', freshIp());
  return exports.default.fetch(new Request(BASE + path, { ...init, headers }));
}

export async function json<T = Record<string, any>>(res: Response): Promise<T> {
  return (await res.json()) as T;
}

/** Asserts the status (showing the body when it differs) and returns the JSON body ({} when empty). */
export async function expectJson<T = Record<string, any>>(res: Response, status = 200): Promise<T> {
  const text = await res.text();
  expect({ status: res.status, body: text.slice(0, 400) }).toMatchObject({ status });
  return (text ? JSON.parse(text) : {}) as T;
}

export const PROBLEM_JSON = /^application\/problem\+json/;

/** Asserts a problem+json response with `status` (and no stack trace) and returns its body. */
export async function expectProblem(res: Response, status: number): Promise<Record<string, any>> {
  const text = await res.text();
  expect({ status: res.status, body: text.slice(0, 300) }).toMatchObject({ status });
  expect(res.headers.get('content-type') ?? '').toMatch(PROBLEM_JSON);
  const body = JSON.parse(text) as Record<string, any>;
  expect(body.status).toBe(status);
  expect(typeof body.type).toBe('string');
  expect(typeof body.detail).toBe('string');
  expect(text).not.toMatch(/\bat .+:\d+:\d+/); // never a stack trace
  return body;
}
