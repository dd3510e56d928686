/**
 * The task board in Chromium against the real Worker: quick add, live updates over the sync
 * WebSocket (no reload), drag to Done / back, keyboard, the editor (due, reminders, recurrence),
 * the list view's filters, two windows converging, and resuming after a dropped socket or a resync.
 */

import type { WebSocketRoute } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PASSWORD } from '../support/shared/tenants';
import { api, type ConsoleHarness, describeBrowser, freshIp, type Page, startConsole, type TestTenant } from './console/harness';

type Json = Record<string, any>;
/** Generous: the UI polls the DOM until it shows; how fast is the bench's business, not a test's. */
const LIVE_TIMEOUT = 10_000;

async function createTask(h: ConsoleHarness, t: TestTenant, body: Json): Promise<Json> {
  const res = await api(h.worker, 'POST', '/v1/tasks', t.accessToken, body);
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body;
}

async function getTask(h: ConsoleHarness, t: TestTenant, id: string): Promise<Json> {
  const res = await api(h.worker, 'GET', `/v1/tasks/${id}`, t.accessToken);
  expect(res.status).toBe(200);
  return res.body;
}

const card = (page: Page, id: string) => page.locator(`article[data-task-id="${id}"]`);
const column = (page: Page, status: 'open' | 'done') => page.locator(`section[data-column="${status}"]`);

/** The board's content as text, per column, for comparing two windows. */
async function boardState(page: Page): Promise<{ open: string[]; done: string[] }> {
  const titles = (status: 'open' | 'done') => column(page, status).locator('article .card-title').allTextContents();
  return { open: (await titles('open')).sort(), done: (await titles('done')).sort() };
}

