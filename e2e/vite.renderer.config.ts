// Builds the renderer alone (same settings as electron.vite.config.ts's renderer section), for
// when the main process does not build: `npx vite build --config e2e/vite.renderer.config.ts`.
import { resolve } from 'node:path';
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

export default defineConfig({
  root: resolve('renderer'),
  base: './',
  plugins: [react()],
  build: { outDir: resolve('out/renderer'), emptyOutDir: true, rollupOptions: { input: { index: resolve('renderer/index.html') } } },
});
