/**
 * The event types Edgecrew emits (docs/api.md "Webhooks and events"). Webhook
 * filters are checked against this list so a typo is a 422, not silence.
 */

export const EVENT_TYPES = {
  'task.created': 'A task was created (data: { task })',
  'task.updated': 'A task changed (data: { task })',
  'task.completed': 'A task was completed (data: { task })',
  'task.reopened': 'A completed task was reopened (data: { task })',
  'task.deleted': 'A task was deleted (data: { taskId })',
  'reminder.fired': "A task's reminder fired (data: { taskId, reminderId, fireAt, lateMs })",
  'notification.created': 'A notification was created (data: { notification })',
  'email.sent':
    'An email notification was accepted by the provider (data: { deliveryId, notificationId, recipientId, kind, providerMessageId, attempts })',
  'email.failed':
    'An email notification could not be sent (data: { deliveryId, notificationId, recipientId, kind, attempts, error, statusCode })',
  'email.suppressed':
    'An email notification was not sent: preferences, unsubscribed, bounced or unverified (data: { deliveryId, notificationId, recipientId, kind, reason })',
  'run.queued': 'A flow run waits for a slot (data: { run })',
  'run.running': 'A flow run started or resumed (data: { run })',
  'run.waiting': 'A flow run waits for a signal, approval or delay (data: { run })',
  'run.succeeded': 'A flow run finished successfully (data: { run })',
  'run.failed': 'A flow run failed (data: { run })',
  'run.cancelled': 'A flow run was cancelled (data: { run })',
  'chat.turn.completed':
    'An assistant turn ended: answered, or stopped (data: { chatId, turnId, messageId, runId, usage, outcome: completed | stopped })',
  'chat.turn.failed': 'An assistant turn failed (data: { chatId, turnId, messageId, runId, usage, error })',
  'feedback.created': 'An output was rated (data: { feedback })',
  'feedback.updated': 'A rating changed: the same rater rated again, or it was edited (data: { feedback })',
  'feedback.deleted': 'A rating was deleted (data: { feedbackId, target, key })',
  'feedback.drift': "A key's mean fell past its drift margin against the window before (data: { key, window, margin, current, previous })",
  'experiment.completed': 'An experiment ended: completed with its summary, or failed / cancelled (data: { experiment })',
  'kb.document.indexed':
    'A knowledge document version is searchable (data: { knowledgeBaseId, documentId, source, version, chunks, usage: { embeddingTokens, requests } })',
  'kb.document.failed': 'A knowledge document version could not be indexed (data: { knowledgeBaseId, documentId, source, version, error })',
  'member.joined': 'Someone joined the tenant (data: { userId, role, invitationId })',
  'member.role_changed': "A member's role changed (data: { userId, from, to })",
  'member.removed': 'A member was removed (data: { userId })',
  'invitation.created': 'An invitation was sent (data: { invitationId, email, role })',
  'invitation.accepted': 'An invitation was accepted (data: { invitationId, userId, role })',
  'api_key.created': 'An API key was created (data: { apiKeyId, name, role })',
  'api_key.revoked': 'An API key was revoked (data: { apiKeyId })',
  'tenant.updated': 'Tenant settings changed (data: { name })',
  'webhook_endpoint.disabled': 'A webhook endpoint was disabled by the platform (data: { endpointId, url, reason })',
  'webhook.test': 'Sent by POST /v1/webhooks/{id}/test only to that endpoint (data: { message })',
} as const;

export type EventType = keyof typeof EVENT_TYPES;

/** `*`, a family wildcard (`task.*`) or an exact type (`task.created`). */
export const EVENT_FILTER = /^(\*|[a-z_]+\.\*|[a-z_]+(\.[a-z_]+)+)$/;

/** True when `type` is selected by one of `filters` (exact, `family.*`, or `*`). */
export function matchesFilter(filters: readonly string[], type: string): boolean {
  for (const f of filters) {
    if (f === '*' || f === type) return true;
    if (f.endsWith('.*') && type.startsWith(f.slice(0, -1))) return true;
  }
  return false;
}

/** A filter that can select something: `*`, a known family or a known type (future types pass via families). */
export function isKnownFilter(filter: string): boolean {
  if (!EVENT_FILTER.test(filter)) return false;
  if (filter === '*') return true;
  const types = Object.keys(EVENT_TYPES);
  if (filter.endsWith('.*')) return types.some((t) => t.startsWith(filter.slice(0, -1)));
  return types.includes(filter);
}
