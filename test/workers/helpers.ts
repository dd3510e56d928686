/** Request helpers for tests that drive the Worker inside workerd. Every test seeds its own tenant. */
import { exports } from 'cloudflare:workers';

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

export async function json<T = Record<string, any>>(res: Response): Promise<T> {
  return (await res.json()) as T;
}

let seq = 0;
export function uniqueEmail(tag = 'user'): string {
  seq += 1;
  return `${tag}-${Date.now().toString(36)}-${seq}-${Math.random().toString(36).slice(2, 6)}@example.com`;
}

export const PASSWORD = 'Sturdy-Passw0rd-for-tests';

export interface TestTenant {
  tenantId: string;
  userId: string;
  email: string;
  accessToken: string;
  refreshToken: string;
}

export async function signup(tag = 'owner'): Promise<TestTenant> {
  const email = uniqueEmail(tag);
  const res = await call('/v1/auth/signup', { body: { email, password: PASSWORD, name: `Owner ${tag}`, tenantName: `Tenant ${tag}` } });
  if (res.status !== 201) throw new Error(`signup failed: ${res.status} ${await res.text()}`);
  const body = await json(res);
  return { tenantId: body.tenant.id, userId: body.user.id, email, accessToken: body.accessToken, refreshToken: body.refreshToken };
}

/** Invites `email` with `role` into `owner`'s tenant and accepts as a new account; returns its session. */
export async function addMember(owner: TestTenant, role: 'admin' | 'member' | 'viewer', tag = role): Promise<TestTenant> {
  const email = uniqueEmail(tag);
  const inv = await call('/v1/invitations', { token: owner.accessToken, body: { email, role } });
  if (inv.status !== 201) throw new Error(`invite failed: ${inv.status} ${await inv.text()}`);
  const { token } = await json(inv);
  const acc = await call('/v1/invitations/accept', { body: { token, password: PASSWORD, name: `Member ${tag}` } });
  if (acc.status !== 200) throw new Error(`accept failed: ${acc.status} ${await acc.text()}`);
  const body = await json(acc);
  return { tenantId: body.tenant.id, userId: body.user.id, email, accessToken: body.accessToken, refreshToken: body.refreshToken };
}

export async function createApiKey(
  owner: TestTenant,
  role: 'admin' | 'member' | 'viewer' = 'member',
): Promise<{ id: string; key: string }> {
  const res = await call('/v1/api-keys', { token: owner.accessToken, body: { name: `key-${role}`, role } });
  if (res.status !== 201) throw new Error(`api key failed: ${res.status} ${await res.text()}`);
  const body = await json(res);
  return { id: body.id, key: body.key };
}
