/**
 * Coalesces a node's streamed text deltas (LLM tokens) into one `node.delta`
 * event per 50 ms or 256 characters, whichever comes first, so a long answer
 * is hundreds of events rather than one per token. Other deltas (a failover
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

  constructor(private readonly write: Write) {}

  push(nodeId: string, delta: unknown): void {
    if (!textOnly(delta)) {
      this.flush(nodeId);
      this.write(nodeId, delta);
      return;
    }
    const p = this.#pending.get(nodeId);
    if (p) p.text += delta.text;
    else this.#pending.set(nodeId, { text: delta.text, timer: setTimeout(() => this.flush(nodeId), DELTA_FLUSH_MS) });
    if (this.#pending.get(nodeId)!.text.length >= DELTA_FLUSH_CHARS) this.flush(nodeId);
  }

  /** Writes the node's buffered text now (call before recording the attempt's outcome). */
  flush(nodeId: string): void {
    const p = this.#pending.get(nodeId);
    if (!p) return;
    clearTimeout(p.timer);
    this.#pending.delete(nodeId);
    if (p.text) this.write(nodeId, { text: p.text });
  }
}
