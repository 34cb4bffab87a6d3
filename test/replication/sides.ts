/**
 * The replication test matrix: the same tests over local↔local, local↔HTTP and HTTP↔HTTP. A
 * test sets up and checks its databases as local Databases (fill, get, dbState…) and replicates
 * between the Peers that `peer(db)` names: the Database itself, or a RemoteDatabase on a real
 * Settee server (127.0.0.1, one per test file, started on first use) serving that very
 * Database, so both see the same data.
 */
import { afterAll } from 'vitest';
import type { Peer } from '../../src/core/api.js';
import type { Database } from '../../src/database/database.js';
import { RemoteDatabase } from '../../src/remote/index.js';
import { ADMIN, startServer, type TestServer } from '../server/harness.js';
import { useTempDatabases } from './helpers.js';

export type SideKind = 'local' | 'http';

/** The pairs every matrix test runs over: `describe.each(PAIRS)('%s', (_, sourceKind, targetKind) => …)`. */
export const PAIRS: [name: string, source: SideKind, target: SideKind][] = [
  ['local → local', 'local', 'local'],
  ['local → http', 'local', 'http'],
  ['http → http', 'http', 'http'],
];

export const AUTH = { username: ADMIN.name, password: ADMIN.password };

export function useSides() {
  const dbs = useTempDatabases();
  const remotes = new Map<Database, RemoteDatabase>();
  let server: Promise<TestServer> | undefined;
  let count = 0;

  afterAll(async () => {
    await (await server)?.stop();
  });

  /** A new database on the shared server, as the server's own Database object. */
  const openOnServer = async (): Promise<Database> => {
    server ??= startServer();
    const t = await server;
    const name = `matrix-${++count}`;
    const db = await t.server.services.registry.create(name);
    remotes.set(db, new RemoteDatabase(`${t.url}/${name}`, { auth: AUTH }));
    return db;
  };

  return {
    /** Local databases only, with their options (revsLimit…) and files. */
    local: dbs,
    /** A new, empty database of that kind. */
    open: (kind: SideKind = 'local'): Promise<Database> => (kind === 'http' ? openOnServer() : dbs.open()),
    /** The Peer to replicate `db` through: its RemoteDatabase when it is served over HTTP. */
    peer: (db: Database): Peer => remotes.get(db) ?? db,
    /** The server's URL of a database served over HTTP. */
    url: (db: Database): string => remotes.get(db)!.url,
  };
}
