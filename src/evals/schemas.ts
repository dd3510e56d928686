/** Request and response schemas of /v1/datasets and /v1/experiments (zod → OpenAPI). */
import { z } from '@hono/zod-openapi';
import { KeyName } from '../feedback/schemas';
import { schemaProblem } from '../flows/llm/output';
import { PageQuerySchema } from '../lib/pagination';

const Timestamp = z.string().openapi({ format: 'date-time' });
const Json = z.unknown();
const Required = Json.refine((v) => v !== undefined, 'Required');

export const DatasetCreateBody = z
  .strictObject({ name: z.string().trim().min(1).max(200), description: z.string().max(2000).optional() })
  .openapi('DatasetRequest');

const Metadata = z.record(z.string(), z.unknown());

const ExampleBody = z
  .union([
    z.strictObject({ input: Required, expected: Json.optional(), metadata: Metadata.optional() }),
    z.strictObject({ fromRunId: z.string().min(1).max(160), metadata: Metadata.optional() }),
    z.strictObject({ fromFeedbackId: z.string().min(1).max(64), metadata: Metadata.optional() }),
  ])
  .openapi('ExampleRequest', {
    description:
      '`{ input, expected?, metadata? }`; or `{ fromRunId }` (the run’s input, its answer as expected); or `{ fromFeedbackId }` ' +
      '(the rated run’s input, the rating’s correction as expected)',
  });

export type ExampleBodyInput = z.infer<typeof ExampleBody>;

export const AddExamplesBody = z
  .union([ExampleBody, z.strictObject({ examples: z.array(ExampleBody).min(1).max(100) })])
  .openapi('AddExamplesRequest', { description: 'One example, or `{ examples: [...] }` (up to 100): one new dataset version either way' });

export const DatasetSchema = z
  .object({
    id: z.string().openapi({ example: 'dst_01hzy0000000000000000000000' }),
    name: z.string(),
    description: z.string().nullable(),
    version: z.number().int().openapi({ description: 'Bumped by every POST of examples; experiments pin it' }),
    exampleCount: z.number().int(),
    createdBy: z.string(),
    createdAt: Timestamp,
    updatedAt: Timestamp,
  })
  .openapi('Dataset');

export const ExampleSchema = z
  .object({
    id: z.string().openapi({ example: 'exm_01hzy0000000000000000000000' }),
    input: z.unknown(),
    expected: z.unknown(),
    metadata: z.record(z.string(), z.unknown()),
    version: z.number().int().openapi({ description: 'The dataset version that added it' }),
    createdAt: Timestamp,
  })
  .openapi('DatasetExample');

export const AddExamplesResultSchema = z.object({ dataset: DatasetSchema, examples: z.array(ExampleSchema) }).openapi('AddExamplesResult');

export const ExamplesPageSchema = z
  .object({ version: z.number().int(), data: z.array(ExampleSchema), nextCursor: z.string().nullable() })
  .openapi('DatasetExamplePage');

export const DatasetIdParam = z.object({
  datasetId: z
    .string()
    .min(1)
    .max(64)
    .openapi({ param: { name: 'datasetId', in: 'path' } }),
});

export const ExamplesQuery = PageQuerySchema.extend({
  version: z.coerce
    .number()
    .int()
    .min(1)
    .optional()
    .openapi({ param: { name: 'version', in: 'query' }, description: 'Default: the current version' }),
});

// ---- evaluators and experiments --------------------------------------------------------------

const Common = {
  key: KeyName.optional().openapi({ description: 'Feedback key for its scores (numeric 0..1, created when missing); default: the type' }),
  field: z
    .string()
    .max(200)
    .optional()
    .openapi({ description: 'Dotted path into the answer to grade (e.g. `text` for an llm node, `json.city`)' }),
};

const Pattern = z
  .string()
  .min(1)
  .max(500)
  .refine((p) => {
    try {
      new RegExp(p);
      return true;
    } catch {
      return false;
    }
  }, 'Not a valid regular expression');

export const EvaluatorSchema = z
  .discriminatedUnion('type', [
    z.strictObject({ type: z.literal('exact'), ...Common, ignoreCase: z.boolean().optional() }),
    z.strictObject({
      type: z.literal('contains'),
      ...Common,
      value: z.string().min(1).max(4000).optional(),
      ignoreCase: z.boolean().optional(),
    }),
    z.strictObject({
      type: z.literal('regex'),
      ...Common,
      pattern: Pattern,
      flags: z
        .string()
        .regex(/^[imsu]*$/)
        .optional(),
    }),
    z.strictObject({
      type: z.literal('json_schema'),
      ...Common,
      schema: z.union([z.boolean(), z.record(z.string(), z.unknown())]).superRefine((s, c) => {
        const problem = schemaProblem(s);
        if (problem) c.addIssue({ code: 'custom', message: `Not a usable JSON Schema: ${problem}` });
      }),
    }),
    z.strictObject({ type: z.literal('numeric_tolerance'), ...Common, tolerance: z.number().min(0), relative: z.boolean().optional() }),
    z.strictObject({
      type: z.literal('llm_judge'),
      ...Common,
      providers: z.array(z.string().min(1).max(64)).min(1).max(8),
      model: z.string().min(1).max(100),
      rubric: z.string().min(1).max(4000),
      passThreshold: z.number().min(0).max(1).default(0.5),
    }),
    z.strictObject({ type: z.literal('latency'), ...Common, maxMs: z.number().int().min(1) }),
    z.strictObject({ type: z.literal('cost'), ...Common, maxUsd: z.number().min(0) }),
  ])
  .openapi('Evaluator');

