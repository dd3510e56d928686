/**
 * LLM providers per tenant: create, list, get, delete through the tenant scope,
 * and `loadProviders` for the `llm` node (by name, decrypted). The API key is
 * sealed before it reaches D1 and leaves this module only inside a
 * `ResolvedProvider`; views carry a 4-character hint, never the key.
 */
import { desc, eq, inArray, lt } from 'drizzle-orm';
import { type Config, isDeployed } from '../../config';
import type { Db } from '../../db/client';
import { llmProviders } from '../../db/schema';
import { TenantScope } from '../../db/tenant-scope';
import { auditInsert, auditInsertWhere, previousStatementChanged } from '../../identity/audit';
import type { ServiceCtx } from '../../lib/context';
import { newId } from '../../lib/ids';
import { decodeCursor, type PageInput, toPage } from '../../lib/pagination';
import { AppError } from '../../lib/problem';
import { isPrivateHost } from '../../lib/targets';
import { type KeyBox, KeySecretMissing, llmKeyBox } from './key-box';
import type { CreateLlmProviderInput } from './schemas';
import type { ModelMap, ResolvedProvider } from './types';

type ProviderRow = typeof llmProviders.$inferSelect;

/** Keys shorter than this get no hint: four characters would be too much of them. */
const MIN_KEY_LENGTH_FOR_HINT = 12;

export function providerView(row: ProviderRow) {
  return {
    id: row.id,
    name: row.name,
    kind: row.kind,
    baseUrl: row.baseUrl,
    models: row.models,
    keyHint: row.keyHint,
    createdBy: row.createdBy,
    createdAt: row.createdAt,
  };
}

export async function createProvider(ctx: ServiceCtx, input: CreateLlmProviderInput) {
  const { scope, now } = ctx;
  const box = llmKeyBox(ctx.env);
  const taken = await scope.select(llmProviders, eq(llmProviders.name, input.name)).get();
  if (taken) throw nameTaken(input.name);

  const id = newId('llm');
  const baseUrl = input.kind === 'openai' ? checkBaseUrl(input.baseUrl, ctx.config) : null;
  const apiKey = input.kind === 'openai' ? input.apiKey : undefined;
  const row = {
    id,
    name: input.name,
    kind: input.kind,
    baseUrl,
    models: normalizeModels(input.models),
    apiKeyEnc: apiKey ? await box.seal(ctx.tenantId, id, apiKey) : null,
    keyHint: apiKey && apiKey.length >= MIN_KEY_LENGTH_FOR_HINT ? apiKey.slice(-4) : null,
    createdBy: ctx.actor.id,
    createdAt: now.toISOString(),
  };
  try {
    await ctx.db.batch([
      scope.insert(llmProviders, row),
      auditInsert(scope, ctx.actor, 'llm_provider.created', { type: 'llm_provider', id }, ctx, { name: input.name, kind: input.kind }),
    ]);
  } catch (err) {
    // Created concurrently under the same name between the check and the insert.
    if (isUniqueViolation(err)) throw nameTaken(input.name);
    throw err;
  }
  return providerView({ ...row, tenantId: ctx.tenantId });
}

export async function listProviders(ctx: ServiceCtx, { limit, cursor }: PageInput) {
  const after = decodeCursor(cursor);
  const rows = (await ctx.scope
    .select(llmProviders, after ? lt(llmProviders.id, after) : undefined)
    .orderBy(desc(llmProviders.id))
    .limit(limit + 1)
    .all()) as ProviderRow[];
  const page = toPage(rows, limit, (r) => r.id);
  return { data: page.data.map(providerView), nextCursor: page.nextCursor };
}

export async function getProvider(ctx: ServiceCtx, { id }: { id: string }) {
  const row = (await ctx.scope.select(llmProviders, eq(llmProviders.id, id)).get()) as ProviderRow | undefined;
  if (!row) throw notFound(id);
  return providerView(row);
}

