// The web panel's build: a Preact single-page app, served by nimbod from web/dist (src/api/web-panel.ts).
import { defineConfig } from 'vite';
import preact from '@preact/preset-vite';
import { fileURLToPath } from 'node:url';

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/',
  plugins: [preact({ prerender: { enabled: false } })],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    // Consoles and graphs are split into their own chunks, loaded when a page needs them.
    chunkSizeWarningLimit: 600,
    sourcemap: false,
  },
  server: { proxy: { '/api': { target: 'http://127.0.0.1:8443', ws: true } } },
});
