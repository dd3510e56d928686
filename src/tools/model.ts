/** Tool request/response schemas (zod → OpenAPI) and the platform's limits for tools. */
import { z } from '@hono/zod-openapi';
import { FieldErrorSchema } from '../lib/openapi';

export const TOOL_LIMITS = {
  maxCodeBytes: 256 * 1024,
  minTimeoutMs: 100,
  maxTimeoutMs: 60_000,
  defaultTimeoutMs: 10_000,
  minMemoryMb: 64,
  maxMemoryMb: 1024,
  defaultMemoryMb: 128,
  maxHosts: 32,
} as const;

/** Time allowed on top of a tool's own timeout for queueing, sandbox start-up and the network. */
export const TOOL_TRANSPORT_GRACE_MS = 15_000;
/** The longest one tool invocation can hold a request open: the longest request the API makes (idempotency leases cover it). */
export const MAX_TOOL_REQUEST_MS = TOOL_LIMITS.maxTimeoutMs + TOOL_TRANSPORT_GRACE_MS;

export const RUNTIMES = ['node', 'python3'] as const;
export type ToolRuntime = (typeof RUNTIMES)[number];
export const TOOL_ERROR_TYPES = ['timeout', 'memory_limit', 'exit_nonzero', 'invalid_output', 'sandbox_error', 'invalid_input'] as const;
export type ToolErrorType = (typeof TOOL_ERROR_TYPES)[number];

const Timestamp = z.string().openapi({ format: 'date-time' });
const Name = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'Letters, digits, `_`, `.`, `-`; starting with a letter or digit')
  .openapi({ example: 'word-count' });
const Host = z
  .string()
  .max(253)
  .regex(
    /^(\*\.)?[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*(:\d{1,5})?$/,
    'A lower-case host name, optionally `*.`-prefixed and/or with `:port`',
  )
  .openapi({ example: 'api.example.com' });
const JsonSchema = z
  .union([z.record(z.string(), z.unknown()), z.boolean()])
  .openapi({ description: 'A JSON Schema (draft 2020-12)', example: { type: 'object' } });

export const NetworkSchema = z
  .union([z.literal('none'), z.strictObject({ allow: z.array(Host).min(1).max(TOOL_LIMITS.maxHosts) })])
  .openapi('ToolNetwork', {
    description: "`none`, or the hosts the tool may reach over HTTP(S) through the runner's egress proxy (ports 80/443 unless given)",
  });

const Runtime = z.enum(RUNTIMES).openapi({ description: '`node` (an ES module exporting `main`) or `python3` (a module defining `main`)' });
const Code = z
  .string()
  .min(1)
  .refine((s) => new TextEncoder().encode(s).length <= TOOL_LIMITS.maxCodeBytes, `At most ${TOOL_LIMITS.maxCodeBytes} bytes`);
const TimeoutMs = z.number().int().min(TOOL_LIMITS.minTimeoutMs).max(TOOL_LIMITS.maxTimeoutMs);
const MemoryMb = z.number().int().min(TOOL_LIMITS.minMemoryMb).max(TOOL_LIMITS.maxMemoryMb);

/** The fields whose change makes a new version. */
export const VERSIONED_FIELDS = ['runtime', 'code', 'inputSchema', 'outputSchema', 'timeoutMs', 'memoryMb', 'network'] as const;

export const CreateToolBody = z
  .strictObject({
    name: Name,
    description: z.string().max(1000).default(''),
    runtime: Runtime,
    code: Code,
    inputSchema: JsonSchema,
    outputSchema: JsonSchema.nullable().optional(),
    timeoutMs: TimeoutMs.default(TOOL_LIMITS.defaultTimeoutMs),
    memoryMb: MemoryMb.default(TOOL_LIMITS.defaultMemoryMb),
    network: NetworkSchema.default('none'),
  })
  .openapi('CreateToolRequest');
export type CreateToolInput = z.infer<typeof CreateToolBody>;

export const UpdateToolBody = z
  .strictObject({
    name: Name.optional(),
    description: z.string().max(1000).optional(),
    runtime: Runtime.optional(),
    code: Code.optional(),
    inputSchema: JsonSchema.optional(),
    outputSchema: JsonSchema.nullable().optional(),
    timeoutMs: TimeoutMs.optional(),
    memoryMb: MemoryMb.optional(),
    network: NetworkSchema.optional(),
  })
  .refine((b) => Object.keys(b).length > 0, 'Give at least one field to change')
  .openapi('UpdateToolRequest');
export type UpdateToolInput = z.infer<typeof UpdateToolBody>;

const VersionFields = {
  version: z.number().int().openapi({ example: 1 }),
  runtime: Runtime,
  code: z.string(),
  inputSchema: JsonSchema,
  outputSchema: JsonSchema.nullable(),
  timeoutMs: z.number().int(),
  memoryMb: z.number().int(),
  network: NetworkSchema,
};

export const ToolSchema = z
  .object({
    id: z.string().openapi({ example: 'tol_01hzy0000000000000000000000' }),
    name: z.string(),
    description: z.string(),
    ...VersionFields,
    createdBy: z.string(),
    createdAt: Timestamp,
    updatedAt: Timestamp,
  })
  .openapi('Tool', { description: 'A tool with the fields of its latest version' });
export const ToolSummarySchema = ToolSchema.omit({ code: true, inputSchema: true, outputSchema: true }).openapi('ToolSummary');
export const ToolVersionSchema = z
  .object({ toolId: z.string(), ...VersionFields, createdBy: z.string(), createdAt: Timestamp })
  .openapi('ToolVersion');

export const InvokeBody = z
  .strictObject({
    input: z.unknown().openapi({ description: "JSON validated against the version's inputSchema" }),
    version: z.number().int().min(1).optional().openapi({ description: 'A version to run; the latest when absent' }),
  })
  .refine((b) => b.input !== undefined, { message: 'Required', path: ['input'] })
  .openapi('InvokeToolRequest');

const Sandbox = z.enum(['bwrap', 'wasm']).nullable().openapi({
  description: 'The isolation that ran the tool: `bwrap` (bubblewrap namespaces) or `wasm` (Pyodide / QuickJS); null when it did not run',
});

const InvocationCommon = {
  invocationId: z.string().openapi({ example: 'inv_01hzy0000000000000000000000' }),
  sandbox: Sandbox,
  toolId: z.string(),
  version: z.number().int(),
  durationMs: z.number().int(),
  stdout: z.string().openapi({ description: 'The first bytes the tool printed (excerpt)' }),
  stderr: z.string().openapi({ description: 'The first bytes the tool wrote to stderr (excerpt)' }),
};
export const InvocationResultSchema = z
  .union([
    z.object({ ok: z.literal(true), output: z.unknown(), ...InvocationCommon }),
    z.object({
      ok: z.literal(false),
      error: z.object({ type: z.enum(TOOL_ERROR_TYPES), message: z.string(), errors: z.array(FieldErrorSchema).optional() }),
      ...InvocationCommon,
    }),
  ])
  .openapi('ToolInvocationResult', { description: 'The tool ran: its output, or a typed error (`ok: false`)' });

export const InvocationRecordSchema = z
  .object({
    id: z.string(),
    toolId: z.string(),
    version: z.number().int(),
    source: z.enum(['api', 'flow']),
    outcome: z.enum(['ok', ...TOOL_ERROR_TYPES]),
    durationMs: z.number().int(),
    inputBytes: z.number().int(),
    outputBytes: z.number().int(),
    logBytes: z.number().int(),
    sandbox: Sandbox,
    createdAt: Timestamp,
  })
  .openapi('ToolInvocation');
