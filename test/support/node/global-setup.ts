/** Node-side services the workerd tests talk to over loopback. */
import type { TestProject } from 'vitest/node';
import { startFakeSentry } from './fake-sentry';

declare module 'vitest' {
  export interface ProvidedContext {
    fakeSentryUrl: string;
  }
}

export default async function setup(project: TestProject) {
  const sentry = await startFakeSentry();
  project.provide('fakeSentryUrl', sentry.url);
  return async () => {
    await sentry.close();
  };
}
