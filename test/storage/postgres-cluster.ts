import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';

/**
 * A throwaway PostgreSQL cluster for a whole test run (test/global-postgres.ts) or a benchmark:
 * `initdb` in a temporary folder, a server that listens only on a Unix socket in that folder (no
 * TCP port, so clusters never clash), one database, and `stop()` that shuts it down and removes
 * the folder. Starting takes seconds, so a test file never starts one: it takes a database of its
 * own in the run's (test/storage/use-postgres.ts).
 *
 * Debian's `postgresql` package keeps the binaries in /usr/lib/postgresql/<version>/bin, off the
 * PATH; a machine that links them onto the PATH is served too. PostgreSQL refuses to run as root:
 * as root, the cluster runs as the `postgres` user the package creates.
 */
export interface PostgresCluster extends PostgresAddress {
  readonly database: string;
  /** A new pool on the cluster's database, ended by `stop()` unless ended before: one per simulated server. */
  pool(options?: pg.PoolConfig): pg.Pool;
  stop(): Promise<void>;
}

/** Where a cluster listens and who may log in: plain data, so a vitest globalSetup can `provide` it. */
export interface PostgresAddress {
  /** The folder holding the Unix socket: `host` for pg. */
  readonly socketDir: string;
  readonly user: string;
}

/** A `postgres://…` URL of one database of the cluster, as `settee serve --postgres` takes it. */
export function postgresUrl(address: PostgresAddress, database: string): string {
  return `postgresql://${address.user}@/${database}?host=${encodeURIComponent(address.socketDir)}`;
}

const USER = 'settee';
const DATABASE = 'settee_test';
// Bounded waits: pg_ctl gives up (and fails the setup) rather than hanging a test run.
const WAIT_SECONDS = '30';

export interface ClusterOptions {
  /**
   * Whether commits wait for the disk (`fsync`), as a production server's do: the default, which
   * benchmarks measure. A cluster only tests' answers depend on may skip the wait (`false`): only
   * a crash of the machine, never of a process, loses what it skipped.
   */
  durable?: boolean;
  /**
   * Further server settings (`-c name=value` at start), e.g. `shared_preload_libraries`, which
   * only a start sets: a benchmark loads `pg_stat_statements` to count the statements it sends.
   */
  settings?: Readonly<Record<string, string>>;
}

export async function startPostgresCluster(options: ClusterOptions = {}): Promise<PostgresCluster> {
  const bin = postgresBinaries();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'settee-pg-'));
  const dataDir = path.join(dir, 'data');
  const asUser = clusterUserPrefix(dir);
  const run = (tool: string, args: string[]) => {
    const argv = [...asUser, path.join(bin, tool), ...args];
    execFileSync(argv[0]!, argv.slice(1), { stdio: 'pipe' });
  };
  try {
    run('initdb', ['-D', dataDir, '-A', 'trust', '-U', USER, '-E', 'UTF8', '--locale=C', '--no-sync']);
    const durability = options.durable === false ? '-c fsync=off -c synchronous_commit=off' : '-c fsync=on';
    const settings = Object.entries(options.settings ?? {}).map(([name, value]) => ` -c ${name}=${value}`);
    const serverOptions = `-k ${dir} -c listen_addresses='' ${durability}${settings.join('')}`;
    run('pg_ctl', [
      '-D',
      dataDir,
      '-l',
      path.join(dir, 'log'),
      '-o',
      serverOptions,
      '-w',
      '-t',
      WAIT_SECONDS,
      'start',
    ]);
  } catch (error) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw withOutput(error);
  }
  const pools: pg.Pool[] = [];
  const cluster: PostgresCluster = {
    socketDir: dir,
    user: USER,
    database: DATABASE,
    pool(options = {}) {
      const pool = poolOn({ socketDir: dir, user: USER }, DATABASE, options);
      pools.push(pool);
      return pool;
    },
    async stop() {
      await Promise.all(pools.filter((pool) => !pool.ended).map((pool) => pool.end()));
      try {
        run('pg_ctl', ['-D', dataDir, '-m', 'fast', '-w', '-t', WAIT_SECONDS, 'stop']);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    },
  };
  await createDatabase(cluster, DATABASE);
  return cluster;
}

/** A new pool on one database of the cluster: `options` as pg takes them, a few connections by default. */
export function poolOn(address: PostgresAddress, database: string, options: pg.PoolConfig = {}): pg.Pool {
  return new pg.Pool({ host: address.socketDir, user: address.user, database, max: 4, ...options });
}

/**
 * Creates a database in the cluster, as a copy of `template` when given: a copy of a database
 * whose schema is in place needs no migration. Nobody may be connected to the template meanwhile
 * (PostgreSQL's rule for `CREATE DATABASE … TEMPLATE`).
 */
export async function createDatabase(
  address: PostgresAddress,
  name: string,
  template?: string,
): Promise<void> {
  await asAdmin(address, `CREATE DATABASE ${pg.escapeIdentifier(name)}${templateClause(template)}`);
}

/**
 * A database name no other test file will pick: files running at once in other workers share the
 * run's cluster (test/global-postgres.ts), and a fixed name would be made twice.
 */
export function uniqueDatabaseName(): string {
  return `settee_${randomBytes(6).toString('hex')}`;
}

/** Drops a database of the cluster, ending whatever connections are left on it. */
export async function dropDatabase(address: PostgresAddress, name: string): Promise<void> {
  await asAdmin(address, `DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`);
}

function templateClause(template: string | undefined): string {
  return template === undefined ? '' : ` TEMPLATE ${pg.escapeIdentifier(template)}`;
}

/** One statement on the cluster's `postgres` database, which no test uses, over a connection of its own. */
async function asAdmin(address: PostgresAddress, statement: string): Promise<void> {
  const admin = new pg.Client({ host: address.socketDir, user: address.user, database: 'postgres' });
  await admin.connect();
  try {
    await admin.query(statement);
  } finally {
    await admin.end();
  }
}

/** The folder of initdb and pg_ctl: on the PATH, or the newest of Debian's versions. */
function postgresBinaries(): string {
  for (const folder of (process.env.PATH ?? '').split(path.delimiter)) {
    if (folder && fs.existsSync(path.join(folder, 'initdb'))) return folder;
  }
  const root = '/usr/lib/postgresql';
  const versions = fs.existsSync(root)
    ? fs.readdirSync(root).filter((version) => fs.existsSync(path.join(root, version, 'bin', 'initdb')))
    : [];
  const newest = versions.sort((a, b) => Number(b) - Number(a))[0];
  if (!newest) throw new Error('PostgreSQL is not installed: apt-get install -y postgresql (see .ci/run)');
  return path.join(root, newest, 'bin');
}

/** What runs the cluster's tools: nothing for a user who is not root; for root, `runuser` as `postgres`. */
function clusterUserPrefix(dir: string): string[] {
  if (process.getuid?.() !== 0) return [];
  const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
  fs.chownSync(dir, uid, gid);
  return ['runuser', '-u', 'postgres', '--'];
}

/** A failed tool's own words (its stderr), which say why far better than the exit status. */
function withOutput(error: unknown): Error {
  const stderr = (error as { stderr?: Buffer }).stderr?.toString().trim();
  return new Error(`PostgreSQL cluster did not start${stderr ? `: ${stderr}` : ''}`, { cause: error });
}
