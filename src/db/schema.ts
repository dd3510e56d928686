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
  /** IANA time zone for members without one of their own (quick add, the assistant). */
  timezone?: string;
  /** The agent the assistant runs (default: the built-in assistant). */
  assistantAgentId?: string;
  /** List the tenant's tools as MCP tools `tool_<name>` at /mcp (docs/mcp.md). Default false. */
  mcpExposeTools?: boolean;
}

const createdAt = () => text('created_at').notNull().default(sql`(strftime('%Y-%m-%dT%H:%M:%fZ','now'))`);

export const tenants = sqliteTable('tenants', {
  id: text('id').primaryKey(),
  name: text('name').notNull(),
  plan: text('plan', { enum: ['free', 'pro'] })
    .notNull()
    .default('free'),
  /** Tenant settings: `{ httpAllowlist?, maxActiveRuns?, timezone?, assistantAgentId?, mcpExposeTools? }` (docs/flows.md, docs/assistant.md, docs/mcp.md). */
  settings: text('settings', { mode: 'json' }).$type<TenantSettings>().notNull().default(sql`'{}'`),
  createdAt: createdAt(),
  updatedAt: text('updated_at').notNull().default(sql`(strftime('%Y-%m-%dT%H:%M:%fZ','now'))`),
});

/** The owning tenant: every tenant-scoped row cascades away with its tenant. */
const tenantRef = () =>
  text('tenant_id')
    .notNull()
    .references(() => tenants.id, { onDelete: 'cascade' });

export const users = sqliteTable(
  'users',
  {
    id: text('id').primaryKey(),
    email: text('email').notNull(),
    name: text('name').notNull(),
    passwordHash: text('password_hash').notNull(),
    /** IANA time zone from the profile (PATCH /v1/me); null = the tenant's default. */
    timezone: text('timezone'),
    /** When the address was proven by a verification link (docs/notifications.md); null = unverified. */
    emailVerifiedAt: text('email_verified_at'),
    createdAt: createdAt(),
    updatedAt: text('updated_at').notNull().default(sql`(strftime('%Y-%m-%dT%H:%M:%fZ','now'))`),
  },
  (t) => [uniqueIndex('users_email_uq').on(t.email)],
);

export const memberships = sqliteTable(
  'memberships',
  {
    tenantId: tenantRef(),
    userId: text('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
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
    tenantId: tenantRef(),
    userId: text('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
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
    tenantId: tenantRef(),
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
    tenantId: tenantRef(),
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
  (t) => [
    uniqueIndex('invitations_token_uq').on(t.tokenHash),
    index('invitations_tenant_idx').on(t.tenantId, t.id),
    // The expired-credentials sweep (src/identity/sweep.ts).
    index('invitations_expires_idx').on(t.expiresAt),
  ],
);

export const auditLog = sqliteTable(
  'audit_log',
  {
    id: text('id').primaryKey(),
    tenantId: tenantRef(),
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
  (t) => [
    index('audit_log_tenant_idx').on(t.tenantId, t.id),
    // Retention sweep (src/db/sweep.ts).
    index('audit_log_created_idx').on(t.createdAt),
  ],
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

/** The head row of a resource whose definitions live in immutable versions (flows, agents). */
const versionedHead = () => ({
  id: text('id').primaryKey(),
  tenantId: tenantRef(),
  name: text('name').notNull(),
  description: text('description'),
  latestVersion: integer('latest_version').notNull(),
  createdBy: text('created_by').notNull(),
  createdAt: createdAt(),
  updatedAt: text('updated_at').notNull(),
  deletedAt: text('deleted_at'),
});

/** A tenant's flow; its definitions live in immutable versions. */
export const flows = sqliteTable(
  'flows',
  {
    ...versionedHead(),
  },
  (t) => [index('flows_tenant_idx').on(t.tenantId, t.id)],
);

export const flowVersions = sqliteTable(
  'flow_versions',
  {
    flowId: text('flow_id')
      .notNull()
      .references(() => flows.id, { onDelete: 'cascade' }),
    tenantId: tenantRef(),
    version: integer('version').notNull(),
    definition: text('definition', { mode: 'json' }).$type<Record<string, unknown>>().notNull(),
    createdBy: text('created_by').notNull(),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.flowId, t.version] }), index('flow_versions_tenant_idx').on(t.tenantId, t.flowId)],
);

/** A tenant's agent (docs/agents.md); its definitions live in immutable versions, like flows. */
export const agents = sqliteTable(
  'agents',
  {
    ...versionedHead(),
  },
  (t) => [index('agents_tenant_idx').on(t.tenantId, t.id)],
);

/** Immutable: every PUT of an agent adds the next version (an agent node pins one or follows the latest). */
export const agentVersions = sqliteTable(
  'agent_versions',
  {
    agentId: text('agent_id')
      .notNull()
      .references(() => agents.id, { onDelete: 'cascade' }),
    tenantId: tenantRef(),
    version: integer('version').notNull(),
    spec: text('spec', { mode: 'json' }).$type<Record<string, unknown>>().notNull(),
    createdBy: text('created_by').notNull(),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.agentId, t.version] }), index('agent_versions_tenant_idx').on(t.tenantId, t.agentId)],
);

