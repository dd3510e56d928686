/**
 * Memory limit for a whole sandbox: polls the proportional set size (PSS, so
 * pages shared after fork() count once) of every process under bwrap and
 * reports when the sum passes the limit.
 *
 * Why not only RLIMIT_AS: it is per process (a tool that forks multiplies it)
 * and V8 reserves gigabytes of address space it never touches, so for Node it
 * can only be a loose backstop. cgroups would be exact but need a delegated
 * cgroup v2 subtree, which neither these machines nor a container guarantee.
 */
import { readdirSync, readFileSync } from 'node:fs';

const PAGE = 4096;

/** Every descendant of `root` (threads' children included), root first. */
export function processTree(root: number): number[] {
  const out: number[] = [];
  const queue = [root];
  while (queue.length > 0 && out.length < 4096) {
    const pid = queue.shift()!;
    out.push(pid);
    let tasks: string[];
    try {
      tasks = readdirSync(`/proc/${pid}/task`);
    } catch {
      continue; // exited meanwhile
    }
    for (const tid of tasks) {
      try {
        for (const child of readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').split(' ')) {
          if (child.trim()) queue.push(Number(child));
        }
      } catch {
        // exited meanwhile
      }
    }
  }
  return out;
}

/** PSS of one process in bytes (RSS when smaps_rollup is unavailable); 0 when it is gone. */
export function processMemory(pid: number): number {
  try {
    const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
    if (m) return Number(m[1]) * 1024;
  } catch {
    // fall through
  }
  try {
    const resident = Number(readFileSync(`/proc/${pid}/statm`, 'utf8').split(' ')[1]);
    return Number.isFinite(resident) ? resident * PAGE : 0;
  } catch {
    return 0;
  }
}

export interface MemoryWatch {
  /** Largest total seen, bytes. */
  peak(): number;
  stop(): void;
}

export function watchMemory(root: number, limitBytes: number, onExceeded: () => void, intervalMs = 100): MemoryWatch {
  let peak = 0;
  const timer = setInterval(() => {
    let total = 0;
    for (const pid of processTree(root)) total += processMemory(pid);
    peak = Math.max(peak, total);
    if (total > limitBytes) {
      clearInterval(timer);
      onExceeded();
    }
  }, intervalMs);
  timer.unref();
  return { peak: () => peak, stop: () => clearInterval(timer) };
}
