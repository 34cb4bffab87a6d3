/**
 * Several server admins on servers that share a PostgreSQL (src/server/auth/postgres-state.ts):
 * the shared row keeps one hash of each admin given, so a server given the same admins later
 * reuses those hashes, and a cookie of any of them made on one server works on the others.
 */
import { describe, expect, it } from 'vitest';
import { usePostgres } from '../storage/use-postgres.js';
import { logIn, sessionWith } from './admins-session.js';
import { startServer } from './harness.js';

const ADMINS = ['root:s3cret', 'ops:0ps pw'];

const postgres = usePostgres();

describe('several admins on servers sharing a PostgreSQL', () => {
  it("share one hash of each admin, so each admin's cookie works on every server", async () => {
    const first = await startServer({ postgres: postgres.url, admin: ADMINS });
    const servers = [first];
    try {
      const cookieOf = async (name: string, password: string) =>
        (await logIn(first.url, name, password)).cookie!;
      const cookies = { root: await cookieOf('root', 's3cret'), ops: await cookieOf('ops', '0ps pw') };
      // Started after the cookies were made: it must take the first server's hashes (their salts).
      servers.push(await startServer({ postgres: postgres.url, admin: [...ADMINS].reverse() }));
      for (const [name, cookie] of Object.entries(cookies)) {
        for (const server of servers) {
          expect((await sessionWith(server.url, cookie)).userCtx.name).toBe(name);
        }
      }
      const pool = postgres.pool();
      const { rows } = await pool.query<{ admins: string }>('SELECT admins FROM settee.auth');
      await pool.end();
      expect(Object.keys(JSON.parse(rows[0]!.admins) as object).sort()).toEqual(['ops', 'root']);
    } finally {
      await Promise.all(servers.map((server) => server.stop()));
    }
  });
});
