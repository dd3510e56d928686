/** @edgecrew/sdk: the typed TypeScript client for the Edgecrew API (docs/sdk.md). */
export type { Credentials, Tokens } from './auth';
export { createEdgecrew, type Edgecrew, type EdgecrewOptions, type ItemOf, type ListPath, type RunEvent, type UIChunk } from './client';
export { EdgecrewError, type FieldError, type Problem, type ProblemCode } from './errors';
export type { components, operations, paths } from './openapi';
export { type Page, paginate } from './pagination';
export { type RetryOptions, retryAfterMs } from './retry';
export { parseSse, type SseFrame } from './sse';
export { verify, Webhook, type WebhookHeaders, WebhookVerificationError } from './webhooks';

import { verify, Webhook, WebhookVerificationError } from './webhooks';
/** `webhooks.verify(secret, rawBody, headers)`: the Standard Webhooks verifier. */
export const webhooks = { verify, Webhook, WebhookVerificationError };
