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
  ['ours CPU/req', (r) => cpuMs(r.ours.cpuMsPerRequest)],
  ['base CPU/req', (r) => cpuMs(r.base.cpuMsPerRequest)],
  ['CPU ratio', (r) => (r.cpuRatio == null ? '-' : r.cpuRatio.toFixed(2))],
  ['errors', (r) => `${r.ours.errors}/${r.base.errors}`],
];

const cpuMs = (v) => (v == null ? '-' : `${v.toFixed(2)} ms`);

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
    'ratio = ours req/s ÷ baseline req/s (bare Worker, same storage work, same workerd, same run); CPU/req = workerd CPU time per response (Linux /proc; every Worker, object and local service of the run shares that process); CPU ratio = base CPU/req ÷ ours (comparable to ratio, and steadier on a busy machine); errors = ours/base (non-2xx + socket errors + timeouts).',
    ...(rows.some((r) => r.noisy)
      ? [
          '(!) other processes used a noticeable share of the CPU during this scenario: absolute numbers are low/noisy and the ratio is approximate; rerun on an idle machine to compare.',
        ]
      : []),
  ].join('\n');
}

/**
 * A Markdown table of string cells, every column as wide as its widest cell: the first `left` columns
 * left-aligned (labels), the rest right-aligned (figures). The suites' own tables.
 */
export function markdownTable(header, rows, { left = 1 } = {}) {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (vals) => `| ${vals.map((v, i) => (i < left ? v.padEnd(widths[i]) : v.padStart(widths[i]))).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (i < left ? `:${'-'.repeat(w + 1)}` : `${'-'.repeat(w + 1)}:`)).join('|')}|`;
  return [line(header), rule, ...rows.map(line)].join('\n');
}
