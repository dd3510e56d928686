// The held ports vitest.config.ts names in the Worker's bindings (test/support/node/held-port.ts): a
// connection made before the real server is known waits for it, later ones go straight through, bodies
// cross intact both ways, and closing frees the port and drops open connections.
import { createServer, type Server } from 'node:http';
import { createConnection } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { heldPort, holdPort } from '../support/node/held-port';

const servers: Server[] = [];
afterEach(async () => {
  await heldPort('e2e-held')?.close();
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

async function echoServer(): Promise<number> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => res.writeHead(200, { 'content-type': 'text/plain' }).end(`${req.method} ${req.url} ${Buffer.concat(chunks)}`));
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as { port: number }).port;
}

describe('a held port', () => {
  it('keeps the port listening and forwards to the server once it is known, early connections included', async () => {
    const held = await holdPort('e2e-held');
    expect(await holdPort('e2e-held')).toBe(held);
    expect(heldPort('e2e-held')?.port).toBe(held.port);
    let early = false;
    const before = fetch(`http://127.0.0.1:${held.port}/early`, { method: 'POST', body: 'first' }).then(async (r) => {
      early = true;
      return r.text();
    });
    await new Promise((r) => setTimeout(r, 200));
    expect(early).toBe(false);
    held.forwardTo(await echoServer());
    expect(await before).toBe('POST /early first');
    const big = 'x'.repeat(1 << 20);
    expect(await (await fetch(`http://127.0.0.1:${held.port}/big`, { method: 'POST', body: big })).text()).toBe(`POST /big ${big}`);
  });

  it('closes: the name is free again, the port refuses, open connections are dropped', async () => {
    const held = await holdPort('e2e-held');
    held.forwardTo(await echoServer());
    const idle = createConnection({ host: '127.0.0.1', port: held.port });
    await new Promise((r) => idle.once('connect', r));
    const dropped = new Promise((r) => idle.once('close', r));
    await held.close();
    await dropped;
    expect(heldPort('e2e-held')).toBeUndefined();
    await expect(fetch(`http://127.0.0.1:${held.port}/`)).rejects.toThrow();
  });
});
