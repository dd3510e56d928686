/**
 * The assistant page in Chromium against the real Worker, with no model configured (the deterministic
 * router answers, docs/assistant.md): useChat creates a task through the chat and shows the tool
 * call; a delete waits for the Approve button; an ambiguous request asks a question with options.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { api, type ConsoleHarness, describeBrowser, type Page, startConsole, type TestTenant } from './console/harness';

type Json = Record<string, any>;

/** expect.poll with room for a page load and a stream to catch up (its default is 1 s). */
const until = <T>(probe: () => T | Promise<T>) => expect.poll(probe, { timeout: 10_000, interval: 100 });

describeBrowser('console: assistant', () => {
  let h: ConsoleHarness;
  beforeAll(async () => {
    h = await startConsole();
  });
  afterAll(() => h?.dispose());

  const tasks = async (t: TestTenant): Promise<Json[]> => (await api(h.worker, 'GET', '/v1/tasks?limit=100', t.accessToken)).body.data;
  async function say(page: Page, text: string) {
    await page.getByTestId('chat-input').fill(text);
    await page.getByTestId('chat-input').press('Enter');
  }

  it('creates a task through chat and shows the tool call', async () => {
    const { page, tenant } = await h.signedInPage('/assistant');
    await page.waitForURL(/\/assistant\/chat_/);
    await say(page, 'buy milk tomorrow at 5pm');
    const call = page.locator('[data-tool="createTask"]');
    await until(() => call.getAttribute('data-state')).toBe('output-available');
    expect(await call.textContent()).toContain('createTask');
    await until(() => page.locator('.msg--assistant').last().textContent()).toContain('Created');
    expect((await tasks(tenant)).map((t) => t.title)).toContain('buy milk');
    // The new chat joins the list, titled by its first message.
    await until(() => page.getByRole('navigation', { name: 'Chats' }).textContent()).toContain('buy milk tomorrow at 5pm');
    await call.getByText('Input').click();
    await h.screenshot(page, 'assistant');

    // A reload shows the stored conversation (GET /v1/chats/{id}), tool call included.
    await page.reload();
    await until(() => page.locator('[data-tool="createTask"]').getAttribute('data-state')).toBe('output-available');
  });

  it('a delete waits for Approve; an ambiguous request asks which task', async () => {
    const { page, tenant } = await h.signedInPage('/assistant');
    await page.waitForURL(/\/assistant\/chat_/);
    for (const title of ['dentist', 'call dentist back']) {
      expect((await api(h.worker, 'POST', '/v1/tasks', tenant.accessToken, { title })).status).toBe(201);
    }
    // Two titles contain "dentist" but one is exact: it wins, and the delete needs approval.
    await say(page, 'delete dentist');
    const del = page.locator('[data-tool="deleteTask"]');
    await until(() => del.getAttribute('data-state')).toBe('approval-requested');
    await h.screenshot(page, 'assistant-approval');
    await del.getByRole('button', { name: 'Approve' }).click();
    await until(() => del.getAttribute('data-state')).toBe('output-available');
    await until(async () => (await tasks(tenant)).map((t) => t.title)).toEqual(['call dentist back']);

    // Two tasks match "report" and neither exactly: the assistant asks, with the candidates as options.
    for (const title of ['report for ana', 'report for bob']) {
      expect((await api(h.worker, 'POST', '/v1/tasks', tenant.accessToken, { title })).status).toBe(201);
    }
    await say(page, 'complete report');
    const question = page.locator('[data-tool="askUser"]');
    await until(() => question.getAttribute('data-state')).toBe('input-available');
    await question.getByRole('button', { name: /report for bob/ }).click();
    await until(() => question.getAttribute('data-state')).toBe('output-available');
    await until(async () => (await tasks(tenant)).find((t) => t.title === 'report for bob')?.status).toBe('done');
    expect((await tasks(tenant)).find((t) => t.title === 'report for ana')?.status).toBe('open');
  });
});
