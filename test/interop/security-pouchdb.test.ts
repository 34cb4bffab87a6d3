/**
 * The security model through clients nobody here wrote, over real HTTP: PouchDB (npm) with Basic
 * auth and with a cookie session, and Settee's own replicator and HTTP client talking as CouchDB's
 * replicator does (a `POST /_session` login, or Basic). Per-user databases, members by name and by
 * role, refusals with CouchDB's statuses, and documents refused by `validate_doc_update` or by the
 * design-document rule reported as denied while the others arrive.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import PouchDB from 'pouchdb';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Database } from '../../src/database/database.js';
import { RemoteDatabase } from '../../src/remote/index.js';
import { replicate, type ReplicationEvents } from '../../src/replication/index.js';
import { userDbName } from '../../src/server/users.js';
import { startServer, type TestServer } from '../server/harness.js';

interface Credentials {
  username: string;
  password: string;
}

let t: TestServer;
let tmp = '';
let counter = 0;
const opened: { close(): Promise<void> }[] = [];

/** A name no other test of this file uses. */
const fresh = (prefix: string) => `${prefix}${++counter}`;

beforeAll(async () => {
  t = await startServer({ perUserDbs: { deleteWithUser: false } });
});
// Stopping waits for every database and feed to close: allow for a loaded machine.
afterAll(async () => {
  await t?.stop();
}, 60_000);
beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'settee-security-pouch-'));
});
afterEach(async () => {
  await Promise.all(opened.splice(0).map((db) => db.close()));
  fs.rmSync(tmp, { recursive: true, force: true });
});

// --- the server, as its admin ------------------------------------------------------------------

