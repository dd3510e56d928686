/**
 * The assistant's verbs: send a message (a turn), follow or resume its stream,
 * stop it, read, list and delete chats. The Worker resolves who is asking and
 * with which agent, zone and settings (the turn's plan); the chat's
 * ChatThread object does the rest. docs/assistant.md.
 */
import { eq } from 'drizzle-orm';
import { tenants } from '../db/schema';
import { initiatorOf } from '../flows/runs-service';
import { guardStream } from '../identity/stream-guard';
import type { ServiceCtx } from '../lib/context';
import { decodeCursor, encodeCursor, type PageInput } from '../lib/pagination';
import { AppError } from '../lib/problem';
import { unwrap } from '../lib/result';
import { chatThreadStub, tenantHubStub } from '../lib/stubs';
import { resolveTimezone } from '../tasks/timezone';
import type { AuthContext } from '../types';
import { assistantProviders, defaultAssistant } from './assistant';
import type { ChatSummary, ChatView, ClientMessage, OnBusy, TurnPlan, TurnView } from './model';
import { type StreamVersion, UI_STREAM_HEADERS } from './ui-message';

export interface SendChatInput {
  chatId: string;
  messages?: ClientMessage[] | undefined;
  message?: ClientMessage | undefined;
  trigger: 'submit-message' | 'regenerate-message';
  messageId?: string | undefined;
  timezone?: string | undefined;
  onBusy: OnBusy;
  version: StreamVersion;
}

/** `X-UI-Stream-Version: 7` opts in to ai@7-only chunks. */
export function streamVersionOf(header: string | undefined): StreamVersion {
  return header?.trim() === '7' ? 7 : 6;
}

/** Who asks, with which agent, in which zone: read once per message. */
async function turnPlan(ctx: ServiceCtx, requestedZone: string | undefined): Promise<TurnPlan> {
  // All at once (the providers are read even when the tenant has its own assistant: one small query).
  const [tenant, timezone, providers] = await Promise.all([
    ctx.db.select({ settings: tenants.settings, plan: tenants.plan }).from(tenants).where(eq(tenants.id, ctx.tenantId)).get(),
    resolveTimezone(ctx, { requested: requestedZone }),
    assistantProviders(ctx.db, ctx.tenantId),
  ]);
  if (!tenant) throw new AppError('not_found', 'Tenant not found.');
  const settings = tenant.settings ?? {};
  return {
    initiator: initiatorOf(ctx),
    agent: settings.assistantAgentId ? { agentId: settings.assistantAgentId } : { spec: defaultAssistant(providers) },
    timezone,
    settings: {
      ...(settings.httpAllowlist ? { httpAllowlist: settings.httpAllowlist } : {}),
      ...(settings.maxActiveRuns ? { maxActiveRuns: settings.maxActiveRuns } : {}),
    },
    plan: tenant.plan,
  };
}

function authOf(ctx: ServiceCtx): AuthContext {
  return {
    tenantId: ctx.tenantId,
    actorId: ctx.actor.id,
    actorType: ctx.actor.type,
    role: ctx.role,
    credentialId: ctx.credential.id,
    plan: ctx.credential.plan,
    expiresAt: ctx.credential.expiresAt,
  };
}

/** A UI stream the client reads, cut when the credential that opened it stops being valid. */
function uiStream(ctx: ServiceCtx, stream: ReadableStream<Uint8Array>, headers: Record<string, string> = {}): Response {
  return guardStream(ctx.db, authOf(ctx), new Response(stream, { status: 200, headers: { ...UI_STREAM_HEADERS, ...headers } }), (p) =>
    ctx.waitUntil(p),
  );
}

/** POST /v1/chat: the answer streams back as UI message chunks (x-vercel-ai-ui-message-stream: v1). */
export async function sendChat(ctx: ServiceCtx, input: SendChatInput): Promise<Response> {
  const message = input.message ?? input.messages?.[input.messages.length - 1] ?? null;
  if (input.trigger === 'submit-message' && !message)
    throw new AppError('validation_failed', 'Send the new message in `messages` (the last one) or `message`.', {
      errors: [{ in: 'body', path: 'messages', pointer: '/messages', message: 'Required', code: 'required' }],
    });
  const plan = await turnPlan(ctx, input.timezone);
  const started = unwrap(
    await chatThreadStub(ctx.env, ctx.tenantId, input.chatId).send({
      tenantId: ctx.tenantId,
      chatId: input.chatId,
      trigger: input.trigger,
      message,
      messageId: input.messageId,
      onBusy: input.onBusy,
      version: input.version,
      plan,
      now: ctx.now.toISOString(),
    }),
  );
  return uiStream(ctx, started.stream, { 'x-chat-turn-id': started.turnId, 'x-chat-message-id': started.messageId });
}

