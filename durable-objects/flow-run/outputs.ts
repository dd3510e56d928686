/**
 * Parsed node outputs, kept by the FlowRun instance: the scope of every node launch holds every node's
 * output, and re-parsing each (up to 1 MiB from an http node) per launch made a wide run quadratic.
 * An entry is used only while the node's stored output is the text it was parsed from, so any write of
 * the output (success, resume, rerun reuse) replaces it; the object keeps no cache across evictions.
 * Expressions copy what they return (src/flows/expressions.ts), so no node output aliases an entry.
 */
import type { EvalScope } from '../../src/flows/nodes/types';
import type { NodeRow } from './store';

export class NodeOutputs {
  #parsed = new Map<string, { raw: string; value: unknown }>();
  /** JSON.parse calls made (tests count them). */
  parses = 0;

  /** The scope's `nodes`: each node's status and parsed output. */
  scope(rows: Pick<NodeRow, 'id' | 'status' | 'output'>[]): EvalScope['nodes'] {
    const out: EvalScope['nodes'] = {};
    for (const r of rows) out[r.id] = { status: r.status, output: this.#value(r.id, r.output) };
    return out;
  }

  #value(id: string, raw: string | null): unknown {
    if (raw === null) {
      this.#parsed.delete(id);
      return null;
    }
    const hit = this.#parsed.get(id);
    if (hit && hit.raw === raw) return hit.value;
    this.parses++;
    const value: unknown = JSON.parse(raw);
    this.#parsed.set(id, { raw, value });
    return value;
  }

  /** Forgets everything (the run's storage was deleted). */
  clear(): void {
    this.#parsed.clear();
  }
}