async function asAdmin(method: string, target: string, body?: unknown): Promise<Record<string, unknown>> {
  const response = await t.fetch(target, {
    method,
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const json = (await response.json()) as Record<string, unknown>;
  if (!response.ok)
    throw new Error(`${method} ${target} answered ${response.status} ${JSON.stringify(json)}`);
  return json;
}

async function createUser(name: string, roles: string[] = []): Promise<Credentials> {
  const password = `pw-${name}`;
  await asAdmin('PUT', `/_users/org.couchdb.user:${name}`, { name, type: 'user', roles, password });
  return { username: name, password };
}

/** A new database whose members are these names and roles. */
async function sharedDb(members: { names?: string[]; roles?: string[] }): Promise<string> {
  const name = fresh('shared-');
  await asAdmin('PUT', `/${name}`);
  await asAdmin('PUT', `/${name}/_security`, {
    admins: { names: [], roles: [] },
    members: { names: members.names ?? [], roles: members.roles ?? [] },
  });
  return name;
}

/** The ids of a database's documents, design documents included, as the server admin sees them. */
async function idsOnServer(db: string): Promise<string[]> {
  const { rows } = (await asAdmin('GET', `/${db}/_all_docs`)) as { rows: { id: string }[] };
  return rows.map((row) => row.id);
}

// --- clients -----------------------------------------------------------------------------------

function track<T extends { close(): Promise<void> }>(db: T): T {
  opened.push(db);
  return db;
}

/** A PouchDB on leveldb in this test's temporary folder. */
const local = (name: string) => track(new PouchDB(path.join(tmp, name)));

/** PouchDB's HTTP adapter on a database of the server: Basic auth, or none. */
const remote = (db: string, auth?: Credentials) => track(new PouchDB(`${t.url}/${db}`, auth ? { auth } : {}));

/** A Settee database (SQLite) in this test's temporary folder. */
async function setteeLocal(name: string): Promise<Database> {
  return track(await Database.open(path.join(tmp, `${name}.sqlite`), { durability: 'normal' }));
}

/** What a client sent: each request's method, path and which credentials it carried. */
interface Sent {
  method: string;
  path: string;
  authorization: boolean;
  cookie: boolean;
}

/** A `fetch` for Settee's client that records what each request carried. */
function recordingFetch(log: Sent[]): typeof fetch {
  return (input, init) => {
    const headers = new Headers(init?.headers);
    const url = new URL(input instanceof Request ? input.url : String(input));
    log.push({
      method: init?.method ?? 'GET',
      path: url.pathname,
      authorization: headers.has('authorization'),
      cookie: /AuthSession=/.test(headers.get('cookie') ?? ''),
    });
    return fetch(input, init);
  };
}

/** Docs `{prefix}-1` … `{prefix}-{count}` with a positive total. */
function docs(prefix: string, count: number): PouchDB.Document[] {
  return Array.from({ length: count }, (_, i) => ({ _id: `${prefix}-${i + 1}`, total: i + 1 }));
}

async function writeAll(db: PouchDB, list: PouchDB.Document[]): Promise<void> {
  const results = await db.bulkDocs(list);
  expect(results.filter((result) => 'error' in result)).toEqual([]);
}

async function localIds(db: PouchDB): Promise<string[]> {
  return (await db.allDocs()).rows.map((row) => row.id);
}

/** The error a promise rejects with (fails the test if it resolves). */
async function rejection(promise: PromiseLike<unknown>): Promise<Record<string, unknown>> {
  try {
    await promise;
  } catch (error) {
    return error as Record<string, unknown>;
  }
  throw new Error('expected a rejection');
}

const VALIDATE_TOTAL = `function (newDoc, oldDoc, userCtx, secObj) {
  if (newDoc.total < 0) throw({ forbidden: 'negative total' });
}`;

// -----------------------------------------------------------------------------------------------

describe('per-user databases', () => {
  it("a user's PouchDB live-syncs their userdb with Basic auth both ways; another user is refused", async () => {
    const jan = await createUser(fresh('jan'));
    const db = userDbName(jan.username);
    expect(db).toBe(`userdb-${Buffer.from(jan.username).toString('hex')}`);
    // The database is made from the _users feed, just after the user document is written.
    await expect
      .poll(async () => (await t.fetch(`/${db}`)).status, { timeout: 10_000, interval: 20 })
      .toBe(200);

    const device = local('device');
    const server = remote(db, jan);
    const errors: unknown[] = [];
    const denied: unknown[] = [];
    const sync = PouchDB.sync(device, server, { live: true, retry: true });
    sync.on('error', (error) => errors.push(error));
    sync.on('denied', (error) => denied.push(error));
    try {
      await device.put({ _id: 'from-device', total: 1 });
      await expect.poll(() => idsOnServer(db), { timeout: 10_000 }).toContain('from-device');
      // Written on the server by the same user from another client, arriving on the device.
      await remote(db, jan).put({ _id: 'from-server', total: 2 });
      await expect.poll(() => localIds(device), { timeout: 10_000 }).toContain('from-server');
    } finally {
      sync.cancel();
      await sync;
    }
    expect(errors).toEqual([]);
    expect(denied).toEqual([]);
    expect(await idsOnServer(db)).toEqual(['from-device', 'from-server']);

    const eve = await createUser(fresh('eve'));
    expect(await rejection(remote(db, eve).info())).toMatchObject({ status: 403, name: 'forbidden' });
    expect(await rejection(PouchDB.replicate(remote(db, eve), local('eve')))).toMatchObject({
      status: 403,
      name: 'forbidden',
    });
  });
});

describe('cookie sessions', () => {
  it('a PouchDB that signed in with POST /_session syncs as a member with the cookie and no Basic', async () => {
    const ana = await createUser(fresh('ana'));
    const db = await sharedDb({ names: [ana.username] });
    await asAdmin('PUT', `/${db}/on-server`, { total: 1 });

    const login = await fetch(`${t.url}/_session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: ana.username, password: ana.password }),
    });
    expect(login.status).toBe(200);
    expect(await login.json()).toEqual({ ok: true, name: ana.username, roles: [] });
    const cookie = /^AuthSession=[^;]*/.exec(login.headers.get('set-cookie') ?? '')?.[0];
    expect(cookie).toBeDefined();

    // Whether each request PouchDB sent carried Basic credentials (it must not: only the cookie).
    const basic: boolean[] = [];
    const server = track(
      new PouchDB(`${t.url}/${db}`, {
        fetch: (url, options) => {
          const headers = options.headers as {
            set(name: string, value: string): void;
            has(name: string): boolean;
          };
          headers.set('cookie', cookie!);
          basic.push(headers.has('authorization'));
          return PouchDB.fetch(url, options);
        },
      }),
    );
    const device = local('device');
    await device.put({ _id: 'on-device', total: 2 });

    const result = await PouchDB.sync(device, server);
    expect(result.push).toMatchObject({ docs_written: 1, doc_write_failures: 0 });
    expect(result.pull).toMatchObject({ docs_written: 1, doc_write_failures: 0 });
    expect(await localIds(device)).toEqual(['on-device', 'on-server']);
    expect(await idsOnServer(db)).toEqual(['on-device', 'on-server']);
    expect(basic.length).toBeGreaterThan(0);
    expect(basic.filter(Boolean)).toEqual([]);
  });
});

describe('shared databases', () => {
  it('a member by name and a member by role sync the same database both ways', async () => {
    const ana = await createUser(fresh('ana'));
    const bo = await createUser(fresh('bo'), ['till']);
    const db = await sharedDb({ names: [ana.username], roles: ['till'] });
    const anaDevice = local('ana');
    const boDevice = local('bo');
    await writeAll(anaDevice, docs('ana', 3));
    await writeAll(boDevice, docs('bo', 3));

    const clean = { docs_written: 3, doc_write_failures: 0 };
    expect((await PouchDB.sync(anaDevice, remote(db, ana))).push).toMatchObject(clean);
    const bos = await PouchDB.sync(boDevice, remote(db, bo));
    expect(bos.push).toMatchObject(clean);
    expect(bos.pull).toMatchObject(clean);
    expect((await PouchDB.sync(anaDevice, remote(db, ana))).pull).toMatchObject(clean);

    const all = ['ana-1', 'ana-2', 'ana-3', 'bo-1', 'bo-2', 'bo-3'];
    expect(await idsOnServer(db)).toEqual(all);
    expect(await localIds(anaDevice)).toEqual(all);
    expect(await localIds(boDevice)).toEqual(all);
  });

  it("a non-member's replication fails with 403 forbidden, an anonymous one with 401 unauthorized", async () => {
    const ana = await createUser(fresh('ana'));
    const eve = await createUser(fresh('eve'));
    const db = await sharedDb({ names: [ana.username] });
    await asAdmin('PUT', `/${db}/secret`, { total: 1 });
    const device = local('device');
    await writeAll(device, docs('eve', 2));

    // CouchDB's own words, which PouchDB passes on as the error's message.
    const forbidden = { status: 403, name: 'forbidden', message: 'You are not allowed to access this db.' };
    expect(await rejection(PouchDB.replicate(remote(db, eve), device))).toMatchObject(forbidden);
    expect(await rejection(PouchDB.replicate(device, remote(db, eve)))).toMatchObject(forbidden);
    const unauthorized = {
      status: 401,
      name: 'unauthorized',
      message: 'You are not authorized to access this db.',
    };
    expect(await rejection(PouchDB.replicate(remote(db), device))).toMatchObject(unauthorized);
    expect(await rejection(PouchDB.replicate(device, remote(db)))).toMatchObject(unauthorized);

    expect(await localIds(device)).toEqual(['eve-1', 'eve-2']);
    expect(await idsOnServer(db)).toEqual(['secret']);
  });
});

describe('validate_doc_update', () => {
  it("refused documents are denied to PouchDB's replicator and to Settee's; the others arrive", async () => {
    const ana = await createUser(fresh('ana'));
    const db = await sharedDb({ names: [ana.username] });
    await asAdmin('PUT', `/${db}/_design/rules`, { validate_doc_update: VALIDATE_TOTAL });

    // PouchDB
    const device = local('device');
    await writeAll(device, [...docs('pouch', 3), { _id: 'pouch-bad', total: -5 }]);
    const pouchDenied: Record<string, unknown>[] = [];
    const pushing = PouchDB.replicate(device, remote(db, ana));
    pushing.on('denied', (error: Record<string, unknown>) => pouchDenied.push(error));
    const pushed = await pushing;
    expect(pushed).toMatchObject({ docs_written: 3, doc_write_failures: 1 });
    expect(pouchDenied).toEqual([
      expect.objectContaining({ id: 'pouch-bad', name: 'forbidden', reason: 'negative total' }),
    ]);

    // Settee's replicator, through its HTTP client (Basic)
    const store = await setteeLocal('store');
    await store.bulkDocs([
      ...docs('settee', 3),
      { _id: 'settee-bad-1', total: -1 },
      { _id: 'settee-bad-2', total: -2 },
    ]);
    const setteeDenied: ReplicationEvents['denied'][] = [];
    const replication = replicate(store, new RemoteDatabase(`${t.url}/${db}`, { auth: ana }));
    replication.on('denied', (event) => setteeDenied.push(event));
    const result = await replication.done;
    expect(result).toMatchObject({ status: 'complete', docs_written: 3, doc_write_failures: 2 });
    expect(setteeDenied.map(({ id, error, reason }) => ({ id, error, reason })).sort(byId)).toEqual([
      { id: 'settee-bad-1', error: 'forbidden', reason: 'negative total' },
      { id: 'settee-bad-2', error: 'forbidden', reason: 'negative total' },
    ]);

    expect(await idsOnServer(db)).toEqual([
      '_design/rules',
      'pouch-1',
      'pouch-2',
      'pouch-3',
      'settee-1',
      'settee-2',
      'settee-3',
    ]);
  });
});

describe("CouchDB's replicator paths as a member", () => {
  it.each([
    ['a cookie session (POST /_session)', true],
    ['Basic auth', false],
  ])("Settee's RemoteDatabase with %s pulls from and pushes to a shared database", async (_how, session) => {
    const ana = await createUser(fresh('ana'));
    const db = await sharedDb({ names: [ana.username] });
    await asAdmin('POST', `/${db}/_bulk_docs`, { docs: docs('server', 4) });
    const store = await setteeLocal('store');
    await store.bulkDocs(docs('store', 3));

    const sent: Sent[] = [];
    const peer = new RemoteDatabase(`${t.url}/${db}`, { auth: ana, session, fetch: recordingFetch(sent) });
    const pulled = await replicate(peer, store).done;
    expect(pulled).toMatchObject({ status: 'complete', docs_written: 4, doc_write_failures: 0 });
    const pushed = await replicate(store, peer).done;
    expect(pushed).toMatchObject({ status: 'complete', docs_written: 3, doc_write_failures: 0 });

    const all = ['server-1', 'server-2', 'server-3', 'server-4', 'store-1', 'store-2', 'store-3'];
    expect(await idsOnServer(db)).toEqual(all);
    expect((await store.allDocs()).rows.map((row) => row.id)).toEqual(all);

    const logins = sent.filter((request) => request.path === '/_session');
    const rest = sent.filter((request) => request.path !== '/_session');
    if (session) {
      expect(logins.map((request) => request.method)).toEqual(['POST']);
      expect(rest.filter((request) => request.authorization || !request.cookie)).toEqual([]);
    } else {
      expect(logins).toEqual([]);
      expect(rest.filter((request) => !request.authorization)).toEqual([]);
    }
  });
});

describe('design documents', () => {
  it("a member's design document is denied in _bulk_docs to both replicators; the others arrive", async () => {
    const ana = await createUser(fresh('ana'));
    const db = await sharedDb({ names: [ana.username] });
    const device = local('device');
    await writeAll(device, [
      ...docs('doc', 3),
      { _id: '_design/mine', validate_doc_update: 'function () { throw({ forbidden: "nobody" }); }' },
    ]);

    const denied: Record<string, unknown>[] = [];
    const pushing = PouchDB.replicate(device, remote(db, ana));
    pushing.on('denied', (error: Record<string, unknown>) => denied.push(error));
    expect(await pushing).toMatchObject({ docs_written: 3, doc_write_failures: 1 });
    expect(denied).toEqual([
      expect.objectContaining({
        id: '_design/mine',
        name: 'forbidden',
        reason: 'You are not a db or server admin.',
      }),
    ]);
    expect(await idsOnServer(db)).toEqual(['doc-1', 'doc-2', 'doc-3']);

    // Settee's replicator too.
    const store = await setteeLocal('store');
    await store.bulkDocs([...docs('settee', 2), { _id: '_design/theirs', views: {} }]);
    const setteeDenied: ReplicationEvents['denied'][] = [];
    const replication = replicate(store, new RemoteDatabase(`${t.url}/${db}`, { auth: ana }));
    replication.on('denied', (event) => setteeDenied.push(event));
    expect(await replication.done).toMatchObject({ docs_written: 2, doc_write_failures: 1 });
    expect(setteeDenied).toEqual([expect.objectContaining({ id: '_design/theirs', error: 'forbidden' })]);
    expect(await idsOnServer(db)).toEqual(['doc-1', 'doc-2', 'doc-3', 'settee-1', 'settee-2']);
  });
});

function byId(a: { id: string }, b: { id: string }): number {
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}
