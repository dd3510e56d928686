/** Sending many messages to a queue: `sendBatch` takes at most SEND_BATCH_MAX per call. */

export const SEND_BATCH_MAX = 100;

/** `messages` in order, SEND_BATCH_MAX per `sendBatch` call. */
export async function sendInBatches<Body>(queue: Queue<Body>, messages: readonly MessageSendRequest<Body>[]): Promise<void> {
  for (let i = 0; i < messages.length; i += SEND_BATCH_MAX) await queue.sendBatch(messages.slice(i, i + SEND_BATCH_MAX));
}
