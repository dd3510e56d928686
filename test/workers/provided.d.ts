// Values the Node-side global setup provides to tests in workerd (see test/support/node/global-setup.ts).
export {};

declare module 'vitest' {
  export interface ProvidedContext {
    fakeSentryUrl: string;
    fakeOpenAiUrl: string;
    webhookReceiverUrl: string;
    fakeResendUrl: string;
    flowHttpUrl: string;
    toolRunnerUrl: string;
    toolRunnerSandbox: 'bwrap' | 'wasm';
  }
}
