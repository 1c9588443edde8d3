import { defineConfig } from 'vitest/config';

// Suites live next to the code they test (*.test.ts). Two projects:
// - unit: parsers, math, SSH against a local sshd, the web bridge, the console in Chromium
//   against a real engine (needs `npm run build` first); fast and parallel.
// - lab: real CRIU in the rehearsal VMs (*.lab.test.ts); one file at a time, because the
//   files share the two VMs, and with generous timeouts, because the guests run under TCG.
// ansible/: the evacuation playbook, tested with real ansible-playbook and the real CLI.
const unitInclude = ['electron/**/*.test.ts', 'shared/**/*.test.ts', 'renderer/**/*.test.ts', 'e2e/**/*.e2e.test.ts', 'ansible/**/*.test.ts'];
const labInclude = ['electron/**/*.lab.test.ts', 'e2e/**/*.lab.test.ts', 'ansible/**/*.lab.test.ts'];

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: unitInclude,
          exclude: ['**/node_modules/**', ...labInclude],
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'lab',
          include: labInclude,
          fileParallelism: false,
          testTimeout: 15 * 60_000,
          hookTimeout: 30 * 60_000,
        },
      },
    ],
  },
});
