import { createHash } from 'node:crypto';
import type pg from 'pg';

/**
 * PostgreSQL's session-level advisory locks, for work that one server of several must do at a
 * time (a `_replicator` job, a database's automatic compaction). A lock belongs to the connection
 * that took it: when that connection ends — the server stops, or is killed and the operating
 * system closes its socket — PostgreSQL releases it, and another server may take it.
 *
 * A release is announced on a channel (`LEASE_CHANNEL`), so that a server waiting for the lock
 * tries again at once rather than at its next periodic try; a lock freed by a dead connection is
 * announced by no one and found by that periodic try.
 */
export const LEASE_CHANNEL = 'settee_leases';

/** A lock's key: the 64-bit number PostgreSQL locks, and its halves as `pg_locks` lists them. */
export interface AdvisoryKey {
  /** The signed 64-bit key, in decimal (the form a `bigint` parameter takes). */
  readonly value: string;
  /** The high and low 32 bits, unsigned: `pg_locks.classid` and `pg_locks.objid`. */
  readonly high: number;
  readonly low: number;
}

/**
 * The stable key of `name` in `space` (e.g. a job's database and document id): the first 64 bits
 * of a SHA-256, the same on every server and across versions. Spaces keep a job and a database
 * of the same name apart.
 *
 * @example
 * advisoryKeyOf('replication', '_replicator/nightly').value; // '-3074…' on every server
 */
export function advisoryKeyOf(space: string, name: string): AdvisoryKey {
  const digest = createHash('sha256').update(`${space}\u0000${name}`).digest();
  return {
    value: digest.readBigInt64BE(0).toString(),
    high: digest.readUInt32BE(0),
    low: digest.readUInt32BE(4),
  };
}

/** Takes the lock if no other session holds it; true when `client`'s session holds it now. */
export async function tryAdvisoryLock(client: pg.ClientBase, key: AdvisoryKey): Promise<boolean> {
  const { rows } = await client.query<{ locked: boolean }>(
    'SELECT pg_try_advisory_lock($1::bigint) AS locked',
    [key.value],
  );
  return rows[0]?.locked === true;
}

/** Releases a lock `client`'s session holds, and tells the servers waiting for it. */
export async function releaseAdvisoryLock(client: pg.ClientBase, key: AdvisoryKey): Promise<void> {
  await client.query('SELECT pg_advisory_unlock($1::bigint), pg_notify($2, $3)', [
    key.value,
    LEASE_CHANNEL,
    key.value,
  ]);
}

/**
 * The `application_name` of the other session holding the lock, if any: servers name their lock
 * connection after their node, so this tells which server runs a job.
 */
export async function advisoryLockHolder(
  client: pg.ClientBase,
  key: AdvisoryKey,
): Promise<string | undefined> {
  // A bigint key is listed with objsubid 1 (two int4 keys would be 2), in the current database.
  const { rows } = await client.query<{ holder: string }>(
    `SELECT a.application_name AS holder FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
     WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
       AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
       AND l.classid = $1::oid AND l.objid = $2::oid AND l.pid <> pg_backend_pid()`,
    [key.high, key.low],
  );
  return rows[0]?.holder || undefined;
}
