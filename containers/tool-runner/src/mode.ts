/**
 * Picks the runner's isolation mode once, at start: bubblewrap where this
 * machine lets it create a sandbox (probed, not assumed), WebAssembly
 * otherwise; TOOL_SANDBOX forces either.
 */
import { spawnSync } from 'node:child_process';
import type { RunnerConfig, SandboxMode } from './config.ts';
import { selfTestArgs } from './sandbox.ts';

export type ModeChoice = { ok: true; mode: SandboxMode; reason: string } | { ok: false; message: string };

/** Runs the bubblewrap self-test; null when it created a sandbox, otherwise why not. */
export function probeBwrap(cfg: RunnerConfig): string | null {
  if (cfg.unavailable.length > 0) return cfg.unavailable.join('; ');
  const asRoot = process.getuid?.() === 0;
  const probe = spawnSync(cfg.bwrap, selfTestArgs(), {
    env: {},
    timeout: 10_000,
    encoding: 'utf8',
    ...(asRoot ? { uid: cfg.sandboxUid, gid: cfg.sandboxGid } : {}),
  });
  if (probe.status === 0) return null;
  return (
    `bubblewrap cannot create a sandbox here (exit ${probe.status ?? probe.signal}): ${(probe.stderr || probe.error?.message || '').trim()}. ` +
    'Unprivileged user namespaces must be allowed (sysctl kernel.unprivileged_userns_clone=1 / user.max_user_namespaces > 0, no seccomp filter on clone/unshare).'
  );
}

export function chooseMode(cfg: RunnerConfig, probe: (cfg: RunnerConfig) => string | null = probeBwrap): ModeChoice {
  if (cfg.sandbox === 'wasm') return { ok: true, mode: 'wasm', reason: 'TOOL_SANDBOX=wasm' };
  const failure = probe(cfg);
  if (cfg.sandbox === 'bwrap') {
    return failure === null
      ? { ok: true, mode: 'bwrap', reason: 'TOOL_SANDBOX=bwrap' }
      : { ok: false, message: `TOOL_SANDBOX=bwrap, but ${failure}` };
  }
  return failure === null
    ? { ok: true, mode: 'bwrap', reason: 'bubblewrap can create sandboxes here' }
    : { ok: true, mode: 'wasm', reason: `bubblewrap is unavailable (${failure})` };
}
