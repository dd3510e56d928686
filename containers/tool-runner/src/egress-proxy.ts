/**
 * The only way out of a sandbox with `network: { allow: [...] }`: an HTTP proxy
 * on a unix socket bound into that sandbox (whose own network namespace has
 * nothing but loopback). It serves `CONNECT host:port` (HTTPS) and absolute-URI
 * plain-HTTP requests to allowed hosts only, resolves names itself, and refuses
 * loopback, private and link-local addresses unless configured for tests.
 */
import { lookup } from 'node:dns/promises';
import { BlockList, connect, createServer, isIP, type Server, type Socket } from 'node:net';

const MAX_HEAD_BYTES = 16 * 1024;
const MAX_CONNECTIONS = 32;
const CONNECT_TIMEOUT_MS = 10_000;

/** Addresses a tool may never reach through the proxy (the runner itself, the container's neighbours, metadata services). */
const PRIVATE = new BlockList();
for (const [net, bits] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.168.0.0', 16],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const) {
  PRIVATE.addSubnet(net, bits, 'ipv4');
}
for (const [net, bits] of [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
  ['::ffff:0:0', 96],
] as const) {
  PRIVATE.addSubnet(net, bits, 'ipv6');
}

export interface AllowRule {
  host: string;
  wildcard: boolean;
  port: number | null;
}

export function parseAllowList(hosts: string[]): AllowRule[] {
  return hosts.map((entry) => {
    const [name, port] = entry.toLowerCase().split(':') as [string, string | undefined];
    const wildcard = name.startsWith('*.');
    return { host: wildcard ? name.slice(2) : name, wildcard, port: port ? Number(port) : null };
  });
}

/** Whether `host:port` is allowed. Without an explicit port a rule allows 80 and 443. */
export function isAllowed(rules: AllowRule[], host: string, port: number): boolean {
  const h = host.toLowerCase().replace(/\.$/, '');
  return rules.some((r) => {
    const nameOk = r.wildcard ? h.endsWith(`.${r.host}`) : h === r.host;
    const portOk = r.port === null ? port === 80 || port === 443 : port === r.port;
    return nameOk && portOk;
  });
}

export interface EgressProxy {
  /** Bytes relayed in both directions. */
  readonly bytes: () => number;
  /** Stops accepting and cuts every open tunnel. */
  close(): Promise<void>;
}

interface Target {
  host: string;
  port: number;
}

function parseTarget(head: string): { target: Target; connect: boolean; rest: string } | null {
  const [requestLine = '', ...headerLines] = head.split('\r\n');
  const m = /^([A-Z]+) (\S+) HTTP\/1\.[01]$/.exec(requestLine);
  if (!m) return null;
  const [, method, uri] = m as unknown as [string, string, string];
  if (method === 'CONNECT') {
    const hp = /^\[?([^\]]+?)\]?:(\d{1,5})$/.exec(uri);
    return hp ? { target: { host: hp[1]!, port: Number(hp[2]) }, connect: true, rest: '' } : null;
  }
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return null;
  }
  if (url.protocol !== 'http:') return null;
  // Re-issue as an origin-form request on a connection used once.
  const headers = headerLines.filter((l) => l && !/^(proxy-connection|proxy-authorization|connection|keep-alive):/i.test(l));
  const rest = [`${method} ${url.pathname}${url.search} HTTP/1.1`, ...headers, 'Connection: close', '', ''].join('\r\n');
  return { target: { host: url.hostname.replace(/^\[|\]$/g, ''), port: Number(url.port || 80) }, connect: false, rest };
}

async function resolve(host: string, allowPrivate: boolean): Promise<string> {
  const family = isIP(host);
  const address = family ? host : (await lookup(host, { verbatim: true })).address;
  const kind = isIP(address) === 6 ? 'ipv6' : 'ipv4';
  if (!allowPrivate && PRIVATE.check(address, kind)) throw new Error(`${host} resolves to a private address`);
  return address;
}

function refuse(socket: Socket, status: string, reason: string): void {
  socket.end(
    `HTTP/1.1 ${status}\r\ncontent-type: text/plain\r\nconnection: close\r\ncontent-length: ${Buffer.byteLength(reason)}\r\n\r\n${reason}`,
  );
}

/** Starts a proxy for one invocation on `socketPath`, enforcing `hosts`. */
export async function startEgressProxy(
  socketPath: string,
  hosts: string[],
  opts: { allowPrivate: boolean },
): Promise<{ proxy: EgressProxy; server: Server }> {
  const rules = parseAllowList(hosts);
  const open = new Set<Socket>();
  let relayed = 0;

  const server = createServer((client) => {
    if (open.size >= MAX_CONNECTIONS) return void client.destroy();
    open.add(client);
    client.on('close', () => open.delete(client));
    client.on('error', () => client.destroy());
    let head = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) {
        if (head.length > MAX_HEAD_BYTES) refuse(client, '431 Request Header Fields Too Large', 'request head too large');
        return;
      }
      client.off('data', onData);
      client.pause();
      void forward(client, head.subarray(0, end).toString('latin1'), head.subarray(end + 4));
    };
    client.on('data', onData);
  });

  async function forward(client: Socket, head: string, body: Buffer): Promise<void> {
    const parsed = parseTarget(head);
    if (!parsed) return refuse(client, '400 Bad Request', 'expected CONNECT host:port or an absolute http:// URI');
    const { target } = parsed;
    if (!isAllowed(rules, target.host, target.port))
      return refuse(client, '403 Forbidden', `egress to ${target.host}:${target.port} is not in this tool's allow-list`);
    let address: string;
    try {
      address = await resolve(target.host, opts.allowPrivate);
    } catch (err) {
      return refuse(client, '403 Forbidden', (err as Error).message);
    }
    const upstream = connect({ host: address, port: target.port, timeout: CONNECT_TIMEOUT_MS });
    open.add(upstream);
    upstream.on('close', () => open.delete(upstream));
    upstream.on('timeout', () => upstream.destroy());
    let connected = false;
    upstream.on('error', () => (connected ? client.destroy() : refuse(client, '502 Bad Gateway', 'upstream unreachable')));
    upstream.once('connect', () => {
      connected = true;
      upstream.setTimeout(0);
      if (parsed.connect) client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      else upstream.write(parsed.rest);
      if (body.length > 0) upstream.write(body);
      client.on('data', (c: Buffer) => (relayed += c.length));
      upstream.on('data', (c: Buffer) => (relayed += c.length));
      client.pipe(upstream).pipe(client);
      client.resume();
    });
    client.on('close', () => upstream.destroy());
  }

  await new Promise<void>((ok, fail) => server.once('error', fail).listen(socketPath, ok));
  return {
    server,
    proxy: {
      bytes: () => relayed,
      close: () =>
        new Promise<void>((ok) => {
          for (const s of open) s.destroy();
          server.close(() => ok());
        }),
    },
  };
}
