#!/usr/bin/env node
/**
 * Seeds the demo tenant through the public API (the real sign-up and API-key
 * code paths, no SQL). Idempotent: an existing demo user logs in instead, and
 * the API key saved in `.wrangler/demo-credentials.json` is reused while it
 * still authenticates for the demo tenant.
 *
 * Library: `seedDemo({ baseUrl })`, used by `npm start`.
 * CLI (against a running `npm start`/`wrangler dev`): `node scripts/seed.mjs [baseUrl]`.
 */
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

export const DEMO = Object.freeze({
  email: 'demo@edgecrew.local',
  // Not the brief's 'demo-password-2026!': sign-up rejects passwords containing the email's local part ("demo").
  password: 'edgecrew-local-2026!',
  name: 'Demo Admin',
  tenantName: 'Demo Tenant',
  apiKeyName: 'demo',
});
export const CREDENTIALS_PATH = resolve(ROOT, '.wrangler', 'demo-credentials.json');

export class SeedError extends Error {
  constructor(message, hint) {
    super(message);
    this.name = 'SeedError';
    this.hint = hint;
  }
}

async function call(baseUrl, method, path, { token, body } = {}) {
  const headers = { accept: 'application/json', 'cf-connecting-ip': '127.0.0.1' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (token) headers.authorization = `Bearer ${token}`;
  let res;
  try {
    res = await fetch(new URL(path, baseUrl), {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    });
  } catch (err) {
    throw new SeedError(`${method} ${path} failed: ${err.cause?.message ?? err.message}`);
  }
  const text = await res.text();
  let json;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: res.status, json, text };
}

function describe(method, path, res) {
  const p = res.json;
  const detail = p && typeof p === 'object' ? [p.title, p.detail].filter(Boolean).join(': ') : res.text.slice(0, 300);
  return `${method} ${path} answered ${res.status}${detail ? ` (${detail})` : ''}`;
}

const RATE_LIMIT_HINT = 'Sign-up and login allow 10 attempts a minute per IP; wait a minute (or restart `npm start`) and try again.';

/** Signs the demo user up, or logs in if it already exists. */
async function signupOrLogin(baseUrl) {
  const signup = await call(baseUrl, 'POST', '/v1/auth/signup', {
    body: { email: DEMO.email, password: DEMO.password, name: DEMO.name, tenantName: DEMO.tenantName },
  });
  if (signup.status === 201) return { ...signup.json, created: true };
  if (signup.status === 429) throw new SeedError(describe('POST', '/v1/auth/signup', signup), RATE_LIMIT_HINT);
  if (signup.status !== 409) throw new SeedError(describe('POST', '/v1/auth/signup', signup));

  const login = await call(baseUrl, 'POST', '/v1/auth/login', { body: { email: DEMO.email, password: DEMO.password } });
  if (login.status === 200) return { ...login.json, created: false };
  if (login.status === 429) throw new SeedError(describe('POST', '/v1/auth/login', login), RATE_LIMIT_HINT);
  if (login.status === 401) {
    throw new SeedError(
      `${DEMO.email} exists but its password is no longer the demo password.`,
      'Reset local data with `rm -rf .wrangler/state` (this deletes the local database), or run `npm start -- --no-seed`.',
    );
  }
  throw new SeedError(describe('POST', '/v1/auth/login', login));
}

function readSaved(path) {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    return undefined;
  }
}

function save(path, data) {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${JSON.stringify(data, null, 2)}\n`, { mode: 0o600 });
  chmodSync(path, 0o600);
}

/**
 * Returns `{ email, password, userId, tenantId, tenantName, apiKey, apiKeyId,
 * userCreated, apiKeyCreated }`. Throws SeedError (with an optional `hint`).
 */
export async function seedDemo({ baseUrl, credentialsPath = CREDENTIALS_PATH, log = () => {} }) {
  const auth = await signupOrLogin(baseUrl);
  const tenantId = auth.tenant?.id;
  if (!tenantId || !auth.accessToken) throw new SeedError('Sign-in answered without a tenant or access token.');
  log(auth.created ? `signed up ${DEMO.email} (tenant ${tenantId})` : `${DEMO.email} already exists; logged in (tenant ${tenantId})`);

  const saved = readSaved(credentialsPath);
  if (typeof saved?.apiKey === 'string' && saved.apiKey) {
    const me = await call(baseUrl, 'GET', '/v1/me', { token: saved.apiKey });
    if (me.status === 200 && me.json?.tenant?.id === tenantId) {
      log(`reusing the API key saved in ${credentialsPath}`);
      const out = { ...saved, email: DEMO.email, password: DEMO.password, userId: auth.user.id, tenantId, tenantName: auth.tenant.name };
      if (JSON.stringify(out) !== JSON.stringify(saved)) save(credentialsPath, out);
      return { ...out, userCreated: auth.created, apiKeyCreated: false };
    }
    log(
      me.status === 200
        ? 'the saved API key belongs to another tenant; creating a new one'
        : `the saved API key no longer works (${describe('GET', '/v1/me', me)}); creating a new one`,
    );
  }

  const created = await call(baseUrl, 'POST', '/v1/api-keys', { token: auth.accessToken, body: { name: DEMO.apiKeyName, role: 'admin' } });
  if (created.status !== 201 || typeof created.json?.key !== 'string') throw new SeedError(describe('POST', '/v1/api-keys', created));
  log(`created API key ${created.json.id}`);
  const out = {
    email: DEMO.email,
    password: DEMO.password,
    userId: auth.user.id,
    tenantId,
    tenantName: auth.tenant.name,
    apiKeyId: created.json.id,
    apiKey: created.json.key,
    savedAt: new Date().toISOString(),
  };
  save(credentialsPath, out);
  return { ...out, userCreated: auth.created, apiKeyCreated: true };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const baseUrl = process.argv[2] ?? `http://127.0.0.1:${process.env.PORT || 8787}`;
  try {
    const out = await seedDemo({ baseUrl, log: (m) => console.error(`[seed] ${m}`) });
    console.log(JSON.stringify(out, null, 2));
  } catch (err) {
    console.error(`[seed] ${err.message}${err.hint ? `\n[seed] ${err.hint}` : ''}`);
    process.exit(1);
  }
}
