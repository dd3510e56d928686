/** The published contract as a test oracle: validate a response against what /openapi.json documents for it. */
import { type OutputUnit, Validator } from '@cfworker/json-schema';
import type { RunningWorker } from './worker';

type Json = Record<string, any>;
export type OpenApiDoc = { paths: Record<string, Record<string, Json>>; components: { schemas: Record<string, Json> } };

export async function fetchOpenApi(worker: RunningWorker): Promise<OpenApiDoc> {
  return (await (await worker.fetch('/openapi.json')).json()) as OpenApiDoc;
}

/** The documented JSON schema of `status` for `method path` (path as in the document, e.g. /v1/tasks/{taskId}); null when none is. */
export function responseSchema(doc: OpenApiDoc, method: string, path: string, status: number): Json | null {
  const op = doc.paths[path]?.[method.toLowerCase()];
  if (!op) throw new Error(`${method} ${path} is not in the document`);
  const res = op.responses?.[String(status)] ?? op.responses?.[`${String(status)[0]}XX`] ?? op.responses?.default;
  if (!res) return null;
  const resolved = res.$ref ? resolveRef(doc, res.$ref) : res;
  const content = resolved.content ?? {};
  const media = content['application/json'] ?? content['application/problem+json'] ?? null;
  return media?.schema ?? null;
}

function resolveRef(doc: OpenApiDoc, ref: string): Json {
  let node: any = doc;
  for (const part of ref.replace(/^#\//, '').split('/')) node = node[part.replaceAll('~1', '/').replaceAll('~0', '~')];
  return node as Json;
}

/** Errors of `body` against `schema` (its `#/components/...` refs resolved in `doc`); empty when it validates. */
export function schemaErrors(doc: OpenApiDoc, schema: Json, body: unknown): OutputUnit[] {
  const validator = new Validator({ ...schema, components: doc.components } as any, '2020-12', false);
  const r = validator.validate(body);
  return r.valid ? [] : r.errors;
}

/** Whether `status` is documented for the operation at all. */
export function isDocumented(doc: OpenApiDoc, method: string, path: string, status: number): boolean {
  const rs = doc.paths[path]?.[method.toLowerCase()]?.responses ?? {};
  return String(status) in rs || `${String(status)[0]}XX` in rs || 'default' in rs;
}
