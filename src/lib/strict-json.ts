/**
 * JSON that means one thing: UTF-8 only, no lone surrogates, no duplicate keys. JSON.parse takes the
 * last of duplicate keys (`{"role":"viewer","role":"admin"}` is an admin) while other parsers on the
 * way may take the first, and it turns invalid bytes and `\ud800` into text we would store altered.
 * Pure; the body middleware maps a failure to 400.
 */

export type StrictJsonResult = { ok: true; value: unknown } | { ok: false; reason: string };

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

/** Decodes `bytes` as UTF-8, refusing invalid sequences. */
export function decodeUtf8(bytes: ArrayBuffer | Uint8Array): { ok: true; text: string } | { ok: false; reason: string } {
  try {
    return { ok: true, text: utf8.decode(bytes) };
  } catch {
    return { ok: false, reason: 'Request body is not valid UTF-8.' };
  }
}

/** Parses `text` as JSON and refuses duplicate keys and lone surrogates (escaped or not), naming where. */
export function parseStrictJson(text: string): StrictJsonResult {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return { ok: false, reason: `Request body is not valid JSON: ${(err as Error).message}` };
  }
  const dup = findDuplicateKey(text);
  if (dup) return { ok: false, reason: `Duplicate key '${dup.key}' in ${dup.at || 'the top-level object'}; send each key once.` };
  const bad = findIllFormed(value, '');
  if (bad !== null) return { ok: false, reason: `Lone UTF-16 surrogate in ${bad || 'the body'}; send well-formed Unicode.` };
  return { ok: true, value };
}

/** A JSON pointer segment. */
const seg = (k: string | number) => `/${String(k).replaceAll('~', '~0').replaceAll('/', '~1')}`;

function findIllFormed(v: unknown, at: string): string | null {
  if (typeof v === 'string') return v.isWellFormed() ? null : at;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const r = findIllFormed(v[i], at + seg(i));
      if (r !== null) return r;
    }
    return null;
  }
  if (v && typeof v === 'object') {
    for (const [k, x] of Object.entries(v)) {
      if (!k.isWellFormed()) return at + seg(k);
      const r = findIllFormed(x, at + seg(k));
      if (r !== null) return r;
    }
  }
  return null;
}

/**
 * Scans text already known to be valid JSON and returns the first key repeated within one object
 * (keys compared after unescaping, so `"role"` and `"\u0072ole"` are the same key).
 */
export function findDuplicateKey(text: string): { key: string; at: string } | null {
  // One frame per open container: its keys (objects only), its path and the next array index.
  const stack: Array<{ keys: Set<string> | null; path: string; index: number; pendingKey: string | null }> = [];
  let i = 0;
  let expectKey = false;
  while (i < text.length) {
    const ch = text[i]!;
    if (ch === '"') {
      let j = i + 1;
      while (text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      const top = stack[stack.length - 1];
      if (top?.keys && expectKey) {
        const key = JSON.parse(text.slice(i, j + 1)) as string;
        if (top.keys.has(key)) return { key, at: top.path };
        top.keys.add(key);
        top.pendingKey = key;
        expectKey = false;
      }
      i = j + 1;
      continue;
    }
    if (ch === '{' || ch === '[') {
      const top = stack[stack.length - 1];
      const path = top ? top.path + seg(top.keys ? (top.pendingKey ?? '') : top.index) : '';
      stack.push({ keys: ch === '{' ? new Set() : null, path, index: 0, pendingKey: null });
      expectKey = ch === '{';
    } else if (ch === '}' || ch === ']') {
      stack.pop();
    } else if (ch === ',') {
      const top = stack[stack.length - 1];
      if (top?.keys) expectKey = true;
      else if (top) top.index++;
    }
    i++;
  }
  return null;
}
