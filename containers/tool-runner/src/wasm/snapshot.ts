/**
 * The Pyodide memory snapshot guests start from: made once per runner start by
 * a guest of its own (a pristine interpreter, before any tool code exists),
 * kept in a private temporary directory the sandbox uid may read, removed at exit.
 */

import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import type { RunnerConfig } from '../config.ts';
import { type guestEntries, spawnGuest } from './guest-process.ts';

const MAX_SNAPSHOT_BYTES = 512 * 1024 * 1024;

export function makePythonSnapshot(cfg: RunnerConfig, entries: ReturnType<typeof guestEntries>): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawnGuest(cfg, 'python3', entries, { makeSnapshot: true });
    const stdio = child.stdio as unknown as Readable[];
    const chunks: Buffer[] = [];
    const errors: Buffer[] = [];
    let size = 0;
    stdio[3]!.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_SNAPSHOT_BYTES) child.kill('SIGKILL');
      else chunks.push(c);
    });
    stdio[2]!.on('data', (c: Buffer) => errors.push(c));
    stdio[1]!.resume();
    child.once('error', reject);
    child.once('close', (code, signal) => {
      if (code !== 0 || size === 0 || size > MAX_SNAPSHOT_BYTES) {
        return reject(
          new Error(`snapshot guest ended ${signal ?? `with code ${code}`}: ${Buffer.concat(errors).toString('utf8').trim().slice(-500)}`),
        );
      }
      const dir = mkdtempSync(path.join(tmpdir(), 'edgecrew-pyodide-'));
      const file = path.join(dir, 'snapshot.bin');
      writeFileSync(file, Buffer.concat(chunks), { mode: 0o644 });
      // Guests run as the sandbox uid when the runner is root: they must be able to read it (and only read it).
      chmodSync(dir, 0o755);
      process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
      resolve(file);
    });
  });
}
