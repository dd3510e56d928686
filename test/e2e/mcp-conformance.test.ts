/**
 * The official MCP conformance suite (`@modelcontextprotocol/conformance`, server scenarios) against
 * the bundled Worker's /mcp, with the committed expected-failures baseline
 * (test/e2e/mcp-conformance/expected-failures.yml; each entry says why). The CLI exits non-zero on a
 * failure not in the baseline and on a baseline entry that now passes, so the baseline only shrinks.
 *
 * The CLI's client sends no credentials (it has no header option), so it talks to a loopback proxy
 * that adds `Authorization: Bearer <credential>` of a test tenant and forwards everything else as is
 * (Origin included, so the DNS-rebinding scenario still reaches the Worker's Origin check). The suite
 * runs twice: with an API key, and with an OAuth access token from the consent flow (all scopes), so
 * the OAuth path (scopes checked before the MCP server) passes the same scenarios.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api } from '../support/node/api';
import { oauthClient, registerClient } from '../support/node/oauth';
import { PROJECT_ROOT, type RunningWorker, startWorker } from '../support/node/worker';
import { signupWith } from '../support/shared/tenants';

const CLI = path.join(PROJECT_ROOT, 'node_modules/@modelcontextprotocol/conformance/dist/index.js');
const BASELINE = path.join(PROJECT_ROOT, 'test/e2e/mcp-conformance/expected-failures.yml');
const HOP_BY_HOP = new Set(['host', 'connection', 'content-length', 'transfer-encoding', 'keep-alive', 'authorization']);

let worker: RunningWorker;
let proxy: Server;
let proxyUrl: string;
/** What the proxy presents, per run. */
const credentials: Record<'apiKey' | 'oauth', string> = { apiKey: '', oauth: '' };
let credential = '';

async function body(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

beforeAll(async () => {
  worker = await startWorker({ echoLogs: 'none' });
  const owner = await signupWith((p, init) => worker.fetch(p, init), 'e2e-mcp-conformance', { 'cf-connecting-ip': '10.19.0.1' });
  const key = await api(worker, 'POST', '/v1/api-keys', owner.accessToken, { name: 'conformance', role: 'member' });
  expect(key.status).toBe(201);
  credentials.apiKey = key.body.key as string;
  const redirectUri = 'http://127.0.0.1:9/callback';
  const oauth = oauthClient(worker, { clientId: await registerClient(worker, redirectUri), redirectUri });
  credentials.oauth = (await oauth.authorize(owner, 'tasks:read tasks:write flows:run tools:invoke')).access_token;
  proxy = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    try {
      const headers = new Headers();
      for (const [name, value] of Object.entries(req.headers)) {
        if (value === undefined || HOP_BY_HOP.has(name)) continue;
        headers.set(name, Array.isArray(value) ? value.join(', ') : value);
      }
      headers.set('authorization', `Bearer ${credential}`);
      const payload = req.method === 'GET' || req.method === 'HEAD' ? undefined : new Uint8Array(await body(req));
      const upstream = await worker.fetch(req.url ?? '/mcp', { method: req.method, headers, body: payload });
      const out: Record<string, string> = {};
      upstream.headers.forEach((value, name) => {
        if (!HOP_BY_HOP.has(name) && name !== 'content-encoding') out[name] = value;
      });
      res.writeHead(upstream.status, out);
      res.end(Buffer.from(await upstream.arrayBuffer()));
    } catch (err) {
      res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(String(err));
    }
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}/mcp`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => (proxy ? proxy.close(() => resolve()) : resolve()));
  await worker?.dispose();
});

function runCli(args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: PROJECT_ROOT, env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' } });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
}

describe('MCP conformance (official suite)', () => {
  it.each([
    ['an API key', 'apiKey'],
    ['an OAuth access token', 'oauth'],
  ] as const)(
    'with %s: passes every server scenario except the justified baseline, and the baseline is not stale',
    async (_name, which) => {
      credential = credentials[which];
      expect(credential).not.toBe('');
      const out = await mkdtemp(path.join(tmpdir(), 'mcp-conformance-'));
      try {
        const { code, output } = await runCli(['server', '--url', proxyUrl, '--expected-failures', BASELINE, '-o', out]);
        if (code !== 0) console.log(output);
        expect(code).toBe(0);
      } finally {
        await rm(out, { recursive: true, force: true });
      }
    },
    300_000,
  );
});
