/** Request and response schemas of the assistant (/v1/chat, /v1/chats): the AI SDK's shapes, bounded. */
import { z } from '@hono/zod-openapi';

export const CHAT_ID = /^[A-Za-z0-9_-]{1,128}$/;
const ChatId = z
  .string()
  .regex(CHAT_ID, 'Letters, digits, _ and -, at most 128 (the AI SDK generates such ids)')
  .openapi({ example: 'Yq2kP0xB9fT3mW1c' });

export const ChatIdParam = z.object({
  chatId: ChatId.openapi({ param: { name: 'chatId', in: 'path' } }),
});

const PartIn = z.looseObject({ type: z.string().min(1).max(100) }).openapi('UIMessagePartIn', {
  description: 'A UIMessage part as the client holds it; only the new message’s text and answers are read',
});
export const UIMessageIn = z
  .looseObject({
    id: z.string().max(200).optional(),
    role: z.enum(['system', 'user', 'assistant']),
    parts: z.array(PartIn).max(1000),
    metadata: z.unknown().optional(),
  })
  .openapi('UIMessageIn');

/** What `DefaultChatTransport` POSTs (plus an optional `timezone` a client may add with its `body` option). */
export const ChatRequestBody = z
  .strictObject({
    id: ChatId.openapi({ description: 'The chat (created by its first message)' }),
    messages: z.array(UIMessageIn).max(10_000).optional().openapi({
      description:
        'The client’s copy of the conversation. Only the last message is read: a new user message, or the assistant message carrying answers to the approvals and askUser calls the turn waits on. The rest comes from storage.',
    }),
    message: UIMessageIn.optional().openapi({ description: 'Instead of `messages`: just the new message' }),
    trigger: z.enum(['submit-message', 'regenerate-message']).default('submit-message'),
    messageId: z.string().max(200).optional().openapi({ description: 'regenerate-message: the assistant message to answer again' }),
    timezone: z.string().min(1).max(64).optional().openapi({
      description: "IANA time zone for this turn; default: your profile's, else the tenant's, else UTC",
      example: 'Europe/Berlin',
    }),
  })
  .openapi('ChatRequest');

export const OnBusyQuery = z.object({
  onBusy: z
    .enum(['queue', 'reject', 'interrupt'])
    .default('reject')
    .openapi({
      param: { name: 'onBusy', in: 'query' },
      description: 'While a turn runs: reject (409), queue after it, or interrupt it (stop, then answer this)',
    }),
});

export const StreamVersionHeader = z.object({
  'x-ui-stream-version': z.string().max(8).optional().openapi({
    description: '`7` opts in to chunks only ai@7 validates (`reset-step` on provider failover, `tool-approval-response`)',
  }),
});

export const ResumeHeaders = StreamVersionHeader.extend({
  'last-event-id': z
    .string()
    .max(20)
    .optional()
    .openapi({ description: 'Continue after this chunk (exact continuation) instead of a full replay' }),
});

const ToolPartOut = z
  .object({
    type: z.string().openapi({ description: '`tool-<toolName>`' }),
    toolCallId: z.string(),
    state: z.enum([
      'input-streaming',
      'input-available',
      'approval-requested',
      'approval-responded',
      'output-available',
      'output-error',
      'output-denied',
    ]),
    input: z.unknown().optional(),
    output: z.unknown().optional(),
    errorText: z.string().optional(),
    approval: z.object({ id: z.string(), approved: z.boolean().optional(), reason: z.string().optional() }).optional(),
  })
  .openapi('UIToolPart');

export const UIMessageSchema = z
  .object({
    id: z.string(),
    role: z.enum(['system', 'user', 'assistant']),
    metadata: z.record(z.string(), z.unknown()).optional(),
    parts: z.array(
      z.union([
        z.object({ type: z.literal('step-start') }),
        z.object({ type: z.literal('text'), text: z.string(), state: z.enum(['streaming', 'done']).optional() }),
        ToolPartOut,
        z.object({
          type: z.literal('source-document'),
          sourceId: z.string(),
          mediaType: z.string(),
          title: z.string(),
          filename: z.string().optional(),
        }),
        z.object({ type: z.string(), id: z.string().optional(), data: z.unknown() }),
      ]),
    ),
  })
  .openapi('UIMessage', { description: 'The AI SDK UIMessage (parts: step-start, text, tool-<name>, source-document, data-*)' });

const TurnStatus = z.enum(['queued', 'running', 'waiting', 'completed', 'failed', 'stopped']);
const Timestamp = z.string().openapi({ format: 'date-time' });

