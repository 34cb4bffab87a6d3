import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Database.open on SQLite, as the Node entry installs it (src/storage/sqlite/open.ts).
    setupFiles: ['test/node-platform.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
