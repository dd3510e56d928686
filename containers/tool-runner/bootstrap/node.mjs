// Runs inside the sandbox before the tool. Protocol: the tool's module exports
// `main(input)` (named or default, may be async); this reads the input as JSON from
// stdin, calls it, and writes exactly one JSON message on fd 3, then exits:
//   { "ok": true, "output": <value> }  or  { "ok": false, "error": { "type", "message" } }
// stdout and stderr stay the tool's own (returned to the caller as excerpts).
import { readFileSync, writeSync } from 'node:fs';
import net from 'node:net';

const RESULT_FD = 3;
const TOOL = '/opt/edgecrew/tool/main.mjs';

/**
 * Resolves once everything written to stdout and stderr has reached the pipes. Node
 * queues pipe writes it cannot finish at once, and process.exit() drops that queue:
 * without this a tool printing megabytes looked as if it had printed a few hundred KB,
 * and escaped the output cap.
 */
function flushed(stream) {
  return new Promise((resolve) => {
    if (stream.destroyed || !stream.writable) return resolve();
    stream.write('', () => resolve());
  });
}

async function send(message) {
  await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
  let text;
  try {
    text = JSON.stringify(message);
  } catch (err) {
    text = JSON.stringify({
      ok: false,
      error: { type: 'invalid_output', message: `main() returned a value that is not JSON: ${err.message}` },
    });
  }
  const bytes = Buffer.from(text, 'utf8');
  for (let off = 0; off < bytes.length; ) off += writeSync(RESULT_FD, bytes, off);
  // Timers or sockets the tool left open must not keep the sandbox alive.
  process.exit(0);
}

function isOutOfMemory(err) {
  return err instanceof RangeError && /allocat|Invalid (typed )?array length|Array buffer|out of memory/i.test(err.message);
}

/** With an allow-list, HTTP(S)_PROXY points here; the bridge forwards to the runner's proxy socket. */
async function startEgressBridge(socketPath) {
  const server = net.createServer((client) => {
    const upstream = net.connect(socketPath);
    client.pipe(upstream).pipe(client);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
  });
  server.unref();
  await new Promise((resolve, reject) => server.once('error', reject).listen(3128, '127.0.0.1', resolve));
}

try {
  if (process.env.EDGECREW_EGRESS_SOCKET) await startEgressBridge(process.env.EDGECREW_EGRESS_SOCKET);
  // The tool's top-level code runs before stdin is read: a tool that blocks here never reads it.
  const mod = await import(TOOL);
  const main = typeof mod.main === 'function' ? mod.main : mod.default;
  if (typeof main !== 'function') {
    await send({
      ok: false,
      error: { type: 'exception', message: 'The tool must export a function main(input) (named export `main` or the default export).' },
    });
  }
  const input = JSON.parse(readFileSync(0, 'utf8'));
  const output = await main(input);
  if (typeof output === 'function' || typeof output === 'symbol' || typeof output === 'bigint') {
    await send({ ok: false, error: { type: 'invalid_output', message: `main() returned a ${typeof output}, which is not JSON.` } });
  }
  await send({ ok: true, output: output === undefined ? null : output });
} catch (err) {
  process.stderr.write(`${err?.stack ?? String(err)}\n`);
  const message = `${err?.name ?? 'Error'}: ${err?.message ?? String(err)}`;
  await send({ ok: false, error: { type: isOutOfMemory(err) ? 'memory_limit' : 'exception', message } });
}
