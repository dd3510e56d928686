/** Helpers for the events suites: the Node webhook receiver, webhook endpoints, driving the consumer. */
import { createExecutionContext, createMessageBatch, getQueueResult } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { expect, inject } from 'vitest';
import worker from '../../../src/index';
import type { DeliveryJob } from '../../../src/queue/messages';
import { eventually } from '../../support/shared/time';
import { call, json } from '../../support/workers/http';
import type { TestTenant } from '../../support/workers/tenants';

export const QUEUE = 'edgecrew-events-dev';
export const WEBHOOK_QUEUE = 'edgecrew-webhooks-dev';
export const DLQ = 'edgecrew-events-dlq-dev';
export const receiverUrl = () => inject('webhookReceiverUrl');

export interface Received {
  name: string;
  webhookId: string;
  timestamp: string;
  signature: string;
  body: string;
  payload: Record<string, any> | null;
  verifiedWith: number[];
  answered: number;
  /** Receiver clock (ms) when the request arrived. */
  receivedAt: number;
}

let counter = 0;
/** A receiver endpoint name unique to this test run. */
export function hookName(tag: string): string {
  counter += 1;
  return `${tag}-${Date.now().toString(36)}-${counter}-${Math.random().toString(36).slice(2, 6)}`;
}

export async function registerSecrets(name: string, secrets: string[]): Promise<void> {
  const res = await fetch(`${receiverUrl()}/__register`, { method: 'POST', body: JSON.stringify({ name, secrets }) });
  expect(res.status).toBe(200);
}

export async function received(name: string): Promise<Received[]> {
  return (await (await fetch(`${receiverUrl()}/__received?name=${encodeURIComponent(name)}`)).json()) as Received[];
}

/** Waits until the receiver has at least `n` deliveries for `name`. */
export async function receivedAtLeast(name: string, n: number, timeoutMs = 10_000): Promise<Received[]> {
  return eventually(
    async () => {
      const list = await received(name);
      return list.length >= n ? list : undefined;
    },
    { what: `${n} deliveries to ${name}`, timeoutMs },
  );
}

export interface Hook {
  id: string;
  secret: string;
  name: string;
  body: Record<string, any>;
}

/** Creates a webhook to the receiver as `owner`, registering its secret with the receiver. `query` shapes its behaviour (fail, status, retryAfter, gone). */
export async function createHook(
  owner: TestTenant,
  opts: { tag?: string; query?: string; eventTypes?: string[]; ordering?: 'sequence' | 'none' } = {},
): Promise<Hook> {
  const name = hookName(opts.tag ?? 'hook');
  const url = `${receiverUrl()}/hooks/${name}${opts.query ? `?${opts.query}` : ''}`;
  const res = await call('/v1/webhooks', {
    token: owner.accessToken,
    body: { url, ...(opts.eventTypes ? { eventTypes: opts.eventTypes } : {}), ...(opts.ordering ? { ordering: opts.ordering } : {}) },
  });
  const text = await res.text();
  expect({ status: res.status, text: text.slice(0, 300) }).toMatchObject({ status: 201 });
  const body = JSON.parse(text) as Record<string, any>;
  await registerSecrets(name, [body.secret]);
  return { id: body.id, secret: body.secret, name, body };
}

export async function deliveries(owner: TestTenant, hookId: string, query = ''): Promise<Array<Record<string, any>>> {
  const res = await call(`/v1/webhooks/${hookId}/deliveries?limit=100${query}`, { token: owner.accessToken });
  expect(res.status).toBe(200);
  return (await json(res)).data;
}

/** Runs the real queue handler on a batch of message bodies (EVENTS unless `queue`); returns acked and retried message ids. */
export async function runBatch(bodies: unknown[], overrides: Partial<Env> = {}, queue = QUEUE) {
  const batch = createMessageBatch(
    queue,
    bodies.map((body, i) => ({ id: `m${i}-${Math.random().toString(36).slice(2, 8)}`, timestamp: new Date(), attempts: 1, body })),
  );
  const ctx = createExecutionContext();
  await worker.queue!(batch, { ...env, ...overrides }, ctx);
  return getQueueResult(batch, ctx);
}

/** Makes attempt `attempt` of a delivery now, through the consumer (as the delayed retry message would). */
export async function driveAttempt(deliveryId: string, attempt: number, trigger: DeliveryJob['trigger'] = 'retry') {
  return runBatch([{ kind: 'webhook_attempt', deliveryId, attempt, trigger } satisfies DeliveryJob], {}, WEBHOOK_QUEUE);
}

/**
 * `env.DB` with some of its methods wrapped: each wrapper gets the real method (bound) and the call's
 * arguments; everything else passes through. For counting, delaying or failing chosen calls.
 */
export function interceptD1(
  wrap: Partial<Record<'prepare' | 'batch', (real: (...args: any[]) => any, args: any[]) => unknown>>,
  db: D1Database = env.DB,
): D1Database {
  return new Proxy(db, {
    get(target, prop) {
      const real = Reflect.get(target, prop, target);
      if (typeof real !== 'function') return real;
      const bound = real.bind(target);
      const w = wrap[prop as 'prepare' | 'batch'];
      return w ? (...args: any[]) => w(bound, args) : bound;
    },
  });
}

const EXECUTIONS = new Set(['all', 'run', 'raw', 'first']);

/**
 * A prepared statement (and every statement bound from it) that calls `before()` as each execution
 * starts: an Error it returns fails that execution instead. For counting or failing executions of
 * statements drizzle prepared once and runs many times.
 */
export function onExecute(stmt: D1PreparedStatement, before: () => Error | null | undefined): D1PreparedStatement {
  return new Proxy(stmt, {
    get(target, prop) {
      const real = Reflect.get(target, prop, target);
      if (typeof real !== 'function') return real;
      if (prop === 'bind') return (...args: unknown[]) => onExecute(real.apply(target, args), before);
      if (!EXECUTIONS.has(String(prop))) return real.bind(target);
      return (...args: unknown[]) => {
        const error = before();
        return error ? Promise.reject(error) : real.apply(target, args);
      };
    },
  });
}

/**
 * `env.DB` failing every call until `until` (ms), as D1 does in an outage: the fault injected at
 * the consumer by running the real queue handler with it (`runBatch(bodies, { DB: d1Outage(…) })`).
 */
export function d1Outage(until: number, db: D1Database = env.DB): D1Database {
  const down = () => Date.now() < until;
  const fail = () => new Error('D1_ERROR: Network connection lost. (simulated outage)');
  return new Proxy(db, {
    get(target, prop) {
      const real = Reflect.get(target, prop, target);
      if (typeof real !== 'function') return real;
      return (...args: unknown[]) => {
        // drizzle prepares synchronously (and may keep a prepared statement for later calls): a
        // statement fails on execution while the outage lasts, as a lost connection does.
        if (prop === 'prepare') return onExecute(real.apply(target, args) as D1PreparedStatement, () => (down() ? fail() : null));
        if (down()) return Promise.reject(fail());
        return real.apply(target, args);
      };
    },
  });
}
