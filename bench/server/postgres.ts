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
import { type Counters, postgresCounters } from './cpu-probe.js';
import { statFields, ticksToMs } from './servers.js';

export interface BenchPostgres {
  readonly cluster: PostgresCluster;
  /** Creates an empty PostgreSQL database and returns its URL for `settee serve --postgres`. */
  database(name: string): Promise<string>;
  /** What the `settee` tables of the database at `url` hold, per document. */
  footprint(url: string): Promise<Footprint>;
  /** CPU milliseconds used so far by the postmaster and all its processes, ended ones included. */
  cpuMs(): number;
  /**
   * CPU and context switches by kind of process, the connections opened so far (`cpu-probe.ts`)
   * and, when counted, the statements run in the database called `database` and their planning.
   */
  counters(database?: string): Promise<Counters>;
  /**
   * Does the maintenance that writes to `database` leave for later: VACUUM (ANALYZE too, with
   * `analyze`) and a CHECKPOINT, over a connection of its own. Before a timed phase it brings
   * PostgreSQL to rest; after one, counted, it charges the phase with the work its own writes
   * caused, rather than leaving autovacuum and the checkpointer to run in whichever phase.
   */
  settle(database: string, options?: { analyze?: boolean }): Promise<void>;
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

/**
 * Starts the cluster. With `countStatements`, PostgreSQL loads `pg_stat_statements` (which
 * costs each statement a little) and `counters` tells the statements each database ran.
 */
export async function startBenchPostgres(
  options: { countStatements?: boolean } = {},
): Promise<BenchPostgres> {
  const cluster = await startPostgresCluster({
    settings: {
      log_connections: 'on',
      ...(options.countStatements
        ? { shared_preload_libraries: 'pg_stat_statements', 'pg_stat_statements.track_planning': 'on' }
        : {}),
    },
  });
  const pidFile = join(cluster.socketDir, 'data', 'postmaster.pid');
  const postmaster = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
  const logFile = join(cluster.socketDir, 'log');
  const statements = options.countStatements ? new StatementCounter(cluster) : undefined;
  const maintenance = new Map<string, pg.Client>();
  return {
    cluster,
    async database(name) {
      await createDatabase(cluster, name);
      await statements?.install(name);
      return postgresUrl(cluster, name);
    },
    footprint: footprintOf,
    cpuMs: () => postgresCpuMs(postmaster),
    counters: async (database) => ({
      ...postgresCounters(postmaster),
      'postgres connections': connectionsLogged(logFile),
      ...(statements && database ? await statements.of(database) : {}),
    }),
    async settle(database, { analyze = false } = {}) {
      let client = maintenance.get(database);
      if (!client) {
        client = new pg.Client({ host: cluster.socketDir, user: cluster.user, database });
        await client.connect();
        maintenance.set(database, client);
      }
      await client.query(analyze ? 'VACUUM ANALYZE' : 'VACUUM');
      await client.query('CHECKPOINT');
    },
    async stop() {
      for (const client of maintenance.values()) await client.end();
      await statements?.close();
      await cluster.stop();
    },
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

/** `pg_stat_statements`' figures of each database, read over a connection of its own to `postgres`. */
class StatementCounter {
  private client: pg.Client | undefined;

  constructor(private readonly cluster: PostgresCluster) {}

  /** Creates the extension in a new database (its views read the whole cluster's figures). */
  async install(database: string): Promise<void> {
    const client = new pg.Client({ host: this.cluster.socketDir, user: this.cluster.user, database });
    await client.connect();
    try {
      await client.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
    } finally {
      await client.end();
    }
  }

  /** Statements run in `database` so far, their planning runs, and PostgreSQL's time in both. */
  async of(database: string): Promise<Counters> {
    const client = await this.connection();
    const { rows } = await client.query<Record<string, string | null>>(
      `SELECT sum(calls) AS statements, sum(plans) AS plans,
              sum(total_exec_time) AS exec_ms, sum(total_plan_time) AS plan_ms
       FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = $1`,
      [database],
    );
    const row = rows[0] ?? {};
    return {
      'postgres statements': Number(row.statements ?? 0),
      'postgres plans': Number(row.plans ?? 0),
      'postgres statement time ms': Number(row.exec_ms ?? 0),
      'postgres planning time ms': Number(row.plan_ms ?? 0),
    };
  }

  async close(): Promise<void> {
    await this.client?.end();
  }

  private async connection(): Promise<pg.Client> {
    if (!this.client) {
      this.client = new pg.Client({
        host: this.cluster.socketDir,
        user: this.cluster.user,
        database: 'postgres',
      });
      await this.client.connect();
      await this.client.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
    }
    return this.client;
  }
}

/** Connections PostgreSQL has accepted so far (its log's `connection authorized` lines). */
function connectionsLogged(logFile: string): number {
  return readFileSync(logFile, 'utf8').split('connection authorized').length - 1;
}
