/**
 * `npm run bench -- --compare <old.json>`: every figure of this run beside the same figure of an
 * earlier result, as new ÷ old, with changes over 20 % flagged (better or worse by the figure's kind).
 *
 * A figure is any number in the report outside its bookkeeping (timestamps, machine, config,
 * raw samples). Rows of a list are named by their `name`/`shape`/`sockets`/`size` field, so the
 * same scenario meets itself even when the two runs selected different scenarios; figures only one
 * side has are listed as added or missing, never compared.
 */

/** Report keys that are bookkeeping, not figures. */
const SKIP = new Set([
  'connections',
  'rounds',
  'smokeStatus',
  'requests',
  'durationS',
  'statuses',
  'non2xx',
  'socketErrors',
  'timeouts',
  'p90',
  'mean',
  'reps',
  'startedAt',
  'finishedAt',
  'git',
  'machine',
  'versions',
  'config',
  'workerLogs',
  'backgroundCpu',
  'note',
  'cpu',
  'request',
  // Memory: what a point held (runs, sockets) is a count, not a figure; growths from near zero and
  // per-unit figures swing by half from run to run. Each point's heap and the peak are compared.
  'units',
  'limitMB',
  'growthMB',
  'growthKBPerUnit',
  // The goals table repeats figures compared where they stand.
  'issue20',
]);
/** A change beyond this share is flagged. */
export const FLAG_SHARE = 0.2;

/** Higher is better for throughput and for ours÷base ratios of throughput; lower for time, size and errors. */
function direction(path) {
  const leaf = path.split('.').at(-1) ?? '';
  if (/reqPerSec|perSec|throughput|rps/i.test(leaf)) return 1;
  if (/^(ratio|cpuRatio)$/.test(leaf) && /scenarios\[/.test(path)) return 1;
  if (/ms|latency|p50|p95|p99|max|min|mean|bytes|kib|size|errors|lost|duplicat|ratio|wait|memory/i.test(path)) return -1;
  return 0;
}

const rowKey = (row, i) => {
  if (row && typeof row === 'object') {
    for (const k of ['name', 'shape', 'sockets', 'size', 'stage', 'kind', 'request'])
      if (row[k] !== undefined && typeof row[k] !== 'object') return String(row[k]);
  }
  return String(i);
};

/** Every numeric figure of a report, by a stable dotted path. */
export function figures(report) {
  const out = new Map();
  const walk = (v, path) => {
    if (typeof v === 'number' && Number.isFinite(v)) {
      out.set(path, v);
      return;
    }
    if (Array.isArray(v)) {
      // Raw samples (lists of numbers, or long lists of per-run records) are not figures; their summaries are.
      if (v.length === 0 || v.every((x) => typeof x === 'number') || v.length > 50) return;
      for (const [i, x] of v.entries()) walk(x, `${path}[${rowKey(x, i)}]`);
      return;
    }
    if (v && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        if (SKIP.has(k) || /samples|runs$|^raw/i.test(k)) continue;
        walk(x, path ? `${path}.${k}` : k);
      }
    }
  };
  walk(report, '');
  return out;
}

/** Rows of the comparison: path, old, new, new÷old, and a flag when the change is over FLAG_SHARE. */
export function compareReports(oldReport, newReport) {
  const a = figures(oldReport);
  const b = figures(newReport);
  const rows = [];
  for (const [path, nv] of b) {
    if (!a.has(path)) {
      rows.push({ path, old: null, new: nv, ratio: null, flag: 'added' });
      continue;
    }
    const ov = a.get(path);
    const ratio = ov === 0 ? (nv === 0 ? 1 : null) : nv / ov;
    let flag = '';
    if (ratio === null || Math.abs(ratio - 1) > FLAG_SHARE) {
      const dir = direction(path);
      const better = dir === 0 || ratio === null ? null : dir > 0 ? nv > ov : nv < ov;
      flag = better === null ? 'CHANGED' : better ? 'BETTER' : 'WORSE';
    }
    rows.push({ path, old: ov, new: nv, ratio, flag });
  }
  for (const [path, ov] of a) if (!b.has(path)) rows.push({ path, old: ov, new: null, ratio: null, flag: 'missing' });
  return rows;
}

/**
 * The bare baselines' throughput figures (req/s of every scenario's bare side, events/s of the bare
 * webhook sender): code that performance work does not change (scripts/bench/baseline-worker.js),
 * measured beside ours in the same run. Their new÷old is how much faster or slower the machine was
 * between the two runs, for this kind of work, when both runs had the same baseline.
 */
