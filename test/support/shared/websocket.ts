/**
 * The one WebSocket test client: an accepted socket with an ordered inbox. Works over a Workers
 * `Response.webSocket` (workerd, test/support/workers/websocket.ts) and over Miniflare's fetch in
 * Node (test/support/node/worker.ts): both hand back a socket with `accept()` and events.
 */

const DEFAULT_TIMEOUT_MS = 5_000;

/** A connected client WebSocket with an ordered inbox. `S` is the underlying socket type. */
export interface TestWebSocket<S = unknown> {
  /** The underlying socket (already accepted). */
  readonly socket: S;
  /** Response headers of the 101 upgrade. */
  readonly headers: Headers;
  /** Sends a string or binary frame as is; any other value as JSON. */
  send(data: unknown): void;
  /** The next unread message; rejects on timeout or when the socket closes first. */
  next(timeoutMs?: number): Promise<string | ArrayBuffer>;
  /** `next()` parsed as JSON. */
  nextJson<T = Record<string, any>>(timeoutMs?: number): Promise<T>;
  /** Messages received and not yet read by `next()`. */
  readonly pending: ReadonlyArray<string | ArrayBuffer>;
  /** Settles when the server or client closes the socket. */
  readonly closed: Promise<{ code: number; reason: string }>;
  /** Closes from the client side and waits for the close to complete (or 1 s). */
  close(code?: number, reason?: string): Promise<void>;
}

/** Thrown when an upgrade is answered with anything but 101. */
export class WebSocketUpgradeError extends Error {
  constructor(
    readonly status: number,
    readonly headers: Headers,
    readonly body: string,
  ) {
    super(`WebSocket upgrade refused with HTTP ${status}: ${body.slice(0, 500)}`);
    this.name = 'WebSocketUpgradeError';
  }
}

/** What both runtimes' client sockets offer (typed loosely: their event typings differ). */
interface AcceptableSocket {
  readonly readyState: number;
  accept(): void;
  send(data: string | ArrayBuffer | Uint8Array): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: string, listener: (event: any) => void): void;
}

/** Accepts `socket` and wraps it; see `TestWebSocket`. */
export function wrapSocket<S extends object>(socket: S, headers: Headers, defaultTimeoutMs = DEFAULT_TIMEOUT_MS): TestWebSocket<S> {
  const ws = socket as unknown as AcceptableSocket;
  const inbox: Array<string | ArrayBuffer> = [];
  const waiters: Array<{ resolve(m: string | ArrayBuffer): void; reject(e: Error): void }> = [];
  let closeInfo: { code: number; reason: string } | undefined;
  let resolveClosed!: (v: { code: number; reason: string }) => void;
  const closed = new Promise<{ code: number; reason: string }>((r) => (resolveClosed = r));

  const finish = (code: number, reason: string) => {
    if (closeInfo) return;
    closeInfo = { code, reason };
    for (const w of waiters.splice(0)) w.reject(new Error(`WebSocket closed (${code} ${reason}) before a message arrived`));
    resolveClosed(closeInfo);
  };
  ws.addEventListener('message', (event: { data: string | ArrayBuffer | Uint8Array }) => {
    const data = event.data;
    const message =
      data instanceof Uint8Array ? (data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) as ArrayBuffer) : data;
    const waiter = waiters.shift();
    if (waiter) waiter.resolve(message);
    else inbox.push(message);
  });
  ws.addEventListener('close', (event: { code: number; reason: string }) => finish(event.code, event.reason));
  ws.addEventListener('error', (event: { error?: { message?: string } }) => finish(1006, event.error?.message ?? 'error'));
  ws.accept();

  const next = (timeoutMs = defaultTimeoutMs) => {
    const queued = inbox.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    if (closeInfo) return Promise.reject(new Error(`WebSocket closed (${closeInfo.code} ${closeInfo.reason})`));
    return new Promise<string | ArrayBuffer>((resolve, reject) => {
      const waiter = {
        resolve: (m: string | ArrayBuffer) => {
          clearTimeout(timer);
          resolve(m);
        },
        reject: (e: Error) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      const timer = setTimeout(() => {
        waiters.splice(waiters.indexOf(waiter), 1);
        reject(new Error(`no WebSocket message within ${timeoutMs} ms`));
      }, timeoutMs);
      waiters.push(waiter);
    });
  };

  return {
    socket,
    headers,
    closed,
    get pending() {
      return inbox;
    },
    send(data) {
      if (typeof data === 'string' || data instanceof ArrayBuffer || data instanceof Uint8Array) ws.send(data);
      else ws.send(JSON.stringify(data));
    },
    next,
    async nextJson<T>(timeoutMs?: number) {
      const message = await next(timeoutMs);
      return JSON.parse(typeof message === 'string' ? message : new TextDecoder().decode(message)) as T;
    },
    async close(code = 1000, reason = '') {
      try {
        if (!closeInfo && ws.readyState <= 1) ws.close(code, reason);
      } catch {
        // already closing
      }
      await Promise.race([closed, new Promise((r) => setTimeout(r, 1_000))]);
      finish(code, reason);
    },
  };
}
