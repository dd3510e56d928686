/** The hub's outbox and the real queue handler, for redelivering events to the email sink. */
export { outboxRows } from '../tasks/_support';

import { runBatch } from '../events/_support';

/** Runs the EVENTS queue handler on these event bodies (a redelivered batch); fails the test if any was retried. */
export async function runBatchOf(bodies: unknown[]): Promise<void> {
  const result = await runBatch(bodies);
  if (result.retryMessages.length > 0) throw new Error(`batch retried: ${JSON.stringify(result.retryMessages)}`);
}
