/**
 * D1 control-plane schema (drizzle). Migrations in /migrations are generated
 * from this file by `npm run db:generate`; never edit applied migrations.
 * Every tenant-owned table has `tenant_id` first in its primary access index.
 */
import { sql } from 'drizzle-orm';
import { index, integer, primaryKey, real, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core';

export interface TenantSettings {
  httpAllowlist?: string[];
  maxActiveRuns?: number;
}

const createdAt = () => text('created_at').notNull().default(sql`(strftime('%Y-%m-%dT%H:%M:%fZ','now'))`);

export const tenants = sqliteTable('tenants', {
  id: text('id').primaryKey(),
  name: text('name').notNull(),
  plan: text('plan', { enum: ['free', 'pro'] }).notNull().default('free'),
  /** Tenant settings: `{ httpAllowlist?: string[], maxActiveRuns?: number }` (see docs/flows.md). */
  settings: text('settings', { mode: 'json' }).$type<TenantSettings>().notNull().default(sql`'{}'`),
  createdAt: createdAt(),
  updatedAt: text('updated_at').notNull().default(sql`(strftime('%Y-%m-%dT%H:%M:%fZ','now'))`),
});

export const users = sqliteTable(
  'users',
  {
    id: text('id').primaryKey(),
    email: text('email').notNull(),
    name: text('name').notNull(),
    passwordHash: text('password_hash').notNull(),
    createdAt: createdAt(),
    updatedAt: text('updated_at').notNull().default(sql`(strftime('%Y-%m-%dT%H:%M:%fZ','now'))`),
  },
  (t) => [uniqueIndex('users_email_uq').on(t.email)],
);

export const memberships = sqliteTable(
  'memberships',
  {
    tenantId: text('tenant_id').notNull().references(() => tenants.id, { onDelete: 'cascade' }),
    userId: text('user_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
    role: text('role', { enum: ['admin', 'member', 'viewer'] }).notNull(),
    createdAt: createdAt(),
    updatedAt: text('updated_at').notNull().default(sql`(strftime('%Y-%m-%dT%H:%M:%fZ','now'))`),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.userId] }), index('memberships_user_idx').on(t.userId)],
);