/** Run summary index (the run's state lives in its FlowRun Durable Object). */
export const runs = sqliteTable(
  'runs',
  {
    id: text('id').primaryKey(),
    tenantId: tenantRef(),
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
    // Sweeps: stuck runs (src/flows/sweep.ts) and retention of finished ones (src/db/sweep.ts).
    index('runs_status_updated_idx').on(t.status, t.updatedAt),
    index('runs_finished_idx').on(t.finishedAt),
  ],
);

/** A tenant's LLM provider; the API key is AES-GCM encrypted with LLM_KEY_SECRET. */
export const llmProviders = sqliteTable(
  'llm_providers',
  {
    id: text('id').primaryKey(),
    tenantId: tenantRef(),
    name: text('name').notNull(),
    kind: text('kind', { enum: ['openai', 'workers-ai'] }).notNull(),
    baseUrl: text('base_url'),
    models: text('models', { mode: 'json' })
      .$type<Record<string, { model: string; inputCostPer1M?: number; outputCostPer1M?: number }>>()
      .notNull(),
    apiKeyEnc: text('api_key_enc'),
    keyHint: text('key_hint'),
    createdBy: text('created_by').notNull(),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex('llm_providers_name_uq').on(t.tenantId, t.name)],
);

// ---------------------------------------------------------------------------
// Events and webhooks (docs/architecture.md "Events", docs/storage-schema.md)
// ---------------------------------------------------------------------------

/**
 * Control-plane events, inserted in the SAME `db.batch` as the change they
 * describe. The Worker then forwards them to the tenant's TenantHub, which gives
 * them the tenant's next sequence and publishes them; `forwarded_at` marks that
 * hand-over. The cron sweeper forwards rows left unmarked.
 */
export const eventOutbox = sqliteTable(
  'event_outbox',
  {
    id: text('id').primaryKey(),
    tenantId: tenantRef(),
    type: text('type').notNull(),
    occurredAt: text('occurred_at').notNull(),
    data: text('data', { mode: 'json' }).$type<Record<string, unknown>>().notNull(),
    forwardedAt: text('forwarded_at'),
    attempts: integer('attempts').notNull().default(0),
  },
  (t) => [index('event_outbox_tenant_idx').on(t.tenantId, t.id), index('event_outbox_pending_idx').on(t.forwardedAt, t.occurredAt)],
);

