/** Bounded reading of a child's pipes: keep a prefix, count everything, report when a cap is passed. */
import type { Readable } from 'node:stream';

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
