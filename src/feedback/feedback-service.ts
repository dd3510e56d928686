/**
 * Ratings of AI outputs: resolve the target (the tenant's own, else 404), then the tenant's hub
 * checks the value against its key and upserts one record per (target, key, rater) with its change
 * and event in one transaction. Also the presigned tokens that let end users rate without a key.
 */
import { pepperOf } from '../identity/context';
import type { RequestCtx, ServiceCtx } from '../lib/context';
import { decodeCursor, encodeCursor } from '../lib/pagination';
import { AppError, type FieldError } from '../lib/problem';
import { type Result, unwrap } from '../lib/result';
import { tenantHubStub } from '../lib/stubs';
import type {
  Feedback,
  FeedbackFilter,
  FeedbackPatch,
  FeedbackSource,
  FeedbackTarget,
  Rater,
  StatsQuery,
  StatsResult,
  TargetAttributes,
} from './model';
import { TARGET_RESOLVERS } from './targets';
import { FEEDBACK_TOKEN_TTL_MS, sameTarget, signFeedbackToken, verifyFeedbackToken } from './tokens';

const hub = (env: Env, tenantId: string) => tenantHubStub(env, tenantId);

function fieldError(path: string, message: string, code: string): FieldError {
  return { in: 'body', path, pointer: `/${path.replaceAll('.', '/')}`, message, code };
}

/** The target's attributes, or the client's problem: bad shape 422, not the tenant's 404, run storage expired 410. */
export async function resolveTarget(deps: { env: Env; db: RequestCtx['db']; tenantId: string }, target: FeedbackTarget, at = 'target') {
  const resolver = TARGET_RESOLVERS[target.type];
  if (!resolver)
    throw new AppError('validation_failed', `Feedback on ${target.type} targets is not available yet.`, {
      errors: [fieldError(`${at}.type`, `Not a rateable target type yet: ${target.type}`, 'unsupported_target')],
    });
  if (resolver.nodeId === 'required' && target.nodeId === undefined)
    throw new AppError('validation_failed', 'A node target names its node: target.nodeId is required.', {
      errors: [fieldError(`${at}.nodeId`, 'Required for node targets', 'required')],
    });
  if (resolver.nodeId === 'absent' && target.nodeId !== undefined)
    throw new AppError('validation_failed', `Only node targets take nodeId (use type "node" to rate one node of a run).`, {
      errors: [fieldError(`${at}.nodeId`, `Not allowed for ${target.type} targets`, 'not_allowed')],
    });
  if (resolver.chatId === 'required' && target.chatId === undefined)
    throw new AppError('validation_failed', 'An assistant message is found through its chat: target.chatId is required.', {
      errors: [fieldError(`${at}.chatId`, `Required for ${target.type} targets`, 'required')],
    });
  if (resolver.chatId !== 'required' && target.chatId !== undefined)
    throw new AppError('validation_failed', 'Only chat_message targets take chatId.', {
      errors: [fieldError(`${at}.chatId`, `Not allowed for ${target.type} targets`, 'not_allowed')],
    });
  const r = await resolver.resolve(deps, target);
  if (r.ok) return r.attributes;
  if (r.reason === 'gone')
    throw new AppError('gone', `Run ${target.id} finished longer ago than its plan's retention: its nodes can no longer be rated.`);
  if (r.reason === 'node_not_found') throw new AppError('not_found', `Node ${target.nodeId} not found in run ${target.id}.`);
  throw new AppError('not_found', `${target.type} ${target.id} not found.`);
}

function raterOf(ctx: ServiceCtx): Rater {
  return { type: ctx.actor.type, id: ctx.actor.id };
}

export interface RateInput {
  target: FeedbackTarget;
  key: string;
  score?: number | boolean | undefined;
  value?: string | undefined;
  comment?: string | undefined;
  correction?: unknown;
  source?: FeedbackSource | undefined;
}

async function upsert(
  env: Env,
  tenantId: string,
  input: RateInput & { attributes: TargetAttributes; actor: Rater; source: FeedbackSource },
): Promise<{ feedback: Feedback; created: boolean }> {
  const { target, attributes, key, score, value, comment, correction, source, actor } = input;
  // RPC types cannot express `unknown` JSON fields (correction); the shape is Result<{ feedback, created }>.
  const r = (await hub(env, tenantId).upsertFeedback(tenantId, {
    target,
    attributes,
    key,
    score,
    value,
    comment,
    correction,
    source,
    actor,
  })) as unknown as Result<{ feedback: Feedback; created: boolean }>;
  return unwrap(r);
}

