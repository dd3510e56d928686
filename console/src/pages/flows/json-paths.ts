/**
 * Where each value of a JSON text starts, by the path the API names it with
 * (`nodes[0].config.expression`, as in POST /v1/flows/validate problems), so the editor can put a
 * problem on its line. A small tolerant scanner: it stops at the first syntax error and returns
 * what it has seen so far.
 */

export interface Located {
  /** 1-based line of the value (of its key, for an object member). */
  line: number;
  offset: number;
}

export function locatePaths(text: string): Map<string, Located> {
  const out = new Map<string, Located>();
  let i = 0;
  const lineStarts: number[] = [0];
  for (let k = 0; k < text.length; k++) if (text[k] === '\n') lineStarts.push(k + 1);
  const lineOf = (offset: number): number => {
    let lo = 0;
    let hi = lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (lineStarts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo + 1;
  };
  const ws = () => {
    while (i < text.length && /\s/.test(text[i]!)) i++;
  };
  const fail = (): never => {
    throw new Error('stop');
  };
  const str = (): string => {
    if (text[i] !== '"') fail();
    const start = i;
    i++;
    while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
    if (i >= text.length) fail();
    i++;
    try {
      return JSON.parse(text.slice(start, i)) as string;
    } catch {
      return fail();
    }
  };
  const join = (base: string, key: string): string => (base ? `${base}.${key}` : key);
  const value = (path: string, at: number): void => {
    ws();
    if (!out.has(path)) out.set(path, { line: lineOf(at), offset: at });
    const c = text[i];
    if (c === '{') {
      i++;
      ws();
      if (text[i] === '}') {
        i++;
        return;
      }
      for (;;) {
        ws();
        const keyAt = i;
        const key = str();
        ws();
        if (text[i] !== ':') fail();
        i++;
        value(join(path, key), keyAt);
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === '}') {
          i++;
          return;
        }
        fail();
      }
    }
    if (c === '[') {
      i++;
      ws();
      if (text[i] === ']') {
        i++;
        return;
      }
      for (let n = 0; ; n++) {
        ws();
        value(`${path}[${n}]`, i);
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === ']') {
          i++;
          return;
        }
        fail();
      }
    }
    if (c === '"') {
      str();
      return;
    }
    const m = /^(-?\d+(\.\d+)?([eE][+-]?\d+)?|true|false|null)/.exec(text.slice(i, i + 64));
    if (!m) fail();
    i += m![0].length;
  };
  try {
    value('', 0);
  } catch {
    // A syntax error ends the scan; JSON.parse reports it to the user.
  }
  return out;
}

/** The line a problem at `path` belongs to: its own value, else its nearest located ancestor. */
export function lineOfPath(located: Map<string, Located>, path: string): number | null {
  let p = path;
  for (;;) {
    const hit = located.get(p);
    if (hit) return hit.line;
    if (!p) return null;
    const cut = Math.max(p.lastIndexOf('.'), p.lastIndexOf('['));
    p = cut <= 0 ? '' : p.slice(0, cut);
  }
}
