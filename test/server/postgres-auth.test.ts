import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCKED_REASON } from '../../src/server/auth/lockout.js';
import { SessionCookies } from '../../src/server/auth/sessions.js';
import { postgresUrl } from '../storage/postgres-cluster.js';
import { usePostgres } from '../storage/use-postgres.js';
import { ADMIN, startServer, type TestServer } from './harness.js';
import { onPostgresDatabase } from './harness-postgres.js';

// Three Settee servers on one PostgreSQL, behind an imagined load balancer: a client's requests
// land on any of them, and authentication must answer as one server would — sessions, logouts,
// password changes and lockout included.

const postgres = usePostgres();
let servers: TestServer[];
let a: TestServer;
let b: TestServer;
let c: TestServer;
let sql: pg.Pool;
let userCount = 0;

const urlOf = (database: string) => postgresUrl(postgres, database);

beforeAll(async () => {
  servers = await Promise.all([0, 1, 2].map(() => startServer({ postgres: postgres.url })));
  [a, b, c] = servers as [TestServer, TestServer, TestServer];
  sql = postgres.pool();
});

afterAll(async () => {
  await Promise.all((servers ?? []).map((server) => server.stop()));
});

const basic = (name: string, password: string) =>
  `Basic ${Buffer.from(`${name}:${password}`).toString('base64')}`;

/** A request as a client that is not the admin: only the headers given. */
function call(server: TestServer, path: string, init: RequestInit = {}): Promise<Response> {
  return fetch(server.url + path, {
    ...init,
    headers: { 'content-type': 'application/json', ...init.headers },
  });
}

/** Who `GET /_session` on `server` says the cookie is (null: anonymous), and any renewed cookie. */
async function sessionOf(server: TestServer, cookie: string) {
  const response = await call(server, '/_session', { headers: { cookie } });
  const body = (await response.json()) as { userCtx: { name: string | null } };
  return { name: body.userCtx.name, renewed: response.headers.get('set-cookie') };
}

async function login(server: TestServer, name: string, password: string): Promise<string> {
  const response = await call(server, '/_session', {
    method: 'POST',
    body: JSON.stringify({ name, password }),
  });
  expect(response.status).toBe(200);
  return cookiePair(response.headers.get('set-cookie')!);
}

const cookiePair = (setCookie: string) => setCookie.split(';')[0]!;

/** A new user in `_users`, written through A. */
async function newUser(password: string): Promise<string> {
  const name = `user${++userCount}`;
  const doc = { name, password, roles: [], type: 'user' };
  const response = await a.fetch(`/_users/org.couchdb.user:${name}`, {
    method: 'PUT',
    body: JSON.stringify(doc),
  });
  expect(response.status).toBe(201);
  return name;
}

/** Status of a Basic-authenticated request on `server`. */
async function statusWith(server: TestServer, name: string, password: string): Promise<number> {
  return (await call(server, '/_session', { headers: { authorization: basic(name, password) } })).status;
}

/**
 * Asks until `check` holds, at most `tries` times: for what another server hears through a
 * PostgreSQL notification, which arrives a moment after the request that caused it answered.
 * Each try is a real request, so the loop waits on the fact, not on a clock.
 */
async function eventually(check: () => Promise<boolean>, tries = 2000): Promise<void> {
  for (let i = 0; i < tries; i++) if (await check()) return;
  throw new Error(`still not true after ${tries} tries`);
}

