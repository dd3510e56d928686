/** Bounded reading of a child's pipes: keep a prefix, count everything, report when a cap is passed. */
import type { Readable } from 'node:stream';
import { classify, type RunFacts } from './classify.ts';
import type { RunnerConfig } from './config.ts';
import type { InvocationResult } from './protocol.ts';

export class Capture {
  readonly #chunks: Buffer[] = [];
  #kept = 0;
  total = 0;
  overflowed = false;

  /**
   * @param keep bytes retained (the excerpt or the whole result)
   * @param cap bytes after which `onOverflow` fires once (the stream is then drained and discarded)
   */
  constructor(stream: Readable, keep: number, cap: number, onOverflow: () => void) {
    stream.on('data', (chunk: Buffer) => {
      this.total += chunk.length;
      if (this.#kept < keep) {
        const part = chunk.subarray(0, keep - this.#kept);
        this.#chunks.push(part);
        this.#kept += part.length;
      }
      if (!this.overflowed && this.total > cap) {
        this.overflowed = true;
        onOverflow();
      }
    });
    // A killed child can leave the pipe in an error state; what was read is still valid.
    stream.on('error', () => undefined);
  }

  buffer(): Buffer {
    return Buffer.concat(this.#chunks);
  }

  /** The kept bytes as UTF-8, marking truncation; a split multi-byte character becomes U+FFFD. */
  text(): string {
    const s = this.buffer().toString('utf8');
    return this.total > this.#kept ? `${s}\n…[${this.total - this.#kept} more bytes]` : s;
  }
}

/** The excerpt of a capture returned to the caller, marking what was cut. */
export function excerpt(c: Capture, bytes: number): string {
  const buf = c.buffer();
  if (buf.length <= bytes && c.total === buf.length) return buf.toString('utf8');
  return `${buf.subarray(0, bytes).toString('utf8')}\n…[${c.total - Math.min(bytes, buf.length)} more bytes]`;
}

type Stream = 'stdout' | 'stderr' | 'result';

/**
 * The three channels every sandbox reads the same way (both isolation modes): stdout and stderr
 * bounded by the log cap, the result by the output cap. The first stream over its cap kills the
 * run and is remembered as the overflow.
 */
export class RunCaptures {
  readonly stdout: Capture;
  readonly stderr: Capture;
  readonly result: Capture;
  overflow: Stream | null = null;

  constructor(pipes: { stdout: Readable; stderr: Readable; result: Readable }, cfg: RunnerConfig, kill: () => void) {
    const overflowed = (which: Stream) => () => {
      this.overflow ??= which;
      kill();
    };
    this.stdout = new Capture(pipes.stdout, cfg.excerptBytes, cfg.maxLogBytes, overflowed('stdout'));
    // The full stderr prefix is kept for classification; only an excerpt is returned.
    this.stderr = new Capture(pipes.stderr, Math.max(cfg.excerptBytes, 16 * 1024), cfg.maxLogBytes, overflowed('stderr'));
    this.result = new Capture(pipes.result, cfg.maxOutputBytes, cfg.maxOutputBytes, overflowed('result'));
  }

  /** Classifies the run from what the supervisor observed plus what was read, into the wire result. */
  settle(
    facts: Pick<RunFacts, 'timedOut' | 'memoryExceeded' | 'timeoutMs' | 'spawnError' | 'sandboxStarted' | 'exitCode' | 'memoryMb'>,
    cfg: RunnerConfig,
    started: number,
  ): InvocationResult {
    const outcome = classify({
      ...facts,
      overflow: this.overflow,
      maxLogBytes: cfg.maxLogBytes,
      maxOutputBytes: cfg.maxOutputBytes,
      result: this.result.buffer(),
      stderr: this.stderr.buffer().toString('utf8'),
    });
    const common = {
      durationMs: Math.round(performance.now() - started),
      stdout: this.stdout.text(),
      stderr: excerpt(this.stderr, cfg.excerptBytes),
      stdoutBytes: this.stdout.total,
      stderrBytes: this.stderr.total,
    };
    return outcome.ok
      ? { ok: true, output: outcome.output, outputBytes: outcome.outputBytes, ...common }
      : { ok: false, error: { type: outcome.type, message: outcome.message }, ...common };
  }
}
