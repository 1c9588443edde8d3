import { defineConfig } from 'vitest/config';

// Unit and integration suites live next to the code they test (*.test.ts).
// Lab suites boot VMs and are slow; they are selected by file name (*.lab.test.ts)
// and run serially so two suites never fight over the same VMs.
export default defineConfig({
  test: {
    include: ['electron/**/*.test.ts', 'shared/**/*.test.ts', 'renderer/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    reporters: ['default'],
  },
});
