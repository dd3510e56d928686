/** The side-by-side table printed at the end of a run. */

const COLUMNS = [
  ['scenario', (r) => `${r.name}${r.noisy ? ' (!)' : ''}`, 'left'],
  ['ours req/s', (r) => int(r.ours.reqPerSec)],
  ['base req/s', (r) => int(r.base.reqPerSec)],
  ['ratio', (r) => (r.ratio === null ? '-' : r.ratio.toFixed(2))],
  ['ours p50', (r) => ms(r.ours.latencyMs.p50)],
  ['base p50', (r) => ms(r.base.latencyMs.p50)],
  ['ours p99', (r) => ms(r.ours.latencyMs.p99)],
  ['base p99', (r) => ms(r.base.latencyMs.p99)],
  ['errors', (r) => `${r.ours.errors}/${r.base.errors}`],
];

const int = (v) => Math.round(v).toLocaleString('en-US');
const ms = (v) => (v === null ? '-' : `${v < 10 ? v.toFixed(2) : v.toFixed(1)} ms`);

export function formatTable(rows) {
  const cells = rows.map((r) => COLUMNS.map(([, get]) => get(r)));
  const widths = COLUMNS.map(([title], i) => Math.max(title.length, ...cells.map((c) => c[i].length)));
  const line = (values) =>
    `| ${values.map((v, i) => (COLUMNS[i][2] === 'left' ? v.padEnd(widths[i]) : v.padStart(widths[i]))).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (COLUMNS[i][2] === 'left' ? `:${'-'.repeat(w + 1)}` : `${'-'.repeat(w + 1)}:`)).join('|')}|`;
  return [
    line(COLUMNS.map(([title]) => title)),
    rule,
    ...cells.map(line),
    '',
    'ratio = ours req/s ÷ baseline req/s (bare Worker, same storage work, same workerd, same run); errors = ours/base (non-2xx + socket errors + timeouts).',
    ...(rows.some((r) => r.noisy)
      ? [
          '(!) other processes used a noticeable share of the CPU during this scenario: absolute numbers are low/noisy and the ratio is approximate; rerun on an idle machine to compare.',
        ]
      : []),
  ].join('\n');
}
