/**
 * A page's filters in its URL's query string. `set` and `reset` start from the last parameters set,
 * not from the render they were called in: react-router's setter builds on that render's params, so
 * two filters changed one right after another (before the next render, as a script or a busy machine
 * does) would otherwise leave only the second.
 */
import { useRef } from 'react';
import { type NavigateOptions, useSearchParams } from 'react-router';

export interface FilterParams {
  params: URLSearchParams;
  /** Sets one parameter, or removes it when `value` is empty. */
  set(key: string, value: string): void;
  /** Replaces every parameter. */
  reset(init: Record<string, string>): void;
}

export function useFilterParams(options?: NavigateOptions): FilterParams {
  const [params, setParams] = useSearchParams();
  const latest = useRef(params);
  latest.current = params;
  const apply = (next: URLSearchParams) => {
    latest.current = next;
    setParams(next, options);
  };
  return {
    params,
    set(key, value) {
      const next = new URLSearchParams(latest.current);
      if (value) next.set(key, value);
      else next.delete(key);
      apply(next);
    },
    reset(init) {
      apply(new URLSearchParams(init));
    },
  };
}
