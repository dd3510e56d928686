/** The tenant factory inside workerd: fresh tenants, members and API keys through the public API. */
import { PASSWORD, sessionOf, signupWith, type TestTenant, uniqueEmail } from '../shared/tenants';
import { call, fetchWorker, json } from './http';

export { PASSWORD, type TestTenant, uniqueEmail };

export type Role = 'admin' | 'member' | 'viewer';

/** A new tenant and its owner's session. */
export function signup(tag = 'owner'): Promise<TestTenant> {
  return signupWith(fetchWorker, tag);
}

/** Invites a new account with `role` into `owner`'s tenant and accepts; returns its session. */
export async function addMember(owner: TestTenant, role: Role, tag: string = role): Promise<TestTenant> {
  const email = uniqueEmail(tag);
  const inv = await call('/v1/invitations', { token: owner.accessToken, body: { email, role } });
  if (inv.status !== 201) throw new Error(`invite failed: ${inv.status} ${await inv.text()}`);
  const { token } = await json(inv);
  const acc = await call('/v1/invitations/accept', { body: { token, password: PASSWORD, name: `Member ${tag}` } });
  if (acc.status !== 200) throw new Error(`accept failed: ${acc.status} ${await acc.text()}`);
  return sessionOf(await json(acc), email);
}

/** An API key of `owner`'s tenant with `role`. */
export async function createApiKey(owner: TestTenant, role: Role = 'member'): Promise<{ id: string; key: string }> {
  const res = await call('/v1/api-keys', { token: owner.accessToken, body: { name: `key-${role}`, role } });
  if (res.status !== 201) throw new Error(`api key failed: ${res.status} ${await res.text()}`);
  const body = await json(res);
  return { id: body.id, key: body.key };
}
