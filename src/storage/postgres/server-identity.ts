import type pg from 'pg';
import { migrate } from './schema.js';
import { rowsOf } from './sql.js';

/**
 * The uuid of the servers sharing the pool's PostgreSQL, stored there once: the first server to
 * start offers `candidate` and every later one (or one starting at the same moment, whose insert
 * then does nothing) reads the row that won. All of them are one CouchDB to their clients, as
 * the nodes of a CouchDB cluster share its uuid.
 */
export async function sharedServerUuid(pool: pg.Pool, candidate: string): Promise<string> {
  await migrate(pool);
  await rowsOf(pool, 'INSERT INTO settee.server (uuid) VALUES ($1) ON CONFLICT DO NOTHING', [candidate]);
  const [row] = await rowsOf<{ uuid: string }>(pool, 'SELECT uuid FROM settee.server');
  return row!.uuid;
}
