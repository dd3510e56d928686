/**
 * Loopback ports held from the moment vitest.config.ts names them.
 *
 * The Worker's bindings (TOOL_RUNNER_URL, EMAIL_HTTP_URL) must name a port when the config is read, but the
 * servers behind them start later, in globalSetup. A port found free and then released can be taken by any
 * other listener in between (CI saw the tool runner fail with EADDRINUSE that way). So the config holds a
 * listening socket on the port for the whole run and forwards each connection to wherever the real server
 * ends up listening; a connection that arrives before the server is known waits for it.
 *
 * The config and globalSetup are loaded by different module loaders in the same process, so the held ports
 * are kept on globalThis, by name.
 */
import { createConnection, createServer, type Socket } from 'node:net';

export interface HeldPort {
  readonly port: number;
  /** Sends this and every later connection to 127.0.0.1:`port`. */
  forwardTo(port: number): void;
  close(): Promise<void>;
}

const REGISTRY = Symbol.for('edgecrew.test.heldPorts');

function registry(): Map<string, HeldPort> {
  const g = globalThis as { [REGISTRY]?: Map<string, HeldPort> };
  g[REGISTRY] ??= new Map();
  return g[REGISTRY];
}

/** The port held under `name`, held now if it is not yet (a config read twice keeps the first). */
export async function holdPort(name: string): Promise<HeldPort> {
  const existing = registry().get(name);
  if (existing) return existing;
  let target: number | null = null;
  const waiting: Socket[] = [];
  const open = new Set<Socket>();
  const track = (socket: Socket) => {
    open.add(socket);
    socket.once('close', () => open.delete(socket));
  };
  const forward = (client: Socket, port: number) => {
    const upstream = createConnection({ host: '127.0.0.1', port, allowHalfOpen: true });
    track(upstream);
    client.pipe(upstream).pipe(client);
    const drop = () => {
      client.destroy();
      upstream.destroy();
    };
    client.once('error', drop).once('close', drop);
    upstream.once('error', drop).once('close', drop);
  };
  const server = createServer({ allowHalfOpen: true, pauseOnConnect: true }, (client) => {
    track(client);
    if (target === null) waiting.push(client);
    else forward(client, target);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (typeof address !== 'object' || !address) throw new Error(`could not hold a port for ${name}`);
  const held: HeldPort = {
    port: address.port,
    forwardTo(port) {
      target = port;
      for (const client of waiting.splice(0)) forward(client, port);
    },
    async close() {
      registry().delete(name);
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of open) socket.destroy();
      await closed;
    },
  };
  registry().set(name, held);
  return held;
}

/** The port held under `name` by this process, if any. */
export function heldPort(name: string): HeldPort | undefined {
  return registry().get(name);
}
