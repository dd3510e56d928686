/**
 * Runs `fn` over `items` with at most `limit` in flight; a slow item holds one slot, never a whole chunk.
 * Every item runs even when another fails, and the first failure is thrown only once all have
 * finished, so no work is left running behind the caller (a webhook lane still sending while its
 * fan-out's next page starts, say).
 */
export async function inPool<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const failures: unknown[] = [];
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++]!;
      try {
        await fn(item);
      } catch (err) {
        failures.push(err);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failures.length > 0) throw failures[0];
}
