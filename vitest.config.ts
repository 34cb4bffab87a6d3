import { playwright } from '@vitest/browser-playwright';
import { configDefaults, defineConfig } from 'vitest/config';

// Test files that run inside Chromium (the `browser` project) rather than in Node.
const IN_CHROMIUM = ['test/browser/indexeddb.test.ts'];
// One throwaway PostgreSQL cluster for the whole run, whichever projects need it.
const RUN_CLUSTER = 'test/global-postgres.ts';

export default defineConfig({
  test: {
    // Database.open on SQLite, as the Node entry installs it (src/storage/sqlite/open.ts).
    setupFiles: ['test/node-platform.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Two files at once, even on 2 CPUs (vitest would run one there): much of a file's time is
    // spent waiting on servers, PostgreSQL and Chromium, so the suite takes half as long.
    maxWorkers: 2,
    // Named projects: vitest prints the name beside each file, so a failure says which backend.
    projects: [
      {
        extends: true,
        test: {
          name: 'sqlite',
          include: ['test/**/*.test.ts'],
          exclude: [...configDefaults.exclude, ...IN_CHROMIUM],
          // The run's one PostgreSQL cluster, shared with the `postgres` project: the files that
          // test PostgreSQL itself take databases of their own in it (test/storage/use-postgres.ts).
          globalSetup: [RUN_CLUSTER],
        },
      },
      {
        // The server's API tests again, each server on its own PostgreSQL database
        // (test/server/harness.ts), in the run's one throwaway cluster.
        extends: true,
        test: {
          name: 'postgres',
          include: ['test/server/api-*.test.ts'],
          env: { SETTEE_TEST_BACKEND: 'postgres' },
          globalSetup: [RUN_CLUSTER],
        },
      },
      {
        // The IndexedDB backend in a real headless Chromium, Debian's (.ci/run installs it):
        // nothing downloads a browser. Not `extends`: the Node setup file installs SQLite.
        test: {
          name: 'browser',
          include: IN_CHROMIUM,
          testTimeout: 30_000,
          hookTimeout: 30_000,
          browser: {
            enabled: true,
            headless: true,
            provider: playwright({
              launchOptions: {
                executablePath: '/usr/bin/chromium',
                args: [
                  '--no-sandbox',
                  '--disable-gpu',
                  '--disable-background-networking',
                  '--disable-component-update',
                ],
              },
            }),
            instances: [{ browser: 'chromium' }],
            // A failure is told by its message; no screenshots left in the tree.
            screenshotFailures: false,
          },
        },
      },
    ],
  },
});
