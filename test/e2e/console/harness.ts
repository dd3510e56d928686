/**
 * Browser tests of the web console: Playwright (`playwright-core`, no browser download) driving
 * Debian's Chromium against the real Worker started the way every e2e test starts it
 * (test/support/node/worker.ts), which serves console/dist through Workers Static Assets.
 *
 *   describeBrowser('board', () => {
 *     let h: ConsoleHarness;
 *     beforeAll(async () => { h = await startConsole(); });
 *     afterAll(() => h?.dispose());
 *     it('…', async () => { const { page, tenant } = await h.signedInPage('/tasks'); … });
 *   });
 *
 * No Chromium at CHROMIUM_PATH (default /usr/bin/chromium): the suite fails under CI=true
 * (`.ci/run` installs the `chromium` package) and is skipped with a loud message elsewhere.
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { type Browser, type BrowserContext, type BrowserContextOptions, chromium, type Page } from 'playwright-core';
import { api, signup } from '../../support/node/api';
import { describeRequiring } from '../../support/node/requires';
import { PROJECT_ROOT, type RunningWorker, type StartWorkerOptions, startWorker } from '../../support/node/worker';
import type { TestTenant } from '../../support/shared/tenants';

export type { Browser, BrowserContext, Page, TestTenant };
export { api };

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
export const SCREENSHOTS_DIR = path.join(PROJECT_ROOT, 'docs', 'screenshots');
/** The console keeps this tab's refresh token here (console/src/api/client.ts). */
const REFRESH_KEY = 'edgecrew.refresh';

/** Whether the browser is there; decides how `describeBrowser` behaves without it. */
export const hasChromium = existsSync(CHROMIUM_PATH);

/**
 * `describe` for browser suites: runs them when Chromium is installed; without it fails under CI
 * and skips loudly elsewhere (test/support/node/requires.ts).
 */
export function describeBrowser(name: string, body: () => void): void {
  describeRequiring(
    name,
    { available: hasChromium, why: `Chromium at ${CHROMIUM_PATH} (apt-get install chromium, or set CHROMIUM_PATH)` },
    body,
  );
}

let ipSeq = 0;
/**
 * A client address of its own (`cf-connecting-ip`), so the per-IP auth throttles (10 sign-ups,
 * logins or refreshes a minute) count each simulated user apart, as they would be in production.
 */
export function freshIp(): string {
  ipSeq += 1;
  return `198.51.100.${(ipSeq % 250) + 1}`;
}

export interface ConsoleHarness {
  readonly worker: RunningWorker;
  readonly browser: Browser;
  /** The Worker's origin: the console is at `${url}/`. */
  readonly url: string;
  /** A fresh browser context (own cookies and storage, own client address) on the Worker's origin. */
  newContext(options?: BrowserContextOptions): Promise<BrowserContext>;
  /** A fresh tenant signed up through the API (its own client address). */
  signup(tag?: string): Promise<TestTenant>;
  /**
   * A page in a new context, signed in as `tenant` (a fresh one by default) and opened at `path`.
   * The console takes over the tenant's refresh token (it rotates it); the test keeps using
   * `tenant.accessToken` for its own API calls.
   */
  signedInPage(path?: string, options?: { tenant?: TestTenant; context?: BrowserContext }): Promise<SignedInPage>;
  /** Saves `docs/screenshots/<name>.png` (the README shows them). */
  screenshot(page: Page, name: string): Promise<string>;
  /** Closes the browser and stops the Worker. */
  dispose(): Promise<void>;
}

export interface SignedInPage {
  page: Page;
  context: BrowserContext;
  tenant: TestTenant;
}

/** Starts the Worker (fresh storage) and Chromium. */
export async function startConsole(options: StartWorkerOptions = {}): Promise<ConsoleHarness> {
  const worker = await startWorker({ echoLogs: 'none', ...options });
  let browser: Browser;
  try {
    browser = await chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: CHROMIUM_ARGS });
  } catch (err) {
    await worker.dispose();
    throw err;
  }
  const contexts = new Set<BrowserContext>();
  const harness: ConsoleHarness = {
    worker,
    browser,
    url: worker.url,
    async newContext(contextOptions = {}) {
      const context = await browser.newContext({
        baseURL: worker.url,
        viewport: { width: 1280, height: 800 },
        ...contextOptions,
        extraHTTPHeaders: { 'cf-connecting-ip': freshIp(), ...contextOptions.extraHTTPHeaders },
      });
      context.setDefaultTimeout(10_000);
      contexts.add(context);
      context.once('close', () => contexts.delete(context));
      return context;
    },
    signup(tag = 'console') {
      const ip = freshIp();
      return signup(
        {
          ...worker,
          fetch: (p: string, init?: RequestInit) =>
            worker.fetch(p, { ...init, headers: { ...(init?.headers as Record<string, string>), 'cf-connecting-ip': ip } }),
        },
        tag,
      );
    },
    async signedInPage(pagePath = '/tasks', opts = {}) {
      const tenant = opts.tenant ?? (await harness.signup());
      const context = opts.context ?? (await harness.newContext());
      // Before any script of the app runs: the session a sign-in would have left in this tab.
      await context.addInitScript(
        ([key, token]) => {
          if (!sessionStorage.getItem(key)) sessionStorage.setItem(key, token);
        },
        [REFRESH_KEY, tenant.refreshToken] as const,
      );
      const page = await context.newPage();
      await page.goto(pagePath);
      await page.getByRole('button', { name: 'Sign out' }).waitFor();
      return { page, context, tenant };
    },
    async screenshot(page, name) {
      await mkdir(SCREENSHOTS_DIR, { recursive: true });
      const file = path.join(SCREENSHOTS_DIR, `${name}.png`);
      // Stable pictures: no running animations (spinners), no text caret.
      await page.screenshot({ path: file, fullPage: false, animations: 'disabled', caret: 'hide' });
      return file;
    },
    async dispose() {
      await Promise.allSettled([...contexts].map((c) => c.close()));
      await browser.close().catch(() => undefined);
      await worker.dispose();
    },
  };
  return harness;
}
