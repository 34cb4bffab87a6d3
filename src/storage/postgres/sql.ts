import { createHash } from 'node:crypto';
import pg from 'pg';

/** Anything that runs a query: the pool (one statement, any connection) or a transaction's client. */
export type Queryable = pg.Pool | pg.PoolClient;

/**
 * bigint columns (sequences, counts) read as numbers: they stay far below 2^53, and strings
 * would leak into every caller. Given per query, so that the pool's other users keep pg's default.
 */
const TYPES: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === pg.types.builtins.INT8
      ? Number
      : pg.types.getTypeParser(oid, format)) as pg.CustomTypesConfig['getTypeParser'],
};

const statementNames = new Map<string, string>();

/**
 * A named (prepared) statement: each connection parses and plans it once, then only binds. The
 * name comes from the text, so the same SQL has the same name on every connection of any pool.
 */
function named(text: string): string {
  let name = statementNames.get(text);
  if (!name) {
    name = `settee_${createHash('sha1').update(text).digest('hex').slice(0, 20)}`;
    statementNames.set(text, name);
  }
  return name;
}

/** Runs `text` as a prepared statement and returns its rows. */
export async function rowsOf<Row extends pg.QueryResultRow>(
  on: Queryable,
  text: string,
  values: readonly unknown[] = [],
): Promise<Row[]> {
  return (await run<Row>(on, text, values)).rows;
}

/** Runs `text` as a prepared statement. */
export function run<Row extends pg.QueryResultRow = pg.QueryResultRow>(
  on: Queryable,
  text: string,
  values: readonly unknown[] = [],
): Promise<pg.QueryResult<Row>> {
  return on.query<Row>({ name: named(text), text, values: [...values], types: TYPES });
}

/**
 * Runs `work` in one transaction on one connection of the pool: committed when it resolves,
 * rolled back when it throws. With `synchronousCommit` off, the commit does not wait for the
 * write-ahead log to reach the disk (checkpoints, indexes: writes that may be lost to a crash of
 * the machine, never half-applied).
 */
export async function inTransaction<T>(
  pool: pg.Pool,
  work: (client: pg.PoolClient) => Promise<T>,
  options: { synchronousCommit?: boolean } = {},
): Promise<T> {
  const client = await pool.connect();
  let broken = false;
  try {
    await client.query('BEGIN');
    if (options.synchronousCommit === false) await client.query('SET LOCAL synchronous_commit = off');
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    // A connection that cannot even roll back is not given to the next user of the pool.
    await client.query('ROLLBACK').catch(() => (broken = true));
    throw error;
  } finally {
    client.release(broken);
  }
}

/** An id as its column holds it: its UTF-8 bytes (see schema.ts). */
export function idBytes(id: string): Buffer {
  return Buffer.from(id, 'utf8');
}

export function idText(bytes: Buffer): string {
  return bytes.toString('utf8');
}

/** A byte string as pg binds it to a bytea: a Buffer over the same memory. */
export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** A Buffer read from a bytea column as the plain Uint8Array the Storage interface promises. */
export function asBytes(buffer: Buffer): Uint8Array {
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}

/**
 * Ends `pool` and waits until each of its connections has closed: `pool.end()` resolves as soon
 * as the pool has let go of them, while they may still be saying goodbye to the server — a
 * connection that meanwhile hears the server end it (a database dropped, a server shut down)
 * would then fail with no one listening. Bounded by `limitMs`: a connection still being opened
 * when the pool ends, whose attempt then fails, is never heard of again, and an unreachable
 * server may take its time to close a socket.
 *
 * A connection the pool let go of before (idle too long) is still closing unseen: should the
 * server end it now, it reports that to the pool, which would throw it, with no listener, as
 * an uncaught error. The pool is ending: such errors are heard and dropped.
 */
export async function endPool(pool: pg.Pool, limitMs = 5_000): Promise<void> {
  pool.on('error', () => undefined);
  let open = pool.totalCount;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const closed = new Promise<void>((resolve) => {
    if (open === 0) resolve();
    pool.on('remove', () => --open <= 0 && resolve());
    timer = setTimeout(resolve, limitMs);
    timer.unref();
  });
  await pool.end();
  await closed;
  clearTimeout(timer);
}
