/** Loading one thing for a page: `{ data, problem, reload }`, with the problem+json parsed (console-c's pages). */
import { type DependencyList, useCallback, useEffect, useRef, useState } from 'react';
import { type ApiProblem, toProblem } from '../../api/client';

export interface Loaded<T> {
  /** undefined while the first load runs. */
  data: T | undefined;
  problem: ApiProblem | null;
  reload: () => Promise<void>;
}

export function useLoad<T>(load: () => Promise<T>, deps: DependencyList): Loaded<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [problem, setProblem] = useState<ApiProblem | null>(null);
  const latest = useRef(0);
  const reload = useCallback(
    async () => {
      const n = ++latest.current;
      try {
        const value = await load();
        if (n === latest.current) {
          setData(value);
          setProblem(null);
        }
      } catch (err) {
        if (n === latest.current) setProblem(toProblem(err));
      }
    },
    // biome-ignore lint/correctness/useExhaustiveDependencies: the caller names what `load` depends on.
    deps,
  );
  useEffect(() => {
    setData(undefined);
    void reload();
  }, [reload]);
  return { data, problem, reload };
}

/** "3 minutes ago"-style time with the exact instant in the tooltip. */
export function when(iso: string | null | undefined): string {
  if (!iso) return '—';
  const d = new Date(iso);
  return d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
}
