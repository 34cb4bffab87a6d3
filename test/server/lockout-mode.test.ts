// CouchDB 3.4's `[chttpd_auth_lockout] mode` (apache/couchdb src/couch/src/couch_auth_lockout.erl):
// lockout_mode/0 reads `mode` (default "enforce"); is_locked_out/3 answers false at once when it is
// `off`, and is_locked_out_int/4, past `threshold`, refuses in `enforce` and only logs a warning
// in `warn`; lockout/3 counts a failure unless the mode is `off`.
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import type { ServerOptions } from '../../src/server/app.js';
import { LOCKED_REASON, type LockoutMode, lockoutFor } from '../../src/server/auth/lockout.js';
import { postgresUrl } from '../storage/postgres-cluster.js';
import { usePostgres } from '../storage/use-postgres.js';
import { capturedLog } from './captured-log.js';
import { ADMIN, basicAuth, startServer, type TestServer } from './harness.js';

/** `GET /_session` as the admin with `password`: the status and the name it signed in as. */
async function signIn(t: TestServer, password: string): Promise<{ status: number; body: unknown }> {
  const response = await fetch(`${t.url}/_session`, {
    headers: { authorization: basicAuth(ADMIN.name, password) },
  });
  return { status: response.status, body: await response.json() };
}

async function failTimes(t: TestServer, times: number): Promise<void> {
  for (let i = 0; i < times; i++) expect((await signIn(t, 'wrong')).status).toBe(401);
}

const warnings = (log: ReturnType<typeof capturedLog>) =>
  log.entries().filter((entry) => String(entry.msg).includes('authentication failure threshold'));

/** A server in `mode`, its log captured; stopped after the test. */
async function withServer(
  mode: LockoutMode | undefined,
  run: (t: TestServer, log: ReturnType<typeof capturedLog>) => Promise<void>,
  options: Partial<ServerOptions> = {},
): Promise<void> {
  const log = capturedLog('warn');
  const t = await startServer({ logger: log.logger, lockout: mode ? { mode } : {}, ...options });
  try {
    await run(t, log);
  } finally {
    await t.stop();
  }
}

/** The checks every backend's lockout must pass in `warn` mode. */
async function expectWarnOnly(t: TestServer, log: ReturnType<typeof capturedLog>): Promise<void> {
  await failTimes(t, 5); // the threshold: `enforce` would refuse from here on
  expect(warnings(log)).toEqual([]);
  // Wrong passwords are still told wrong (401), not locked (403)...
  await failTimes(t, 2);
  // ...and the right one still signs in.
  const right = await signIn(t, ADMIN.password);
  expect(right).toMatchObject({ status: 200, body: { userCtx: { name: ADMIN.name } } });
  // One line for the lock, however many requests it let through.
  const [warning, ...more] = warnings(log);
  expect(more).toEqual([]);
  expect(warning).toMatchObject({ level: 40, user: ADMIN.name, address: '127.0.0.1' });
  expect(String(warning!.msg)).toContain(`user "${ADMIN.name}" from 127.0.0.1`);
}

describe('lockout modes, on one server', () => {
  it('warn: past the threshold, the right password signs in and one warning names user and address', async () => {
    await withServer('warn', expectWarnOnly);
  });

  it('off: 20 wrong passwords, then the right one signs in, and nothing is logged', async () => {
    await withServer('off', async (t, log) => {
      await failTimes(t, 20);
      expect((await signIn(t, ADMIN.password)).status).toBe(200);
      expect(warnings(log)).toEqual([]);
    });
  });

  it('enforce (the default): locked at the threshold with CouchDB 403, and no warning', async () => {
    await withServer(undefined, async (t, log) => {
      await failTimes(t, 5);
      expect(await signIn(t, ADMIN.password)).toEqual({
        status: 403,
        body: { error: 'forbidden', reason: LOCKED_REASON },
      });
      expect(warnings(log)).toEqual([]);
    });
  });

  it('max_objects bounds the pairs tracked: with room for one, a second user pushes out the first count', async () => {
    await withServer(
      'enforce',
      async (t) => {
        await failTimes(t, 4);
        // Another name's failure from the same address takes the only place.
        const other = await fetch(`${t.url}/_session`, { headers: { authorization: basicAuth('eve', 'x') } });
        expect(other.status).toBe(401);
        await failTimes(t, 1); // the admin's count starts again at 1: no lock
        expect((await signIn(t, ADMIN.password)).status).toBe(200);
      },
      { lockout: { maxEntries: 1 } },
    );
  });

  it('refuses an unknown mode at start, and opens no ledger when off', async () => {
    await expect(startServer({ lockout: { mode: 'loud' as LockoutMode } })).rejects.toThrow(
      /lockout mode must be one of enforce, warn, off, got loud/,
    );
    // `off` keeps nothing anywhere: the store (memory, PostgreSQL) is never asked for a ledger.
    let opened = 0;
    const ledger = await lockoutFor({ mode: 'off' }, Date.now, () => {
      opened++;
      throw new Error('opened');
    });
    for (let i = 0; i < 20; i++) await ledger.recordFailure('10.0.0.1', 'admin');
    expect({ opened, locked: ledger.isLocked('10.0.0.1', 'admin') }).toEqual({ opened: 0, locked: false });
  });
});

describe('lockout modes, on servers sharing a PostgreSQL', () => {
  const databases = usePostgres();

  /** A fresh database of the cluster, so that no lock of one test is seen by another. */
  async function freshDatabase(): Promise<string> {
    return postgresUrl(databases, await databases.another());
  }

  it('warn: the shared lockout counts, lets the right password in, and warns once', async () => {
    const postgres = await freshDatabase();
    await withServer('warn', expectWarnOnly, { postgres });
    const locks = new pg.Pool({ connectionString: postgres, max: 1 });
    try {
      // The lock `enforce` would apply was recorded for every server, as in `enforce`.
      const { rows } = await locks.query('SELECT pair FROM settee.auth_locks');
      expect(rows).toEqual([{ pair: JSON.stringify(['127.0.0.1', ADMIN.name]) }]);
    } finally {
      await locks.end();
    }
  });

  it('off: 20 wrong passwords write nothing to PostgreSQL, and the right one signs in', async () => {
    const postgres = await freshDatabase();
    await withServer(
      'off',
      async (t) => {
        await failTimes(t, 20);
        expect((await signIn(t, ADMIN.password)).status).toBe(200);
      },
      { postgres },
    );
    const tables = new pg.Pool({ connectionString: postgres, max: 1 });
    try {
      const failures = await tables.query('SELECT count(*)::int AS n FROM settee.auth_failures');
      const locks = await tables.query('SELECT count(*)::int AS n FROM settee.auth_locks');
      expect([failures.rows[0].n, locks.rows[0].n]).toEqual([0, 0]);
    } finally {
      await tables.end();
    }
  });
});