/** A tenant's webhook endpoint. Secrets are AES-GCM ciphertexts under WEBHOOK_SECRET_KEY (docs/security.md). */
export const webhookEndpoints = sqliteTable(
  'webhook_endpoints',
  {
    id: text('id').primaryKey(),
    tenantId: tenantRef(),
    url: text('url').notNull(),
    description: text('description'),
    eventTypes: text('event_types', { mode: 'json' }).$type<string[]>().notNull(),
    enabled: integer('enabled', { mode: 'boolean' }).notNull().default(true),
    disabledReason: text('disabled_reason', { enum: ['manual', 'gone', 'failing'] }),
    disabledAt: text('disabled_at'),
    secretEnc: text('secret_enc').notNull(),
    previousSecretEnc: text('previous_secret_enc'),
    previousSecretExpiresAt: text('previous_secret_expires_at'),
    /** Start of the current run of failed attempts (cleared by a success). */
    failingSince: text('failing_since'),
    /** Deliveries in a row that exhausted every attempt (cleared by a success). */
    exhaustedInRow: integer('exhausted_in_row').notNull().default(0),
    /** 'sequence': first attempts one at a time in sequence order; 'none': several at once (src/events/fanout.ts). */
    ordering: text('ordering', { enum: ['sequence', 'none'] })
      .notNull()
      .default('sequence'),
    createdBy: text('created_by').notNull(),
    createdAt: createdAt(),
    updatedAt: text('updated_at').notNull(),
  },
  (t) => [index('webhook_endpoints_tenant_idx').on(t.tenantId, t.id)],
);

/** One event for one endpoint. A state machine advanced by compare-and-set on `attempts` (src/events/deliveries.ts). */
export const webhookDeliveries = sqliteTable(
  'webhook_deliveries',
  {
    id: text('id').primaryKey(),
    tenantId: tenantRef(),
    endpointId: text('endpoint_id')
      .notNull()
      .references(() => webhookEndpoints.id, { onDelete: 'cascade' }),
    eventId: text('event_id').notNull(),
    eventType: text('event_type').notNull(),
    sequence: integer('sequence').notNull(),
    /** The exact JSON body sent (signed as is on every attempt). */
    payload: text('payload').notNull(),
    status: text('status', { enum: ['pending', 'succeeded', 'failed'] }).notNull(),
    attempts: integer('attempts').notNull().default(0),
    /** `attempts` when the current round (first delivery, replay or recovery) began: the backoff index base. */
    roundStart: integer('round_start').notNull().default(0),
    nextAttemptAt: text('next_attempt_at'),
    /** Set while an attempt is in flight; an expired lease means the attempt died and may be redone. */
    leaseUntil: text('lease_until'),
    lastStatusCode: integer('last_status_code'),
    lastError: text('last_error'),
    createdAt: createdAt(),
    updatedAt: text('updated_at').notNull(),
  },
  (t) => [
    uniqueIndex('webhook_deliveries_event_uq').on(t.endpointId, t.eventId),
    index('webhook_deliveries_tenant_idx').on(t.tenantId, t.endpointId, t.id),
    index('webhook_deliveries_due_idx').on(t.status, t.nextAttemptAt),
    // Retention sweep of finished deliveries (their attempts go with them, ON DELETE CASCADE).
    index('webhook_deliveries_done_idx').on(t.status, t.updatedAt),
  ],
);

/** The attempt log of a delivery: one row per HTTP attempt. */
export const webhookAttempts = sqliteTable(
  'webhook_attempts',
  {
    deliveryId: text('delivery_id')
      .notNull()
      .references(() => webhookDeliveries.id, { onDelete: 'cascade' }),
    attempt: integer('attempt').notNull(),
    tenantId: tenantRef(),
    trigger: text('trigger', { enum: ['auto', 'retry', 'manual', 'recover', 'test'] }).notNull(),
    startedAt: text('started_at').notNull(),
    durationMs: integer('duration_ms').notNull(),
    statusCode: integer('status_code'),
    error: text('error'),
    /** At most 1 KiB of the response body. */
    responseExcerpt: text('response_excerpt'),
  },
  (t) => [primaryKey({ columns: [t.deliveryId, t.attempt] })],
);

