/** Loading one thing for a page: `{ data, problem, reload }`, with the problem+json parsed. */
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

export interface Paged<T> {
  /** undefined while the first page loads. */
  items: T[] | undefined;
  problem: ApiProblem | null;
  /** Loads the first page again (after a change). */
  reload: () => Promise<void>;
  /** Appends the next page; absent when there is none. */
  more: (() => Promise<void>) | null;
  loadingMore: boolean;
}

/** A cursor-paged list (`{ data, nextCursor }`, as every list route answers) with "Load more". */
export function usePaged<T>(
  loadPage: (cursor: string | undefined) => Promise<{ data: T[]; nextCursor: string | null }>,
  deps: DependencyList,
): Paged<T> {
  const [items, setItems] = useState<T[] | undefined>(undefined);
  const [next, setNext] = useState<string | null>(null);
  const [problem, setProblem] = useState<ApiProblem | null>(null);
  const [loadingMore, setLoadingMore] = useState(false);
  const latest = useRef(0);
  const reload = useCallback(
    async () => {
      const n = ++latest.current;
      try {
        const page = await loadPage(undefined);
        if (n === latest.current) {
          setItems(page.data);
          setNext(page.nextCursor);
          setProblem(null);
        }
      } catch (err) {
        if (n === latest.current) setProblem(toProblem(err));
      }
    },
    // biome-ignore lint/correctness/useExhaustiveDependencies: the caller names what `loadPage` depends on.
    deps,
  );
  useEffect(() => {
    setItems(undefined);
    void reload();
  }, [reload]);
  const more = async () => {
    if (!next) return;
    const n = latest.current;
    setLoadingMore(true);
    try {
      const page = await loadPage(next);
      if (n === latest.current) {
        setItems((old) => [...(old ?? []), ...page.data]);
        setNext(page.nextCursor);
      }
    } catch (err) {
      setProblem(toProblem(err));
    } finally {
      setLoadingMore(false);
    }
  };
  return { items, problem, reload, more: next ? more : null, loadingMore };
}
