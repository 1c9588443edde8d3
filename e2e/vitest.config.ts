// Runs the browser tests on their own: `npx vitest run --config e2e/vitest.config.ts`.
// (The root config's unit project does not include e2e/ yet; see the report.)
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    root: new URL('..', import.meta.url).pathname,
    include: ['e2e/**/*.e2e.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    fileParallelism: false,
  },
});