describeBrowser('console: task board', () => {
  let h: ConsoleHarness;
  beforeAll(async () => {
    h = await startConsole();
  });
  afterAll(() => h?.dispose());

  it('quick add creates a task from plain words and shows it on the board, with its rule in words', async () => {
    const { page, tenant, context } = await h.signedInPage('/tasks');
    await page.getByTestId('sync-status').filter({ hasText: 'Live' }).waitFor();
    await page.getByLabel('Quick add').fill('pay rent every 1st at 9am remind me 1 day before #home p1');
    await page.getByRole('button', { name: 'Add', exact: true }).click();
    const outcome = page.getByTestId('quick-add-outcome');
    await outcome.filter({ hasText: 'Added' }).waitFor();
    expect(await outcome.textContent()).toContain('Every month on the 1st');

    const list = await api(h.worker, 'GET', '/v1/tasks', tenant.accessToken);
    const task = list.body.data.find((t: Json) => t.title === 'pay rent');
    expect(task).toMatchObject({ recurrence: expect.stringContaining('FREQ=MONTHLY'), labels: ['home'], priority: 1 });
    const c = card(page, task.id);
    await c.waitFor();
    expect(await column(page, 'open').locator(`[data-task-id="${task.id}"]`).count()).toBe(1);
    const text = await c.textContent();
    expect(text).toContain('Every month on the 1st');
    expect(text).toContain('1 day before');
    expect(text).toContain('#home');

    // The input is cleared and keeps focus for the next one.
    expect(await page.getByLabel('Quick add').inputValue()).toBe('');

    // A destructive intent with more than one match asks which task first, then acts on the chosen one.
    const a = await createTask(h, tenant, { title: 'call Ana about the lease' });
    const b = await createTask(h, tenant, { title: 'call Ana about the party' });
    await card(page, b.id).waitFor({ timeout: LIVE_TIMEOUT });
    await page.getByLabel('Quick add').fill('done with call Ana');
    await page.getByRole('button', { name: 'Add', exact: true }).click();
    await outcome.filter({ hasText: 'Which task did you mean?' }).waitFor();
    expect((await getTask(h, tenant, a.id)).status).toBe('open');
    await page.getByRole('button', { name: 'Complete “call Ana about the party”' }).click();
    await outcome.filter({ hasText: 'Completed' }).waitFor();
    await expect.poll(async () => (await getTask(h, tenant, b.id)).status).toBe('done');
    expect((await getTask(h, tenant, a.id)).status).toBe('open');
    await column(page, 'done').locator(`[data-task-id="${b.id}"]`).waitFor();

    await createTask(h, tenant, { title: 'buy milk', dueDate: '2030-01-15', labels: ['errands'] });
    await createTask(h, tenant, { title: 'standup', dueAt: '2030-01-13T09:30:00Z', recurrence: 'FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR' });
    await page.getByText('standup').waitFor({ timeout: LIVE_TIMEOUT });
    await page.getByText('Every weekday').waitFor();
    await h.screenshot(page, 'tasks-board');
    await context.close();
  });

  it('a task created through the API appears without a reload', async () => {
    const { page, tenant, context } = await h.signedInPage('/tasks');
    await page.getByTestId('sync-status').filter({ hasText: 'Live' }).waitFor();
    let navigations = 0;
    page.on('framenavigated', () => (navigations += 1));
    const task = await createTask(h, tenant, { title: 'from the API', priority: 2 });
    await card(page, task.id).waitFor({ timeout: LIVE_TIMEOUT });
    expect(await card(page, task.id).textContent()).toContain('from the API');
    // Changes and deletes arrive live too.
    await api(h.worker, 'PATCH', `/v1/tasks/${task.id}`, tenant.accessToken, { title: 'renamed by the API' });
    await card(page, task.id).filter({ hasText: 'renamed by the API' }).waitFor({ timeout: LIVE_TIMEOUT });
    await api(h.worker, 'DELETE', `/v1/tasks/${task.id}`, tenant.accessToken);
    await card(page, task.id).waitFor({ state: 'detached', timeout: LIVE_TIMEOUT });
    expect(navigations).toBe(0);
    await context.close();
  });

  it('dragging a card to Done completes it; dragging it back reopens it', async () => {
    const { page, tenant, context } = await h.signedInPage('/tasks');
    const task = await createTask(h, tenant, { title: 'drag me' });
    await card(page, task.id).waitFor({ timeout: LIVE_TIMEOUT });
    await card(page, task.id).dragTo(column(page, 'done'));
    await column(page, 'done').locator(`[data-task-id="${task.id}"]`).waitFor();
    await expect.poll(async () => (await getTask(h, tenant, task.id)).status).toBe('done');
    expect((await getTask(h, tenant, task.id)).completedAt).toBeTruthy();

    await card(page, task.id).dragTo(column(page, 'open'));
    await column(page, 'open').locator(`[data-task-id="${task.id}"]`).waitFor();
    await expect.poll(async () => (await getTask(h, tenant, task.id)).status).toBe('open');
    await context.close();
  });

  it('works from the keyboard: arrows move focus, Shift+arrows move a card, Enter edits due, reminders and recurrence', async () => {
    const { page, tenant, context } = await h.signedInPage('/tasks');
    const first = await createTask(h, tenant, { title: 'k first', dueDate: '2030-02-01' });
    const second = await createTask(h, tenant, { title: 'k second', dueDate: '2030-02-02' });
    await card(page, second.id).waitFor({ timeout: LIVE_TIMEOUT });

    await card(page, first.id).focus();
    await page.keyboard.press('ArrowDown');
    await expect.poll(() => page.evaluate(() => document.activeElement?.getAttribute('data-task-id'))).toBe(second.id);
    await page.keyboard.press('ArrowUp');
    await expect.poll(() => page.evaluate(() => document.activeElement?.getAttribute('data-task-id'))).toBe(first.id);

    // Shift+→ completes; focus stays on the moved card; Shift+← reopens.
    await page.keyboard.press('Shift+ArrowRight');
    await column(page, 'done').locator(`[data-task-id="${first.id}"]`).waitFor();
    await expect.poll(async () => (await getTask(h, tenant, first.id)).status).toBe('done');
    await expect.poll(() => page.evaluate(() => document.activeElement?.getAttribute('data-task-id'))).toBe(first.id);
    await page.getByTestId('announcement').filter({ hasText: 'Moved “k first” to Done' }).waitFor();
    await page.keyboard.press('Shift+ArrowLeft');
    await column(page, 'open').locator(`[data-task-id="${first.id}"]`).waitFor();
    await expect.poll(async () => (await getTask(h, tenant, first.id)).status).toBe('open');

    // Enter opens the editor: set a due time, a reminder and a rule; its words show as you type.
    await card(page, second.id).focus();
    await page.keyboard.press('Enter');
    const dialog = page.getByRole('dialog', { name: 'Edit task' });
    await dialog.waitFor();
    await dialog.getByLabel('Due time').fill('09:30');
    await dialog.getByLabel('New reminder').selectOption('PT30M');
    await dialog.getByRole('button', { name: 'Add reminder' }).click();
    await dialog.getByLabel('Repeats (RRULE)').fill('FREQ=WEEKLY;INTERVAL=2;BYDAY=MO');
    expect(await dialog.getByTestId('rrule-words').textContent()).toContain('Every other week on Monday');
    await h.screenshot(page, 'tasks-editor');
    await dialog.getByRole('button', { name: 'Save' }).click();
    await dialog.waitFor({ state: 'detached' });
    await expect
      .poll(async () => {
        const t = await getTask(h, tenant, second.id);
        return { recurrence: t.recurrence, reminders: t.reminders, hasTime: t.dueAt !== null, dueDate: t.dueDate };
      })
      .toEqual({ recurrence: 'FREQ=WEEKLY;INTERVAL=2;BYDAY=MO', reminders: [{ before: 'PT30M' }], hasTime: true, dueDate: null });
    await card(page, second.id).filter({ hasText: 'Every other week on Monday' }).waitFor();
    expect(await card(page, second.id).textContent()).toContain('30 minutes before');

    // A field error from the API shows in the editor (an RRULE the API refuses).
    await card(page, second.id).focus();
    await page.keyboard.press('Enter');
    await dialog.waitFor();
    await dialog.getByLabel('Repeats (RRULE)').fill('FREQ=HOURLY');
    await dialog.getByRole('button', { name: 'Save' }).click();
    await dialog.getByRole('alert').first().waitFor();
    expect((await getTask(h, tenant, second.id)).recurrence).toBe('FREQ=WEEKLY;INTERVAL=2;BYDAY=MO');
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });
    await context.close();
  });

  it('the list view filters by status, label, text and due, and keeps the filters in the URL', async () => {
    const { page, tenant, context } = await h.signedInPage('/tasks?view=list');
    const a = await createTask(h, tenant, { title: 'list alpha', labels: ['work'], dueDate: '2020-01-01' });
    const b = await createTask(h, tenant, { title: 'list beta', labels: ['home'] });
    const c = await createTask(h, tenant, { title: 'list gamma', labels: ['work'] });
    await api(h.worker, 'POST', `/v1/tasks/${c.id}/complete`, tenant.accessToken);
    const rows = page.locator('table.task-table tbody tr');
    await expect.poll(() => rows.count(), { timeout: LIVE_TIMEOUT }).toBe(3);

    await page.getByLabel('Label').selectOption('work');
    await expect.poll(() => rows.count()).toBe(2);
    await page.getByLabel('Status').selectOption('open');
    await expect.poll(() => rows.count()).toBe(1);
    expect(await rows.first().getAttribute('data-task-id')).toBe(a.id);
    expect(page.url()).toContain('label=work');
    expect(page.url()).toContain('status=open');
    await page.getByRole('button', { name: 'Clear filters' }).click();
    await page.getByLabel('Search').fill('beta');
    await expect.poll(() => rows.count()).toBe(1);
    expect(await rows.first().getAttribute('data-task-id')).toBe(b.id);
    await page.getByLabel('Search').fill('');
    await page.getByLabel('Due').selectOption('overdue');
    await expect.poll(() => rows.count()).toBe(1);
    expect(await rows.first().getAttribute('data-task-id')).toBe(a.id);

    // Two filters changed in one go, with no render between them (the search cleared and a due filter
    // chosen in the same task, as a script or a busy machine does): both hold.
    await page.getByRole('button', { name: 'Clear filters' }).click();
    await page.getByLabel('Search').fill('beta');
    await expect.poll(() => rows.count()).toBe(1);
    const search = await page.getByLabel('Search').elementHandle();
    const dueSelect = await page.getByLabel('Due').elementHandle();
    await page.evaluate(
      ([input, select]) => {
        const setValue = (el: Element, proto: object, value: string) =>
          Object.getOwnPropertyDescriptor(proto, 'value')!.set!.call(el, value);
        setValue(input!, HTMLInputElement.prototype, '');
        input!.dispatchEvent(new Event('input', { bubbles: true }));
        setValue(select!, HTMLSelectElement.prototype, 'overdue');
        select!.dispatchEvent(new Event('change', { bubbles: true }));
      },
      [search, dueSelect] as const,
    );
    await expect.poll(() => new URL(page.url()).searchParams.get('due')).toBe('overdue');
    expect(new URL(page.url()).searchParams.has('q')).toBe(false);
    await expect.poll(() => rows.count()).toBe(1);
    expect(await rows.first().getAttribute('data-task-id')).toBe(a.id);

    // A deep link with filters loads straight into them.
    await page.goto('/tasks?view=list&label=home');
    await expect.poll(() => rows.count(), { timeout: LIVE_TIMEOUT }).toBe(1);
    expect(await rows.first().getAttribute('data-task-id')).toBe(b.id);
    await page.goto('/tasks?view=list');
    await expect.poll(() => rows.count(), { timeout: LIVE_TIMEOUT }).toBe(3);
    await page.getByTestId('sync-status').filter({ hasText: 'Live' }).waitFor();
    await h.screenshot(page, 'tasks-list');
    await context.close();
  });

  it('two browser windows of the same tenant converge', async () => {
    const owner = await h.signup('converge');
    // A second session of the same user (its own refresh token), as a second device would have.
    const login = await api(
      h.worker,
      'POST',
      '/v1/auth/login',
      undefined,
      { email: owner.email, password: PASSWORD },
      { 'cf-connecting-ip': freshIp() },
    );
    expect(login.status).toBe(200);
    const second: TestTenant = { ...owner, accessToken: login.body.accessToken, refreshToken: login.body.refreshToken };
    const one = await h.signedInPage('/tasks', { tenant: owner });
    const two = await h.signedInPage('/tasks', { tenant: second });
    for (const p of [one.page, two.page]) await p.getByTestId('sync-status').filter({ hasText: 'Live' }).waitFor();

    await one.page.getByLabel('Quick add').fill('window one task tomorrow');
    await one.page.getByRole('button', { name: 'Add', exact: true }).click();
    await two.page.getByText('window one task').waitFor({ timeout: LIVE_TIMEOUT });
    await two.page.getByLabel('Quick add').fill('window two task');
    await two.page.getByRole('button', { name: 'Add', exact: true }).click();
    await one.page.getByText('window two task').waitFor({ timeout: LIVE_TIMEOUT });

    // Complete in one, reopen-and-complete races in both: both end on the server's state.
    const tasks = (await api(h.worker, 'GET', '/v1/tasks', owner.accessToken)).body.data as Json[];
    const t1 = tasks.find((t) => t.title === 'window one task')!;
    const t2 = tasks.find((t) => t.title === 'window two task')!;
    await card(one.page, t1.id).dragTo(column(one.page, 'done'));
    await card(two.page, t2.id).locator('.card-check').click();
    await column(two.page, 'done').locator(`[data-task-id="${t1.id}"]`).waitFor({ timeout: LIVE_TIMEOUT });
    await column(one.page, 'done').locator(`[data-task-id="${t2.id}"]`).waitFor({ timeout: LIVE_TIMEOUT });

    const server = async () => {
      const all = (await api(h.worker, 'GET', '/v1/tasks', owner.accessToken)).body.data as Json[];
      return {
        open: all
          .filter((t) => t.status === 'open')
          .map((t) => t.title)
          .sort(),
        done: all
          .filter((t) => t.status === 'done')
          .map((t) => t.title)
          .sort(),
      };
    };
    const expected = await server();
    await expect.poll(() => boardState(one.page), { timeout: LIVE_TIMEOUT }).toEqual(expected);
    await expect.poll(() => boardState(two.page), { timeout: LIVE_TIMEOUT }).toEqual(expected);
    await one.context.close();
    await two.context.close();
  });

  describe('resuming', () => {
    it('a dropped socket reconnects with the last version (no reload, no snapshot) and shows what it missed', async () => {
      const tenant = await h.signup('resume');
      const context = await h.newContext();
      const sockets: Array<{ url: URL; route: WebSocketRoute }> = [];
      await context.routeWebSocket(/\/v1\/sync\/ws/, (ws) => {
        sockets.push({ url: new URL(ws.url()), route: ws });
        ws.connectToServer();
      });
      let snapshots = 0;
      context.on('request', (r) => {
        if (new URL(r.url()).pathname === '/v1/sync/snapshot') snapshots += 1;
      });
      const { page } = await h.signedInPage('/tasks', { tenant, context });
      await page.getByTestId('sync-status').filter({ hasText: 'Live' }).waitFor();
      const before = await createTask(h, tenant, { title: 'before the drop' });
      await card(page, before.id).waitFor({ timeout: LIVE_TIMEOUT });
      expect(sockets).toHaveLength(1);

      // The network drops the socket; a change happens meanwhile.
      await sockets[0]!.route.close({ code: 4001, reason: 'network gone' });
      const missed = await createTask(h, tenant, { title: 'while away' });
      await card(page, missed.id).waitFor({ timeout: LIVE_TIMEOUT });
      await page.getByTestId('sync-status').filter({ hasText: 'Live' }).waitFor();
      expect(sockets.length).toBeGreaterThanOrEqual(2);
      const since = Number(sockets[1]!.url.searchParams.get('since'));
      expect(since).toBeGreaterThanOrEqual(before.version);
      expect(snapshots).toBe(1);
      expect(sockets[1]!.url.searchParams.get('ticket')).toBeTruthy();
      await context.close();
    });

    it('a resync frame reloads the snapshot, then goes on live', async () => {
      const tenant = await h.signup('resync');
      const context = await h.newContext();
      let hold = false;
      let route: WebSocketRoute | undefined;
      await context.routeWebSocket(/\/v1\/sync\/ws/, (ws) => {
        route = ws;
        const server = ws.connectToServer();
        server.onMessage((m) => {
          if (!hold) ws.send(m);
        });
      });
      let snapshots = 0;
      context.on('request', (r) => {
        if (new URL(r.url()).pathname === '/v1/sync/snapshot') snapshots += 1;
      });
      const { page } = await h.signedInPage('/tasks', { tenant, context });
      await page.getByTestId('sync-status').filter({ hasText: 'Live' }).waitFor();

      // Changes the socket never delivers, then the server's word that the client must resync.
      hold = true;
      const lost = await createTask(h, tenant, { title: 'only in the snapshot' });
      const sync = await api(h.worker, 'GET', '/v1/sync?since=0', tenant.accessToken);
      route!.send(JSON.stringify({ type: 'resync', reason: 'too_far_behind', version: sync.body.version, snapshot: '/v1/sync/snapshot' }));
      hold = false;
      await card(page, lost.id).waitFor({ timeout: LIVE_TIMEOUT });
      expect(snapshots).toBe(2);
      // Live frames after the resync still apply.
      const after = await createTask(h, tenant, { title: 'after the resync' });
      await card(page, after.id).waitFor({ timeout: LIVE_TIMEOUT });
      await context.close();
    });
  });

  it('follows the system colour scheme, and the toggle overrides it (remembered)', async () => {
    const context = await h.newContext({ colorScheme: 'dark' });
    const { page } = await h.signedInPage('/tasks', { context });
    const background = () => page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    const dark = await background();
    expect(dark).toBe('rgb(18, 19, 23)');
    await page.getByText('Nothing to do.').waitFor();
    await page.getByTestId('sync-status').filter({ hasText: 'Live' }).waitFor();
    await h.screenshot(page, 'tasks-board-dark');
    await page.getByRole('button', { name: 'Dark mode' }).click();
    await expect.poll(background).toBe('rgb(247, 247, 248)');
    expect(await page.getByRole('button', { name: 'Dark mode' }).getAttribute('aria-pressed')).toBe('false');
    await page.reload();
    await page.getByRole('button', { name: 'Sign out' }).waitFor();
    expect(await background()).toBe('rgb(247, 247, 248)');
    await context.close();
  });

  it('a viewer sees the board but no write controls', async () => {
    const owner = await h.signup('viewer-owner');
    await createTask(h, owner, { title: 'read only task' });
    const invite = await api(h.worker, 'POST', '/v1/invitations', owner.accessToken, {
      email: `viewer-${Date.now()}@example.com`,
      role: 'viewer',
    });
    expect(invite.status, JSON.stringify(invite.body)).toBe(201);
    const accepted = await api(
      h.worker,
      'POST',
      '/v1/invitations/accept',
      undefined,
      { token: invite.body.token, password: PASSWORD, name: 'Vi Ewer' },
      { 'cf-connecting-ip': freshIp() },
    );
    expect(accepted.status, JSON.stringify(accepted.body)).toBeLessThan(300);
    const viewer: TestTenant = {
      tenantId: owner.tenantId,
      userId: accepted.body.user.id,
      email: accepted.body.user.email,
      accessToken: accepted.body.accessToken,
      refreshToken: accepted.body.refreshToken,
    };
    const { page, context } = await h.signedInPage('/tasks', { tenant: viewer });
    await page.getByText('read only task').waitFor({ timeout: LIVE_TIMEOUT });
    expect(await page.getByLabel('Quick add').count()).toBe(0);
    expect(await page.locator('.card-check').count()).toBe(0);
    expect(await page.locator('article[draggable="true"]').count()).toBe(0);
    await context.close();
  });
});
