/**
 * The one tenant factory: sign up a fresh tenant through the public API. Transport-agnostic: the
 * workerd kit passes `SELF`-style fetch (test/support/workers/tenants.ts), the Node kit a running
 * Worker's (test/support/node/api.ts).
 */

/** Fetches `path` (e.g. `/v1/me`) on the Worker under test. */
export type Fetcher = (path: string, init?: RequestInit) => Promise<Response>;

export const PASSWORD = 'Sturdy-Passw0rd-for-tests';

/** A signed-in owner of a fresh tenant (or a member of one). */
export interface TestTenant {
  tenantId: string;
  userId: string;
  email: string;
  accessToken: string;
  refreshToken: string;
}

let seq = 0;
/** An email address no other test uses. */
export function uniqueEmail(tag = 'user'): string {
  seq += 1;
  return `${tag}-${Date.now().toString(36)}-${seq}-${Math.random().toString(36).slice(2, 6)}@example.com`;
}

/** The session part of a signup/login/accept answer. */
export function sessionOf(body: Record<string, any>, email: string): TestTenant {
  return { tenantId: body.tenant.id, userId: body.user.id, email, accessToken: body.accessToken, refreshToken: body.refreshToken };
}

/** Signs up a new tenant (owner `tag`) over `fetcher`; throws with the answer when it is not 201. */
export async function signupWith(fetcher: Fetcher, tag = 'owner', headers: Record<string, string> = {}): Promise<TestTenant> {
  const email = uniqueEmail(tag);
  const res = await fetcher('/v1/auth/signup', {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ email, password: PASSWORD, name: `Owner ${tag}`, tenantName: `Tenant ${tag}` }),
  });
  if (res.status !== 201) throw new Error(`signup failed: ${res.status} ${await res.text()}`);
  return sessionOf((await res.json()) as Record<string, any>, email);
}
