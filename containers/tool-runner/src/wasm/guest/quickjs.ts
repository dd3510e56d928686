/**
 * One JavaScript invocation on QuickJS (compiled to WebAssembly), in its own
 * process started by the runner's warm pool: load the engine, say ready, wait
 * for exactly one job, run it in a fresh runtime with the job's memory limit,
 * answer and exit. The tool sees only QuickJS's built-ins plus prelude.js.
 *
 *   node --permission … quickjs.ts <quickjs-emscripten-core entry> <variant entry>
 */
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import type { QuickJSContext, QuickJSHandle } from 'quickjs-emscripten-core';
import { FD, fetchBridge, lockDown, readJob, sendResult, signalReady, writeAll } from './channel.ts';

const TOOL = '/opt/edgecrew/tool/main.mjs';
/** QuickJS's native stack for the tool (its own limit; a deep recursion is an InternalError, not a crash). */
const MAX_STACK_BYTES = 1024 * 1024;

/** An exception thrown inside QuickJS, as plain data. */
class GuestError extends Error {
  readonly detail: { name: string; message: string; stack?: string };
  constructor(detail: { name: string; message: string; stack?: string }) {
    super(detail.message);
    this.detail = detail;
  }
}

const [coreEntry, variantEntry] = process.argv.slice(2);
if (!coreEntry || !variantEntry) throw new Error('usage: quickjs.ts <quickjs-emscripten-core entry> <variant entry>');

const core = (await import(pathToFileURL(coreEntry).href)) as typeof import('quickjs-emscripten-core');
const variant = (await import(pathToFileURL(variantEntry).href)) as { default: Parameters<typeof core.newQuickJSWASMModuleFromVariant>[0] };
const quickjs = await core.newQuickJSWASMModuleFromVariant(variant.default);
const prelude = readFileSync(new URL('./prelude.js', import.meta.url), 'utf8');
const bridge = fetchBridge();
let network: 'none' | 'allow' = 'none';

// A fresh runtime and context, set up in the warm pool (not on the tool's clock); used for this one job only.
lockDown();
const runtime = quickjs.newRuntime();
runtime.setMaxStackSize(MAX_STACK_BYTES);
const ctx = runtime.newContext();
installHost(ctx);
unwrap(ctx.evalCode(prelude, 'edgecrew:prelude'));

signalReady();
const job = readJob();
network = job.network;
runtime.setMemoryLimit(job.memoryMb * 1024 * 1024);

try {
  const ns = await settle(unwrap(ctx.evalCode(job.code, TOOL, { type: 'module' })));
  const run = ctx.getProp(ctx.global, '__edgecrew_run');
  const input = ctx.newString(JSON.stringify(job.input ?? null));
  const message = await settle(unwrap(ctx.callFunction(run, ctx.undefined, ns, input)));
  sendResult(ctx.getString(message));
} catch (err) {
  if (!(err instanceof GuestError)) throw err;
  const { name, message, stack } = err.detail;
  writeAll(FD.stderr, `${`${name}: ${message}\n${stack ?? ''}`.trimEnd()}\n`);
  const oom =
    /out of memory/i.test(message) || (name === 'RangeError' && /allocat|Invalid (typed )?array length|Array buffer/i.test(message));
  sendResult({ ok: false, error: { type: oom ? 'memory_limit' : 'exception', message: `${name}: ${message}` } });
}

function unwrap(result: { error?: QuickJSHandle; value?: QuickJSHandle }): QuickJSHandle {
  if (result.error) {
    const dumped = ctx.dump(result.error) as unknown;
    result.error.dispose();
    const d = (typeof dumped === 'object' && dumped !== null ? dumped : { name: 'Error', message: String(dumped) }) as Record<
      string,
      unknown
    >;
    throw new GuestError({
      name: String(d.name ?? 'Error'),
      message: String(d.message ?? dumped),
      stack: typeof d.stack === 'string' ? d.stack : undefined,
    });
  }
  return result.value!;
}

/** The value, or what the promise settles to (running QuickJS's job queue meanwhile). */
async function settle(handle: QuickJSHandle): Promise<QuickJSHandle> {
  const state = ctx.getPromiseState(handle);
  if (state.type === 'fulfilled' && state.notAPromise) return handle;
  const settled = ctx.resolvePromise(handle);
  pump();
  return unwrap(await settled);
}

function pump(): void {
  const r = runtime.executePendingJobs();
  if (r.error) {
    // An unhandled rejection inside a job: surfaced when the awaited promise settles; nothing to do here.
    r.error.dispose();
  }
}

function installHost(c: QuickJSContext): void {
  const host = c.newObject();
  c.setProp(
    host,
    'write',
    c.newFunction('write', (fd, text) => {
      writeAll(c.getNumber(fd) === 2 ? FD.stderr : FD.stdout, c.getString(text));
    }),
  );
  c.setProp(
    host,
    'exit',
    c.newFunction('exit', (code) => {
      process.exit(c.getNumber(code));
    }),
  );
  c.setProp(
    host,
    'sleep',
    c.newFunction('sleep', (ms) => {
      const deferred = c.newPromise();
      setTimeout(
        () => {
          deferred.resolve();
          deferred.dispose();
          pump();
        },
        Math.min(c.getNumber(ms), 2 ** 31 - 1),
      );
      return deferred.handle;
    }),
  );
  c.setProp(
    host,
    'fetch',
    c.newFunction('fetch', (reqJson) => {
      const deferred = c.newPromise();
      const req = JSON.parse(c.getString(reqJson)) as { url: string; method: string; headers: Record<string, string>; body: string | null };
      const reply =
        network === 'none'
          ? Promise.resolve({ ok: false as const, error: "network is 'none' for this tool" })
          : bridge({ ...req, body: req.body === null ? null : Buffer.from(req.body, 'utf8').toString('base64') });
      void reply.then((r) => {
        const text = r.ok ? JSON.stringify({ ...r, body: Buffer.from(r.body, 'base64').toString('utf8') }) : JSON.stringify(r);
        const handle = c.newString(text);
        deferred.resolve(handle);
        handle.dispose();
        deferred.dispose();
        pump();
      });
      return deferred.handle;
    }),
  );
  c.setProp(c.global, '__host', host);
  host.dispose();
}
