/**
 * The deployed bundle is minified (wrangler.toml `minify`); what keeps its errors readable is the
 * deploy's source-map upload to Sentry (scripts/deploy.mjs). This drives both halves against a local
 * Sentry speaking the real protocols: Sentry's own CLI uploads the bundle this run built, the
 * bundled Worker reports an unhandled error, and the error's minified frames are resolved through
 * the uploaded map, as Sentry resolves them, to our sources.
 */
import { randomUUID } from 'node:crypto';
import { SourceMap, type SourceMapPayload } from 'node:module';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uploadSourceMaps } from '../../scripts/deploy.mjs';
import { type ArtifactBundle, startFakeSentry } from '../support/node/fake-sentry';
import { buildWorker, type RunningWorker, startWorker } from '../support/node/worker';
import { eventually } from '../support/shared/time';

type Frame = { filename?: string; abs_path?: string; function?: string; lineno?: number; colno?: number; in_app?: boolean };
type SentryException = { type: string; value: string; stacktrace?: { frames: Frame[] } };

let sentry: Awaited<ReturnType<typeof startFakeSentry>>;
let worker: RunningWorker | undefined;
const release = `e2e-${randomUUID()}`;

beforeAll(async () => {
  sentry = await startFakeSentry();
});
afterAll(async () => {
  await worker?.dispose();
  await sentry?.close();
});

describe('Sentry source maps for the minified bundle', () => {
  let bundle: ArtifactBundle;

  it("uploads the bundle and its map with Sentry's CLI as an artifact bundle of the release", async () => {
    const dir = path.dirname(await buildWorker());
    await uploadSourceMaps({
      dir,
      release,
      env: { ...process.env, SENTRY_URL: sentry.url, SENTRY_AUTH_TOKEN: 'sntrys_e2e', SENTRY_ORG: 'edgecrew', SENTRY_PROJECT: 'api' },
    });
    expect(sentry.artifactBundles).toHaveLength(1);
    bundle = sentry.artifactBundles[0]!;
    expect(bundle).toMatchObject({ org: 'edgecrew', projects: ['api'], release, auth: 'Bearer sntrys_e2e' });
    const byUrl = Object.fromEntries(bundle.files.map((f) => [f.url, f]));
    expect(Object.keys(byUrl).sort()).toEqual(['~/index.js', '~/index.js.map']);
    expect(byUrl['~/index.js']).toMatchObject({ type: 'minified_source', headers: { sourcemap: 'index.js.map' } });
    expect(byUrl['~/index.js.map']!.type).toBe('source_map');
    // Minified: a few hundred long lines (license comments among them), not one statement per line.
    const code = byUrl['~/index.js']!.content;
    expect(code.length / code.split('\n').length).toBeGreaterThan(500);
    const map = JSON.parse(byUrl['~/index.js.map']!.content) as { sources: string[]; sourcesContent: string[] };
    // Sources named from the repository root, with their text (Sentry shows the lines around a frame).
    expect(map.sources).toContain('src/app.ts');
    expect(map.sources.every((s) => !s.startsWith('/') && !s.includes('..'))).toBe(true);
    expect(map.sourcesContent.length).toBe(map.sources.length);
  });

  it('resolves the frames of an error the minified Worker reports to our sources', async () => {
    expect(bundle, 'the upload above ran').toBeDefined();
    const sentryHost = new URL(sentry.url).host;
    // No migrations: the first D1 query fails ("no such table"), an error nothing handles.
    worker = await startWorker({
      migrate: false,
      echoLogs: 'none',
      bindings: { SENTRY_DSN: `http://publickey@${sentryHost}/7`, GIT_COMMIT: release },
    });
    const res = await worker.fetch('/v1/auth/signup', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        email: `${randomUUID()}@example.com`,
        password: 'correct horse battery staple',
        name: 'Sourcemaps',
        tenantName: 'Sourcemaps',
      }),
    });
    const problem = (await res.json()) as { status: number; errorId?: string };
    expect(res.status).toBe(500);
    const event = await eventually(
      () =>
        sentry.received
          .flatMap((r) => r.items)
          .find((i) => i.header.type === 'event' && (i.payload as { tags?: Record<string, string> }).tags?.error_id === problem.errorId)
          ?.payload as { release: string; exception: { values: SentryException[] } } | undefined,
      { what: 'the event at the fake Sentry' },
    );
    // The release names the upload's artifact bundle: this is how Sentry picks the map.
    expect(event.release).toBe(bundle.release);

    // Frames in the bundle's entry module: `/index.js` deployed (workerd names the module as wrangler
    // uploaded it, toucan-js adds the root), the bundle's own path here (Miniflare names it by its file).
    const frames = event.exception.values.flatMap((e) => e.stacktrace?.frames ?? []).filter((f) => f.abs_path?.endsWith('/index.js'));
    expect(frames.length).toBeGreaterThan(0);
    // The script's `sourcemap` header names its map, relative to the script's URL (as Sentry reads it).
    const mapName = bundle.files.find((f) => f.url === '~/index.js')!.headers.sourcemap;
    const mapFile = bundle.files.find((f) => f.url === `~/${mapName}`)!;
    const mapJson = JSON.parse(mapFile.content) as SourceMapPayload & { sourcesContent: string[] };
    const map = new SourceMap(mapJson);
    const resolved = frames.map((f) => {
      const entry = map.findEntry(f.lineno! - 1, f.colno! - 1) as { originalSource?: string; originalLine?: number };
      const source = entry.originalSource ?? '';
      const text = mapJson.sourcesContent[mapJson.sources.indexOf(source)]?.split('\n')[entry.originalLine ?? -1] ?? '';
      return { source, line: (entry.originalLine ?? -1) + 1, text: text.trim() };
    });
    // Every minified frame lands on a line of a real source.
    for (const r of resolved) expect(r.text, `${r.source}:${r.line}`).not.toBe('');
    // The failing query in the sign-up service, called from the sign-up route: our code, by file and line.
    expect(resolved).toContainEqual(
      expect.objectContaining({ source: 'src/identity/auth-service.ts', text: expect.stringContaining('.from(users)') }),
    );
    expect(resolved).toContainEqual(
      expect.objectContaining({ source: 'src/routes/auth.ts', text: expect.stringContaining('authService.signup(') }),
    );
  });
});
