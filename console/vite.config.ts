/**
 * The console's build: a single-page app written to console/dist, which wrangler.toml's [assets]
 * serves from the same Worker as the API (docs/console.md). `npm run dev -w console` serves it with
 * hot reload and proxies the API to `npm start` on 127.0.0.1:8787.
 */
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

const API = process.env.EDGECREW_API ?? 'http://127.0.0.1:8787';

export default defineConfig({
  plugins: [react()],
  build: { outDir: 'dist', emptyOutDir: true, target: 'es2022', sourcemap: false },
  server: {
    proxy: Object.fromEntries(
      ['/v1', '/health', '/openapi.json', '/docs', '/.well-known'].map((p) => [p, { target: API, ws: p === '/v1' }]),
    ),
  },
});
