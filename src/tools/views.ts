/** Public shapes of tool rows. */
import type { toolInvocations, tools, toolVersions } from '../db/schema';

type ToolRow = typeof tools.$inferSelect;
type VersionRow = typeof toolVersions.$inferSelect;

function versionFields(v: VersionRow) {
  return {
    version: v.version,
    runtime: v.runtime,
    code: v.code,
    inputSchema: v.inputSchema,
    outputSchema: v.outputSchema ?? null,
    timeoutMs: v.timeoutMs,
    memoryMb: v.memoryMb,
    network: v.network,
  };
}

/** A tool with the fields of its latest version. */
export function toolView(t: ToolRow, v: VersionRow) {
  return {
    id: t.id,
    name: t.name,
    description: t.description,
    ...versionFields(v),
    createdBy: t.createdBy,
    createdAt: t.createdAt,
    updatedAt: t.updatedAt,
  };
}

export function toolSummaryView(t: ToolRow, v: VersionRow) {
  const { code: _code, inputSchema: _in, outputSchema: _out, ...rest } = toolView(t, v);
  return rest;
}

export function toolVersionView(v: VersionRow) {
  return { toolId: v.toolId, ...versionFields(v), createdBy: v.createdBy, createdAt: v.createdAt };
}

export function invocationView(i: typeof toolInvocations.$inferSelect) {
  return {
    id: i.id,
    toolId: i.toolId,
    version: i.version,
    source: i.source,
    outcome: i.outcome,
    durationMs: i.durationMs,
    inputBytes: i.inputBytes,
    outputBytes: i.outputBytes,
    logBytes: i.logBytes,
    sandbox: i.sandbox ?? null,
    createdAt: i.createdAt,
  };
}
