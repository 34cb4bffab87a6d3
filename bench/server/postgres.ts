/**
 * PostgreSQL for the scale-out benchmark: a throwaway cluster started by the tests' own
 * `startPostgresCluster` (so the benchmark needs no PostgreSQL set up by hand: Debian's
 * `postgresql` package is enough), a fresh database per deployment, and the CPU its processes use.
 */
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import {
  createDatabase,
  type PostgresCluster,
  postgresUrl,
  startPostgresCluster,
} from '../../test/storage/postgres-cluster.js';
import { statFields, ticksToMs } from './servers.js';

export interface BenchPostgres {
  readonly cluster: PostgresCluster;
  /** Creates an empty PostgreSQL database and returns its URL for `settee serve --postgres`. */
  database(name: string): Promise<string>;
  /** What the `settee` tables of the database at `url` hold, per document. */
  footprint(url: string): Promise<Footprint>;
  /** CPU milliseconds used so far by the postmaster and all its processes, ended ones included. */
  cpuMs(): number;
  stop(): Promise<void>;
  /** Last resort, synchronous (a signal, an exit handler): an immediate shutdown, and the folder removed. */
  kill(): void;
}

/** Disk bytes (tables with their indexes and TOAST) and revision rows, per document stored. */
export interface Footprint {
  docs: number;
  bytesPerDoc: Record<string, number>;
  revRowsPerDoc: number;
}

export async function startBenchPostgres(): Promise<BenchPostgres> {
  const cluster = await startPostgresCluster();
  const pidFile = join(cluster.socketDir, 'data', 'postmaster.pid');
  const postmaster = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
  return {
    cluster,
    async database(name) {
      await createDatabase(cluster, name);
      return postgresUrl(cluster, name);
    },
    footprint: footprintOf,
    cpuMs: () => postgresCpuMs(postmaster),
    stop: () => cluster.stop(),
    kill() {
      try {
        process.kill(postmaster, 'SIGQUIT'); // PostgreSQL's "immediate" shutdown
      } catch {
        // stopped already
      }
      rmSync(cluster.socketDir, { recursive: true, force: true });
    },
  };
}

/**
 * The postmaster's own CPU, its live children's, and what its ended children used (cutime and
 * cstime: a backend whose connection closed is counted there once the postmaster has reaped it),
 * so that a difference of two readings holds every process's share, however short-lived.
 */
export function postgresCpuMs(postmaster: number): number {
  const [utime, stime, cutime, cstime] = statFields(postmaster, [14, 15, 16, 17]);
  let ticks = utime! + stime! + cutime! + cstime!;
  for (const pid of childrenOf(postmaster)) {
    try {
      const [childUtime, childStime] = statFields(pid, [14, 15]);
      ticks += childUtime! + childStime!;
    } catch {
      // It ended between the listing and the reading: the postmaster's cutime will hold it.
    }
  }
  return ticksToMs(ticks);
}

/** The pids whose parent is `parent` (field 4 of /proc/PID/stat). */
function childrenOf(parent: number): number[] {
  const children: number[] = [];
  for (const name of readdirSync('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid)) continue;
    try {
      if (statFields(pid, [4])[0] === parent) children.push(pid);
    } catch {
      // gone already
    }
  }
  return children;
}

async function footprintOf(url: string): Promise<Footprint> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const count = async (table: string) =>
      Number((await client.query<{ n: string }>(`SELECT count(*) AS n FROM settee.${table}`)).rows[0]!.n);
    const docs = await count('docs');
    const sizes = await client.query<{ name: string; bytes: string }>(
      `SELECT c.relname AS name, pg_total_relation_size(c.oid) AS bytes
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname = 'settee' AND c.relkind = 'r' ORDER BY 2 DESC`,
    );
    const bytesPerDoc = Object.fromEntries(sizes.rows.map((row) => [row.name, Number(row.bytes) / docs]));
    return { docs, bytesPerDoc, revRowsPerDoc: (await count('revs')) / docs };
  } finally {
    await client.end();
  }
}
