/**
 * The console's admin and tool pages in Chromium (console-c): role awareness (a viewer sees no write
 * controls), webhooks (create with the secret shown once, a test delivery with its attempt log, replay),
 * tools (register, invoke from the form generated from the input schema, the invocation log, rate it),
 * API keys (secret shown once, listed once), members and invitations, feedback charts, and
 * problem+json errors shown under their fields. A real tool runner (wasm mode) and a local receiver
 * that verifies deliveries with the standardwebhooks library stand behind the Worker.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_TEST_SECRETS } from '../support/node/secrets';
import { type RunningToolRunner, startToolRunner } from '../support/node/tool-runner';
import { startWebhookReceiver, type WebhookReceiver } from '../support/node/webhook-receiver';
import { PASSWORD, sessionOf, type TestTenant, uniqueEmail } from '../support/shared/tenants';
import { eventually } from '../support/shared/time';
import { api, type ConsoleHarness, describeBrowser, freshIp, type Page, startConsole } from './console/harness';

type Json = Record<string, any>;
/** expect.poll waits 1 s by default; a page's first load can take longer on a busy machine. */
const POLL = { timeout: 10_000, interval: 100 };

const HELLO =
  'export async function main(input) { console.log("hi"); return { greeting: `Hello, ${input.name}!`, times: input.times ?? 1 }; }';
const HELLO_SCHEMA = {
  type: 'object',
  properties: {
    name: { type: 'string', maxLength: 50, description: 'Who to greet' },
    times: { type: 'integer', minimum: 1 },
    loud: { type: 'boolean' },
    tone: { enum: ['plain', 'warm'] },
  },
  required: ['name'],
};

/** Every control that changes something, by its accessible name (the viewer must see none of them). */
const WRITE_BUTTONS =
  /^(Create tool|Invoke|Edit code and schemas|Delete tool|Save changes|Create endpoint|Create key|Invite|Rate|.*: good|.*: bad|Remove.*|Revoke.*|Replay.*|Enable|Disable|Send test event|Rotate secret|Delete.*)$/;

