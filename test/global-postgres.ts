import type { TestProject } from 'vitest/node';
import { migrate } from '../src/storage/postgres/schema.js';
import { type PostgresAddress, startPostgresCluster } from './storage/postgres-cluster.js';

/** What the run's cluster gives the test files: where it listens, and the database to copy. */
export type RunCluster = PostgresAddress & { template: string };

interface Shared {
  cluster: Promise<{ address: RunCluster; stop(): Promise<void> }>;
  projects: number;
}

// Each project runs its own global setup, each in a module runner of its own, but all in vitest's
// one main process: the first setup starts the cluster and leaves it here, for the others to take.
const SHARED = Symbol.for('settee.test.postgres-cluster');
const shared = globalThis as { [SHARED]?: Shared };

/**
 * The vitest global setup of the `sqlite` and `postgres` projects (vitest.config.ts): ONE
 * throwaway PostgreSQL cluster for the whole run, whatever the projects in it. Its own database
 * gets Settee's schema and serves as the template every test server's database is copied from
 * (test/server/harness.ts); test files take empty databases of their own in it
 * (test/storage/use-postgres.ts). Vitest runs a project's setup only when a file of the project
 * is queued; the cluster stops after the last project's last file.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const running = (shared[SHARED] ??= { cluster: startRunCluster(), projects: 0 });
  running.projects++;
  try {
    project.provide('postgres', (await running.cluster).address);
  } catch (error) {
    await release(running);
    throw error;
  }
  return () => release(running);
}

/** One project is done with the cluster: the last one stops it. */
async function release(running: Shared): Promise<void> {
  if (--running.projects > 0) return;
  delete shared[SHARED];
  const started = await running.cluster.catch(() => undefined);
  await started?.stop();
}

async function startRunCluster(): Promise<{ address: RunCluster; stop(): Promise<void> }> {
  const cluster = await startPostgresCluster({
    // Commits need not wait for the disk: the cluster is thrown away, and no test crashes it.
    durable: false,
    // Files running at once in several workers share it, each with servers holding pools of up
    // to 10 connections (pg's default) and a listening one: PostgreSQL's default of 100 was
    // one cluster's per file before.
    settings: { max_connections: '400' },
  });
  try {
    const pool = cluster.pool({ max: 1 });
    await migrate(pool);
    // A template may have no connection open while it is copied.
    await pool.end();
  } catch (error) {
    await cluster.stop();
    throw error;
  }
  const { socketDir, user, database } = cluster;
  return { address: { socketDir, user, template: database }, stop: () => cluster.stop() };
}

declare module 'vitest' {
  export interface ProvidedContext {
    /** The run's PostgreSQL cluster and the database with Settee's schema to copy (test/global-postgres.ts). */
    postgres: RunCluster;
  }
}
