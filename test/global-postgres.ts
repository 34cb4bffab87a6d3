import type { TestProject } from 'vitest/node';
import { migrate } from '../src/storage/postgres/schema.js';
import { type PostgresAddress, startPostgresCluster } from './storage/postgres-cluster.js';

/**
 * The vitest global setup of the `postgres` project (vitest.config.ts): ONE throwaway PostgreSQL
 * cluster for the whole run, whose own database gets Settee's schema and serves as the template
 * every test server's database is copied from (test/server/harness.ts). Vitest runs it only when
 * a file of the project is queued, and stops the cluster after the last file.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // Commits need not wait for the disk: the cluster is thrown away, and no test here crashes it.
  const cluster = await startPostgresCluster({ durable: false });
  try {
    const pool = cluster.pool({ max: 1 });
    await migrate(pool);
    // A template may have no connection open while it is copied.
    await pool.end();
  } catch (error) {
    await cluster.stop();
    throw error;
  }
  project.provide('postgres', {
    socketDir: cluster.socketDir,
    user: cluster.user,
    template: cluster.database,
  });
  return () => cluster.stop();
}

declare module 'vitest' {
  export interface ProvidedContext {
    /** The run's PostgreSQL cluster and the database with Settee's schema to copy: set in the `postgres` project only. */
    postgres: PostgresAddress & { template: string };
  }
}
