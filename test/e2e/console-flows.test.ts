/**
 * The console's flow pages in Chromium against the real Worker: the flow editor validates live
 * (problems at their paths), saves and starts a run; the run view draws the DAG and its node colours
 * follow the run's event stream; Approve lets a waiting run finish; Rerun from here makes a run with
 * `rerunOf`; a map node's children are drawn, and collapsed above 50.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startFaultProxy } from '../support/node/fault-proxy';
import { PASSWORD, sessionOf, uniqueEmail } from '../support/shared/tenants';
import { eventually } from '../support/shared/time';
import { api, type ConsoleHarness, describeBrowser, freshIp, type Page, startConsole, type TestTenant } from './console/harness';

type Json = Record<string, any>;

/** expect.poll with room for a page load and a stream to catch up (its default is 1 s). */
const until = <T>(probe: () => T | Promise<T>) => expect.poll(probe, { timeout: 10_000, interval: 100 });

describeBrowser('console: flows and runs', () => {
  let h: ConsoleHarness;
  beforeAll(async () => {
    h = await startConsole();
  });
  afterAll(() => h?.dispose());

  const call = (t: TestTenant, method: string, path: string, body?: unknown) => api(h.worker, method, path, t.accessToken, body);

  async function newFlow(t: TestTenant, name: string, definition: Json): Promise<string> {
    const r = await call(t, 'POST', '/v1/flows', { name, definition });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    return r.body.id as string;
  }
  async function startRun(t: TestTenant, flowId: string, input: Json = {}): Promise<string> {
    const r = await call(t, 'POST', `/v1/flows/${flowId}/runs`, { input });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    return r.body.id as string;
  }
  async function runUntil(t: TestTenant, runId: string, statuses: string[]): Promise<Json> {
    return eventually(
      async () => {
        const r = await call(t, 'GET', `/v1/runs/${runId}`);
        return statuses.includes(r.body.status) ? r.body : undefined;
      },
      { what: `run ${runId} to be ${statuses.join('/')}`, timeoutMs: 15_000 },
    );
  }
  const statusOf = (page: Page, nodeId: string) => page.getByTestId(`run-node-${nodeId}`).getAttribute('data-status');

  /** Records every data-status each graph box shows, in order (a MutationObserver in the page). */
  async function recordStatuses(page: Page) {
    await page.evaluate(() => {
      const w = window as unknown as { statusLog: Record<string, string[]> };
      w.statusLog = {};
      const note = (el: Element) => {
        const id = el.getAttribute('data-testid');
        const s = el.getAttribute('data-status');
        if (!id || !s) return;
        const log = w.statusLog[id] ?? [];
        w.statusLog[id] = log;
        if (log[log.length - 1] !== s) log.push(s);
      };
      document.querySelectorAll('[data-status]').forEach(note);
      new MutationObserver((records) => {
        for (const r of records) {
          if (r.type === 'attributes') note(r.target as Element);
          r.addedNodes.forEach((n) => {
            if (n instanceof Element) [n, ...n.querySelectorAll('[data-status]')].forEach(note);
          });
        }
      }).observe(document.body, { subtree: true, childList: true, attributes: true, attributeFilter: ['data-status'] });
    });
  }
  const statusLog = (page: Page) => page.evaluate(() => (window as unknown as { statusLog: Record<string, string[]> }).statusLog);

  const FIVE_NODES = {
    nodes: [
      { id: 'fetch', type: 'transform', config: { expression: 'input.n' } },
      { id: 'double', type: 'transform', config: { expression: 'nodes.fetch.output * 2' } },
      { id: 'review', type: 'approval', config: {} },
      { id: 'publish', type: 'transform', config: { expression: "'published ' & nodes.double.output" } },
      { id: 'notify', type: 'transform', config: { expression: "nodes.publish.output & '!'" } },
    ],
    edges: [
      { from: 'fetch', to: 'double' },
      { from: 'double', to: 'review' },
      { from: 'review', to: 'publish' },
      { from: 'publish', to: 'notify' },
    ],
  };

  it('a 5-node run renders and its node colours follow the events', async () => {
    const { page, tenant } = await h.signedInPage('/flows');
    const flowId = await newFlow(tenant, 'five nodes', FIVE_NODES);
    const runId = await startRun(tenant, flowId, { n: 21 });
    await runUntil(tenant, runId, ['waiting']);

    await page.goto(`/runs/${runId}`);
    await page.getByTestId('run-graph').waitFor();
    await recordStatuses(page);
    await until(() => statusOf(page, 'review')).toBe('waiting');
    expect(await statusOf(page, 'fetch')).toBe('succeeded');
    expect(await statusOf(page, 'double')).toBe('succeeded');
    expect(await statusOf(page, 'publish')).toBe('pending');
    expect(await statusOf(page, 'notify')).toBe('pending');
    expect(await page.getByTestId('run-status').getAttribute('data-status')).toBe('waiting');
    await until(() => page.locator('.react-flow__edge').count()).toBe(4);
    await h.screenshot(page, 'run-view-waiting');

    // Signalled from outside the page: the colours change from the live stream, without a reload.
    const signalled = await call(tenant, 'POST', `/v1/runs/${runId}/signal`, { node: 'review', payload: { approved: true } });
    expect(signalled.status).toBe(200);
    await until(() => statusOf(page, 'notify')).toBe('succeeded');
    await until(() => page.getByTestId('run-status').getAttribute('data-status')).toBe('succeeded');
    expect(await statusOf(page, 'review')).toBe('succeeded');
    expect(await statusOf(page, 'publish')).toBe('succeeded');
    // Boxes whose status changed are new node objects: their edges are still drawn.
    expect(await page.locator('.react-flow__edge').count()).toBe(4);

    // Each box only moved forward along pending → running/waiting → succeeded.
    const order = ['pending', 'running', 'waiting', 'succeeded'];
    const log = await statusLog(page);
    for (const id of ['review', 'publish', 'notify']) {
      const seen = log[`run-node-${id}`] ?? [];
      expect(seen.at(-1), id).toBe('succeeded');
      const ranks = seen.map((s) => order.indexOf(s));
      expect(
        ranks.every((r, i) => r >= 0 && (i === 0 || r > ranks[i - 1]!)),
        `${id}: ${seen.join(' → ')}`,
      ).toBe(true);
    }
    expect(log['run-node-publish']![0]).toBe('pending');

    // The timeline lists the events; the node panel shows the selected node's output.
    await until(() => page.getByTestId('timeline').textContent()).toContain('run.completed');
    // Keyboard: each box is a button; Enter selects it.
    await page.getByTestId('run-node-double').focus();
    await page.keyboard.press('Enter');
    await until(() => page.getByTestId('node-output').textContent()).toBe('42');
    await page.getByTestId('run-node-notify').click();
    await until(() => page.getByTestId('node-output').textContent()).toContain('published 42!');
    expect(await page.getByTestId('node-attempts').textContent()).toBe('1');
    await h.screenshot(page, 'run-view');
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.reload();
    await until(() => statusOf(page, 'notify')).toBe('succeeded');
    await h.screenshot(page, 'run-view-dark');
  });

  it('Approve lets a waiting run finish', async () => {
    const { page, tenant } = await h.signedInPage('/flows');
    const flowId = await newFlow(tenant, 'approve me', FIVE_NODES);
    const runId = await startRun(tenant, flowId, { n: 1 });
    await page.goto(`/runs/${runId}`);
    const approve = page.getByTestId('approve-review');
    await approve.waitFor();
    await approve.click();
    await until(() => page.getByTestId('run-status').getAttribute('data-status')).toBe('succeeded');
    const run = await runUntil(tenant, runId, ['succeeded']);
    const review = run.nodes.find((n: Json) => n.id === 'review');
    expect(review.output).toMatchObject({ approved: true, approvedBy: { actorType: 'user', actorId: tenant.userId } });
    expect(run.output).toEqual({ notify: 'published 2!' });
    await until(() => page.getByTestId('approve-review').count()).toBe(0);
  });

  it('Deny is a signal too; Cancel and Resume drive a run from the page', async () => {
    const { page, tenant } = await h.signedInPage('/flows');
    const flowId = await newFlow(tenant, 'cancel me', FIVE_NODES);
    const runId = await startRun(tenant, flowId, { n: 1 });
    await page.goto(`/runs/${runId}`);
    await page.getByTestId('approve-review').waitFor();
    await page.getByRole('button', { name: 'Cancel' }).click();
    await until(() => page.getByTestId('run-status').getAttribute('data-status')).toBe('cancelled');
    await until(() => statusOf(page, 'review')).toBe('cancelled');
    await runUntil(tenant, runId, ['cancelled']);

    await page.getByRole('button', { name: 'Resume' }).click();
    // The resumed run waits on its approval again; the page follows the new events.
    await until(() => statusOf(page, 'review')).toBe('waiting');
    await page.getByTestId('deny-review').click();
    await until(() => page.getByTestId('run-status').getAttribute('data-status')).toBe('succeeded');
    const run = await runUntil(tenant, runId, ['succeeded']);
    expect(run.nodes.find((n: Json) => n.id === 'review').output).toMatchObject({ approved: false });
  });

  it('a failed node is red with its error in the panel; Resume runs it again', async () => {
    const { page, tenant } = await h.signedInPage('/flows');
    const flowId = await newFlow(tenant, 'fails once', {
      nodes: [
        { id: 'load', type: 'transform', config: { expression: 'input.n * 10' } },
        { id: 'check', type: 'transform', config: { expression: "run.attempt < 2 ? $error('not yet') : nodes.load.output + 1" } },
      ],
      edges: [{ from: 'load', to: 'check' }],
    });
    const runId = await startRun(tenant, flowId, { n: 4 });
    await runUntil(tenant, runId, ['failed']);
    await page.goto(`/runs/${runId}`);
    await until(() => statusOf(page, 'check')).toBe('failed');
    expect(await statusOf(page, 'load')).toBe('succeeded');
    expect(await page.getByTestId('run-status').getAttribute('data-status')).toBe('failed');
    await page.getByTestId('run-node-check').click();
    await until(() => page.getByTestId('node-panel').textContent()).toContain('not yet');
    expect(await page.locator('.node-error').textContent()).toContain('expression');
    expect(await page.getByRole('button', { name: 'Cancel' }).count()).toBe(0);

    await page.getByRole('button', { name: 'Resume' }).click();
    await until(() => page.getByTestId('run-status').getAttribute('data-status')).toBe('succeeded');
    expect(await statusOf(page, 'check')).toBe('succeeded');
    await until(() => page.getByTestId('node-attempts').textContent()).toBe('2');
    await until(() => page.getByTestId('node-output').textContent()).toBe('41');
  });

  it('Rerun from here creates a run with rerunOf', async () => {
    const { page, tenant } = await h.signedInPage('/flows');
    const flowId = await newFlow(tenant, 'rerun me', {
      nodes: [
        { id: 'load', type: 'transform', config: { expression: 'input.n * 10' } },
        { id: 'show', type: 'transform', config: { expression: "'load=' & nodes.load.output" } },
      ],
      edges: [{ from: 'load', to: 'show' }],
    });
    const runId = await startRun(tenant, flowId, { n: 4 });
    await runUntil(tenant, runId, ['succeeded']);
    await page.goto(`/runs/${runId}`);
    await until(() => statusOf(page, 'show')).toBe('succeeded');
    await page.getByTestId('run-node-show').click();
    await page.getByTestId('rerun-from-here').click();
    await page.waitForURL((url) => url.pathname.startsWith('/runs/') && !url.pathname.endsWith(runId));
    const newRunId = decodeURIComponent(new URL(page.url()).pathname.split('/').pop()!);
    expect(newRunId).not.toBe(runId);

    // The list is the D1 index, which the run's hub writes just after the start answers (docs/flows.md,
    // "Starting a run"): wait for the row, then check where it says the run came from.
    const listed = await eventually(
      async () => (await call(tenant, 'GET', `/v1/runs?flowId=${flowId}`)).body.data.find((r: Json) => r.id === newRunId),
      { what: `${newRunId} in GET /v1/runs` },
    );
    expect(listed).toMatchObject({ rerunOf: runId });
    // The new run reused `load` and ran `show` again; its page shows that.
    await until(() => page.getByTestId('run-status').getAttribute('data-status')).toBe('succeeded');
    await until(() => page.getByTestId('run-node-load').getAttribute('aria-label')).toContain('reused');
    const rerun = await runUntil(tenant, newRunId, ['succeeded']);
    expect(rerun.nodes.map((n: Json) => [n.id, n.reused])).toEqual([
      ['load', true],
      ['show', false],
    ]);
    // The runs list says where the new run came from.
    await page.goto(`/runs?flowId=${flowId}`);
    await until(() => page.locator(`tr[data-run-id="${newRunId}"]`).textContent()).toContain(`rerun of ${runId}`);
  });

  it('the flow editor validates live with problems at their paths, saves versions and starts a run with input', async () => {
    const { page, tenant } = await h.signedInPage('/flows');
    await page.getByRole('link', { name: 'New flow' }).click();
    await page.waitForURL(/\/flows\/new$/);
    await page.getByLabel('Name', { exact: true }).fill('greeter');
    const editor = page.getByTestId('flow-json');
    const broken = {
      nodes: [
        { id: 'a', type: 'transform', config: { expression: 'input.x +' } },
        { id: 'b', type: 'teleport' },
      ],
      edges: [{ from: 'a', to: 'ghost' }],
    };
    await editor.fill(JSON.stringify(broken, null, 2));
    const validation = page.getByTestId('validation');
    await until(() => validation.getAttribute('data-state')).toBe('invalid');
    const paths = await validation.locator('li[data-path]').evaluateAll((els) => els.map((e) => e.getAttribute('data-path')));
    expect(paths).toEqual(expect.arrayContaining(['nodes[0].config.expression', 'nodes[1].type', 'edges[0].to']));
    // Each problem names its line: `"expression": "input.x +"` is line 7 of the pretty-printed text.
    expect(await validation.locator('li[data-path="nodes[0].config.expression"]').textContent()).toContain('line 7');
    expect(await page.locator('.json-editor__gutter .bad').count()).toBeGreaterThanOrEqual(3);
    await h.screenshot(page, 'flow-editor-problems');

    await editor.fill('{ "nodes": [');
    await until(() => validation.getAttribute('data-state')).toBe('syntax');

    const good = {
      input: { type: 'object', properties: { name: { type: 'string' } }, required: ['name'] },
      nodes: [
        { id: 'upper', type: 'transform', config: { expression: '$uppercase(input.name)' } },
        { id: 'greet', type: 'transform', config: { expression: "'Hello, ' & nodes.upper.output" } },
      ],
      edges: [{ from: 'upper', to: 'greet' }],
    };
    await editor.fill(JSON.stringify(good, null, 2));
    await until(() => validation.getAttribute('data-state')).toBe('valid');
    await page.getByRole('button', { name: 'Create flow' }).click();
    await page.waitForURL(/\/flows\/flw_/);
    const flowId = decodeURIComponent(new URL(page.url()).pathname.split('/').pop()!);
    await until(() => page.getByTestId('versions').textContent()).toContain('v1');

    // A second version through the page.
    await editor.fill(
      JSON.stringify(
        { ...good, nodes: [good.nodes[0], { ...good.nodes[1], config: { expression: "'Hi, ' & nodes.upper.output" } }] },
        null,
        2,
      ),
    );
    await until(() => validation.getAttribute('data-state')).toBe('valid');
    await page.getByRole('button', { name: 'Save new version' }).click();
    await until(() => page.getByTestId('versions').textContent()).toContain('v2');
    expect((await call(tenant, 'GET', `/v1/flows/${flowId}`)).body.version).toBe(2);

    // Input the schema refuses: the error names the field.
    const input = page.getByTestId('run-input');
    await input.fill('{ "name": 42 }');
    await page.getByTestId('start-run').click();
    await until(() => page.locator('#run-input-errors').textContent()).toContain('input.name');
    await h.screenshot(page, 'flow-editor');

    await input.fill('{ "name": "ada" }');
    await page.getByTestId('start-run').click();
    await page.waitForURL(/\/runs\/run_/);
    await until(() => page.getByTestId('run-status').getAttribute('data-status')).toBe('succeeded');
    const runId = decodeURIComponent(new URL(page.url()).pathname.split('/').pop()!);
    expect((await call(tenant, 'GET', `/v1/runs/${runId}`)).body).toMatchObject({ flowVersion: 2, output: { greet: 'Hi, ADA' } });

    await page.goto('/flows');
    await until(() => page.getByTestId('flows-table').textContent()).toContain('greeter');
    await h.screenshot(page, 'flows');
  });

  it("a map node's child runs are drawn, and collapsed into one box above 50", async () => {
    const { page, tenant } = await h.signedInPage('/flows');
    const child = await newFlow(tenant, 'child', {
      nodes: [{ id: 'up', type: 'transform', config: { expression: '$uppercase(input.w)' } }],
    });
    const flowId = await newFlow(tenant, 'fan out', {
      nodes: [{ id: 'each', type: 'map', config: { items: 'input.words', flowId: child, input: '{ "w": item }', concurrency: 20 } }],
    });
    const small = await startRun(tenant, flowId, { words: ['a', 'b', 'c'] });
    await runUntil(tenant, small, ['succeeded']);
    await page.goto(`/runs/${small}`);
    await until(() => page.locator('[data-testid^="child:each:"]').count()).toBe(3);
    await until(() => page.getByTestId('child:each:2').getAttribute('data-status')).toBe('succeeded');

    const big = await startRun(tenant, flowId, { words: Array.from({ length: 60 }, (_, i) => `w${i}`) });
    await runUntil(tenant, big, ['succeeded']);
    await page.goto(`/runs/${big}`);
    await page.getByTestId('children:each').waitFor();
    expect(await page.getByTestId('children:each').textContent()).toContain('60 child runs');
    expect(await page.locator('[data-testid^="child:each:"]').count()).toBe(0);
    await page.getByTestId('run-node-each').click();
    await until(() => page.locator('.node-children li').count()).toBe(60);
  });

  it('a viewer sees flows and runs but no write controls', async () => {
    const owner = await h.signup('flows-owner');
    const flowId = await newFlow(owner, 'read only', FIVE_NODES);
    const runId = await startRun(owner, flowId, { n: 1 });
    await runUntil(owner, runId, ['waiting']);
    const email = uniqueEmail('viewer');
    const inv = await call(owner, 'POST', '/v1/invitations', { email, role: 'viewer' });
    expect(inv.status).toBe(201);
    const accepted = await api(
      h.worker,
      'POST',
      '/v1/invitations/accept',
      undefined,
      { token: inv.body.token, password: PASSWORD, name: 'Vera Viewer' },
      { 'cf-connecting-ip': freshIp() },
    );
    expect(accepted.status).toBe(200);
    const viewer = sessionOf(accepted.body, email);

    const { page } = await h.signedInPage(`/runs/${runId}`, { tenant: viewer });
    await until(() => statusOf(page, 'review')).toBe('waiting');
    await page.getByTestId('run-node-double').click();
    await until(() => page.getByTestId('node-output').textContent()).toContain('2');
    for (const name of ['Approve', 'Deny', 'Cancel', 'Resume', 'Rerun from here']) {
      expect(await page.getByRole('button', { name, exact: true }).count(), name).toBe(0);
    }
    await page.goto(`/flows/${flowId}`);
    await until(() => page.getByTestId('versions').textContent()).toContain('v1');
    expect(await page.getByRole('button', { name: 'Save new version' }).count()).toBe(0);
    expect(await page.getByTestId('start-run').count()).toBe(0);
    expect(await page.getByTestId('flow-json').getAttribute('readonly')).not.toBeNull();
    await page.goto('/flows');
    await until(() => page.getByTestId('flows-table').textContent()).toContain('read only');
    expect(await page.getByRole('link', { name: 'New flow' }).count()).toBe(0);
  });

  it("an agent node's parked tool call is approved from the run view", async () => {
    const { page, tenant } = await h.signedInPage('/flows');
    expect((await call(tenant, 'POST', '/v1/tasks', { title: 'dentist' })).status).toBe(201);
    // No provider configured: the agent runs on the deterministic router model (docs/agents.md).
    const agent = { name: 'helper', tools: ['listTasks', 'deleteTask'].map((name) => ({ type: 'builtin', name })) };
    const flowId = await newFlow(tenant, 'tidy up', {
      nodes: [{ id: 'agent', type: 'agent', config: { agent, prompt: 'delete dentist' } }],
    });
    const runId = await startRun(tenant, flowId);
    await runUntil(tenant, runId, ['waiting']);

    await page.goto(`/runs/${runId}`);
    const parked = page.locator('[data-testid^="parked-"]');
    await until(() => parked.count()).toBe(1);
    expect(await parked.textContent()).toContain('deleteTask');
    await h.screenshot(page, 'run-view-agent-approval');
    await parked.getByRole('button', { name: 'Approve' }).click();
    await until(() => page.getByTestId('run-status').getAttribute('data-status')).toBe('succeeded');
    await until(() => parked.count()).toBe(0);
    const run = await runUntil(tenant, runId, ['succeeded']);
    expect(run.nodes[0].output.text).toContain('dentist');
    expect(((await call(tenant, 'GET', '/v1/tasks')).body.data as Json[]).map((t) => t.title)).not.toContain('dentist');
  });

  it('a dropped event stream is resumed after the last event with a new ticket: no gap, no duplicate', async () => {
    const proxy = await startFaultProxy(h.url);
    try {
      const tenant = await h.signup('flows-cut');
      const context = await h.newContext({ baseURL: proxy.url });
      const { page } = await h.signedInPage('/flows', { tenant, context });
      const flowId = await newFlow(tenant, 'cut me', FIVE_NODES);
      const runId = await startRun(tenant, flowId, { n: 5 });
      await runUntil(tenant, runId, ['waiting']);
      const path = `/v1/runs/${runId}/events`;
      let cut!: () => void;
      proxy.cutStream({ path, afterId: '4', until: new Promise<void>((resolve) => (cut = resolve)) });

      await page.goto(`/runs/${runId}`);
      // The connection breaks once the page shows the four events it got.
      const timeline = page.locator('[data-testid="timeline"] li');
      await until(() => timeline.count()).toBe(4);
      cut();
      await until(() => statusOf(page, 'review')).toBe('waiting');
      expect(await call(tenant, 'POST', `/v1/runs/${runId}/signal`, { node: 'review', payload: { approved: true } })).toMatchObject({
        status: 200,
      });
      await until(() => page.getByTestId('run-status').getAttribute('data-status')).toBe('succeeded');
      expect(await statusOf(page, 'notify')).toBe('succeeded');

      const streams = proxy.requests.filter((r) => r.path.startsWith(`${path}?`)).map((r) => new URL(r.path, proxy.url).searchParams);
      expect(streams.length).toBeGreaterThanOrEqual(2);
      expect(streams[0]!.get('after')).toBe('0');
      expect(streams[1]!.get('after')).toBe('4');
      expect(streams[1]!.get('ticket')).not.toBe(streams[0]!.get('ticket'));
      // The timeline has every event once, in order.
      const all = await call(tenant, 'GET', `/v1/runs/${runId}`);
      expect(all.body.status).toBe('succeeded');
      const shown = await page.locator('[data-testid="timeline"] li .tl__type').allTextContents();
      expect(shown.at(-1)).toBe('run.completed');
      expect(shown.filter((t) => t === 'node.succeeded')).toHaveLength(5);
      expect(shown.filter((t) => t === 'run.created')).toHaveLength(1);
    } finally {
      await proxy.close();
    }
  });
});