/** GET /v1/chat/{id}/stream: the active turn from its start (or after Last-Event-ID); 204 when none. */
export async function resumeChat(
  ctx: ServiceCtx,
  { chatId, lastEventId, version }: { chatId: string; lastEventId?: string | undefined; version: StreamVersion },
): Promise<Response> {
  let after: number | null = null;
  if (lastEventId !== undefined) {
    after = Number(lastEventId);
    if (!Number.isSafeInteger(after) || after < 0)
      throw new AppError('validation_failed', 'Last-Event-ID must be a chunk id from this stream.', {
        errors: [{ in: 'header', path: 'Last-Event-ID', pointer: '/Last-Event-ID', message: 'Not a chunk id', code: 'invalid' }],
      });
  }
  const stream = unwrap(await chatThreadStub(ctx.env, ctx.tenantId, chatId).resume(ctx.tenantId, chatId, { after, version }));
  if (!stream) return new Response(null, { status: 204 });
  return uiStream(ctx, stream);
}

/** POST /v1/chat/{id}/stop: the running turn ends, keeping its partial answer (a dropped connection is not a stop). */
export async function stopChat(ctx: ServiceCtx, { chatId }: { chatId: string }): Promise<{ stopped: TurnView[] }> {
  return unwrap(await chatThreadStub(ctx.env, ctx.tenantId, chatId).stop(ctx.tenantId, chatId));
}

export async function getChat(ctx: ServiceCtx, { chatId }: { chatId: string }): Promise<ChatView> {
  return unwrap(await chatThreadStub(ctx.env, ctx.tenantId, chatId).view(ctx.tenantId, chatId));
}

export async function deleteChat(ctx: ServiceCtx, { chatId }: { chatId: string }): Promise<void> {
  unwrap(await chatThreadStub(ctx.env, ctx.tenantId, chatId).remove(ctx.tenantId, chatId));
}

/** GET /v1/chats: the tenant's chats, most recently active first. */
export async function listChats(
  ctx: ServiceCtx,
  { limit, cursor }: PageInput,
): Promise<{ data: ChatSummary[]; nextCursor: string | null }> {
  const raw = decodeCursor(cursor);
  let after: { updatedAt: string; id: string } | null = null;
  if (raw !== undefined) {
    const [updatedAt, id] = raw.split('|');
    if (!updatedAt || !id)
      throw new AppError('validation_failed', 'The cursor is not valid.', {
        errors: [{ in: 'query', path: 'cursor', pointer: '/cursor', message: 'Invalid cursor', code: 'invalid_cursor' }],
      });
    after = { updatedAt, id };
  }
  const rows = await tenantHubStub(ctx.env, ctx.tenantId).listChats(ctx.tenantId, limit + 1, after);
  const data = rows.slice(0, limit);
  const last = data[data.length - 1];
  return { data, nextCursor: rows.length > limit && last ? encodeCursor(`${last.updatedAt}|${last.id}`) : null };
}

/** GET /v1/chat/{id}/ws: the chat now, then its turns live (for the user's other devices). */
export async function chatSocket(
  ctx: ServiceCtx,
  { chatId, request, version }: { chatId: string; request: Request; version: StreamVersion },
) {
  if (request.headers.get('upgrade')?.toLowerCase() !== 'websocket')
    throw new AppError('bad_request', 'This endpoint needs a WebSocket upgrade (Upgrade: websocket).', {
      headers: { upgrade: 'websocket' },
    });
  const url = new URL('https://chat-thread/ws');
  url.searchParams.set('tenant', ctx.tenantId);
  url.searchParams.set('chat', chatId);
  url.searchParams.set('v', String(version));
  const headers = new Headers();
  for (const h of ['upgrade', 'sec-websocket-key', 'sec-websocket-version', 'sec-websocket-protocol']) {
    const v = request.headers.get(h);
    if (v) headers.set(h, v);
  }
  const res = (await chatThreadStub(ctx.env, ctx.tenantId, chatId).fetch(new Request(url, { headers }))) as unknown as Response;
  if (res.status === 404) throw new AppError('not_found', 'Chat not found.');
  return guardStream(ctx.db, authOf(ctx), res, (p) => ctx.waitUntil(p));
}
