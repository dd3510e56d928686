/** /v1/knowledge-bases: knowledge bases, their documents and retrieval (docs/knowledge.md). Members write; any member reads. */
import { createRoute } from '@hono/zod-openapi';
import * as kb from '../knowledge/knowledge-service';
import {
  CreateKnowledgeBaseBody,
  DocIdParam,
  DocumentAcceptedSchema,
  KbIdParam,
  KnowledgeBaseSchema,
  KnowledgeDocumentSchema,
  QueryBody,
  QueryResponseSchema,
  UpdateKnowledgeBaseBody,
  UploadDocumentBody,
} from '../knowledge/schemas';
import { BearerAuth, jsonBody, jsonContent, problemResponses } from '../lib/openapi';
import { PageQuerySchema, pageSchema } from '../lib/pagination';
import { newRouter } from '../lib/router';
import { guarded } from './deps';

const tags = ['Knowledge bases'];

export const knowledgeRoutes = newRouter()
  .openapi(
    createRoute({
      method: 'post',
      path: '/v1/knowledge-bases',
      operationId: 'knowledgeBases.create',
      tags,
      summary: 'Create a knowledge base (embedder, chunking, shards)',
      middleware: guarded('data:write'),
      security: BearerAuth,
      request: { body: jsonBody(CreateKnowledgeBaseBody) },
      responses: { 201: jsonContent(KnowledgeBaseSchema, 'Knowledge base created'), ...problemResponses() },
    }),
    async (c) => c.json(await kb.createKnowledgeBase(c.var.ctx, c.req.valid('json')), 201),
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/v1/knowledge-bases',
      operationId: 'knowledgeBases.list',
      tags,
      summary: 'List knowledge bases',
      middleware: guarded('data:read'),
      security: BearerAuth,
      request: { query: PageQuerySchema },
      responses: { 200: jsonContent(pageSchema(KnowledgeBaseSchema, 'KnowledgeBasePage'), 'Knowledge bases'), ...problemResponses() },
    }),
    async (c) => c.json(await kb.listKnowledgeBases(c.var.ctx, c.req.valid('query')), 200),
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/v1/knowledge-bases/{knowledgeBaseId}',
      operationId: 'knowledgeBases.get',
      tags,
      summary: 'Get a knowledge base',
      middleware: guarded('data:read'),
      security: BearerAuth,
      request: { params: KbIdParam },
      responses: { 200: jsonContent(KnowledgeBaseSchema, 'The knowledge base'), ...problemResponses() },
    }),
    async (c) => c.json(await kb.getKnowledgeBase(c.var.ctx, { id: c.req.valid('param').knowledgeBaseId }), 200),
  )
  .openapi(
    createRoute({
      method: 'patch',
      path: '/v1/knowledge-bases/{knowledgeBaseId}',
      operationId: 'knowledgeBases.update',
      tags,
      summary: 'Rename a knowledge base or change the chunking of future uploads',
      middleware: guarded('data:write'),
      security: BearerAuth,
      request: { params: KbIdParam, body: jsonBody(UpdateKnowledgeBaseBody) },
      responses: { 200: jsonContent(KnowledgeBaseSchema, 'The knowledge base'), ...problemResponses() },
    }),
    async (c) => c.json(await kb.updateKnowledgeBase(c.var.ctx, { id: c.req.valid('param').knowledgeBaseId, ...c.req.valid('json') }), 200),
  )
  .openapi(
    createRoute({
      method: 'delete',
      path: '/v1/knowledge-bases/{knowledgeBaseId}',
      operationId: 'knowledgeBases.delete',
      tags,
      summary: 'Delete a knowledge base, its documents and its chunks',
      middleware: guarded('data:write'),
      security: BearerAuth,
      request: { params: KbIdParam },
      responses: { 204: { description: 'Deleted' }, ...problemResponses() },
    }),
    async (c) => {
      await kb.deleteKnowledgeBase(c.var.ctx, { id: c.req.valid('param').knowledgeBaseId });
      return c.body(null, 204);
    },
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/v1/knowledge-bases/{knowledgeBaseId}/documents',
      operationId: 'knowledgeDocuments.create',
      tags,
      summary: 'Upload a document (text, Markdown, HTML or JSON); indexed asynchronously. The same source again replaces it.',
      middleware: guarded('data:write'),
      security: BearerAuth,
      request: { params: KbIdParam, body: jsonBody(UploadDocumentBody) },
      responses: {
        202: jsonContent(DocumentAcceptedSchema, 'Accepted; `kb.document.indexed` or `kb.document.failed` follows'),
        ...problemResponses([409]),
      },
    }),
    async (c) =>
      c.json(await kb.uploadDocument(c.var.ctx, { knowledgeBaseId: c.req.valid('param').knowledgeBaseId, ...c.req.valid('json') }), 202),
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/v1/knowledge-bases/{knowledgeBaseId}/documents',
      operationId: 'knowledgeDocuments.list',
      tags,
      summary: 'List documents with their indexing status',
      middleware: guarded('data:read'),
      security: BearerAuth,
      request: { params: KbIdParam, query: PageQuerySchema },
      responses: { 200: jsonContent(pageSchema(KnowledgeDocumentSchema, 'KnowledgeDocumentPage'), 'Documents'), ...problemResponses() },
    }),
    async (c) =>
      c.json(await kb.listDocuments(c.var.ctx, { knowledgeBaseId: c.req.valid('param').knowledgeBaseId, ...c.req.valid('query') }), 200),
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/v1/knowledge-bases/{knowledgeBaseId}/documents/{documentId}',
      operationId: 'knowledgeDocuments.get',
      tags,
      summary: 'Get a document and its indexing status',
      middleware: guarded('data:read'),
      security: BearerAuth,
      request: { params: DocIdParam },
      responses: { 200: jsonContent(KnowledgeDocumentSchema, 'The document'), ...problemResponses() },
    }),
    async (c) => {
      const p = c.req.valid('param');
      return c.json(await kb.getDocument(c.var.ctx, { knowledgeBaseId: p.knowledgeBaseId, id: p.documentId }), 200);
    },
  )
  .openapi(
    createRoute({
      method: 'delete',
      path: '/v1/knowledge-bases/{knowledgeBaseId}/documents/{documentId}',
      operationId: 'knowledgeDocuments.delete',
      tags,
      summary: 'Delete a document; it is absent from every query answered after this returns',
      middleware: guarded('data:write'),
      security: BearerAuth,
      request: { params: DocIdParam },
      responses: { 204: { description: 'Deleted' }, ...problemResponses() },
    }),
    async (c) => {
      const p = c.req.valid('param');
      await kb.deleteDocument(c.var.ctx, { knowledgeBaseId: p.knowledgeBaseId, id: p.documentId });
      return c.body(null, 204);
    },
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/v1/knowledge-bases/{knowledgeBaseId}/query',
      operationId: 'knowledgeBases.query',
      tags,
      summary: 'Retrieve chunks: hybrid (reciprocal rank fusion), vector (cosine) or keyword (BM25)',
      middleware: guarded('data:read'),
      security: BearerAuth,
      request: { params: KbIdParam, body: jsonBody(QueryBody) },
      responses: { 200: jsonContent(QueryResponseSchema, 'Best chunks first'), ...problemResponses([503]) },
    }),
    async (c) =>
      c.json(
        await kb.queryKnowledgeBase(c.var.ctx, { knowledgeBaseId: c.req.valid('param').knowledgeBaseId, ...c.req.valid('json') }),
        200,
      ),
  );
