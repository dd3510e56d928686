/**
 * The console is served by the Worker (Workers Static Assets, single-page-application fallback)
 * while the API paths stay the Worker's; and a new user signs up through the UI and lands signed in.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { emailThrough, type FakeResend, startFakeResend, verifyEmail } from '../support/node/fake-resend';
import { PASSWORD } from '../support/shared/tenants';
import { api, type ConsoleHarness, describeBrowser, startConsole } from './console/harness';

describeBrowser('console: serving and sign-up', () => {
  let h: ConsoleHarness;
  // Joining a second tenant needs a verified address: the verification email goes to a local Resend stand-in.
  let resend: FakeResend;
  beforeAll(async () => {
    resend = await startFakeResend();
    h = await startConsole({ bindings: emailThrough(resend) });
  });
  afterAll(async () => {
    await h?.dispose();
    await resend?.close();
  });

  describe('served by the Worker', () => {
    it('serves the app at / and deep links (navigation) get the same index.html', async () => {
      const root = await h.worker.fetch('/', { headers: { 'sec-fetch-mode': 'navigate', accept: 'text/html' } });
      expect(root.status).toBe(200);
      expect(root.headers.get('content-type')).toMatch(/^text\/html/);
      const html = await root.text();
      expect(html).toContain('<div id="root">');
      const deep = await h.worker.fetch('/tasks/some/deep/link?x=1', { headers: { 'sec-fetch-mode': 'navigate', accept: 'text/html' } });
      expect(deep.status).toBe(200);
      expect(await deep.text()).toBe(html);
    });

    it('unknown /v1/... paths still answer problem+json 404, even for a browser navigation', async () => {
      for (const headers of [{}, { 'sec-fetch-mode': 'navigate', accept: 'text/html' }] as Array<Record<string, string>>) {
        const res = await h.worker.fetch('/v1/nope', { headers });
        expect(res.status).toBe(404);
        expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
        expect(await res.json()).toMatchObject({ status: 404, code: 'not_found' });
      }
    });

    it('the API paths outside /v1 are the Worker’s, not the app', async () => {
      const navigate = { 'sec-fetch-mode': 'navigate', accept: 'text/html' };
      const health = await h.worker.fetch('/health', { headers: navigate });
      expect(health.headers.get('content-type')).toMatch(/json/);
      const openapi = await h.worker.fetch('/openapi.json', { headers: navigate });
      expect((await openapi.json()) as object).toHaveProperty('openapi');
      const jwks = await h.worker.fetch('/.well-known/jwks.json', { headers: navigate });
      expect((await jwks.json()) as object).toHaveProperty('keys');
      const docs = await h.worker.fetch('/docs', { headers: navigate });
      expect(await docs.text()).not.toContain('<div id="root">');
      const mcp = await h.worker.fetch('/mcp', { headers: navigate });
      expect(await mcp.text()).not.toContain('<div id="root">');
    });

    it('the app carries its own security headers (console/public/_headers), deep links included', async () => {
      for (const p of ['/', '/tasks/deep']) {
        const res = await h.worker.fetch(p, { headers: { 'sec-fetch-mode': 'navigate', accept: 'text/html' } });
        const csp = res.headers.get('content-security-policy') ?? '';
        expect(csp).toContain("default-src 'self'");
        expect(csp).toContain("frame-ancestors 'none'");
        expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      }
      // The API keeps the Worker's stricter policy.
      expect((await h.worker.fetch('/v1/nope')).headers.get('content-security-policy')).toContain("default-src 'none'");
    });

    it('serves the built assets with their content types', async () => {
      const html = await (await h.worker.fetch('/')).text();
      const script = /<script type="module" crossorigin src="([^"]+)"/.exec(html)?.[1];
      expect(script).toMatch(/^\/assets\/.+\.js$/);
      const js = await h.worker.fetch(script!);
      expect(js.status).toBe(200);
      expect(js.headers.get('content-type')).toMatch(/javascript/);
      expect(js.headers.get('cache-control')).toContain('immutable');
      // The headers file configures the asset server; it is not itself served.
      expect(await (await h.worker.fetch('/_headers')).text()).not.toContain('Content-Security-Policy');
    });
  });

  describe('in the browser', () => {
    it('a deep link while signed out goes to sign-in; signing up through the UI lands signed in on that page', async () => {
      const context = await h.newContext();
      const page = await context.newPage();
      await page.goto('/tasks');
      await page.waitForURL(/\/sign-in\?next=%2Ftasks$/);
      await page.getByRole('link', { name: 'Create an account' }).click();
      await page.waitForURL(/\/sign-up/);
      // Fixed (each test file's Worker starts with empty storage), so the screenshot does not change from run to run.
      const email = 'ada@example.com';
      await page.getByLabel('Your name').fill('Ada Console');
      await page.getByLabel('Email').fill(email);
      await page.getByLabel('Password').fill(PASSWORD);
      await page.getByLabel('Workspace (tenant) name').fill('Console Co');
      await h.screenshot(page, 'sign-up');
      await page.getByRole('button', { name: 'Create account' }).click();

      await page.waitForURL(/\/tasks$/);
      await expect.poll(() => page.getByRole('link', { name: /Console Co/ }).textContent()).toContain('admin');
      await page.getByRole('heading', { name: 'Tasks' }).waitFor();

      // The session is real: the same user signs in through the API to the tenant the UI created.
      const login = await api(
        h.worker,
        'POST',
        '/v1/auth/login',
        undefined,
        { email, password: PASSWORD },
        { 'cf-connecting-ip': '203.0.113.9' },
      );
      expect(login.status).toBe(200);
      expect(login.body.tenant.name).toBe('Console Co');

      // A reload keeps the tab signed in (refresh token in sessionStorage, access token in memory only).
      await page.reload();
      await page.getByRole('button', { name: 'Sign out' }).waitFor();
      expect(await page.evaluate(() => Object.keys(localStorage).filter((k) => /token|refresh/i.test(k)))).toEqual([]);

      await page.getByRole('button', { name: 'Sign out' }).click();
      await page.waitForURL(/\/sign-in/);
      await context.close();
    });

    it('shows problem+json field errors under their fields', async () => {
      const context = await h.newContext();
      const page = await context.newPage();
      await page.goto('/sign-up');
      await page.getByLabel('Your name').fill('Bad Email');
      await page.getByLabel('Email').fill('not-an-email');
      await page.getByLabel('Password').fill(PASSWORD);
      await page.getByLabel('Workspace (tenant) name').fill('Nope');
      await page.getByRole('button', { name: 'Create account' }).click();
      const email = page.getByLabel('Email');
      await expect.poll(() => email.getAttribute('aria-invalid')).toBe('true');
      const describedBy = (await email.getAttribute('aria-describedby'))!;
      const error = page.locator(`[id="${describedBy.split(' ').pop()}"]`);
      expect(await error.textContent()).toMatch(/email/i);
      await h.screenshot(page, 'sign-up-errors');
      await context.close();
    });

    it('switches tenant: a login naming the other tenant, with the password asked again', async () => {
      const me = await h.signup('switcher');
      const other = await h.signup('other-owner');
      await verifyEmail(h.worker, resend, me.email);
      const invite = await api(h.worker, 'POST', '/v1/invitations', other.accessToken, { email: me.email, role: 'member' });
      expect(invite.status, JSON.stringify(invite.body)).toBe(201);
      const accepted = await api(h.worker, 'POST', '/v1/invitations/accept', me.accessToken, { token: invite.body.token });
      expect(accepted.status, JSON.stringify(accepted.body)).toBeLessThan(300);

      const { page, context } = await h.signedInPage('/tasks', { tenant: me });
      const tenantLink = page.getByRole('link', { name: /Tenant switcher/ });
      expect(await tenantLink.textContent()).toContain('admin');
      await tenantLink.click();
      await page.getByRole('heading', { name: 'Switch tenant' }).waitFor();
      await page.getByRole('radio', { name: /Tenant other-owner/ }).check();
      await page.getByLabel('Password').fill(PASSWORD);
      await page.getByRole('button', { name: 'Switch' }).click();
      await page.waitForURL(/\/tasks$/);
      const switched = page.getByRole('link', { name: /Tenant other-owner/ });
      await switched.waitFor();
      expect(await switched.textContent()).toContain('member');
      // The tab's session now belongs to the other tenant, across a reload.
      await page.reload();
      await page.getByRole('link', { name: /Tenant other-owner/ }).waitFor();
      await context.close();
    });

    it('a wrong password on sign-in is shown in a banner, and the right one signs in', async () => {
      const tenant = await h.signup('signin');
      const context = await h.newContext();
      const page = await context.newPage();
      await page.goto('/sign-in');
      await page.getByLabel('Email').fill(tenant.email);
      await page.getByLabel('Password').fill('wrong-password');
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('alert').filter({ hasText: 'Invalid email or password' }).waitFor();
      await page.getByLabel('Password').fill(PASSWORD);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.waitForURL(/\/tasks$/);
      await page.getByRole('button', { name: 'Sign out' }).waitFor();
      await context.close();
    });
  });
});
