import type pg from 'pg';
import { endPool } from '../../src/storage/postgres/sql.js';
import { afterAll, beforeAll, inject } from 'vitest';
import type { RunCluster } from '../global-postgres.js';
import {
  createDatabase,
  dropDatabase,
  type PostgresAddress,
  poolOn,
  postgresUrl,
  uniqueDatabaseName,
} from './postgres-cluster.js';

/** An empty PostgreSQL database of a test file's own, in the run's cluster (`usePostgres()`). */
export interface OwnDatabase extends PostgresAddress {
  /** Its name in the cluster. */
  readonly database: string;
  /** Its `postgres://…` URL, as `settee serve --postgres` takes it. */
  readonly url: string;
  /** A new pool on it, ended before it is dropped unless ended before: one per simulated server. */
  pool(options?: pg.PoolConfig): pg.Pool;
  /** Another empty database of this file (its name), dropped with the first: for a test that needs a PostgreSQL no server used yet. */
  another(): Promise<string>;
}

/** The run's cluster, as the global setup provides it, or why there is none. */
export function runCluster(): RunCluster {
  const cluster = inject('postgres');
  if (!cluster)
    throw new Error('PostgreSQL tests need the global setup test/global-postgres.ts (vitest.config.ts)');
  return cluster;
}

/**
 * An empty database of the run's one cluster (test/global-postgres.ts) for the calling file — or
 * describe block — alone: made in `beforeAll`, then dropped with its connections in `afterAll`.
 * Files running at once in other workers each have their own, so no file sees another's data.
 *
 * Call it before the file's own `afterAll`: vitest runs those hooks last registered first, so the
 * file stops its servers before their database goes.
 */
export function usePostgres(): OwnDatabase {
  let cluster: RunCluster | undefined;
  const names: string[] = [];
  const pools: pg.Pool[] = [];
  const address = (): RunCluster => {
    if (!cluster) throw new Error('usePostgres(): its database exists from beforeAll to afterAll only');
    return cluster;
  };
  const another = async (): Promise<string> => {
    const name = uniqueDatabaseName();
    await createDatabase(address(), name);
    names.push(name);
    return name;
  };

  beforeAll(async () => {
    cluster = runCluster();
    await another();
  });
  afterAll(async () => {
    if (!cluster) return;
    // Ended first: dropping ends the connections a pool still holds, which it would report as errors.
    await Promise.all(pools.filter((pool) => !pool.ended).map(endPool));
    const made = names.splice(0);
    await Promise.all(made.map((name) => dropDatabase(address(), name)));
    cluster = undefined;
  });

  const own = (): string => {
    address();
    return names[0]!;
  };
  return {
    get socketDir() {
      return address().socketDir;
    },
    get user() {
      return address().user;
    },
    get database() {
      return own();
    },
    get url() {
      return postgresUrl(address(), own());
    },
    pool(options = {}) {
      const pool = poolOn(address(), own(), options);
      pools.push(pool);
      return pool;
    },
    another,
  };
}
