import pg from 'pg';
import type { RunCluster } from '../global-postgres.js';
import {
  createDatabase,
  dropDatabase,
  postgresUrl,
  uniqueDatabaseName,
} from '../storage/postgres-cluster.js';
import { runCluster } from '../storage/use-postgres.js';

/** A PostgreSQL database a test server keeps its databases in. */
export interface TestDatabase {
  /** Its `postgres://…` URL, as `settee serve --postgres` takes it. */
  url: string;
  /** Drops it: its data folder is gone too. */
  drop(): Promise<void>;
}

/**
 * The PostgreSQL databases of one test file's servers, in the run's cluster
 * (test/global-postgres.ts), one per data folder, so a restart on a kept folder finds its data.
 *
 * Each is a copy of the run's template, whose schema is in place: no migration per server. The
 * names are random, since test files running at once in other workers share the cluster. From a
 * file's second database on, the next one is made while the test runs, which hides the copy's
 * time for files that start a server per test; a file of one server never makes a spare.
 */
export class TestDatabases {
  private readonly byDataDir = new Map<string, TestDatabase>();
  private spare: Promise<string> | undefined;
  private made = 0;

  private constructor(private readonly cluster: RunCluster) {}

  /** The databases of this file, or an error when the global setup did not provide a cluster. */
  static inCluster(): TestDatabases {
    return new TestDatabases(runCluster());
  }

  /** The data folder's database: made on first use, the same one again for a restart. */
  async of(dataDir: string): Promise<TestDatabase> {
    const known = this.byDataDir.get(dataDir);
    if (known) return known;
    const name = await this.fresh();
    const database: TestDatabase = {
      url: postgresUrl(this.cluster, name),
      drop: async () => {
        this.byDataDir.delete(dataDir);
        await dropDatabase(this.cluster, name);
      },
    };
    this.byDataDir.set(dataDir, database);
    return database;
  }

  private async fresh(): Promise<string> {
    const taken = this.spare ?? this.copyTemplate();
    this.spare = undefined;
    if (++this.made > 1) {
      this.spare = this.copyTemplate();
      // Its failure is reported to whoever takes it, never as an unhandled rejection.
      this.spare.catch(() => undefined);
    }
    return taken;
  }

  private async copyTemplate(): Promise<string> {
    const name = uniqueDatabaseName();
    await createDatabase(this.cluster, name, this.cluster.template);
    return name;
  }
}

/**
 * Runs `work` on a connection of its own to the PostgreSQL database at `url` (a test server's,
 * `TestServer.postgres`): to see or change what the server stored, beside the server.
 */
export async function onPostgresDatabase<T>(
  url: string,
  work: (client: pg.Client) => Promise<T>,
): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}
