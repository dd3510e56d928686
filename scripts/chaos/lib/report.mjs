/** The chaos table: one row per scenario. */

const count = (v) => (v === null || v === undefined ? '-' : String(v));

const COLUMNS = [
  ['scenario', (r) => `${r.name}${r.noisy ? ' (!)' : ''}`],
  ['figures', (r) => r.figures ?? ''],
  ['lost', (r) => count(r.lost)],
  ['dup', (r) => count(r.duplicated)],
  ['goal', (r) => (r.error ? 'ERROR' : r.goal ? `${r.goal.met ? 'met' : 'MISSED'}: ${r.goal.text}` : '')],
];

export function formatTable(rows) {
  const cells = rows.map((r) => COLUMNS.map(([, get]) => get(r)));
  const widths = COLUMNS.map(([title], i) => Math.max(title.length, ...cells.map((c) => c[i].length)));
  const line = (values) => `| ${values.map((v, i) => (i === 2 || i === 3 ? v.padStart(widths[i]) : v.padEnd(widths[i]))).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (i === 2 || i === 3 ? `${'-'.repeat(w + 1)}:` : `:${'-'.repeat(w + 1)}`)).join('|')}|`;
  const unverified = rows.reduce((s, r) => s + (r.unverified ?? 0), 0);
  return [
    line(COLUMNS.map(([title]) => title)),
    rule,
    ...cells.map(line),
    '',
    'lost = committed (2xx) but never delivered / not in the end state; dup = applied or delivered (2xx) more than once. Goal: 0 and 0.',
    `Webhook requests that failed signature verification: ${unverified}.`,
    ...(rows.some((r) => r.noisy)
      ? ['(!) other processes used more than 15% of the machine during this scenario: its timings are inflated.']
      : []),
  ].join('\n');
}
