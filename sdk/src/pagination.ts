/** Cursor pagination (`?limit=&cursor=` → `{ data, nextCursor }`) as an async iterator over the items of every page. */

/** One page as every list operation answers it. */
export interface Page<T> {
  data: T[];
  nextCursor?: string | null;
}

/** Yields each item of each page, fetching the next page only when the previous one is consumed. */
export async function* paginate<T>(fetchPage: (cursor: string | undefined) => Promise<Page<T>>): AsyncGenerator<T> {
  let cursor: string | undefined;
  do {
    const page = await fetchPage(cursor);
    yield* page.data;
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
}