const BASELINE_THROUGHPUT = [/^scenarios\[[^\]]+\]\.base\.reqPerSec$/, /^webhooks\.cases\[[^\]]+\]\.bare\.eventsPerSec$/];

/**
 * How the machine moved between the runs: the median and range of the baselines' throughput, new ÷ old
 * (null when the runs share none). A slower hour moves every absolute figure; the ours÷base ratios do
 * not move with it, so a ratio flagged is about our code, an absolute figure flagged may be the machine.
 */
function baselineDrift(rows) {
  const ratios = rows
    .filter((r) => r.ratio !== null && r.old !== null && r.new !== null && BASELINE_THROUGHPUT.some((re) => re.test(r.path)))
    .map((r) => r.ratio)
    .sort((a, b) => a - b);
  if (ratios.length === 0) return null;
  const mid = ratios.length >> 1;
  const median = ratios.length % 2 ? ratios[mid] : (ratios[mid - 1] + ratios[mid]) / 2;
  return { figures: ratios.length, median, min: ratios[0], max: ratios.at(-1) };
}

/**
 * Whether a row is a ratio between two sides of the same run (`ratio`, `ratioP95`, `throughputRatio`:
 * ours÷base; `cpuRatio`: base÷ours; the full tenant's `ratioP95`: ours÷ours with every slot free).
 */
const isRatio = (path) => /^ratio|Ratio/.test(path.split('.').at(-1) ?? '');

const num = (v) => (v === null ? '-' : Math.abs(v) >= 100 ? Math.round(v).toLocaleString('en-US') : String(Math.round(v * 100) / 100));

/** The comparison as a text table (flagged rows first, then the rest unless `flaggedOnly`). */
export function formatComparison(rows, { oldLabel = 'old', newLabel = 'new', flaggedOnly = false } = {}) {
  const shown = rows.filter((r) => r.flag !== 'added' && r.flag !== 'missing' && (!flaggedOnly || r.flag));
  const sorted = [...shown.filter((r) => r.flag), ...shown.filter((r) => !r.flag)];
  const cells = sorted.map((r) => [r.path, num(r.old), num(r.new), r.ratio === null ? '-' : r.ratio.toFixed(2), r.flag]);
  const head = ['figure', oldLabel, newLabel, 'new/old', `> ${FLAG_SHARE * 100} %`];
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c) => `| ${c.map((v, i) => (i === 0 || i === 4 ? v.padEnd(widths[i]) : v.padStart(widths[i]))).join(' | ')} |`;
  const flagged = rows.filter((r) => r.flag === 'BETTER' || r.flag === 'WORSE' || r.flag === 'CHANGED');
  const added = rows.filter((r) => r.flag === 'added').length;
  const missing = rows.filter((r) => r.flag === 'missing').length;
  return [
    line(head),
    `|${widths.map((w, i) => (i === 0 || i === 4 ? `:${'-'.repeat(w + 1)}` : `${'-'.repeat(w + 1)}:`)).join('|')}|`,
    ...cells.map(line),
    '',
    `${flagged.length} of ${shown.length} figures changed by more than ${FLAG_SHARE * 100} % (${flagged.filter((r) => r.flag === 'WORSE').length} worse, ${flagged.filter((r) => r.flag === 'BETTER').length} better)` +
      `${added ? `; ${added} only in ${newLabel}` : ''}${missing ? `; ${missing} only in ${oldLabel}` : ''}.`,
    ...driftLines(rows, flagged, newLabel),
  ].join('\n');
}

const fixed = (v) => v.toFixed(2);

/** The machine's drift between the runs, and how many of the flagged figures are same-run ratios. */
function driftLines(rows, flagged, newLabel) {
  const drift = baselineDrift(rows);
  const ratiosFlagged = flagged.filter((r) => isRatio(r.path)).length;
  const lines = [];
  if (drift) {
    const moved = Math.abs(drift.median - 1) > FLAG_SHARE / 2;
    lines.push(
      `The bare baselines ran at ${fixed(drift.median)}× the old run's throughput in ${newLabel} (median of ${drift.figures} figures, ${fixed(drift.min)}–${fixed(drift.max)}): ` +
        (moved
          ? `the machine was ${drift.median < 1 ? 'slower' : 'faster'}, so absolute req/s and events/s moving by about that factor (and ms by its inverse) are the machine, not the code.`
          : 'the machine ran at about the same speed.'),
    );
  }
  lines.push(
    `${ratiosFlagged} of the flagged figures are ratios between two sides of the same run, which hold up when the machine's speed moves; the rest are absolute figures.`,
  );
  return lines;
}
