/**
 * Coalesces a node's streamed text deltas (LLM tokens) into one `node.delta`
 * event per 50 ms or 256 characters, whichever comes first, so a long answer
 * is hundreds of events rather than one per token. The first text after a quiet
 * spell of 50 ms is written at once (time to first token is what a reader waits
 * for; the rate stays at about one event per 50 ms). Other deltas (a failover
 * `reset`) flush the text before them and keep their place in the stream.
 */
export const DELTA_FLUSH_MS = 50;
export const DELTA_FLUSH_CHARS = 256;

type Write = (nodeId: string, delta: unknown) => void;

function textOnly(d: unknown): d is { text: string } {
  return typeof d === 'object' && d !== null && Object.keys(d).length === 1 && typeof (d as { text?: unknown }).text === 'string';
}

export class DeltaCoalescer {
  #pending = new Map<string, { text: string; timer: ReturnType<typeof setTimeout> }>();
  /** When each node's text was last written. */
  #written = new Map<string, number>();

  constructor(
    private readonly write: Write,
    private readonly clock: () => number = Date.now,
  ) {}

  push(nodeId: string, delta: unknown): void {
    if (!textOnly(delta)) {
      this.flush(nodeId);
      this.write(nodeId, delta);
      return;
    }
    const p = this.#pending.get(nodeId);
    if (p) p.text += delta.text;
    else {
      const quiet = this.clock() - (this.#written.get(nodeId) ?? Number.NEGATIVE_INFINITY);
      if (quiet >= DELTA_FLUSH_MS) {
        this.#emit(nodeId, delta.text);
        return;
      }
      this.#pending.set(nodeId, { text: delta.text, timer: setTimeout(() => this.flush(nodeId), DELTA_FLUSH_MS - quiet) });
    }
    if (this.#pending.get(nodeId)!.text.length >= DELTA_FLUSH_CHARS) this.flush(nodeId);
  }

  #emit(nodeId: string, text: string): void {
    this.#written.set(nodeId, this.clock());
    if (text) this.write(nodeId, { text });
  }

  /** Writes the node's buffered text now (call before recording the attempt's outcome). */
  flush(nodeId: string): void {
    const p = this.#pending.get(nodeId);
    if (!p) return;
    clearTimeout(p.timer);
    this.#pending.delete(nodeId);
    this.#emit(nodeId, p.text);
  }
}
