/**
 * Webhook verification: Edgecrew signs deliveries with the Standard Webhooks scheme (`webhook-id`,
 * `webhook-timestamp`, `webhook-signature`), so this is the reference verifier, re-exported.
 */
import { Webhook, WebhookVerificationError } from 'standardwebhooks';

export { Webhook, WebhookVerificationError };

/** Headers as a plain object, a `Headers`, or Node's `IncomingHttpHeaders`. */
export type WebhookHeaders = Headers | Record<string, string | string[] | undefined>;

function plain(headers: WebhookHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  const entries = headers instanceof Headers ? headers.entries() : Object.entries(headers);
  for (const [k, v] of entries) if (v !== undefined) out[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
  return out;
}

/**
 * Verifies a delivery against the endpoint's secret (`whsec_…`) and returns the parsed event.
 * `payload` must be the raw body as received. Throws `WebhookVerificationError` when the signature or
 * timestamp (±5 minutes) is wrong.
 */
export function verify<T = unknown>(secret: string, payload: string, headers: WebhookHeaders): T {
  return new Webhook(secret).verify(payload, plain(headers)) as T;
}
