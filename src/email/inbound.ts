/**
 * Replies that act (the Worker's `email()` handler, Cloudflare Email Routing): a reply to a reminder
 * goes to its signed Reply-To address `reply+<deliveryId>.<sig>@…` (./tokens.ts). When the sender
 * (the message's From) is the delivery's member, verified and still a member with write access,
 * the first line of the reply acts on the task:
 *   `done`                              completes it (task.completed, like POST /v1/tasks/{id}/complete)
 *   `snooze 1h` / `snooze 30m` / `snooze 2d`  adds a reminder that long from now
 * Anything else is ignored and logged; nothing is rejected back to the sender (that would confirm
 * the address to a stranger). A message is acted on once, by its Message-ID.
 */
import { and, eq } from 'drizzle-orm';
import PostalMime from 'postal-mime';
import { loadConfig } from '../config';
import { emailDeliveries, memberships, tenants, users } from '../db/schema';
import { firstSeen } from '../events/sinks';
import { can } from '../identity/roles';
import { serviceCtx } from '../lib/context';
import { requestCtxFor } from '../lib/request-ctx';
import { createLogger, errorFields } from '../observability/log';
import { completeTask, getTask, updateTask } from '../tasks/service';
import type { MessagePayload } from './render';
import { verifyReplyAddress } from './tokens';

export type ReplyCommand = { kind: 'done' } | { kind: 'snooze'; ms: number } | null;

const UNITS: Record<string, number> = { m: 60_000, h: 3600_000, d: 86_400_000 };

/** The command in a reply's text: its first line that is not quoted or empty. Pure. */
export function parseReply(text: string): ReplyCommand {
  const line = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .find((l) => l !== '' && !l.startsWith('>'));
  if (!line) return null;
  const l = line.toLowerCase().replace(/[.!]+$/, '');
  if (l === 'done') return { kind: 'done' };
  const m = /^snooze\s+(\d{1,3})\s*(m|min|mins|minutes?|h|hr|hrs|hours?|d|days?)$/.exec(l);
  if (!m) return null;
  const ms = Number(m[1]) * UNITS[m[2]![0]!]!;
  return ms > 0 && ms <= 30 * 86_400_000 ? { kind: 'snooze', ms } : null;
}

export async function handleInboundEmail(message: ForwardableEmailMessage, env: Env, ctx: ExecutionContext): Promise<void> {
  const log = createLogger({ handler: 'email' });
  const config = loadConfig(env);
  const ignore = (reason: string, extra: Record<string, unknown> = {}) =>
    log.info('inbound email ignored', { reason, to: message.to, ...extra });
  if (!config.TOKEN_PEPPER) return ignore('no TOKEN_PEPPER');
  const deliveryId = await verifyReplyAddress(config.TOKEN_PEPPER, message.to);
  if (!deliveryId) return ignore('not a reply address');

  const raw = new Uint8Array(await new Response(message.raw).arrayBuffer());
  const parsed = await PostalMime.parse(raw);
  const sender = (parsed.from?.address ?? message.from).toLowerCase();
  const db = requestCtxFor(env, { waitUntil: (p) => ctx.waitUntil(p), config }).db;
  const delivery = await db.select().from(emailDeliveries).where(eq(emailDeliveries.id, deliveryId)).get();
  const payload = delivery?.payload as MessagePayload | undefined;
  if (delivery?.kind !== 'reminder' || !payload?.taskId) return ignore('not a reminder', { deliveryId });

  const member = await db
    .select({ email: users.email, verifiedAt: users.emailVerifiedAt, role: memberships.role, plan: tenants.plan })
    .from(users)
    .innerJoin(memberships, and(eq(memberships.userId, users.id), eq(memberships.tenantId, delivery.tenantId)))
    .innerJoin(tenants, eq(tenants.id, delivery.tenantId))
    .where(eq(users.id, delivery.userId))
    .get();
  if (!member || member.email.toLowerCase() !== sender || !member.verifiedAt)
    return ignore('sender is not the verified member', { deliveryId, sender });
  if (!can(member.role, 'data:write')) return ignore('member cannot write', { deliveryId });

  const command = parseReply(parsed.text ?? '');
  if (!command) return ignore('no command', { deliveryId });
  const messageId = parsed.messageId ?? message.headers.get('message-id');
  if (messageId && !(await firstSeen(env, [`inbound:${messageId}`])).has(`inbound:${messageId}`))
    return ignore('already handled', { deliveryId, messageId });

  const request = requestCtxFor(env, { waitUntil: (p) => ctx.waitUntil(p), config });
  const sctx = serviceCtx(request, {
    tenantId: delivery.tenantId,
    actor: { type: 'user', id: delivery.userId },
    role: member.role,
    credential: { id: `email:${deliveryId}`, plan: member.plan, expiresAt: null },
  });
  try {
    if (command.kind === 'done') {
      await completeTask(sctx, { id: payload.taskId });
    } else {
      const task = await getTask(sctx, { id: payload.taskId });
      const at = new Date(Date.now() + command.ms).toISOString();
      await updateTask(sctx, { id: task.id, patch: { reminders: [...(task.reminders ?? []).slice(-9), { at }] } });
    }
    log.info('inbound email acted', { deliveryId, taskId: payload.taskId, command: command.kind });
  } catch (err) {
    log.warn('inbound email could not act', { deliveryId, taskId: payload.taskId, command: command.kind, ...errorFields(err) });
  }
}