/** Event ids a once-only consumer sink (analytics) has handled; makes redelivered batches count once. */
export const consumedEvents = sqliteTable(
  'consumed_events',
  {
    eventId: text('event_id').primaryKey(),
    consumedAt: text('consumed_at').notNull().default(sql`(strftime('%Y-%m-%dT%H:%M:%fZ','now'))`),
  },
  (t) => [index('consumed_events_at_idx').on(t.consumedAt)],
);

/**
 * Queue messages that exhausted their retries, stored by the dead-letter queue's consumer
 * (src/queue/dead-letters.ts) under a key derived from the body (event id, or delivery and
 * attempt), so a message that dies again after a re-drive updates its row. The sweeper re-drives
 * `pending` rows when due, at most MAX_REDRIVES times; then the row stays `abandoned` for an operator.
 */
export const deadLetters = sqliteTable(
  'dead_letters',
  {
    id: text('id').primaryKey(),
    /** Null when the body names no tenant (e.g. an unparseable message). */
    tenantId: text('tenant_id'),
    /** Where a re-drive sends it: `events` (EVENTS) or `webhooks` (WEBHOOKS). */
    queue: text('queue', { enum: ['events', 'webhooks'] }).notNull(),
    kind: text('kind').notNull(),
    body: text('body', { mode: 'json' }).$type<unknown>().notNull(),
    status: text('status', { enum: ['pending', 'redriven', 'abandoned'] }).notNull(),
    /** Times the dead-letter queue delivered this message to us. */
    deaths: integer('deaths').notNull().default(1),
    redrives: integer('redrives').notNull().default(0),
    nextRedriveAt: text('next_redrive_at'),
    createdAt: createdAt(),
    updatedAt: text('updated_at').notNull(),
  },
  (t) => [index('dead_letters_due_idx').on(t.status, t.nextRedriveAt), index('dead_letters_tenant_idx').on(t.tenantId, t.id)],
);

// ---------------------------------------------------------------------------
// Tools (docs/tools.md, docs/storage-schema.md)
// ---------------------------------------------------------------------------

/** A JSON Schema document as stored (validated on save by src/tools/json-schema.ts). */
export type StoredJsonSchema = Record<string, unknown> | boolean;
/** `'none'` or the hosts a tool may reach through the runner's egress proxy. */
export type StoredToolNetwork = 'none' | { allow: string[] };

/** A tenant's tool: name and description; what runs lives in its versions. */
export const tools = sqliteTable(
  'tools',
  {
    id: text('id').primaryKey(),
    tenantId: tenantRef(),
    name: text('name').notNull(),
    description: text('description').notNull().default(''),
    /** The newest version; `invoke` without a version runs it. */
    latestVersion: integer('latest_version').notNull(),
    createdBy: text('created_by').notNull(),
    createdAt: createdAt(),
    updatedAt: text('updated_at').notNull(),
  },
  (t) => [uniqueIndex('tools_name_uq').on(t.tenantId, t.name), index('tools_tenant_idx').on(t.tenantId, t.id)],
);

/** Immutable: every change of code, schemas, runtime or limits adds the next version. */
export const toolVersions = sqliteTable(
  'tool_versions',
  {
    toolId: text('tool_id')
      .notNull()
      .references(() => tools.id, { onDelete: 'cascade' }),
    version: integer('version').notNull(),
    tenantId: tenantRef(),
    runtime: text('runtime', { enum: ['node', 'python3'] }).notNull(),
    code: text('code').notNull(),
    inputSchema: text('input_schema', { mode: 'json' }).$type<StoredJsonSchema>().notNull(),
    outputSchema: text('output_schema', { mode: 'json' }).$type<StoredJsonSchema>(),
    timeoutMs: integer('timeout_ms').notNull(),
    memoryMb: integer('memory_mb').notNull(),
    network: text('network', { mode: 'json' }).$type<StoredToolNetwork>().notNull(),
    createdBy: text('created_by').notNull(),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.toolId, t.version] }), index('tool_versions_tenant_idx').on(t.tenantId, t.toolId)],
);