/** Creates the caller's rating of the target for the key, or updates it (`created: false`). */
export async function rate(ctx: ServiceCtx, input: RateInput) {
  const attributes = await resolveTarget(ctx, input.target);
  const source = input.source ?? (ctx.actor.type === 'api_key' ? 'api' : 'user');
  return upsert(ctx.env, ctx.tenantId, { ...input, attributes, source, actor: raterOf(ctx) });
}

export async function getFeedback(ctx: ServiceCtx, { id }: { id: string }) {
  return unwrap((await hub(ctx.env, ctx.tenantId).getFeedback(ctx.tenantId, id)) as unknown as Result<Feedback>);
}

export async function listFeedback(ctx: ServiceCtx, q: Omit<FeedbackFilter, 'after'> & { cursor?: string | undefined }) {
  const { cursor, ...filter } = q;
  const page = (await hub(ctx.env, ctx.tenantId).listFeedback(ctx.tenantId, {
    ...filter,
    after: decodeCursor(cursor),
  })) as unknown as { data: Feedback[]; nextCursor: string | null };
  return { data: page.data, nextCursor: page.nextCursor === null ? null : encodeCursor(page.nextCursor) };
}

export async function updateFeedback(ctx: ServiceCtx, { id, patch }: { id: string; patch: FeedbackPatch }) {
  return unwrap((await hub(ctx.env, ctx.tenantId).updateFeedback(ctx.tenantId, id, patch)) as unknown as Result<Feedback>);
}

export async function deleteFeedback(ctx: ServiceCtx, { id }: { id: string }) {
  unwrap(await hub(ctx.env, ctx.tenantId).deleteFeedback(ctx.tenantId, id));
}

export async function feedbackStats(ctx: ServiceCtx, query: StatsQuery) {
  if (query.from && query.to && query.from >= query.to)
    throw new AppError('validation_failed', 'from must be before to.', {
      errors: [{ in: 'query', path: 'to', pointer: '/to', message: 'Must be after from', code: 'bad_range' }],
    });
  return unwrap(
    (await hub(ctx.env, ctx.tenantId).feedbackStats(ctx.tenantId, query)) as unknown as Result<StatsResult & { truncated: boolean }>,
  );
}

// ---- presigned tokens --------------------------------------------------------------------------

const DAY_MS = 86_400_000;

/**
 * A token for rating `target` (already resolved as the tenant's) for at least 7 days: it expires at
 * the end of the 7th UTC day after today, so every read of a run on one day hands out the same token.
 */
export async function tokenFor(
  deps: { config: RequestCtx['config']; tenantId: string; now: Date },
  target: FeedbackTarget,
  subject?: string,
): Promise<{ token: string; expiresAt: string }> {
  const expiresAt = (Math.floor(deps.now.getTime() / DAY_MS) + 1) * DAY_MS + FEEDBACK_TOKEN_TTL_MS;
  const token = await signFeedbackToken(pepperOf(deps.config), { tenantId: deps.tenantId, target, subject, expiresAt });
  return { token, expiresAt: new Date(expiresAt).toISOString() };
}

export async function createToken(ctx: ServiceCtx, { target, subject }: { target: FeedbackTarget; subject?: string | undefined }) {
  await resolveTarget(ctx, target);
  return tokenFor(ctx, target, subject);
}

export type ByTokenInput = Omit<RateInput, 'target' | 'source'> & { target?: FeedbackTarget | undefined };

/**
 * An end user's rating through a token: no credential; the token is the whole authority. Unknown
 * or altered tokens are 404 (no oracle), expired ones 410, another target 403. The rater is the
 * token's subject (or the target itself when the app named none), the source `user`.
 */
export async function rateByToken(ctx: RequestCtx, { token, ...input }: ByTokenInput & { token: string }) {
  const check = await verifyFeedbackToken(pepperOf(ctx.config), token, ctx.now.getTime());
  if (!check.ok) {
    if (check.reason === 'expired') throw new AppError('gone', 'This feedback token has expired (tokens are valid 7 days).');
    throw new AppError('not_found', 'Feedback token not recognised.');
  }
  const { tenantId, target, subject } = check.claims;
  if (input.target && !sameTarget(input.target, target))
    throw new AppError('forbidden', 'This feedback token rates one output only, not the target sent.');
  const attributes = await resolveTarget({ env: ctx.env, db: ctx.db, tenantId }, target);
  const actor: Rater = {
    type: 'token',
    id:
      subject !== undefined
        ? `sub:${subject}`
        : `${target.type}:${target.id}${target.nodeId ? `:${target.nodeId}` : ''}${target.chatId ? `@${target.chatId}` : ''}`,
  };
  const { target: _ignored, ...rating } = input;
  return upsert(ctx.env, tenantId, { ...rating, target, attributes, actor, source: 'user' });
}