export async function deleteProvider(ctx: ServiceCtx, { id }: { id: string }): Promise<void> {
  const [res] = await ctx.db.batch([
    ctx.scope.delete(llmProviders, eq(llmProviders.id, id)),
    auditInsertWhere(ctx.scope, ctx.actor, 'llm_provider.deleted', { type: 'llm_provider', id }, ctx, {}, previousStatementChanged),
  ]);
  if (res.meta.changes !== 1) throw notFound(id);
}

/** Why `loadProviders` could not resolve every name. */
export class ProvidersNotFound extends Error {
  constructor(readonly names: string[]) {
    super(`LLM provider${names.length > 1 ? 's' : ''} not found: ${names.join(', ')}`);
    this.name = 'ProvidersNotFound';
  }
}

/** A stored key that does not open, e.g. after LLM_KEY_SECRET was replaced without keeping the old secret. */
export class ProviderKeyUnreadable extends Error {
  constructor(readonly provider: string) {
    super(`the API key of LLM provider '${provider}' cannot be decrypted (was LLM_KEY_SECRET changed?); re-create the provider`);
    this.name = 'ProviderKeyUnreadable';
  }
}

/** The tenant's providers named in `names`, in that order, keys decrypted. */
export async function loadProviders(db: Db, tenantId: string, names: string[], box: KeyBox): Promise<ResolvedProvider[]> {
  const unique = [...new Set(names)];
  const scope = new TenantScope(db, tenantId);
  const rows = (await scope.select(llmProviders, inArray(llmProviders.name, unique)).all()) as ProviderRow[];
  const byName = new Map(rows.map((r) => [r.name, r]));
  const missing = unique.filter((n) => !byName.has(n));
  if (missing.length > 0) throw new ProvidersNotFound(missing);
  return Promise.all(
    unique.map(async (name) => {
      const r = byName.get(name)!;
      return {
        id: r.id,
        name: r.name,
        kind: r.kind,
        baseUrl: r.baseUrl,
        apiKey: r.apiKeyEnc ? await openKey(box, tenantId, r) : null,
        models: r.models,
      };
    }),
  );
}

async function openKey(box: KeyBox, tenantId: string, row: ProviderRow): Promise<string> {
  try {
    return await box.open(tenantId, row.id, row.apiKeyEnc!);
  } catch (err) {
    if (err instanceof KeySecretMissing) throw err;
    throw new ProviderKeyUnreadable(row.name);
  }
}

function normalizeModels(models: ModelMap): ModelMap {
  const out: ModelMap = {};
  for (const [alias, m] of Object.entries(models)) {
    out[alias] = {
      model: m.model,
      ...(m.inputCostPer1M !== undefined ? { inputCostPer1M: m.inputCostPer1M } : {}),
      ...(m.outputCostPer1M !== undefined ? { outputCostPer1M: m.outputCostPer1M } : {}),
    };
  }
  return out;
}

/** No credentials, query or fragment in the URL; deployed environments also require https to a public host. */
function checkBaseUrl(raw: string, config: Config): string {
  const url = new URL(raw);
  const fail = (message: string, code: string) =>
    new AppError('validation_failed', `baseUrl: ${message}`, {
      errors: [{ in: 'body', path: 'baseUrl', pointer: '/baseUrl', message, code }],
    });
  if (url.username || url.password) throw fail('Must not contain credentials; pass the key as apiKey', 'credentials_in_url');
  if (url.search || url.hash) throw fail('Must not have a query or fragment', 'invalid_url');
  if (isDeployed(config)) {
    if (url.protocol !== 'https:') throw fail('Must use https', 'insecure_url');
    if (isPrivateHost(url.hostname)) throw fail('Private, loopback and link-local hosts are refused', 'private_host');
  }
  return url.toString().replace(/\/+$/, '');
}

function isUniqueViolation(err: unknown): boolean {
  const msg = err instanceof Error ? `${err.message} ${String((err as { cause?: unknown }).cause ?? '')}` : String(err);
  return /UNIQUE constraint failed/i.test(msg);
}

function nameTaken(name: string): AppError {
  return new AppError('conflict', `An LLM provider named '${name}' already exists; delete it first or choose another name.`);
}

function notFound(id: string): AppError {
  return new AppError('not_found', `LLM provider ${id} not found.`);
}