/**
 * One compact row per invocation (API or flow). No foreign key to `tools`: the
 * record of what ran (and was billed) outlives a deleted tool.
 */
export const toolInvocations = sqliteTable(
  'tool_invocations',
  {
    id: text('id').primaryKey(),
    tenantId: tenantRef(),
    toolId: text('tool_id').notNull(),
    version: integer('version').notNull(),
    source: text('source', { enum: ['api', 'flow'] }).notNull(),
    outcome: text('outcome', {
      enum: ['ok', 'timeout', 'memory_limit', 'exit_nonzero', 'invalid_output', 'sandbox_error', 'invalid_input'],
    }).notNull(),
    durationMs: integer('duration_ms').notNull(),
    inputBytes: integer('input_bytes').notNull(),
    outputBytes: integer('output_bytes').notNull(),
    /** stdout + stderr bytes the tool wrote (excerpts are returned, never stored). */
    logBytes: integer('log_bytes').notNull(),
    /** The runner's isolation mode that ran the tool; null when it did not run (invalid input, runner unavailable). */
    sandbox: text('sandbox', { enum: ['bwrap', 'wasm'] }),
    createdAt: createdAt(),
  },
  (t) => [
    index('tool_invocations_tool_idx').on(t.tenantId, t.toolId, t.id),
    // Retention sweep (src/db/sweep.ts).
    index('tool_invocations_created_idx').on(t.createdAt),
  ],
);

// ---------------------------------------------------------------------------
// Knowledge bases (docs/knowledge.md). Chunks, FTS and vectors live in the
// KnowledgeShard Durable Objects; D1 holds the catalogue and each document's status.
// ---------------------------------------------------------------------------

export const knowledgeBases = sqliteTable(
  'knowledge_bases',
  {
    id: text('id').primaryKey(),
    tenantId: tenantRef(),
    name: text('name').notNull(),
    embedding: text('embedding', { mode: 'json' }).$type<{ provider: string; model: string; dimensions: number }>().notNull(),
    chunking: text('chunking', { mode: 'json' }).$type<{ maxTokens: number; overlap: number }>().notNull(),
    /** Shards (KnowledgeShard objects) the documents are spread over by source; fixed at creation. */
    shards: integer('shards').notNull().default(1),
    createdBy: text('created_by').notNull(),
    createdAt: createdAt(),
    updatedAt: text('updated_at').notNull(),
  },
  (t) => [index('knowledge_bases_tenant_idx').on(t.tenantId, t.id)],
);

/**
 * One row per (knowledge base, source): a re-upload of the same source bumps `version`
 * and keeps the id; the shard swaps the chunks when that version is indexed.
 */
export const knowledgeDocuments = sqliteTable(
  'knowledge_documents',
  {
    id: text('id').primaryKey(),
    tenantId: tenantRef(),
    knowledgeBaseId: text('knowledge_base_id')
      .notNull()
      .references(() => knowledgeBases.id, { onDelete: 'cascade' }),
    source: text('source').notNull(),
    title: text('title').notNull(),
    contentType: text('content_type', { enum: ['text', 'markdown', 'html', 'json'] }).notNull(),
    metadata: text('metadata', { mode: 'json' }).$type<Record<string, string | number | boolean>>().notNull(),
    status: text('status', { enum: ['queued', 'indexed', 'failed'] }).notNull(),
    version: integer('version').notNull(),
    /** The version whose chunks are searchable (null before the first indexing). */
    indexedVersion: integer('indexed_version'),
    bytes: integer('bytes').notNull(),
    chunks: integer('chunks').notNull().default(0),
    error: text('error'),
    createdAt: createdAt(),
    updatedAt: text('updated_at').notNull(),
    indexedAt: text('indexed_at'),
  },
  (t) => [
    uniqueIndex('knowledge_documents_source_uq').on(t.knowledgeBaseId, t.source),
    index('knowledge_documents_kb_idx').on(t.tenantId, t.knowledgeBaseId, t.id),
    /** The re-enqueue sweep (src/knowledge/sweep.ts): queued documents by age. */
    index('knowledge_documents_status_idx').on(t.status, t.updatedAt),
  ],
);

