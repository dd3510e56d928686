/**
 * Whole-machine CPU accounting (Linux /proc), to tell whether something else was
 * running during a measurement: "foreign" CPU is every busy tick not spent by this
 * process or its children (workerd). Elsewhere these return null. `workerdMs` is the CPU time
 * of this process's children (workerd, where both Workers run) between two samples: divided by
 * the requests served, the CPU each request cost, which holds up on a busy machine where req/s
 * does not.
 */
import { readdirSync, readFileSync } from 'node:fs';

const read = (p) => {
  try {
    return readFileSync(p, 'utf8');
  } catch {
    return null;
  }
};

/** Clock ticks are 1/100 s on Linux (USER_HZ). */
const TICK_MS = 10;

/** utime + stime of a /proc/<pid>/stat line, and its parent pid. */
function procTicks(stat) {
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { ppid: Number(rest[1]), ticks: Number(rest[11]) + Number(rest[12]) };
}

export function sampleCpu() {
  const stat = read('/proc/stat');
  if (stat === null) return null;
  const f = stat.split('\n')[0].trim().split(/\s+/).slice(1, 9).map(Number);
  const total = f.reduce((a, b) => a + b, 0);
  const idle = f[3] + f[4];
  let mine = 0;
  let children = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const s = read(`/proc/${entry}/stat`);
    if (s === null) continue;
    const { ppid, ticks } = procTicks(s);
    if (Number(entry) === process.pid || ppid === process.pid) mine += ticks;
    if (ppid === process.pid) children += ticks;
  }
  return { total, busy: total - idle, mine, children };
}

/** Percent of the whole machine (all cores) between two samples. */
export function cpuBetween(a, b) {
  if (a === null || b === null || b.total <= a.total) return null;
  const span = b.total - a.total;
  const busyPct = (100 * (b.busy - a.busy)) / span;
  const benchPct = (100 * (b.mine - a.mine)) / span;
  const r = (v) => Math.round(Math.max(0, v) * 10) / 10;
  // CPU ms spent by the workerd child (both Workers, their objects, D1, …).
  return {
    machineBusyPct: r(busyPct),
    benchPct: r(benchPct),
    foreignPct: r(busyPct - benchPct),
    workerdMs: (b.children - a.children) * TICK_MS,
  };
}

/** CPU ms used so far by every thread on the machine (Linux /proc; empty elsewhere). */
export function threadTimes() {
  const out = new Map();
  let pids = [];
  try {
    pids = readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  } catch {
    return out;
  }
  for (const pid of pids) {
    let process_ = '?';
    try {
      process_ = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
      for (const tid of readdirSync(`/proc/${pid}/task`)) {
        const stat = read(`/proc/${pid}/task/${tid}/stat`);
        if (stat === null) continue;
        const thread = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
        out.set(`${pid}/${tid}`, { process: `${process_}[${pid}]`, thread, ms: procTicks(stat).ticks * TICK_MS });
      }
    } catch {}
  }
  return out;
}

/** Per thread CPU between two threadTimes(), busiest first; threads of one process with one name are summed. */
export function threadDelta(a, b) {
  const sums = new Map();
  for (const [k, t] of b) {
    const ms = t.ms - (a.get(k)?.ms ?? 0);
    if (ms <= 0) continue;
    const key = `${t.process}\0${t.thread}`;
    sums.set(key, (sums.get(key) ?? 0) + ms);
  }
  return [...sums]
    .map(([k, ms]) => {
      const [process_, thread] = k.split('\0');
      return { process: process_, thread, ms };
    })
    .sort((x, y) => y.ms - x.ms);
}