export const ExperimentCreateBody = z
  .strictObject({
    datasetId: z.string().min(1).max(64),
    datasetVersion: z.number().int().min(1).optional().openapi({ description: 'Default: the current version' }),
    target: z
      .strictObject({
        flowId: z.string().min(1).max(64).optional(),
        agentId: z.string().min(1).max(64).optional(),
        version: z.number().int().min(1).optional(),
      })
      .superRefine((t, c) => {
        if (t.flowId !== undefined && t.agentId !== undefined)
          c.addIssue({ code: 'custom', path: ['agentId'], message: 'Give flowId or agentId, not both' });
        else if (t.flowId === undefined && t.agentId === undefined)
          c.addIssue({ code: 'custom', path: ['flowId'], message: 'Give flowId (a flow) or agentId (a saved agent)' });
      })
      .openapi({
        description:
          "What each example runs on: `{ flowId, version? }` (a flow version) or `{ agentId, version? }` (a saved agent's version; the example's input becomes its conversation, docs/evaluations.md). Default version: the latest.",
      }),
    evaluators: z.array(EvaluatorSchema).min(1).max(20),
    concurrency: z.number().int().min(1).max(50).default(4),
  })
  .superRefine((b, c) => {
    const seen = new Map<string, number>();
    b.evaluators.forEach((e, i) => {
      const key = e.key ?? e.type;
      if (seen.has(key))
        c.addIssue({
          code: 'custom',
          path: ['evaluators', i, 'key'],
          message: `Key '${key}' is used by evaluators[${seen.get(key)}]: give each evaluator its own key`,
        });
      else seen.set(key, i);
    });
  })
  .openapi('ExperimentRequest');

const EvaluatorView = z.object({ type: z.string(), key: z.string() }).passthrough();
const Score = z.union([
  z.object({ score: z.number(), passed: z.boolean(), value: z.number().optional(), detail: z.string().optional() }),
  z.object({ error: z.string() }),
]);

const SummarySchema = z
  .object({
    examples: z.number().int(),
    ok: z.number().int(),
    errored: z.number().int(),
    evaluators: z.record(
      z.string(),
      z.object({
        type: z.string(),
        count: z.number().int(),
        errored: z.number().int(),
        mean: z.number().nullable(),
        passRate: z.number().nullable(),
      }),
    ),
  })
  .openapi('ExperimentSummary');

export const ExperimentSchema = z
  .object({
    id: z.string().openapi({ example: 'exp_01hzy0000000000000000000000' }),
    datasetId: z.string(),
    datasetVersion: z.number().int(),
    target: z.discriminatedUnion('kind', [
      z.object({ kind: z.literal('flow'), flowId: z.string(), version: z.number().int() }),
      z.object({ kind: z.literal('agent'), agentId: z.string(), version: z.number().int() }),
    ]),
    evaluators: z.array(EvaluatorView),
    concurrency: z.number().int(),
    status: z.enum(['running', 'completed', 'failed', 'cancelled']),
    runId: z.string().openapi({ description: 'The run driving it: GET /v1/runs/{runId}; its examples are its child runs' }),
    error: z.string().nullable(),
    summary: SummarySchema.nullable(),
    createdBy: z.string(),
    createdAt: Timestamp,
    finishedAt: Timestamp.nullable(),
  })
  .openapi('Experiment');

export const ExperimentWithResultsSchema = ExperimentSchema.extend({
  results: z.array(
    z.object({
      exampleId: z.string(),
      index: z.number().int(),
      runId: z.string().nullable(),
      status: z.enum(['ok', 'errored']),
      error: z.string().nullable(),
      input: z.unknown(),
      expected: z.unknown(),
      output: z.unknown(),
      durationMs: z.number().nullable(),
      costUsd: z.number().nullable(),
      scores: z.record(z.string(), Score),
    }),
  ),
}).openapi('ExperimentWithResults');

export const ExperimentIdParam = z.object({
  experimentId: z
    .string()
    .min(1)
    .max(64)
    .openapi({ param: { name: 'experimentId', in: 'path' } }),
});

export const CompareQuery = z.object({
  base: z
    .string()
    .min(1)
    .max(64)
    .openapi({ param: { name: 'base', in: 'query' } }),
  head: z
    .string()
    .min(1)
    .max(64)
    .openapi({ param: { name: 'head', in: 'query' } }),
  threshold: z.coerce
    .number()
    .min(0)
    .max(1)
    .default(0)
    .openapi({ param: { name: 'threshold', in: 'query' }, description: 'A score must move by more than this to count' }),
});

const ChangeSchema = z.object({
  exampleId: z.string(),
  key: z.string(),
  base: z.number().nullable(),
  head: z.number().nullable(),
  kind: z.enum(['score', 'errored', 'recovered']),
});

export const ComparisonSchema = z
  .object({
    base: z.string(),
    head: z.string(),
    keys: z.record(z.string(), z.object({ base: z.number().nullable(), head: z.number().nullable(), delta: z.number().nullable() })),
    regressions: z.array(ChangeSchema),
    improvements: z.array(ChangeSchema),
    unmatched: z.object({ base: z.array(z.string()), head: z.array(z.string()) }),
  })
  .openapi('ExperimentComparison');
