/**
 * The cost named in docs/scale-out.md, "Cost of the notifications": W writers at once, each on a
 * database of its own, through one pool (as one server has) on one PostgreSQL, each writing
 * single ~1 KB documents one after the other, with the write's notification sent three ways:
 *
 * - `in transaction`: what Settee does. At the commit of a transaction that sent a NOTIFY,
 *   PostgreSQL takes one lock for the whole cluster and holds it until the commit is over, its
 *   flush to disk included (PreCommit_Notify in src/backend/commands/async.c), so these commits
 *   cannot share a flush;
 * - `after commit`: a prototype, here only: the same NOTIFY sent once the write has committed,
 *   in a transaction of its own that does not wait for the disk (a notification is never
 *   durable anyway). What it gives up: a process that dies between the two leaves the other
 *   servers' feeds asleep until the next write to that database;
 * - `none`: no notification at all, the ceiling (the other servers' feeds would not wake).
 *
 * The prototype wraps the pool the storage is given (`notifyingPool`): nothing in src/ changes.
 */
import pg from 'pg';
import type { NewDoc } from '../../src/core/api.js';
import { Database } from '../../src/database/database.js';
import { writeListenerOf } from '../../src/storage/postgres/notifications.js';
import { PostgresStorage } from '../../src/storage/postgres/postgres-storage.js';
import { type Dataset, gc, progress } from '../lib.js';
import type { BenchPostgres } from './postgres.js';

export type NotifyMode = 'in transaction' | 'after commit' | 'none';
export const NOTIFY_MODES: readonly NotifyMode[] = ['in transaction', 'after commit', 'none'];

export interface NotifyFigures {
  mode: NotifyMode;
  writers: number;
  writes: number;
  ms: number;
  writesPerSec: number;
  /** PostgreSQL's CPU (all its processes) per write. */
  postgresCpuMsPerWrite: number;
  /** This process's CPU (Settee's Database and storage, in process) per write. */
  setteeCpuMsPerWrite: number;
}

/** The text Settee's `announceWrite` runs inside the write's transaction. */
const NOTIFY_SQL = 'SELECT pg_notify($1, $2)';

/**
 * Runs the writers once per mode, `rounds` times in turn (the machine is shared: the better round
 * of each mode counts), each round on fresh databases.
 */
export async function notifyCost(
  postgres: BenchPostgres,
  data: Dataset,
  writers: number,
  writesEach: number,
  rounds: number,
): Promise<NotifyFigures[]> {
  const url = await postgres.database('settee_notify');
  const best = new Map<NotifyMode, NotifyFigures>();
  for (let round = 0; round < rounds; round++) {
    for (const mode of NOTIFY_MODES) {
      const figures = await oneRun(postgres, url, mode, `r${round}`, data, writers, writesEach);
      progress(
        `notifications ${mode}, round ${round + 1}: ${writers} writers × ${writesEach} = ` +
          `${Math.round(figures.writesPerSec)} writes/s, PostgreSQL ${figures.postgresCpuMsPerWrite.toFixed(3)} ms CPU/write, ` +
          `Settee ${figures.setteeCpuMsPerWrite.toFixed(3)} ms CPU/write`,
      );
      const previous = best.get(mode);
      if (!previous || figures.writesPerSec > previous.writesPerSec) best.set(mode, figures);
    }
  }
  return NOTIFY_MODES.map((mode) => best.get(mode)!);
}

async function oneRun(
  postgres: BenchPostgres,
  url: string,
  mode: NotifyMode,
  round: string,
  data: Dataset,
  writers: number,
  writesEach: number,
): Promise<NotifyFigures> {
  const pool = new pg.Pool({ connectionString: url, max: writers });
  const shaped = notifyingPool(pool, mode);
  // A server listens on a connection of its own: PostgreSQL then has a listener to signal.
  const listener = writeListenerOf(shaped);
  const dbs: Database[] = [];
  try {
    await listener.listen();
    for (let w = 0; w < writers; w++) {
      const name = `notify-${mode.replace(' ', '-')}-${round}-${w}`;
      dbs.push(await Database.fromStorage(await PostgresStorage.create(shaped, name), name));
    }
    // Untimed: each connection prepares the write's statements once.
    await Promise.all(dbs.map((db) => db.put({ _id: 'warm-up', ...data.body(0) })));
    gc();
    const postgresBefore = postgres.cpuMs();
    const cpuBefore = process.cpuUsage();
    const start = performance.now();
    await Promise.all(dbs.map((db) => writeOneByOne(db, data, writesEach)));
    const ms = performance.now() - start;
    const cpu = process.cpuUsage(cpuBefore);
    const writes = writers * writesEach;
    return {
      mode,
      writers,
      writes,
      ms,
      writesPerSec: (writes * 1000) / ms,
      postgresCpuMsPerWrite: (postgres.cpuMs() - postgresBefore) / writes,
      setteeCpuMsPerWrite: (cpu.user + cpu.system) / 1000 / writes,
    };
  } finally {
    for (const db of dbs) await db.destroy().catch(() => db.close());
    await listener.close();
    await pool.end();
  }
}

async function writeOneByOne(db: Database, data: Dataset, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    const doc: NewDoc = { _id: data.ids[i]!, ...data.body(i) };
    await db.put(doc);
  }
}

/**
 * The pool as the storage sees it: unchanged for `in transaction`; for the other modes, each
 * client it lends holds back the NOTIFY of a write transaction, then sends it after the COMMIT
 * (`after commit`) or drops it (`none`).
 */
export function notifyingPool(pool: pg.Pool, mode: NotifyMode): pg.Pool {
  if (mode === 'in transaction') return pool;
  return withMember(pool, 'connect', async () => deferringClient(await pool.connect(), mode));
}

/** `target` with one member replaced; every other member is the target's own (methods bound to it). */
function withMember<T extends object>(target: T, name: keyof T, replacement: unknown): T {
  return new Proxy(target, {
    get(object, key) {
      if (key === name) return replacement;
      const value: unknown = Reflect.get(object, key, object);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(object) : value;
    },
  });
}

type QueryConfig = string | { text: string; values?: unknown[] };
type Query = (config: QueryConfig, values?: unknown[]) => Promise<pg.QueryResult>;

function deferringClient(client: pg.PoolClient, mode: Exclude<NotifyMode, 'in transaction'>): pg.PoolClient {
  const query = client.query.bind(client) as Query;
  let held: string[] = [];
  const deferred: Query = async (config, values) => {
    const text = typeof config === 'string' ? config : config.text;
    if (text === NOTIFY_SQL && typeof config !== 'string') {
      const [channel, payload] = (config.values ?? []) as [string, string];
      held.push(`SELECT pg_notify(${client.escapeLiteral(channel)}, ${client.escapeLiteral(payload)})`);
      return { rows: [], rowCount: 1, command: 'SELECT', oid: 0, fields: [] };
    }
    const result = await query(config, values);
    if (text === 'COMMIT' && held.length > 0 && mode === 'after commit') {
      await query(`BEGIN; SET LOCAL synchronous_commit = off; ${held.join('; ')}; COMMIT`);
    }
    if (text === 'COMMIT' || text === 'ROLLBACK') held = [];
    return result;
  };
  return withMember(client, 'query', deferred);
}
