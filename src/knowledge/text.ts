/**
 * Pure rules of knowledge bases (no I/O): turning an upload into plain text,
 * cutting it into chunks, making any user text a safe FTS5 query, int8
 * quantization and cosine over it, and reciprocal rank fusion. docs/knowledge.md.
 */

export type ContentType = 'text' | 'markdown' | 'html' | 'json';

/** Plain text of an upload. Markdown stays as written (its words are the content); HTML loses tags, scripts and styles; JSON becomes `path: value` lines. */
export function extractText(content: string, type: ContentType): string {
  if (type === 'html') {
    return decodeEntities(
      content
        .replace(/<(script|style|template)\b[\s\S]*?<\/\1\s*>/gi, ' ')
        .replace(/<!--[\s\S]*?-->/g, ' ')
        .replace(/<\/(p|div|h[1-6]|li|tr|br|section|article)\s*>|<br\s*\/?>/gi, '\n')
        .replace(/<[^>]*>/g, ' '),
    )
      .replace(/[ \t]+/g, ' ')
      .replace(/\n\s*\n+/g, '\n\n')
      .trim();
  }
  if (type === 'json') {
    const lines: string[] = [];
    const walk = (v: unknown, path: string) => {
      if (v === null || typeof v !== 'object') {
        lines.push(path ? `${path}: ${String(v)}` : String(v));
        return;
      }
      if (Array.isArray(v)) {
        v.forEach((x, i) => {
          walk(x, `${path}[${i}]`);
        });
      } else for (const [k, x] of Object.entries(v)) walk(x, path ? `${path}.${k}` : k);
    };
    walk(JSON.parse(content), '');
    return lines.join('\n');
  }
  return content.trim();
}

function decodeEntities(s: string): string {
  const named: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ' };
  return s.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (m, e: string) => {
    if (e[0] === '#') {
      const code = e[1] === 'x' || e[1] === 'X' ? Number.parseInt(e.slice(2), 16) : Number.parseInt(e.slice(1), 10);
      return code > 0 && code < 0x110000 ? String.fromCodePoint(code) : m;
    }
    return named[e.toLowerCase()] ?? m;
  });
}

/**
 * Chunks of about `maxTokens` tokens with `overlap` tokens repeated between neighbours.
 * A token is counted as one whitespace-separated word (close enough for English prose and
 * stable across embedders); chunk boundaries prefer paragraph ends inside the last quarter.
 */
export function chunkText(text: string, maxTokens: number, overlap: number): string[] {
  const words = text.split(/(?<=\s)/).filter((w) => w.trim() !== '');
  if (words.length === 0) return [];
  const out: string[] = [];
  let start = 0;
  while (start < words.length) {
    let end = Math.min(words.length, start + maxTokens);
    if (end < words.length) {
      for (let i = end - 1; i >= start + Math.floor((maxTokens * 3) / 4); i--) {
        if (/\n\s*\n/.test(words[i]!) || /[.!?]\s*\n/.test(words[i]!)) {
          end = i + 1;
          break;
        }
      }
    }
    out.push(words.slice(start, end).join('').trim());
    if (end >= words.length) break;
    start = Math.max(start + 1, end - overlap);
  }
  return out;
}

/** Word tokens of any text (letters and digits of any script; `_` joins identifiers). */
export function tokens(text: string): string[] {
  return text.toLowerCase().match(/[\p{L}\p{N}_]+/gu) ?? [];
}

/**
 * An FTS5 MATCH expression for any user text: every token double-quoted (so `"`, `*`,
 * `NEAR(`, `-`, `AND`, `OR`, column filters are words, never syntax), OR-ed so BM25 ranks
 * partial matches. Null when the text has no token (the keyword list is then empty).
 */
export function ftsQuery(text: string, maxTerms = 64): string | null {
  const unique = [...new Set(tokens(text))].slice(0, maxTerms);
  if (unique.length === 0) return null;
  return unique.map((t) => `"${t.replaceAll('"', '""')}"`).join(' OR ');
}

/** L2-normalized copy (a zero vector stays zero). */
export function normalize(v: ArrayLike<number>): Float32Array {
  let n = 0;
  for (let i = 0; i < v.length; i++) n += v[i]! * v[i]!;
  const out = new Float32Array(v.length);
  if (n === 0) return out;
  const inv = 1 / Math.sqrt(n);
  for (let i = 0; i < v.length; i++) out[i] = v[i]! * inv;
  return out;
}

/** int8 quantization of a normalized vector: q = round(v / max|v| × 127), `scale` = max|v| / 127. */
export function quantize(v: ArrayLike<number>): { q: Int8Array; scale: number } {
  let max = 0;
  for (let i = 0; i < v.length; i++) max = Math.max(max, Math.abs(v[i]!));
  const q = new Int8Array(v.length);
  if (max === 0) return { q, scale: 0 };
  const k = 127 / max;
  for (let i = 0; i < v.length; i++) q[i] = Math.round(v[i]! * k);
  return { q, scale: max / 127 };
}

/** Cosine of a normalized float query against a quantized normalized vector (≈ the float cosine within ~1%). */
export function cosineQ(query: Float32Array, q: Int8Array, offset: number, scale: number): number {
  let dot = 0;
  const n = query.length;
  for (let i = 0; i < n; i++) dot += query[i]! * q[offset + i]!;
  return dot * scale;
}

/** Reciprocal rank fusion: Σ 1 / (k + rank) over the lists an item is in (rank from 1). */
export function rrf(lists: ReadonlyArray<readonly string[]>, k = 60): Map<string, number> {
  const out = new Map<string, number>();
  for (const list of lists) {
    list.forEach((id, i) => {
      out.set(id, (out.get(id) ?? 0) + 1 / (k + i + 1));
    });
  }
  return out;
}