/**
 * A member's notification preferences in one tenant (`GET|PUT /v1/me/notification-preferences`,
 * docs/notifications.md). No row: in-app only, no email.
 */
export const notificationPreferences = sqliteTable(
  'notification_preferences',
  {
    tenantId: text('tenant_id')
      .notNull()
      .references(() => tenants.id, { onDelete: 'cascade' }),
    userId: text('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    /** `NotificationPreferences` (src/email/schemas.ts). */
    prefs: text('prefs', { mode: 'json' }).notNull(),
    updatedAt: text('updated_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.userId] })],
);

/**
 * Addresses not to email: `unsubscribed` (one-click, per tenant) or `bounced` (the provider refused
 * the address; `scope` '*', every tenant).
 */
export const emailSuppressions = sqliteTable(
  'email_suppressions',
  {
    address: text('address').notNull(),
    /** A tenant id, or '*' for every tenant. */
    scope: text('scope').notNull(),
    reason: text('reason', { enum: ['unsubscribed', 'bounced'] }).notNull(),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.address, t.scope] })],
);

/**
 * One notification to one member by email. A state machine advanced by compare-and-set on
 * `attempts` (src/email/attempt.ts), like webhook deliveries.
 */
export const emailDeliveries = sqliteTable(
  'email_deliveries',
  {
    id: text('id').primaryKey(),
    tenantId: text('tenant_id')
      .notNull()
      .references(() => tenants.id, { onDelete: 'cascade' }),
    notificationId: text('notification_id').notNull(),
    userId: text('user_id').notNull(),
    address: text('address').notNull(),
    /** The notification's kind (reminder, system). */
    kind: text('kind').notNull(),
    status: text('status', { enum: ['queued', 'sent', 'failed', 'suppressed', 'deferred'] }).notNull(),
    /** Why it is suppressed or deferred: preferences, unsubscribed, bounced, unverified, quiet_hours, digest. */
    reason: text('reason'),
    /** What the message shows (src/email/render.ts `MessageInput`), fixed when the delivery is created. */
    payload: text('payload', { mode: 'json' }).notNull(),
    attempts: integer('attempts').notNull().default(0),
    nextAttemptAt: text('next_attempt_at'),
    /** Set while an attempt is in flight; an expired lease means the attempt died and may be redone. */
    leaseUntil: text('lease_until'),
    providerMessageId: text('provider_message_id'),
    lastStatusCode: integer('last_status_code'),
    lastError: text('last_error'),
    createdAt: createdAt(),
    updatedAt: text('updated_at').notNull(),
  },
  (t) => [
    uniqueIndex('email_deliveries_notification_uq').on(t.tenantId, t.notificationId, t.userId),
    index('email_deliveries_due_idx').on(t.status, t.nextAttemptAt),
    // Retention of finished deliveries (src/email/sweep.ts).
    index('email_deliveries_done_idx').on(t.status, t.updatedAt),
  ],
);

/** Signup verification links: single use (`used_at`), expiring; stored as hashes. */
export const emailVerifications = sqliteTable(
  'email_verifications',
  {
    tokenHash: text('token_hash').primaryKey(),
    userId: text('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    address: text('address').notNull(),
    expiresAt: text('expires_at').notNull(),
    usedAt: text('used_at'),
    createdAt: createdAt(),
  },
  (t) => [index('email_verifications_user_idx').on(t.userId, t.createdAt), index('email_verifications_expires_idx').on(t.expiresAt)],
);
