/**
 * Datasets: named, versioned lists of examples (input, expected output, metadata) stored in the
 * tenant's hub. Examples come as given, from a run (its input, its answer as expected) or from a
 * rating (the rated run's input, the rating's correction as expected).
 */
import type { Feedback } from '../feedback/model';
import { findRun, runState } from '../flows/run-lookup';
import type { RunView } from '../flows/run-model';
import type { ServiceCtx } from '../lib/context';
import { decodeCursor, encodeCursor, type PageInput } from '../lib/pagination';
import { AppError } from '../lib/problem';
import { type Result, unwrap } from '../lib/result';
import { tenantHubStub } from '../lib/stubs';
import { answerOf } from './evaluators';
import type { Dataset, Example, ExampleDraft } from './model';
import type { ExampleBodyInput } from './schemas';

const hub = (ctx: ServiceCtx) => tenantHubStub(ctx.env, ctx.tenantId);

export async function createDataset(ctx: ServiceCtx, input: { name: string; description?: string | undefined }) {
  return unwrap(
    await hub(ctx).createDataset(ctx.tenantId, { name: input.name, description: input.description ?? null, createdBy: ctx.actor.id }),
  );
}

export async function listDatasets(ctx: ServiceCtx, { limit, cursor }: PageInput) {
  const page = await hub(ctx).listDatasets(ctx.tenantId, limit, decodeCursor(cursor));
  return { data: page.data, nextCursor: page.nextCursor === null ? null : encodeCursor(page.nextCursor) };
}

export async function getDataset(ctx: ServiceCtx, { id }: { id: string }): Promise<Dataset> {
  return unwrap(await hub(ctx).getDataset(ctx.tenantId, id));
}

export async function deleteDataset(ctx: ServiceCtx, { id }: { id: string }) {
  unwrap(await hub(ctx).deleteDataset(ctx.tenantId, id));
}

export async function listExamples(
  ctx: ServiceCtx,
  q: { id: string; version?: number | undefined; limit: number; cursor?: string | undefined },
) {
  const r = (await hub(ctx).listExamples(ctx.tenantId, q.id, {
    version: q.version,
    limit: q.limit,
    after: decodeCursor(q.cursor),
  })) as unknown as Result<{ version: number; data: Example[]; nextCursor: string | null }>;
  const page = unwrap(r);
  return { version: page.version, data: page.data, nextCursor: page.nextCursor === null ? null : encodeCursor(page.nextCursor) };
}

function invalid(path: string, message: string, code: string): AppError {
  return new AppError('validation_failed', message, {
    errors: [{ in: 'body', path, pointer: `/${path.replace(/\[(\d+)\]/g, '/$1').replaceAll('.', '/')}`, message, code }],
  });
}

/** The finished run of this tenant, or the client's problem (404, or 422 at `at` when it did not succeed). */
async function succeededRun(ctx: ServiceCtx, runId: string, at: string): Promise<RunView> {
  const row = await findRun(ctx.env, ctx.db, ctx.tenantId, runId);
  if (!row) throw new AppError('not_found', `Run ${runId} not found.`);
  const view = await runState(ctx.env, runId);
  if (!view) throw new AppError('gone', `Run ${runId} finished longer ago than its plan's retention: its input and output were deleted.`);
  if (view.status !== 'succeeded')
    throw invalid(at, `Run ${runId} is ${view.status}: only a succeeded run makes an example.`, 'run_not_succeeded');
  return view;
}

async function draftOf(ctx: ServiceCtx, body: ExampleBodyInput, at: string): Promise<ExampleDraft> {
  const metadata = body.metadata ?? {};
  if ('input' in body) return { input: body.input, expected: body.expected ?? null, metadata };
  if ('fromRunId' in body) {
    const view = await succeededRun(ctx, body.fromRunId, `${at}fromRunId`);
    return { input: view.input, expected: answerOf(view.output), metadata: { ...metadata, sourceRunId: view.id } };
  }
  const f = unwrap((await hub(ctx).getFeedback(ctx.tenantId, body.fromFeedbackId)) as unknown as Result<Feedback>);
  if (f.correction === null || f.correction === undefined)
    throw invalid(`${at}fromFeedbackId`, `Feedback ${f.id} has no correction to use as the expected output.`, 'no_correction');
  if (f.target.type !== 'run' && f.target.type !== 'node')
    throw invalid(
      `${at}fromFeedbackId`,
      `Feedback ${f.id} rates a ${f.target.type}, whose input is not kept: only run and node ratings make examples.`,
      'no_input',
    );
  const view = await succeededRun(ctx, f.target.id, `${at}fromFeedbackId`);
  return { input: view.input, expected: f.correction, metadata: { ...metadata, sourceFeedbackId: f.id, sourceRunId: view.id } };
}

/** Adds one example or a batch as the dataset's next version. */
export async function addExamples(
  ctx: ServiceCtx,
  { id, body }: { id: string; body: ExampleBodyInput | { examples: ExampleBodyInput[] } },
) {
  await getDataset(ctx, { id });
  const list = 'examples' in body ? body.examples : [body];
  const drafts: ExampleDraft[] = [];
  for (const [i, b] of list.entries()) drafts.push(await draftOf(ctx, b, 'examples' in body ? `examples[${i}].` : ''));
  const r = (await hub(ctx).addExamples(ctx.tenantId, id, drafts)) as unknown as Result<{ dataset: Dataset; examples: Example[] }>;
  return unwrap(r);
}

/** Every example of `version` (experiments read the whole pinned version). */
export async function examplesAt(ctx: ServiceCtx, { id, version }: { id: string; version: number }): Promise<Example[]> {
  const out: Example[] = [];
  let cursor: string | undefined;
  do {
    const page = await listExamples(ctx, { id, version, limit: 100, cursor });
    out.push(...page.data);
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
  return out;
}
