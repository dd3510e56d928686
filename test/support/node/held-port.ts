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
  /** Frees the port and drops open connections; a second call waits for the first (and frees nothing else). */
  close(): Promise<void>;
}

interface Registry {
  /** Holds under way or made, by name (a promise, so two callers at once share one). */
  holding: Map<string, Promise<HeldPort>>;
  /** `VARIABLE=port` pairs that holdPortIn set (a variable set from outside is left alone). */
  setHere: Set<string>;
}

const REGISTRY = Symbol.for('edgecrew.test.heldPorts');

function registry(): Registry {
  const g = globalThis as { [REGISTRY]?: Registry };
  g[REGISTRY] ??= { holding: new Map(), setHere: new Set() };
  return g[REGISTRY];
}

/** The port held under `name`, held now if it is not yet (a config read twice keeps the first). */
export function holdPort(name: string): Promise<HeldPort> {
  const { holding } = registry();
  let hold = holding.get(name);
  if (!hold) {
    hold = startHolding(name);
    holding.set(name, hold);
    hold.catch(() => holding.delete(name));
  }
  return hold;
}

/** The port held under `name` by this process, if any. */
export function heldPort(name: string): Promise<HeldPort | undefined> {
  return registry().holding.get(name) ?? Promise.resolve(undefined);
}

/**
 * For vitest.config.ts: sets `process.env[variable]` to the port held under `name`, unless the variable
 * was set from outside. A config read again after a teardown (watch mode) holds anew.
 */
export async function holdPortIn(variable: string, name: string): Promise<void> {
  const { setHere } = registry();
  const current = process.env[variable];
  if (current !== undefined && !setHere.has(`${variable}=${current}`)) return;
  const held = await holdPort(name);
  process.env[variable] = String(held.port);
  setHere.add(`${variable}=${held.port}`);
}

/** Where the server behind a port the config named should listen, and how to join the two. */
export interface NamedPort {
  /** 0 (any free port) when the named port is held, else the named port itself. */
  listen: number;
  /** Tells the held port where the server listens (nothing to do when the server took the named port). */
  forwardTo(port: number): void;
  close(): Promise<void>;
}

/**
 * For the global setup: the server named by `process.env[variable]` listens on a port of its own and the
 * held port forwards to it when holdPortIn set the variable; otherwise (set from outside, or unset) it
 * listens on the named port itself.
 */
export async function namedPort(variable: string, name: string): Promise<NamedPort> {
  const named = process.env[variable];
  const held = registry().setHere.has(`${variable}=${named}`) ? await heldPort(name) : undefined;
  if (held && String(held.port) === named) return { listen: 0, forwardTo: (port) => held.forwardTo(port), close: () => held.close() };
  return { listen: Number(named ?? 0), forwardTo: () => {}, close: async () => {} };
}

async function startHolding(name: string): Promise<HeldPort> {
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
    // A clean end travels through the pipes (each side ends the other once its reads are done, and
    // what is still queued is flushed first); an error on either side drops both.
    client.pipe(upstream).pipe(client);
    const drop = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', drop).once('close', (hadError) => hadError && drop());
    upstream.on('error', drop).once('close', (hadError) => hadError && drop());
  };
  const server = createServer({ allowHalfOpen: true, pauseOnConnect: true }, (client) => {
    track(client);
    client.on('error', () => client.destroy());
    if (target === null) waiting.push(client);
    else forward(client, target);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  // A run that ends without its teardown (a global setup that threw) is not kept alive by the hold.
  server.unref();
  const address = server.address();
  if (typeof address !== 'object' || !address) throw new Error(`could not hold a port for ${name}`);
  let closing: Promise<void> | null = null;
  const held: HeldPort = {
    port: address.port,
    forwardTo(port) {
      target = port;
      for (const client of waiting.splice(0)) if (!client.destroyed) forward(client, port);
    },
    close() {
      if (!closing) {
        // Forgotten once only: by a second call the name may already hold another port.
        registry().holding.delete(name);
        closing = new Promise<void>((resolve) => server.close(() => resolve()));
        for (const socket of open) socket.destroy();
      }
      return closing;
    },
  };
  return held;
}