export const refreshTokens = sqliteTable(
  'refresh_tokens',
  {
    id: text('id').primaryKey(),
    tenantId: text('tenant_id').notNull().references(() => tenants.id, { onDelete: 'cascade' }),
    userId: text('user_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
    familyId: text('family_id').notNull(),
    tokenHash: text('token_hash').notNull(),
    /** Set when this token was exchanged for its successor; presenting it again is reuse. */
    usedAt: text('used_at'),
    replacedBy: text('replaced_by'),
    revokedAt: text('revoked_at'),
    expiresAt: text('expires_at').notNull(),
    createdAt: createdAt(),
  },
  (t) => [
    uniqueIndex('refresh_tokens_hash_uq').on(t.tokenHash),
    index('refresh_tokens_family_idx').on(t.familyId),
    index('refresh_tokens_user_idx').on(t.tenantId, t.userId),
    index('refresh_tokens_expires_idx').on(t.expiresAt),
  ],
);

export const apiKeys = sqliteTable(
  'api_keys',
  {
    id: text('id').primaryKey(),
    tenantId: text('tenant_id').notNull().references(() => tenants.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    role: text('role', { enum: ['admin', 'member', 'viewer'] }).notNull(),
    /** First characters of the key, shown in listings so users can tell keys apart. */
    prefix: text('prefix').notNull(),
    keyHash: text('key_hash').notNull(),
    createdBy: text('created_by').notNull(),
    expiresAt: text('expires_at'),
    lastUsedAt: text('last_used_at'),
    revokedAt: text('revoked_at'),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex('api_keys_hash_uq').on(t.keyHash), index('api_keys_tenant_idx').on(t.tenantId, t.id)],
);

export const invitations = sqliteTable(
  'invitations',
  {
    id: text('id').primaryKey(),
    tenantId: text('tenant_id').notNull().references(() => tenants.id, { onDelete: 'cascade' }),
    email: text('email').notNull(),
    role: text('role', { enum: ['admin', 'member', 'viewer'] }).notNull(),
    tokenHash: text('token_hash').notNull(),
    invitedBy: text('invited_by').notNull(),
    expiresAt: text('expires_at').notNull(),
    acceptedAt: text('accepted_at'),
    acceptedBy: text('accepted_by'),
    revokedAt: text('revoked_at'),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex('invitations_token_uq').on(t.tokenHash), index('invitations_tenant_idx').on(t.tenantId, t.id)],
);

export const auditLog = sqliteTable(
  'audit_log',
  {
    id: text('id').primaryKey(),
    tenantId: text('tenant_id').notNull().references(() => tenants.id, { onDelete: 'cascade' }),
    actorType: text('actor_type', { enum: ['user', 'api_key', 'system', 'anonymous'] }).notNull(),
    actorId: text('actor_id'),
    action: text('action').notNull(),
    targetType: text('target_type'),
    targetId: text('target_id'),
    ip: text('ip'),
    requestId: text('request_id'),
    metadata: text('metadata', { mode: 'json' }).$type<Record<string, unknown>>(),
    createdAt: createdAt(),
  },
  (t) => [index('audit_log_tenant_idx').on(t.tenantId, t.id)],
);

/**
 * Registry of each TenantHub's next due time (earliest pending reminder or
 * unpublished event). The hub keeps its own row current; the cron sweeper
 * wakes hubs whose time has passed, so a lost alarm never loses a reminder.
 * Only hubs with pending work have a row, so it stays small.
 */
export const hubSchedules = sqliteTable(
  'hub_schedules',
  {
    tenantId: text('tenant_id').primaryKey(),
    nextDueAt: text('next_due_at').notNull(),
    updatedAt: text('updated_at').notNull(),
  },
  (t) => [index('hub_schedules_due_idx').on(t.nextDueAt)],
);

/** A tenant's flow; its definitions live in immutable versions. */
export const flows = sqliteTable(
  'flows',
  {
    id: text('id').primaryKey(),
    tenantId: text('tenant_id').notNull().references(() => tenants.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    description: text('description'),
    latestVersion: integer('latest_version').notNull(),
    createdBy: text('created_by').notNull(),
    createdAt: createdAt(),
    updatedAt: text('updated_at').notNull(),
    deletedAt: text('deleted_at'),
  },
  (t) => [index('flows_tenant_idx').on(t.tenantId, t.id)],
);

export const flowVersions = sqliteTable(
  'flow_versions',
  {
    flowId: text('flow_id').notNull().references(() => flows.id, { onDelete: 'cascade' }),
    tenantId: text('tenant_id').notNull().references(() => tenants.id, { onDelete: 'cascade' }),
    version: integer('version').notNull(),
    definition: text('definition', { mode: 'json' }).$type<Record<string, unknown>>().notNull(),
    createdBy: text('created_by').notNull(),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.flowId, t.version] }), index('flow_versions_tenant_idx').on(t.tenantId, t.flowId)],
);

/** Run summary index (the run's state lives in its FlowRun Durable Object). */
export const runs = sqliteTable(
  'runs',
  {
    id: text('id').primaryKey(),
    tenantId: text('tenant_id').notNull().references(() => tenants.id, { onDelete: 'cascade' }),
    flowId: text('flow_id').notNull(),
    flowVersion: integer('flow_version').notNull(),
    status: text('status', { enum: ['queued', 'running', 'waiting', 'succeeded', 'failed', 'cancelled'] }).notNull(),
    parentRunId: text('parent_run_id'),
    rerunOf: text('rerun_of'),
    createdBy: text('created_by').notNull(),
    createdAt: createdAt(),
    startedAt: text('started_at'),
    finishedAt: text('finished_at'),
    durationMs: integer('duration_ms'),
    inputTokens: integer('input_tokens').notNull().default(0),
    outputTokens: integer('output_tokens').notNull().default(0),
    costUsd: real('cost_usd').notNull().default(0),
    error: text('error'),
    updatedAt: text('updated_at').notNull(),
  },
  (t) => [
    index('runs_tenant_idx').on(t.tenantId, t.id),
    index('runs_tenant_status_idx').on(t.tenantId, t.status),
    index('runs_tenant_flow_idx').on(t.tenantId, t.flowId),
  ],
);

/** A tenant's LLM provider; the API key is AES-GCM encrypted with LLM_KEY_SECRET. */
export const llmProviders = sqliteTable(
  'llm_providers',
  {
    id: text('id').primaryKey(),
    tenantId: text('tenant_id').notNull().references(() => tenants.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    kind: text('kind', { enum: ['openai', 'workers-ai'] }).notNull(),
    baseUrl: text('base_url'),
    models: text('models', { mode: 'json' }).$type<Record<string, { model: string; inputCostPer1M?: number; outputCostPer1M?: number }>>().notNull(),
    apiKeyEnc: text('api_key_enc'),
    keyHint: text('key_hint'),
    createdBy: text('created_by').notNull(),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex('llm_providers_name_uq').on(t.tenantId, t.name)],
);
