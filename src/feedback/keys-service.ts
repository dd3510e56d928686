/** Feedback keys (admin): what a tenant's ratings measure. Stored in the tenant's hub. */
import type { ServiceCtx } from '../lib/context';
import { decodeCursor, encodeCursor, type PageInput } from '../lib/pagination';
import { unwrap } from '../lib/result';
import { tenantHubStub } from '../lib/stubs';
import type { DriftConfig, FeedbackKeyCreate, FeedbackKeyPatch, KeyType } from './model';

export interface KeyCreateInput {
  key: string;
  type: KeyType;
  min?: number | undefined;
  max?: number | undefined;
  categories?: string[] | undefined;
  higherIsBetter: boolean;
  description?: string | undefined;
  drift?: DriftConfig | undefined;
}

const hub = (ctx: ServiceCtx) => tenantHubStub(ctx.env, ctx.tenantId);

export async function createKey(ctx: ServiceCtx, input: KeyCreateInput) {
  const key: FeedbackKeyCreate = {
    key: input.key,
    type: input.type,
    min: input.min ?? null,
    max: input.max ?? null,
    categories: input.categories ?? null,
    higherIsBetter: input.higherIsBetter,
    description: input.description ?? null,
    drift: input.drift ?? null,
  };
  return unwrap(await hub(ctx).createFeedbackKey(ctx.tenantId, key));
}

export async function listKeys(ctx: ServiceCtx, { limit, cursor }: PageInput) {
  const page = await hub(ctx).listFeedbackKeys(ctx.tenantId, limit, decodeCursor(cursor));
  return { data: page.data, nextCursor: page.nextCursor === null ? null : encodeCursor(page.nextCursor) };
}

export async function getKey(ctx: ServiceCtx, { key }: { key: string }) {
  return unwrap(await hub(ctx).getFeedbackKey(ctx.tenantId, key));
}

export async function updateKey(ctx: ServiceCtx, { key, patch }: { key: string; patch: FeedbackKeyPatch }) {
  return unwrap(await hub(ctx).updateFeedbackKey(ctx.tenantId, key, patch));
}

export async function deleteKey(ctx: ServiceCtx, { key }: { key: string }) {
  unwrap(await hub(ctx).deleteFeedbackKey(ctx.tenantId, key));
}
