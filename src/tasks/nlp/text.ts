/**
 * The working text. Extractors never splice the string: they blank what they
 * recognise with spaces, so every index stays valid against the original and
 * whatever is left over is the title.
 */

export interface Span {
  start: number;
  end: number;
}

/** Replaces [start, end) with spaces. */
export function blank(work: string, span: Span): string {
  return work.slice(0, span.start) + ' '.repeat(span.end - span.start) + work.slice(span.end);
}

// Words that only introduce a date ("due by friday", "starting jan 10"): eaten with it so no "by" dangles in a title.
const CONNECTOR = /(?:^|\s)(on|at|by|due|for|until|till|starting|from|beginning|effective|,)\s*$/i;

/** Moves `start` left over the connector words right before a recognised date. */
export function withConnectors(work: string, start: number): number {
  let s = start;
  for (;;) {
    const m = CONNECTOR.exec(work.slice(0, s));
    if (!m) return s;
    s = m.index + m[0].length - m[0].trimStart().length;
  }
}

/** Collapses whitespace and drops punctuation left dangling at either end. */
export function tidy(text: string): string {
  return text
    .replace(/\s+/g, ' ')
    .replace(/\s+([,;.!?])/g, '$1')
    .trim()
    .replace(/^[\s,;:\-–—]+|[\s,;:\-–—]+$/g, '')
    .trim();
}

/** Normalises typographic quotes so patterns can use a plain apostrophe. */
export function normalize(text: string): string {
  return text
    .replace(/[\u2018\u2019\u02bc]/g, "'")
    .replace(/[\u201c\u201d]/g, '"')
    .replace(/[\r\n\t]/g, ' ');
}
