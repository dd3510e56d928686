/**
 * Baseline of `npm run bench:knowledge`: brute-force cosine over int8 vectors in a bare Durable
 * Object, nothing else (no auth, no D1, no SQL, no FTS, no RPC layer, no embedding). It holds as many
 * vectors of the same dimensions as the knowledge base being measured (seeded pseudo-random: brute
 * force costs the same whatever the values) and answers the best `k`, as KnowledgeShard's loop does.
 */
import { DurableObject } from 'cloudflare:workers';

export class BareVectors extends DurableObject {
  q = new Int8Array(0);
  scales = new Float32Array(0);
  dims = 0;
  n = 0;

  async fetch(request) {
    const url = new URL(request.url);
    if (url.pathname === '/load') {
      const n = Number(url.searchParams.get('n'));
      const dims = Number(url.searchParams.get('dims'));
      let seed = 16;
      const rand = () => {
        seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
        return (seed >>> 8) / 16777216 - 0.5;
      };
      this.q = new Int8Array(n * dims);
      for (let i = 0; i < this.q.length; i++) this.q[i] = Math.round(rand() * 254);
      this.scales = new Float32Array(n).fill(1 / (127 * Math.sqrt(dims)));
      this.n = n;
      this.dims = dims;
      return new Response('loaded');
    }
    const k = Number(url.searchParams.get('k') ?? 10);
    const query = new Float32Array(this.dims);
    for (let i = 0; i < this.dims; i++) query[i] = Math.sin(i + Number(url.searchParams.get('s') ?? 1));
    const top = [];
    for (let i = 0; i < this.n; i++) {
      let dot = 0;
      const off = i * this.dims;
      for (let d = 0; d < this.dims; d++) dot += query[d] * this.q[off + d];
      const score = dot * this.scales[i];
      if (top.length < k || score > top[top.length - 1].score) {
        top.push({ i, score });
        top.sort((a, b) => b.score - a.score);
        if (top.length > k) top.pop();
      }
    }
    return Response.json(top);
  }
}

export default {
  fetch(request, env) {
    return env.VEC.get(env.VEC.idFromName('bench')).fetch(request);
  },
};
