/**
 * A local stand-in for Sentry. Two of its real protocols:
 * - ingestion: POST /api/<project>/envelope/ (newline-delimited JSON items), kept for
 *   GET /__received;
 * - source-map upload as `sentry-cli sourcemaps upload` speaks it: the chunk-upload options
 *   (GET /api/0/organizations/<org>/chunk-upload/), chunks as multipart parts named by their
 *   SHA-1 (gzip when the options offer it), and the artifact bundle's assembly
 *   (POST …/artifactbundle/assemble/: `not_found` with the missing chunks until all have
 *   arrived, then `ok`). Each assembled bundle is unzipped and kept, manifest and files, in
 *   `artifactBundles` (uploads come from Node, so no endpoint reads them back).
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { gunzipSync } from 'node:zlib';
import { strFromU8, unzipSync } from 'fflate';

export interface SentryEnvelopeItem {
  header: Record<string, unknown>;
  payload: unknown;
}
export interface ReceivedEnvelope {
  path: string;
  auth: string | undefined;
  header: Record<string, unknown>;
  items: SentryEnvelopeItem[];
}

export function parseEnvelope(body: string): { header: Record<string, unknown>; items: SentryEnvelopeItem[] } {
  const lines = body.split('\n').filter((l) => l.length > 0);
  const header = JSON.parse(lines[0] ?? '{}') as Record<string, unknown>;
  const items: SentryEnvelopeItem[] = [];
  for (let i = 1; i + 1 < lines.length; i += 2) {
    items.push({ header: JSON.parse(lines[i]!) as Record<string, unknown>, payload: JSON.parse(lines[i + 1]!) });
  }
  return { header, items };
}

/** One file of an artifact bundle, by its manifest entry (`url` is e.g. `~/index.js`). */
export interface ArtifactFile {
  url: string;
  type: string;
  headers: Record<string, string>;
  content: string;
}
/** An assembled artifact bundle as sentry-cli sent it. */
export interface ArtifactBundle {
  org: string;
  projects: string[];
  /** The release it belongs to (`--release`), if any. */
  release: string | null;
  dist: string | null;
  /** The `Authorization` header of the assemble request. */
  auth: string | undefined;
  files: ArtifactFile[];
}

interface Upload {
  chunks: Map<string, Buffer>;
  bundles: ArtifactBundle[];
}

const sha1 = (b: Buffer) => createHash('sha1').update(b).digest('hex');

/** Multipart parts of a chunk upload: each part's filename is its SHA-1, `file_gzip` parts are gzipped. */
async function receiveChunks(body: Buffer, headers: IncomingHttpHeaders, upload: Upload): Promise<string | null> {
  const form = await new Response(new Uint8Array(body), { headers: { 'content-type': String(headers['content-type']) } }).formData();
  for (const [name, part] of form.entries()) {
    if (typeof part === 'string') return `part ${name} is not a file`;
    const raw = Buffer.from(await part.arrayBuffer());
    const chunk = name === 'file_gzip' ? gunzipSync(raw) : raw;
    if (sha1(chunk) !== part.name) return `chunk ${part.name}: its SHA-1 is ${sha1(chunk)}`;
    upload.chunks.set(part.name, chunk);
  }
  return null;
}

/** Assembles a bundle from its chunks: `not_found` with what is missing, `error` when it is not a valid bundle, else `ok`. */
function assemble(org: string, request: Record<string, unknown>, auth: string | undefined, upload: Upload) {
  const chunks = (request.chunks as string[] | undefined) ?? [];
  const missing = chunks.filter((c) => !upload.chunks.has(c));
  if (missing.length > 0) return { state: 'not_found', missingChunks: missing };
  const zip = Buffer.concat(chunks.map((c) => upload.chunks.get(c)!));
  if (sha1(zip) !== request.checksum) return { state: 'error', missingChunks: [], detail: 'checksum mismatch' };
  const entries = unzipSync(new Uint8Array(zip));
  const manifest = JSON.parse(strFromU8(entries['manifest.json']!)) as {
    files: Record<string, { url: string; type: string; headers?: Record<string, string> }>;
  };
  const files = Object.entries(manifest.files).map(([name, f]) => ({
    url: f.url,
    type: f.type,
    headers: f.headers ?? {},
    content: strFromU8(entries[name]!),
  }));
  upload.bundles.push({
    org,
    projects: (request.projects as string[] | undefined) ?? [],
    release: (request.version as string | undefined) ?? null,
    dist: (request.dist as string | undefined) ?? null,
    auth,
    files,
  });
  return { state: 'ok', missingChunks: [] };
}

export async function startFakeSentry(): Promise<{
  url: string;
  received: ReceivedEnvelope[];
  artifactBundles: ArtifactBundle[];
  close(): Promise<void>;
}> {
  const received: ReceivedEnvelope[] = [];
  const upload: Upload = { chunks: new Map(), bundles: [] };
  let origin = '';
  const json = (res: import('node:http').ServerResponse, status: number, body: unknown) =>
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        const url = req.url ?? '';
        const body = Buffer.concat(chunks);
        if (req.method === 'GET' && url === '/__received') return json(res, 200, received);
        const org = /^\/api\/0\/organizations\/([^/]+)\/(chunk-upload|artifactbundle\/assemble)\/$/.exec(url);
        if (org) {
          if (!/^Bearer \S+$/.test(req.headers.authorization ?? ''))
            return json(res, 401, { detail: 'Authentication credentials were not provided.' });
          const [, slug = '', what] = org;
          if (what === 'chunk-upload' && req.method === 'GET') {
            return json(res, 200, {
              url: `${origin}/api/0/organizations/${slug}/chunk-upload/`,
              chunkSize: 8 * 1024 * 1024,
              chunksPerRequest: 64,
              maxRequestSize: 32 * 1024 * 1024,
              maxFileSize: 2 * 1024 * 1024 * 1024,
              concurrency: 4,
              hashAlgorithm: 'sha1',
              compression: ['gzip'],
              accept: ['artifact_bundles', 'artifact_bundles_v2'],
            });
          }
          if (what === 'chunk-upload' && req.method === 'POST') {
            const error = await receiveChunks(body, req.headers, upload);
            return error ? json(res, 400, { detail: error }) : json(res, 200, {});
          }
          if (what === 'artifactbundle/assemble' && req.method === 'POST') {
            return json(
              res,
              200,
              assemble(slug, JSON.parse(body.toString('utf8')) as Record<string, unknown>, req.headers.authorization, upload),
            );
          }
        }
        const match = /^\/api\/(\d+)\/envelope\/?/.exec(url);
        if (req.method !== 'POST' || !match) {
          res.writeHead(404).end();
          return;
        }
        const { header, items } = parseEnvelope(body.toString('utf8'));
        received.push({ path: url, auth: req.headers['x-sentry-auth'] as string | undefined, header, items });
        json(res, 200, { id: header.event_id ?? null });
      })().catch((err: unknown) => {
        if (!res.headersSent) json(res, 500, { detail: String(err) });
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('fake sentry: no port');
  origin = `http://127.0.0.1:${address.port}`;
  return {
    url: origin,
    received,
    artifactBundles: upload.bundles,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
