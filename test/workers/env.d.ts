// Bindings the test configuration adds on top of wrangler.toml.
declare namespace Cloudflare {
  interface Env {
    TEST_MIGRATIONS: import('cloudflare:test').D1Migration[];
  }
}

declare module '*?raw' {
  const text: string;
  export default text;
}
