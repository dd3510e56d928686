// Evaluated inside QuickJS before the tool (quickjs.ts): the small host API a
// JavaScript tool gets in wasm mode. `__host` is the only door out: write to
// stdout/stderr, exit, sleep, and fetch through the runner's egress proxy.
// It is removed from the global scope once captured here.
(() => {
  const host = globalThis.__host;
  delete globalThis.__host;

  const show = (v) => {
    if (typeof v === 'string') return v;
    if (typeof v === 'function') return `[Function: ${v.name || '(anonymous)'}]`;
    if (v instanceof Error) return v.stack ? `${v.name}: ${v.message}\n${v.stack}` : `${v.name}: ${v.message}`;
    if (typeof v === 'object' && v !== null) {
      try {
        return JSON.stringify(v);
      } catch {
        return String(v);
      }
    }
    return String(v);
  };
  const line =
    (fd) =>
    (...args) =>
      host.write(fd, `${args.map(show).join(' ')}\n`);
  globalThis.console = Object.freeze({ log: line(1), info: line(1), debug: line(1), warn: line(2), error: line(2), trace: line(2) });

  globalThis.process = Object.freeze({ env: Object.freeze({}), argv: Object.freeze([]), exit: (code) => host.exit(Number(code ?? 0) | 0) });

  const timers = new Set();
  let timerSeq = 0;
  globalThis.setTimeout = (fn, ms, ...args) => {
    const id = ++timerSeq;
    timers.add(id);
    host.sleep(Number(ms) || 0).then(() => {
      if (timers.delete(id)) fn(...args);
    });
    return id;
  };
  globalThis.clearTimeout = (id) => void timers.delete(id);
  globalThis.setInterval = (fn, ms, ...args) => {
    const id = ++timerSeq;
    timers.add(id);
    const tick = () =>
      host.sleep(Math.max(1, Number(ms) || 0)).then(() => {
        if (!timers.has(id)) return;
        fn(...args);
        tick();
      });
    tick();
    return id;
  };
  globalThis.clearInterval = globalThis.clearTimeout;
  globalThis.queueMicrotask = (fn) => void Promise.resolve().then(fn);

  class Headers {
    #map = new Map();
    constructor(init) {
      const entries = init == null ? [] : init instanceof Headers ? init.entries() : Array.isArray(init) ? init : Object.entries(init);
      for (const [k, v] of entries) this.#map.set(String(k).toLowerCase(), String(v));
    }
    get(k) {
      return this.#map.get(String(k).toLowerCase()) ?? null;
    }
    has(k) {
      return this.#map.has(String(k).toLowerCase());
    }
    set(k, v) {
      this.#map.set(String(k).toLowerCase(), String(v));
    }
    entries() {
      return this.#map.entries();
    }
    forEach(fn) {
      for (const [k, v] of this.#map) fn(v, k, this);
    }
    [Symbol.iterator]() {
      return this.#map.entries();
    }
  }
  class Response {
    #body;
    constructor(reply) {
      this.status = reply.status;
      this.statusText = reply.statusText;
      this.ok = reply.status >= 200 && reply.status < 300;
      this.headers = new Headers(reply.headers);
      this.#body = reply.body;
    }
    async text() {
      return this.#body;
    }
    async json() {
      return JSON.parse(this.#body);
    }
  }
  globalThis.Headers = Headers;
  globalThis.Response = Response;
  globalThis.fetch = async (input, init = {}) => {
    const url = typeof input === 'object' && input !== null && 'url' in input ? input.url : input;
    const headers = Object.fromEntries(new Headers(init.headers).entries());
    const req = {
      url: String(url),
      method: String(init.method ?? 'GET').toUpperCase(),
      headers,
      body: init.body == null ? null : String(init.body),
    };
    const reply = JSON.parse(await host.fetch(JSON.stringify(req)));
    if (!reply.ok) throw new TypeError('fetch failed', { cause: new Error(reply.error) });
    return new Response(reply);
  };

  // Called by the host with the tool module's namespace; resolves to the result message (JSON text).
  globalThis.__edgecrew_run = async (ns, inputJson) => {
    delete globalThis.__edgecrew_run;
    const main = typeof ns.main === 'function' ? ns.main : ns.default;
    if (typeof main !== 'function') {
      return JSON.stringify({
        ok: false,
        error: { type: 'exception', message: 'The tool must export a function main(input) (named export `main` or the default export).' },
      });
    }
    const output = await main(JSON.parse(inputJson));
    if (typeof output === 'function' || typeof output === 'symbol' || typeof output === 'bigint') {
      return JSON.stringify({
        ok: false,
        error: { type: 'invalid_output', message: `main() returned a ${typeof output}, which is not JSON.` },
      });
    }
    try {
      return JSON.stringify({ ok: true, output: output === undefined ? null : output });
    } catch (err) {
      return JSON.stringify({
        ok: false,
        error: { type: 'invalid_output', message: `main() returned a value that is not JSON: ${err.message}` },
      });
    }
  };
})();
