/**
 * The assistant: /v1/chat speaks the Vercel AI SDK's chat protocol
 * (`DefaultChatTransport` with `api: '/v1/chat'`), /v1/chats reads and deletes
 * chats. docs/assistant.md.
 */
import { createRoute, z } from '@hono/zod-openapi';
import {
  ChatIdParam,
  ChatRequestBody,
  ChatSchema,
  ChatSummarySchema,
  OnBusyQuery,
  ResumeHeaders,
  StopResultSchema,
  StreamVersionHeader,
  uiStreamContent,
} from '../chat/schemas';
import * as chat from '../chat/service';
import { BearerAuth, jsonBody, jsonContent, problemResponses } from '../lib/openapi';
import { PageQuerySchema, pageSchema } from '../lib/pagination';
import { newRouter } from '../lib/router';
import { guarded } from './deps';

const tags = ['Assistant'];
const TicketQuery = z.object({
  ticket: z
    .string()
    .max(200)
    .optional()
    .openapi({
      param: { name: 'ticket', in: 'query' },
      description: 'A single-use stream ticket (POST /v1/stream-tickets) instead of the header',
    }),
});

export const chatRoutes = newRouter()
  .openapi(
    createRoute({
      method: 'post',
      path: '/v1/chat',
      operationId: 'chat.send',
      tags,
      summary: 'Send a message to the assistant (or answer its approval / askUser); the answer streams as AI SDK UI message chunks',
      description:
        'The body is what the AI SDK’s DefaultChatTransport sends. Only the last message is read; the history comes from storage. ' +
        'Any role may chat; a viewer’s turn cannot change data (write tools answer with an error).',
      middleware: guarded('data:read'),
      security: BearerAuth,
      request: { body: jsonBody(ChatRequestBody), query: OnBusyQuery, headers: StreamVersionHeader },
      responses: { 200: uiStreamContent('The turn as a UI message stream'), ...problemResponses([409]) },
    }),
    async (c) => {
      const body = c.req.valid('json');
      return (await chat.sendChat(c.var.ctx, {
        chatId: body.id,
        messages: body.messages,
        message: body.message,
        trigger: body.trigger,
        messageId: body.messageId,
        timezone: body.timezone,
        onBusy: c.req.valid('query').onBusy,
        version: chat.streamVersionOf(c.req.valid('header')['x-ui-stream-version']),
      })) as never;
    },
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/v1/chat/{chatId}/stream',
      operationId: 'chat.resume',
      tags,
      summary: 'Resume the active turn’s stream: a full replay (what the AI SDK expects), or after Last-Event-ID; 204 when none',
      middleware: guarded('data:read', { allowStreamTicket: true }),
      security: BearerAuth,
      request: { params: ChatIdParam, headers: ResumeHeaders, query: TicketQuery },
      responses: {
        200: uiStreamContent('The active turn as a UI message stream'),
        204: { description: 'No turn is streaming' },
        ...problemResponses(),
      },
    }),
    async (c) => {
      const h = c.req.valid('header');
      return (await chat.resumeChat(c.var.ctx, {
        chatId: c.req.valid('param').chatId,
        lastEventId: h['last-event-id'],
        version: chat.streamVersionOf(h['x-ui-stream-version']),
      })) as never;
    },
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/v1/chat/{chatId}/stop',
      operationId: 'chat.stop',
      tags,
      summary: 'Stop the assistant: the running turn ends keeping its partial answer; queued messages are dropped',
      middleware: guarded('data:read'),
      security: BearerAuth,
      request: { params: ChatIdParam },
      responses: { 200: jsonContent(StopResultSchema, 'The turns that were stopped (none if nothing ran)'), ...problemResponses() },
    }),
    async (c) => c.json(await chat.stopChat(c.var.ctx, { chatId: c.req.valid('param').chatId }), 200),
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/v1/chat/{chatId}/ws',
      operationId: 'chat.websocket',
      tags,
      summary: 'WebSocket: the chat now, then its turns live (chunks, messages, turn states), for other devices',
      middleware: guarded('data:read', { allowStreamTicket: true }),
      security: BearerAuth,
      request: {
        params: ChatIdParam,
        query: TicketQuery.extend({
          v: z
            .enum(['6', '7'])
            .optional()
            .openapi({ param: { name: 'v', in: 'query' } }),
        }),
      },
      responses: { 101: { description: 'Switching protocols' }, ...problemResponses() },
    }),
    async (c) =>
      (await chat.chatSocket(c.var.ctx, {
        chatId: c.req.valid('param').chatId,
        request: c.req.raw,
        version: c.req.valid('query').v === '7' ? 7 : 6,
      })) as never,
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/v1/chats',
      operationId: 'chats.list',
      tags,
      summary: 'The tenant’s chats, most recently active first',
      middleware: guarded('data:read'),
      security: BearerAuth,
      request: { query: PageQuerySchema },
      responses: { 200: jsonContent(pageSchema(ChatSummarySchema, 'ChatPage'), 'A page of chats'), ...problemResponses() },
    }),
    async (c) => c.json(await chat.listChats(c.var.ctx, c.req.valid('query')), 200),
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/v1/chats/{chatId}',
      operationId: 'chats.get',
      tags,
      summary: 'A chat and its messages (UIMessages; a streaming answer as far as it got)',
      middleware: guarded('data:read'),
      security: BearerAuth,
      request: { params: ChatIdParam },
      responses: { 200: jsonContent(ChatSchema, 'The chat'), ...problemResponses() },
    }),
    async (c) => c.json(await chat.getChat(c.var.ctx, { chatId: c.req.valid('param').chatId }), 200),
  )
  .openapi(
    createRoute({
      method: 'delete',
      path: '/v1/chats/{chatId}',
      operationId: 'chats.delete',
      tags,
      summary: 'Delete a chat (stops its turn first)',
      middleware: guarded('data:write'),
      security: BearerAuth,
      request: { params: ChatIdParam },
      responses: { 204: { description: 'Deleted' }, ...problemResponses() },
    }),
    async (c) => {
      await chat.deleteChat(c.var.ctx, { chatId: c.req.valid('param').chatId });
      return c.body(null, 204);
    },
  );