describe('authentication across servers on one PostgreSQL', () => {
  it('accepts a session cookie from A on B, and B renews it for C', async () => {
    const name = await newUser('pw');
    const cookie = await login(a, name, 'pw');
    expect((await sessionOf(b, cookie)).name).toBe(name);
    // The servers were all given the same --admin: one stored hash, so one salt for its cookies.
    expect((await sessionOf(c, await login(a, ADMIN.name, ADMIN.password))).name).toBe(ADMIN.name);

    // A cookie A issued two minutes ago (as A would have made it: the shared secret, the user's
    // salt, epoch 0) is past 10% of its lifetime, so B renews it, as CouchDB does.
    const [{ secret }] = (await sql.query<{ secret: string }>('SELECT secret FROM settee.auth')).rows as [
      { secret: string },
    ];
    const user = (await (await a.fetch(`/_users/org.couchdb.user:${name}`)).json()) as { salt: string };
    const past = new SessionCookies(secret, 600, () => Date.now() - 120_000, false);
    const old = cookiePair(past.issue(name, { salt: user.salt, epoch: 0 }));
    const { name: seen, renewed } = await sessionOf(b, old);
    expect(seen).toBe(name);
    expect(renewed).toMatch(/^AuthSession=/);
    expect(cookiePair(renewed!)).not.toBe(old);
    expect((await sessionOf(c, cookiePair(renewed!))).name).toBe(name);
  });

  it('ends on B the sessions a logout through A ended', async () => {
    const name = await newUser('pw');
    const cookie = await login(a, name, 'pw');
    const other = await login(c, name, 'pw'); // another device of the same user
    expect((await sessionOf(b, cookie)).name).toBe(name); // B now caches the user's session epoch
    expect((await call(a, '/_session', { method: 'DELETE', headers: { cookie } })).status).toBe(200);
    expect((await sessionOf(a, cookie)).name).toBeNull();
    await eventually(async () => (await sessionOf(b, cookie)).name === null);
    await eventually(async () => (await sessionOf(b, other)).name === null);
    // A new login works everywhere again.
    expect((await sessionOf(b, await login(c, name, 'pw'))).name).toBe(name);
  });

  it('locks a user on every server after 5 failures spread over three, and no other user', async () => {
    // CouchDB 3.4 counts failures per (peer, user) and refuses at `threshold` (default 5):
    // apache/couchdb src/couch/src/couch_auth_lockout.erl, is_locked_out_int/4 and lockout/3.
    const name = await newUser('right');
    const bystander = await newUser('right');
    for (const server of [a, b, c, a]) expect(await statusWith(server, name, 'wrong')).toBe(401);
    expect(await statusWith(b, name, 'wrong')).toBe(401); // the fifth: B locks at once
    const locked = await call(b, '/_session', { headers: { authorization: basic(name, 'right') } });
    expect(locked.status).toBe(403);
    expect(await locked.json()).toEqual({ error: 'forbidden', reason: LOCKED_REASON });
    for (const server of [a, c])
      await eventually(async () => (await statusWith(server, name, 'right')) === 403);
    for (const server of servers) expect(await statusWith(server, bystander, 'right')).toBe(200);
    // A server started later loads the locks in force.
    const late = await startServer({ postgres: postgres.url });
    try {
      expect(await statusWith(late, name, 'right')).toBe(403);
      expect(await statusWith(late, bystander, 'right')).toBe(200);
    } finally {
      await late.stop();
    }
  });

  it('clears the count on a success through a server that counted a failure', async () => {
    const name = await newUser('right');
    for (let i = 0; i < 4; i++) expect(await statusWith(a, name, 'wrong')).toBe(401);
    expect(await statusWith(a, name, 'right')).toBe(200); // clears the shared count of 4
    expect(await statusWith(b, name, 'wrong')).toBe(401); // so this is the first again
    for (const server of servers) expect(await statusWith(server, name, 'right')).toBe(200);
  });

  it('refuses on B the old password at once after a change through A', async () => {
    const name = await newUser('old');
    expect(await statusWith(b, name, 'old')).toBe(200); // B caches the user and the verification
    const cookie = await login(b, name, 'old');
    const heard = new Promise<void>((resolve) => {
      b.server.services.users.onUserChange((changed) => changed === name && resolve());
    });
    const doc = (await (await a.fetch(`/_users/org.couchdb.user:${name}`)).json()) as Record<string, unknown>;
    const put = await a.fetch(`/_users/org.couchdb.user:${name}`, {
      method: 'PUT',
      body: JSON.stringify({ ...doc, password: 'new' }),
    });
    expect(put.status).toBe(201);
    await heard;
    expect(await statusWith(b, name, 'old')).toBe(401);
    expect(await statusWith(b, name, 'new')).toBe(200);
    // The new salt ended the sessions too.
    expect((await sessionOf(b, cookie)).name).toBeNull();
  });
});

describe('servers starting together on an empty PostgreSQL', () => {
  it("agree on the secret and the admin's hash; another --admin stays its server's own", async () => {
    const race = await postgres.another();
    const racing = await Promise.all([0, 1, 2].map(() => startServer({ postgres: urlOf(race) })));
    const others: TestServer[] = [];
    try {
      const rows = await queryOn(race, 'SELECT secret, admins FROM settee.auth');
      expect(rows).toHaveLength(1);
      // One secret and one hash (one salt) of the admin all three were given: a cookie of one works on all.
      const cookie = await login(racing[0]!, ADMIN.name, ADMIN.password);
      for (const server of racing) expect((await sessionOf(server, cookie)).name).toBe(ADMIN.name);

      // Admins are each server's configuration, as on one server: --admin sets this one's only.
      others.push(await startServer({ postgres: urlOf(race), admin: 'root:other' }));
      expect(await statusWith(others[0]!, 'root', 'other')).toBe(200);
      expect(await statusWith(racing[1]!, ADMIN.name, ADMIN.password)).toBe(200);
      expect(await statusWith(racing[1]!, 'root', 'other')).toBe(401);
      // A server given the same admin later reuses the stored hash: the old cookie works there too.
      others.push(await startServer({ postgres: urlOf(race) }));
      expect((await sessionOf(others[1]!, cookie)).name).toBe(ADMIN.name);
    } finally {
      await Promise.all([...racing, ...others].map((server) => server.stop()));
    }
  });
});

function queryOn(database: string, text: string): Promise<unknown[]> {
  return onPostgresDatabase(urlOf(database), async (client) => (await client.query(text)).rows);
}
