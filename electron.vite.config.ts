import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { defineConfig, externalizeDepsPlugin } from 'electron-vite';
import react from '@vitejs/plugin-react';

// main: ESM under Electron's Node. preload: CommonJS, because a sandboxed preload cannot
// be an ES module. renderer: the React app, also served by the web bridge.
export default defineConfig({
  main: {
    plugins: [externalizeDepsPlugin()],
    // Cutover guard: the bundle carries guard.py's text (the CLI and tests read the file beside guard.ts).
    define: { __FERRY_GUARD_PY__: JSON.stringify(readFileSync(resolve('electron/engine/migration/guard/guard.py'), 'utf8')) },
    build: { outDir: 'out/main', rollupOptions: { input: { index: resolve('electron/app/main.ts') } } },
  },
  preload: {
    plugins: [externalizeDepsPlugin()],
    build: {
      outDir: 'out/preload',
      rollupOptions: {
        input: { index: resolve('electron/app/preload.ts') },
        output: { format: 'cjs', entryFileNames: '[name].cjs' },
      },
    },
  },
  renderer: {
    root: 'renderer',
    plugins: [react()],
    build: { outDir: resolve('out/renderer'), rollupOptions: { input: { index: resolve('renderer/index.html') } } },
  },
});