export const ChatSummarySchema = z
  .object({
    id: z.string(),
    title: z.string(),
    createdBy: z.string(),
    createdAt: Timestamp,
    updatedAt: Timestamp,
    messageCount: z.number().int(),
    lastTurn: z.union([z.object({ id: z.string(), status: TurnStatus, messageId: z.string() }), z.null()]),
  })
  .openapi('ChatSummary');

export const ChatSchema = ChatSummarySchema.extend({ messages: z.array(UIMessageSchema) }).openapi('Chat');

export const StopResultSchema = z
  .object({
    stopped: z.array(
      z.object({
        id: z.string(),
        status: TurnStatus,
        messageId: z.string(),
        runId: z.string(),
        error: z.string().nullable(),
        createdAt: Timestamp,
        finishedAt: Timestamp.nullable(),
      }),
    ),
  })
  .openapi('ChatStopResult');

/** The UI message stream chunks the assistant sends (one SSE `data:` frame each; no `event:` names). */
const CHUNKS: Record<string, z.ZodType> = {
  start: z.object({ type: z.literal('start'), messageId: z.string().optional(), messageMetadata: z.unknown().optional() }),
  'start-step': z.object({ type: z.literal('start-step') }),
  'finish-step': z.object({ type: z.literal('finish-step') }),
  'text-start': z.object({ type: z.literal('text-start'), id: z.string() }),
  'text-delta': z.object({ type: z.literal('text-delta'), id: z.string(), delta: z.string() }),
  'text-end': z.object({ type: z.literal('text-end'), id: z.string() }),
  'tool-input-start': z.object({ type: z.literal('tool-input-start'), toolCallId: z.string(), toolName: z.string() }),
  'tool-input-available': z.object({
    type: z.literal('tool-input-available'),
    toolCallId: z.string(),
    toolName: z.string(),
    input: z.unknown(),
  }),
  'tool-approval-request': z.object({ type: z.literal('tool-approval-request'), approvalId: z.string(), toolCallId: z.string() }),
  'tool-approval-response': z
    .object({ type: z.literal('tool-approval-response'), approvalId: z.string(), approved: z.boolean(), reason: z.string().optional() })
    .openapi({ description: 'Only with X-UI-Stream-Version: 7' }),
  'tool-output-available': z.object({ type: z.literal('tool-output-available'), toolCallId: z.string(), output: z.unknown() }),
  'tool-output-error': z.object({ type: z.literal('tool-output-error'), toolCallId: z.string(), errorText: z.string() }),
  'tool-output-denied': z.object({ type: z.literal('tool-output-denied'), toolCallId: z.string() }),
  'reset-step': z.object({ type: z.literal('reset-step') }).openapi({
    description: 'Only with X-UI-Stream-Version: 7: discard the step so far (provider failover). Others get a transient data-reset-step.',
  }),
  'data-reset-step': z.object({ type: z.literal('data-reset-step'), data: z.unknown(), transient: z.literal(true) }),
  'message-metadata': z.object({ type: z.literal('message-metadata'), messageMetadata: z.unknown() }),
  finish: z.object({ type: z.literal('finish'), finishReason: z.string().optional(), messageMetadata: z.unknown().optional() }),
  error: z.object({ type: z.literal('error'), errorText: z.string() }),
  abort: z.object({ type: z.literal('abort'), reason: z.string().optional() }),
};

const chunkName = (t: string) => `UIChunk${t.replace(/(?:^|-)([a-z])/g, (_, c: string) => c.toUpperCase())}`;

/** The response of POST /v1/chat and GET /v1/chat/{id}/stream: text/event-stream of UI chunks, ending `data: [DONE]`. */
export function uiStreamContent(description: string) {
  const named = Object.entries(CHUNKS).map(([type, schema]) => ({ type, name: chunkName(type), schema: schema.openapi(chunkName(type)) }));
  return {
    description,
    headers: {
      'x-vercel-ai-ui-message-stream': { schema: { type: 'string' as const, enum: ['v1'] }, description: 'The AI SDK UI message stream' },
    },
    content: {
      'text/event-stream': {
        schema: z
          .object({
            id: z.string().openapi({ description: 'The chunk’s position in the turn; resume after it with Last-Event-ID' }),
            data: z.union(named.map((n) => n.schema) as unknown as [z.ZodType, z.ZodType, ...z.ZodType[]]),
          })
          .openapi('UIMessageStreamFrame', {
            description: 'One SSE frame: `data` is a UI message chunk as JSON; the stream ends with `data: [DONE]`',
          }),
        'x-sse-events': Object.fromEntries(named.map(({ type, name }) => [type, { $ref: `#/components/schemas/${name}` }])),
      },
    },
  };
}