describeBrowser('console: tools, webhooks, members, API keys, feedback', () => {
  let h: ConsoleHarness;
  let runner: RunningToolRunner;
  let receiver: WebhookReceiver;

  beforeAll(async () => {
    [runner, receiver] = await Promise.all([
      startToolRunner({ secret: DEFAULT_TEST_SECRETS.TOOL_RUNNER_SECRET, sandbox: 'wasm', env: { TOOL_RUNNER_CONCURRENCY: '2' } }),
      startWebhookReceiver(),
    ]);
    h = await startConsole({ bindings: { TOOL_RUNNER_URL: runner.url } });
  });
  afterAll(async () => {
    await h?.dispose();
    await Promise.allSettled([runner?.stop(), receiver?.close()]);
  });

  const call = (method: string, path: string, token: string, body?: unknown) => api(h.worker, method, path, token, body);

  async function createTool(owner: TestTenant, name = `hello-${crypto.randomUUID().slice(0, 6)}`): Promise<Json> {
    const r = await call('POST', '/v1/tools', owner.accessToken, { name, runtime: 'node', code: HELLO, inputSchema: HELLO_SCHEMA });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    return r.body;
  }

  /** A member of `owner`'s tenant with `role`, invited and accepted through the API. */
  async function invite(owner: TestTenant, role: 'viewer' | 'member' | 'admin'): Promise<TestTenant> {
    const email = uniqueEmail(role);
    const inv = await call('POST', '/v1/invitations', owner.accessToken, { email, role });
    expect(inv.status).toBe(201);
    const acc = await api(
      h.worker,
      'POST',
      '/v1/invitations/accept',
      undefined,
      { token: inv.body.token, password: PASSWORD, name: `A ${role}` },
      {
        'cf-connecting-ip': freshIp(),
      },
    );
    expect(acc.status, JSON.stringify(acc.body)).toBe(200);
    return sessionOf(acc.body, email);
  }

  /** Opens the `<details>` panel titled `summary` (some open by themselves on an empty page). */
  async function openPanel(page: Page, summary: string): Promise<void> {
    const details = page.locator('details', { has: page.locator('summary', { hasText: summary }) });
    await page.locator('.loading').first().waitFor({ state: 'detached' });
    if ((await details.getAttribute('open')) === null) await details.locator('summary').click();
  }

  const nav = (page: Page) => page.getByRole('navigation', { name: 'Main' });
  const writeButtons = (page: Page) => page.locator('main').getByRole('button', { name: WRITE_BUTTONS });

  describe('role awareness', () => {
    it('a viewer sees no write controls on any page, and no admin entries in the nav; an admin sees them', async () => {
      const { tenant: owner, page: adminPage } = await h.signedInPage('/tools');
      const tool = await createTool(owner);
      expect((await call('POST', '/v1/feedback-keys', owner.accessToken, { key: 'helpful', type: 'boolean' })).status).toBe(201);
      const viewer = await invite(owner, 'viewer');

      // The admin first, so the assertions below can fail: the same pages do show write controls.
      for (const label of ['Tools', 'Feedback', 'Webhooks', 'Members', 'API keys']) {
        await expect(nav(adminPage).getByRole('link', { name: label, exact: true }).count()).resolves.toBe(1);
      }
      await adminPage.goto(`/tools/${tool.id}`);
      await adminPage.getByRole('button', { name: 'Invoke' }).waitFor();
      expect(await writeButtons(adminPage).count()).toBeGreaterThan(2);

      const { page } = await h.signedInPage('/tools', { tenant: viewer });
      await expect(page.locator('.role').textContent()).resolves.toBe('viewer');
      await expect(nav(page).getByRole('link', { name: 'Tools', exact: true }).count()).resolves.toBe(1);
      await expect(nav(page).getByRole('link', { name: 'Feedback', exact: true }).count()).resolves.toBe(1);
      for (const label of ['Webhooks', 'Members', 'API keys']) {
        await expect(nav(page).getByRole('link', { name: label, exact: true }).count()).resolves.toBe(0);
      }
      const pages: Array<[string, string]> = [
        ['/tools', 'Tools'],
        [`/tools/${tool.id}`, tool.name],
        ['/feedback', 'Feedback'],
        ['/webhooks', 'Webhooks'],
        ['/members', 'Members'],
        ['/api-keys', 'API keys'],
      ];
      for (const [path, heading] of pages) {
        await page.goto(path);
        await page.getByRole('heading', { level: 1, name: heading }).waitFor();
        await expect.poll(() => page.locator('.loading').count(), POLL).toBe(0);
        expect(await writeButtons(page).count(), `write controls on ${path}`).toBe(0);
        expect(await page.locator('main form').count(), `forms on ${path}`).toBe(0);
      }
      // A member writes data but administers nothing: tools yes, admin entries no.
      const member = await invite(owner, 'member');
      const { page: memberPage } = await h.signedInPage('/tools', { tenant: member });
      await memberPage.getByText('Register a tool').waitFor();
      for (const label of ['Webhooks', 'Members', 'API keys']) {
        await expect(nav(memberPage).getByRole('link', { name: label, exact: true }).count()).resolves.toBe(0);
      }
      await memberPage.goto('/api-keys');
      await memberPage.getByText('Only admins can see this page.').waitFor();

      // The tool page still shows what a viewer may read.
      await page.goto(`/tools/${tool.id}`);
      await expect(page.getByTestId('tool-code').textContent()).resolves.toContain('Hello');
      await page.getByRole('heading', { name: 'Invocation log' }).waitFor();
      await h.screenshot(page, 'console-tool-viewer');
    });
  });

  describe('webhooks', () => {
    it('creates an endpoint (secret shown once), sends a test event, shows the delivery with its attempt log, and replays it', async () => {
      const { page, tenant } = await h.signedInPage('/webhooks');
      await openPanel(page, 'Add an endpoint');
      const name = `ui-${crypto.randomUUID().slice(0, 8)}`;
      await page.getByLabel('URL').fill(`${receiver.url}/hooks/${name}`);
      await page.getByLabel('Event types').fill('task.*, webhook.test');
      await page.getByLabel('Description').fill('From the console');
      await page.getByRole('button', { name: 'Create endpoint' }).click();
      const secret = (await page.getByTestId('secret-value').textContent()) ?? '';
      expect(secret).toMatch(/^whsec_/);
      await fetch(`${receiver.url}/__register`, { method: 'POST', body: JSON.stringify({ name, secrets: [secret] }) });
      await page.getByRole('button', { name: 'I have copied it' }).click();
      await expect(page.getByTestId('secret-value').count()).resolves.toBe(0);

      await page.getByRole('link', { name: `${receiver.url}/hooks/${name}` }).click();
      await page.getByRole('button', { name: 'Send test event' }).click();
      const delivery = page.locator('li.delivery').first();
      await delivery.waitFor();
      // The delivery settles on the receiver's 200; Refresh until the log says so.
      await eventually(
        async () => {
          await page.getByRole('button', { name: 'Refresh' }).click();
          return (await page.locator('li.delivery[data-status="succeeded"]').count()) === 1 || undefined;
        },
        { what: 'the test delivery to succeed', timeoutMs: 15_000, intervalMs: 500 },
      );
      const got = receiver.received.filter((r) => r.name === name);
      expect(got).toHaveLength(1);
      expect(got[0]!.verifiedWith).toEqual([0]);
      expect(got[0]!.payload).toMatchObject({ type: 'webhook.test' });

      const done = page.locator('li.delivery[data-status="succeeded"]');
      await done.locator('summary').click();
      const attempts = done.getByRole('table');
      await expect(attempts.locator('tbody tr').count()).resolves.toBe(1);
      await expect(attempts.locator('tbody tr').first().textContent()).resolves.toMatch(/test.*200/);
      await h.screenshot(page, 'console-webhook-deliveries');

      await done.getByRole('button', { name: /^Replay delivery/ }).click();
      await eventually(
        async () => {
          await page.getByRole('button', { name: 'Refresh' }).click();
          const row = page.locator('li.delivery').first();
          if ((await row.locator('details').getAttribute('open')) === null) await row.locator('summary').click();
          const text = (await row.getByRole('table').textContent()) ?? '';
          return /manual.*200/.test(text) || undefined;
        },
        { what: 'the replayed attempt in the log', timeoutMs: 15_000, intervalMs: 500 },
      );
      expect(receiver.received.filter((r) => r.name === name)).toHaveLength(2);
      // A replay is the same event: receivers deduplicate by webhook-id.
      const [a, b] = receiver.received.filter((r) => r.name === name);
      expect(b!.webhookId).toBe(a!.webhookId);

      // Disable from the page; the API agrees.
      await page.getByRole('button', { name: 'Disable' }).click();
      await page.getByRole('button', { name: 'Enable' }).waitFor();
      const hookId = new URL(page.url()).pathname.split('/').pop()!;
      const hooks = await call('GET', `/v1/webhooks/${hookId}`, tenant.accessToken);
      expect(hooks.body).toMatchObject({ enabled: false, disabledReason: 'manual' });

      // Rotate the secret (after the confirmation): the new one is shown once; the old one keeps signing a while.
      page.on('dialog', (d) => void d.accept());
      await page.getByRole('button', { name: 'Rotate secret' }).click();
      const rotated = (await page.getByTestId('secret-value').textContent()) ?? '';
      expect(rotated).toMatch(/^whsec_/);
      expect(rotated).not.toBe(secret);
      const after = await call('GET', `/v1/webhooks/${hookId}`, tenant.accessToken);
      expect(Date.parse(after.body.previousSecretExpiresAt)).toBeGreaterThan(Date.now());
    });

    it('shows problem+json errors under their fields on a bad endpoint form', async () => {
      const { page } = await h.signedInPage('/webhooks');
      await openPanel(page, 'Add an endpoint');
      // No URL, and an event type that selects nothing: both refused at once, each under its field.
      await page.getByLabel('URL').fill('');
      await page.getByLabel('Event types').fill('task.*, nope.nothing');
      await page.getByRole('button', { name: 'Create endpoint' }).click();
      const url = page.locator('.field', { has: page.getByLabel('URL') });
      const events = page.locator('.field', { has: page.getByLabel('Event types') });
      await url.locator('.field-error').waitFor();
      await expect(url.getByRole('textbox').getAttribute('aria-invalid')).resolves.toBe('true');
      await expect(events.locator('.field-error').textContent()).resolves.toMatch(/^“nope.nothing”: Selects no known event type/);
      // Nothing was created.
      await expect(page.getByRole('table', { name: 'Webhook endpoints' }).count()).resolves.toBe(0);
      await h.screenshot(page, 'console-form-errors');
    });
  });

  describe('tools', () => {
    it('registers a tool, invokes it from the generated form, sees it in the log, and rates the invocation', async () => {
      const { page, tenant } = await h.signedInPage('/tools');
      expect((await call('POST', '/v1/feedback-keys', tenant.accessToken, { key: 'helpful', type: 'boolean' })).status).toBe(201);
      await openPanel(page, 'Register a tool');
      const toolName = `greet-${crypto.randomUUID().slice(0, 6)}`;
      await page.getByLabel('Name').fill(toolName);
      await page.getByLabel('Input schema (JSON Schema)').fill(JSON.stringify(HELLO_SCHEMA));
      await page.getByLabel('Code').fill(HELLO);
      await page.getByRole('button', { name: 'Create tool' }).click();
      await page.getByRole('heading', { level: 1, name: toolName }).waitFor();

      // The form has one control per property of the schema, typed.
      const form = page.getByRole('form', { name: 'Invoke tool' });
      await expect(form.getByLabel('name').getAttribute('name')).resolves.toBe('input.name');
      await expect(form.getByLabel('times').getAttribute('type')).resolves.toBe('number');
      await expect(form.getByLabel('loud').getAttribute('type')).resolves.toBe('checkbox');
      await expect(form.getByLabel('tone').locator('option').allTextContents()).resolves.toEqual(['(none)', 'plain', 'warm']);

      // Missing the required field: the API's 422 lands under that field.
      await form.getByRole('button', { name: 'Invoke' }).click();
      const nameField = form.locator('.field', { has: page.getByLabel('name') });
      await expect(nameField.locator('.field-error').textContent()).resolves.toBe('Required');

      await form.getByLabel('name').fill('Console');
      await form.getByLabel('times').fill('3');
      await form.getByRole('button', { name: 'Invoke' }).click();
      const output = page.getByTestId('invocation-output');
      await output.waitFor({ timeout: 30_000 });
      expect(JSON.parse((await output.textContent()) ?? '')).toEqual({ greeting: 'Hello, Console!', times: 3 });

      // The log lists both calls: the refused one and the one that ran.
      const log = page.getByRole('table', { name: 'Invocations' });
      await eventually(async () => ((await log.locator('tbody tr').count()) === 2 ? true : undefined), {
        what: 'two rows in the invocation log',
        timeoutMs: 5_000,
        intervalMs: 200,
      });
      const outcomes = await log.locator('tbody tr td:nth-child(2)').allTextContents();
      expect(outcomes).toEqual(['ok', 'invalid_input']);
      const tools = (await call('GET', '/v1/tools', tenant.accessToken)).body.data as Json[];
      const invocations = await call('GET', `/v1/tools/${tools[0]!.id}/invocations`, tenant.accessToken);
      expect(invocations.body.data.map((i: Json) => i.outcome)).toEqual(['ok', 'invalid_input']);

      // Rate the invocation from its result: a rating the API stores against it.
      await page.getByRole('button', { name: 'helpful: good' }).click();
      await page.getByRole('list', { name: 'Ratings of this output' }).getByText('good').waitFor();
      const okId = invocations.body.data[0].id as string;
      const rated = await call('GET', `/v1/feedback?targetType=tool_invocation&targetId=${okId}`, tenant.accessToken);
      expect(rated.body.data).toMatchObject([{ key: 'helpful', score: 1, target: { type: 'tool_invocation', id: okId } }]);
      await h.screenshot(page, 'console-tool');

      // The same input as JSON; an error deeper in it lands under the JSON box, with its path.
      await page.getByLabel('Edit the input as JSON').check();
      const json = form.getByLabel('Input (JSON)');
      expect(JSON.parse(await json.inputValue())).toEqual({ name: 'Console', times: 3, loud: false });
      await json.fill('{"name": 5}');
      await form.getByRole('button', { name: 'Invoke' }).click();
      const jsonField = form.locator('.field', { has: page.getByLabel('Input (JSON)') });
      await expect(jsonField.locator('.field-error').textContent()).resolves.toMatch(/^name: /);
      await page.getByLabel('Edit the input as JSON').uncheck();

      // Edit the code: a new version, listed under Versions; the next invocation runs it.
      await page.getByRole('button', { name: 'Edit code and schemas' }).click();
      const edit = page.getByRole('form', { name: 'Edit tool' });
      await edit.getByLabel('Code').fill('export function main(input) { return { greeting: `Hi, ${input.name}`, times: 1 }; }');
      await edit.getByRole('button', { name: 'Save changes' }).click();
      await page.getByRole('heading', { level: 1, name: /v2/ }).waitFor();
      await expect.poll(() => page.getByRole('region', { name: 'Versions' }).locator('li').count(), POLL).toBe(2);
      await form.getByLabel('name').fill('Ada');
      await form.getByRole('button', { name: 'Invoke' }).click();
      await expect.poll(async () => JSON.parse((await output.textContent()) ?? 'null'), POLL).toEqual({ greeting: 'Hi, Ada', times: 1 });
      // Pin version 1: its own code runs (the API's `version`), and the log says which version ran.
      await page.getByLabel('Version to run').selectOption('1');
      await form.getByLabel('name').fill('Ada');
      await form.getByRole('button', { name: 'Invoke' }).click();
      await expect
        .poll(async () => JSON.parse((await output.textContent()) ?? 'null'), POLL)
        .toEqual({ greeting: 'Hello, Ada!', times: 1 });
      await expect.poll(() => log.locator('tbody tr').first().locator('td:nth-child(4)').textContent(), POLL).toBe('v1');
    });

    it('pages the invocation log: 25 at a time, then Load more until the API has no next page', async () => {
      const { page, tenant } = await h.signedInPage('/tools');
      const tool = await createTool(tenant);
      // Refused inputs are logged too (outcome invalid_input) and need no sandbox: 27 of them.
      for (let i = 0; i < 27; i++) {
        expect((await call('POST', `/v1/tools/${tool.id}/invoke`, tenant.accessToken, { input: { times: i + 1 } })).status).toBe(422);
      }
      await page.goto(`/tools/${tool.id}`);
      const rows = page.getByRole('table', { name: 'Invocations' }).locator('tbody tr');
      await expect.poll(() => rows.count(), POLL).toBe(25);
      await page.getByRole('button', { name: 'Load more' }).click();
      await expect.poll(() => rows.count(), POLL).toBe(27);
      await expect(page.getByRole('button', { name: 'Load more' }).count()).resolves.toBe(0);
      const ids = await page
        .getByRole('table', { name: 'Invocations' })
        .locator('tbody tr')
        .evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-invocation')));
      expect(new Set(ids).size).toBe(27);
    });
  });

  describe('members and API keys', () => {
    it('creates an API key: the secret is shown once and the key is listed once (prefix only)', async () => {
      const { page, tenant } = await h.signedInPage('/api-keys');
      page.on('dialog', (d) => void d.accept());
      // A bad form first: the empty name is a 422 under the Name field.
      await page.getByRole('button', { name: 'Create key' }).click();
      const nameField = page.locator('.field', { has: page.getByLabel('Name') });
      await nameField.locator('.field-error').waitFor();

      await page.getByLabel('Name').fill('ci-deploys');
      await page.getByLabel('Role').selectOption('viewer');
      await page.getByRole('button', { name: 'Create key' }).click();
      const secret = (await page.getByTestId('secret-value').textContent()) ?? '';
      expect(secret.length).toBeGreaterThan(20);
      const rows = page.getByRole('table', { name: 'API keys' }).locator('tbody tr');
      await expect.poll(() => rows.count(), POLL).toBe(1);
      await expect(rows.first().textContent()).resolves.toContain('ci-deploys');
      await expect(rows.first().textContent()).resolves.not.toContain(secret);
      await page.getByRole('button', { name: 'I have copied it' }).click();
      await page.reload();
      await rows.first().waitFor();
      await expect(rows.count()).resolves.toBe(1);
      expect(await page.content()).not.toContain(secret);
      // The key works, with its role.
      const me = await api(h.worker, 'GET', '/v1/me', secret);
      expect(me.body).toMatchObject({ role: 'viewer', actor: { type: 'api_key' } });
      const listed = await call('GET', '/v1/api-keys', tenant.accessToken);
      expect(listed.body.data.map((k: Json) => k.name)).toEqual(['ci-deploys']);
      await h.screenshot(page, 'console-api-keys');

      await page.getByRole('button', { name: 'Revoke ci-deploys' }).click();
      await page.getByText('No API keys.').waitFor();
    });

    it('invites a viewer, lists the invitation, and changes a member role', async () => {
      const { page, tenant } = await h.signedInPage('/members');
      const member = await invite(tenant, 'member');
      await page.reload();
      const email = uniqueEmail('invitee');
      await page.getByLabel('Email').fill(email);
      await page.getByLabel('Role').last().selectOption('viewer');
      await page.getByRole('button', { name: 'Invite' }).click();
      await page.getByTestId('secret-value').waitFor();
      const invitations = page.getByRole('table', { name: 'Invitations' });
      await invitations.getByText(email).waitFor();

      await page.getByLabel(`Role of ${member.email}`).selectOption('viewer');
      await eventually(
        async () => ((await call('GET', `/v1/members/${member.userId}`, tenant.accessToken)).body.role === 'viewer' ? true : undefined),
        { what: 'the role change', timeoutMs: 5_000, intervalMs: 100 },
      );
      await expect.poll(() => page.getByLabel(`Role of ${member.email}`).inputValue(), POLL).toBe('viewer');
      await h.screenshot(page, 'console-members');
    });
  });

  describe('feedback', () => {
    it('shows stats charts of a key and rates an output from the form, with field errors from the API', async () => {
      const { page, tenant } = await h.signedInPage('/feedback');
      const tool = await createTool(tenant);
      expect((await call('POST', '/v1/feedback-keys', tenant.accessToken, { key: 'stars', type: 'numeric', min: 1, max: 5 })).status).toBe(
        201,
      );
      const scores = [5, 4, 4, 2, 5];
      const ids: string[] = [];
      for (const score of scores) {
        const inv = await call('POST', `/v1/tools/${tool.id}/invoke`, tenant.accessToken, { input: { name: 'x' } });
        expect(inv.status, JSON.stringify(inv.body)).toBe(200);
        ids.push(inv.body.invocationId);
        const r = await call('POST', '/v1/feedback', tenant.accessToken, {
          target: { type: 'tool_invocation', id: inv.body.invocationId },
          key: 'stars',
          score,
        });
        expect(r.status).toBe(201);
      }
      await page.reload();
      const charts = page.getByTestId('feedback-charts');
      await charts.waitFor();
      await expect(charts.locator('canvas').count()).resolves.toBe(2);
      await expect(charts.textContent()).resolves.toContain('5 ratings');
      // The figures per bucket (one day here): count, mean, positive rate (4 and 5 on 1–5), median, change.
      const bucket = page.getByRole('table', { name: 'Stats of stars' }).locator('tbody tr td');
      await expect(bucket.allTextContents()).resolves.toEqual(['5', '4', '80%', '4', '—']);
      // The numbers behind the distribution chart.
      await charts.getByText('Numbers').last().click();
      const dist = charts.locator('figure').last().locator('details tbody tr');
      await expect(dist.allTextContents()).resolves.toEqual(['21', '42', '52']);
      await h.screenshot(page, 'console-feedback');
      // Dark mode: the charts redraw in the dark theme's ink.
      await page.getByRole('button', { name: 'Dark mode' }).click();
      await expect.poll(() => page.evaluate(() => document.documentElement.dataset.theme), POLL).toBe('dark');
      await h.screenshot(page, 'console-feedback-dark');
      await page.getByRole('button', { name: 'Dark mode' }).click();
      // Another grouping redraws from the API's buckets: one bucket for all, with a dot for the mean.
      await page.getByLabel('Group').selectOption('');
      await expect
        .poll(() => page.getByRole('table', { name: 'Stats of stars' }).locator('tbody th').allTextContents(), POLL)
        .toEqual(['all']);
      await expect(charts.locator('canvas').count()).resolves.toBe(2);

      // Rate from the form: a score out of range is a 422 shown under the Score field.
      await openPanel(page, 'Rate an output');
      const form = page.getByRole('form', { name: 'Rate an output' });
      await form.getByLabel('What').selectOption('tool_invocation');
      await form.getByLabel('Invocation id').fill(ids[0]!);
      await form.getByLabel('Key').selectOption('stars');
      await form.getByLabel(/^Score/).fill('9');
      await form.getByRole('button', { name: 'Rate' }).click();
      const score = form.locator('.field', { has: page.getByLabel(/^Score/) });
      await expect(score.locator('.field-error').textContent()).resolves.toMatch(/from 1 to 5/);
      await form.getByLabel(/^Score/).fill('1');
      await form.getByRole('button', { name: 'Rate' }).click();
      await page
        .getByRole('status')
        .getByText(/stars = 1/)
        .waitFor();
      const after = await call('GET', `/v1/feedback?targetId=${ids[0]}`, tenant.accessToken);
      expect(after.body.data).toMatchObject([{ key: 'stars', score: 1 }]);

      // Keys: one without ratings is deleted from the page; one with ratings is refused (409) in a banner.
      expect((await call('POST', '/v1/feedback-keys', tenant.accessToken, { key: 'unused', type: 'text' })).status).toBe(201);
      await page.reload();
      const keysTable = page.getByRole('table', { name: 'Feedback keys' });
      await keysTable.getByText('unused').waitFor();
      await page.getByRole('button', { name: 'Delete key unused' }).click();
      await expect.poll(() => keysTable.getByText('unused').count(), POLL).toBe(0);
      await page.getByRole('button', { name: 'Delete key stars' }).click();
      const keysSection = page.getByRole('region', { name: 'Feedback keys' });
      await keysSection.getByRole('alert').waitFor();
      expect((await call('GET', '/v1/feedback-keys/stars', tenant.accessToken)).status).toBe(200);
    });

    it("rates a run's node output from a deep link (/feedback?rate=node&id=…&nodeId=…)", async () => {
      const { page, tenant } = await h.signedInPage('/tasks');
      expect((await call('POST', '/v1/feedback-keys', tenant.accessToken, { key: 'helpful', type: 'boolean' })).status).toBe(201);
      const flow = await call('POST', '/v1/flows', tenant.accessToken, {
        name: 'greet',
        definition: { nodes: [{ id: 'greet', type: 'transform', config: { expression: "'Hello, ' & input.name" } }] },
      });
      expect(flow.status, JSON.stringify(flow.body)).toBe(201);
      const run = await call('POST', `/v1/flows/${flow.body.id}/runs`, tenant.accessToken, { input: { name: 'Ada' } });
      expect(run.status, JSON.stringify(run.body)).toBe(201);
      await eventually(
        async () => ((await call('GET', `/v1/runs/${run.body.id}`, tenant.accessToken)).body.status === 'succeeded' ? true : undefined),
        { what: 'the run to succeed', timeoutMs: 10_000, intervalMs: 100 },
      );

      await page.goto(`/feedback?rate=node&id=${run.body.id}&nodeId=greet`);
      const form = page.getByRole('form', { name: 'Rate an output' });
      await expect(form.getByLabel('What').inputValue()).resolves.toBe('node');
      await expect(form.getByLabel('Run id').inputValue()).resolves.toBe(run.body.id);
      await expect(form.getByLabel('Node id').inputValue()).resolves.toBe('greet');
      await form.getByLabel('Rating').selectOption('false');
      await form.getByLabel('Comment (optional)').fill('Too terse');
      await form.getByRole('button', { name: 'Rate' }).click();
      await page
        .getByRole('status')
        .getByText(/helpful = 0/)
        .waitFor();
      const rated = await call('GET', `/v1/feedback?targetId=${run.body.id}`, tenant.accessToken);
      expect(rated.body.data).toMatchObject([
        { key: 'helpful', score: 0, comment: 'Too terse', target: { type: 'node', id: run.body.id, nodeId: 'greet' } },
      ]);
      // The ratings table lists it.
      await page.reload();
      await page.getByRole('table', { name: 'Ratings' }).getByText('Too terse').waitFor();
    });
  });
});
