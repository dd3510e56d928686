// The held ports vitest.config.ts names in the Worker's bindings (test/support/node/held-port.ts): a
// connection made before the real server is known waits for it, later ones go straight through, bodies
// cross intact both ways, a client that half-closes still gets its answer, a dead server drops the client,
// and closing frees the port and drops open connections. That the config's hold and the global setup
// share one registry across vitest's two module loaders is checked by every workers run: without it the
// tool runner would try to listen on the held port itself and fail with EADDRINUSE.
import { createServer, type Server } from 'node:http';
import { createConnection, createServer as createTcpServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { heldPort, holdPort, holdPortIn, namedPort } from '../support/node/held-port';

const servers: Array<{ close(cb: () => void): unknown }> = [];
afterEach(async () => {
  await (await heldPort('e2e-held'))?.close();
  await Promise.all(servers.splice(0).map((s) => new Promise<void>((r) => s.close(() => r()))));
});

async function listen(server: Server | ReturnType<typeof createTcpServer>): Promise<number> {
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as { port: number }).port;
}

function echoServer(): Promise<number> {
  return listen(
    createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => res.writeHead(200, { 'content-type': 'text/plain' }).end(`${req.method} ${req.url} ${Buffer.concat(chunks)}`));
    }),
  );
}

describe('a held port', () => {
  it('keeps the port listening and forwards to the server once it is known, early connections included', async () => {
    const held = await holdPort('e2e-held');
    expect(await holdPort('e2e-held')).toBe(held);
    expect(await heldPort('e2e-held')).toBe(held);
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

  it('lets a client half-close and still read the whole answer', async () => {
    // A server that answers only after the client's end: the answer must cross the held port after that FIN.
    const upstream = createTcpServer({ allowHalfOpen: true }, (socket) => {
      const chunks: Buffer[] = [];
      socket.on('data', (c: Buffer) => chunks.push(c));
      socket.on('end', () => socket.end(`got ${Buffer.concat(chunks).length} bytes`));
    });
    const held = await holdPort('e2e-held');
    held.forwardTo(await listen(upstream));
    const client = createConnection({ host: '127.0.0.1', port: held.port, allowHalfOpen: true });
    const answer = new Promise<string>((resolve, reject) => {
      const chunks: Buffer[] = [];
      client.on('data', (c: Buffer) => chunks.push(c));
      client.on('end', () => resolve(Buffer.concat(chunks).toString()));
      client.on('error', reject);
    });
    client.end('y'.repeat(100_000));
    expect(await answer).toBe('got 100000 bytes');
    client.destroy();
  });

  it('drops the client when the server behind it is gone, and goes on serving', async () => {
    const gone = await listen(createTcpServer());
    await new Promise<void>((r) => servers.pop()?.close(() => r()));
    const held = await holdPort('e2e-held');
    held.forwardTo(gone);
    await expect(fetch(`http://127.0.0.1:${held.port}/`)).rejects.toThrow();
    held.forwardTo(await echoServer());
    expect(await (await fetch(`http://127.0.0.1:${held.port}/again`)).text()).toBe('GET /again ');
  });

  it('closes: the name is free again, the port refuses, open connections are dropped, a second close frees nothing else', async () => {
    const held = await holdPort('e2e-held');
    held.forwardTo(await echoServer());
    const idle = createConnection({ host: '127.0.0.1', port: held.port });
    await new Promise((r) => idle.once('connect', r));
    const dropped = new Promise((r) => idle.once('close', r));
    await held.close();
    await dropped;
    expect(await heldPort('e2e-held')).toBeUndefined();
    await expect(fetch(`http://127.0.0.1:${held.port}/`)).rejects.toThrow();
    // Closing the old hold again leaves a newer hold of the same name in place.
    const newer = await holdPort('e2e-held');
    await held.close();
    expect(await heldPort('e2e-held')).toBe(newer);
    await newer.close();
  });

  it('names the held port in a variable unless it was set from outside; the server behind it listens accordingly', async () => {
    const variable = 'EDGECREW_E2E_HELD_PORT';
    process.env[variable] = '1';
    try {
      // Set from outside: nothing is held, and the server is to listen on that port itself.
      await holdPortIn(variable, 'e2e-held');
      expect(process.env[variable]).toBe('1');
      expect(await heldPort('e2e-held')).toBeUndefined();
      expect((await namedPort(variable, 'e2e-held')).listen).toBe(1);
      // Unset: held here, and the server listens anywhere behind the held port, which forwards to it.
      delete process.env[variable];
      await holdPortIn(variable, 'e2e-held');
      const first = await heldPort('e2e-held');
      expect(process.env[variable]).toBe(String(first?.port));
      await holdPortIn(variable, 'e2e-held');
      expect(await heldPort('e2e-held')).toBe(first);
      const named = await namedPort(variable, 'e2e-held');
      expect(named.listen).toBe(0);
      named.forwardTo(await echoServer());
      expect(await (await fetch(`http://127.0.0.1:${process.env[variable]}/named`)).text()).toBe('GET /named ');
      // Read again after a teardown (watch mode): held anew, not taken for a port set from outside.
      await named.close();
      await holdPortIn(variable, 'e2e-held');
      const again = await heldPort('e2e-held');
      expect(again).toBeDefined();
      expect(again).not.toBe(first);
      expect(process.env[variable]).toBe(String(again?.port));
      expect((await namedPort(variable, 'e2e-held')).listen).toBe(0);
    } finally {
      delete process.env[variable];
    }
  });
});
