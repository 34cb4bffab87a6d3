import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Database.open on SQLite, as the Node entry installs it (src/storage/sqlite/open.ts).
    setupFiles: ['test/node-platform.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Named projects: vitest prints the name beside each file, so a failure says which backend.
    projects: [
      {
        extends: true,
        test: { name: 'sqlite', include: ['test/**/*.test.ts'] },
      },
      {
        // The server's API tests again, each server on its own PostgreSQL database
        // (test/server/harness.ts), in one throwaway cluster for the run (test/global-postgres.ts).
        extends: true,
        test: {
          name: 'postgres',
          include: ['test/server/api-*.test.ts'],
          env: { SETTEE_TEST_BACKEND: 'postgres' },
          globalSetup: ['test/global-postgres.ts'],
        },
      },
    ],
  },
});
