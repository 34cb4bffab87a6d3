/**
 * Claims of docs/security.md the other security tests leave out. Live feeds end when
 * their reader loses access by a change of their user document (not only of the security
 * object), and longpoll feeds too; per-user databases are kept without `--per-user-dbs-delete`
 * and made at the next start for users who had none; `throw({unauthorized})` is answered per
 * document in `_bulk_docs`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { userDbName } from '../../src/server/users.js';
import { BASIC, startServer, type TestServer } from './harness.js';
import { callJson, jsonLines, openLive } from './http-client.js';

let t: TestServer;
let counter = 0;
const fresh = (prefix: string) => `${prefix}${++counter}`;

const basic = (name: string) => `Basic ${Buffer.from(`${name}:pw`).toString('base64')}`;

const call = (auth: string | null, method: string, path: string, body?: unknown) =>
  callJson(t.url, auth, method, path, body);

async function admin(method: string, path: string, body?: unknown): Promise<Record<string, unknown>> {
  const { status, json } = await call(BASIC, method, path, body);
  if (status >= 400) throw new Error(`${method} ${path} → ${status} ${JSON.stringify(json)}`);
  return json;
}

async function createUser(name: string, roles: string[] = []): Promise<string> {
  await admin('PUT', `/_users/org.couchdb.user:${name}`, { name, type: 'user', roles, password: 'pw' });
  return basic(name);
}

async function deleteUser(name: string): Promise<void> {
  const { _rev } = await admin('GET', `/_users/org.couchdb.user:${name}`);
  await admin('DELETE', `/_users/org.couchdb.user:${name}?rev=${String(_rev)}`);
}

/** A database whose members are the users holding `role`. */
async function dbForRole(role: string): Promise<string> {
  const db = fresh('db');
  await admin('PUT', `/${db}`);
  await admin('PUT', `/${db}/_security`, { members: { names: [], roles: [role] } });
  return db;
}

/** A continuous feed of `db` read by `auth`, once it has shown a first document. */
async function liveFeed(db: string, auth: string) {
  const feed = await openLive(t.url, `/${db}/_changes?feed=continuous&heartbeat=1000`, {
    headers: { authorization: auth },
  });
  expect(feed.status).toBe(200);
  await admin('PUT', `/${db}/first`, {});
  await feed.until((text) => text.includes('"first"'));
  return feed;
}

beforeAll(async () => {
  t = await startServer({ perUserDbs: { deleteWithUser: false } });
});

afterAll(async () => {
  await t?.stop();
});

describe('live feeds end when their reader loses access, by a change of their user document too', () => {
  // Without the watch on `_users` (watchMembership in src/server/access.ts) these feeds would
  // run on until their client left: each test would time out waiting for the end.
  it('a continuous feed of a member by role ends when the role is taken away', async () => {
    const name = fresh('clerk');
    const auth = await createUser(name, ['till']);
    const db = await dbForRole('till');
    const feed = await liveFeed(db, auth);
    const user = await admin('GET', `/_users/org.couchdb.user:${name}`);
    await admin('PUT', `/_users/org.couchdb.user:${name}`, { ...user, roles: [] });
    expect(jsonLines(await feed.ended).at(-1)).toHaveProperty('last_seq');
    expect((await call(auth, 'GET', `/${db}/first`)).status).toBe(403);
  });

  it('a continuous feed of a member ends when their user is deleted', async () => {
    const name = fresh('leaver');
    const auth = await createUser(name, ['till']);
    const db = await dbForRole('till');
    const feed = await liveFeed(db, auth);
    await deleteUser(name);
    expect(jsonLines(await feed.ended).at(-1)).toHaveProperty('last_seq');
  });

  it('a longpoll feed ends, with its last_seq, when its reader is removed from the members', async () => {
    const name = fresh('poller');
    const auth = await createUser(name, ['till']);
    const db = await dbForRole('till');
    await admin('PUT', `/${db}/first`, {});
    const { last_seq } = await admin('GET', `/${db}/_changes`);
    const feed = await openLive(t.url, `/${db}/_changes?feed=longpoll&since=${String(last_seq)}`, {
      headers: { authorization: auth },
    });
    expect(feed.status).toBe(200);
    await admin('PUT', `/${db}/_security`, { members: { names: ['someone-else'], roles: [] } });
    expect(JSON.parse(await feed.ended)).toEqual({ results: [], last_seq, pending: 0 });
  });
});

describe('per-user databases', () => {
  it('are kept when their user is deleted, without --per-user-dbs-delete', async () => {
    const name = fresh('kept');
    await createUser(name);
    await expect.poll(async () => (await call(BASIC, 'GET', `/${userDbName(name)}`)).status).toBe(200);
    await admin('PUT', `/${userDbName(name)}/note`, { text: 'still here' });
    await deleteUser(name);
    // The _users feed is followed in order: once a later user's database exists, the deletion
    // before it has been handled.
    const later = fresh('later');
    await createUser(later);
    await expect.poll(async () => (await call(BASIC, 'GET', `/${userDbName(later)}`)).status).toBe(200);
    expect((await call(BASIC, 'GET', `/${userDbName(name)}/note`)).json.text).toBe('still here');
  });

  it('no longer name a deleted user, and stay private: the name created again cannot read them', async () => {
    // couch_peruser keeps the database and takes the user out of its security object
    // (changes_handler → ensure_security(…, remove_user/3), src/couch_peruser/src/couch_peruser.erl).
    // Its admins and members then still hold `_admin` (CouchDB 3's default security); Settee's
    // name only the user, so the members left naming nobody become `_admin`, not everyone.
    const name = fresh('gone');
    await createUser(name);
    const dbName = userDbName(name);
    await expect.poll(async () => (await call(BASIC, 'GET', `/${dbName}`)).status).toBe(200);
    await admin('PUT', `/${dbName}/diary`, { text: 'private' });
    await deleteUser(name);
    await expect
      .poll(async () => (await call(BASIC, 'GET', `/${dbName}/_security`)).json)
      .toEqual({ admins: { names: [], roles: [] }, members: { names: [], roles: ['_admin'] } });
    const newcomer = await createUser(name);
    // The _users feed is followed in order: once a later user's database exists, the new
    // document of the name has been handled.
    const later = fresh('later');
    await createUser(later);
    await expect.poll(async () => (await call(BASIC, 'GET', `/${userDbName(later)}`)).status).toBe(200);
    expect((await call(newcomer, 'GET', `/${dbName}/diary`)).status).toBe(403);
    expect((await call(null, 'GET', `/${dbName}/diary`)).status).toBe(401);
  });

  it('are made at the next start for users created while --per-user-dbs was off', async () => {
    let server = await startServer();
    const name = fresh('early');
    const res = await fetch(`${server.url}/_users/org.couchdb.user:${name}`, {
      method: 'PUT',
      headers: { authorization: BASIC, 'content-type': 'application/json' },
      body: JSON.stringify({ name, type: 'user', roles: [], password: 'pw' }),
    });
    expect(res.status).toBe(201);
    expect((await server.fetch(`/${userDbName(name)}`)).status).toBe(404);
    await server.stop({ keepData: true });
    server = await startServer({ dataDir: server.dataDir, perUserDbs: { deleteWithUser: false } });
    try {
      await expect.poll(async () => (await server.fetch(`/${userDbName(name)}`)).status).toBe(200);
      expect(await (await server.fetch(`/${userDbName(name)}/_security`)).json()).toEqual({
        admins: { names: [name], roles: [] },
        members: { names: [name], roles: [] },
      });
    } finally {
      await server.stop();
    }
  });
});

describe('validate_doc_update in _bulk_docs', () => {
  // CouchDB answers each refused document of a batch with the error of its throw, as
  // chttpd_db.erl's update_doc_result_to_json does through chttpd:error_info/1 (src/chttpd/src/
  // chttpd.erl: `{unauthorized, Msg}` → 401 "unauthorized"); the batch itself is a 201.
  const SIGNED_IN_ONLY = `function (newDoc, oldDoc, userCtx) {
    if (newDoc.private && !userCtx.name) throw({ unauthorized: 'sign in to write private documents' });
  }`;

  it('answers throw({unauthorized}) per document, interactive and replicated, and writes the others', async () => {
    const db = fresh('db');
    await admin('PUT', `/${db}`);
    await admin('PUT', `/${db}/_security`, {});
    await admin('PUT', `/${db}/_design/rules`, { validate_doc_update: SIGNED_IN_ONLY });
    const refused = { error: 'unauthorized', reason: 'sign in to write private documents' };

    const interactive = await call(null, 'POST', `/${db}/_bulk_docs`, {
      docs: [
        { _id: 'open', private: false },
        { _id: 'secret', private: true },
      ],
    });
    expect(interactive.status).toBe(201);
    expect(interactive.json).toEqual([
      { ok: true, id: 'open', rev: expect.any(String) },
      { id: 'secret', ...refused },
    ]);

    const replicated = await call(null, 'POST', `/${db}/_bulk_docs`, {
      new_edits: false,
      docs: [
        { _id: 'r-open', _rev: '1-aaa', private: false },
        { _id: 'r-secret', _rev: '1-bbb', private: true },
      ],
    });
    expect(replicated.status).toBe(201);
    expect(replicated.json).toEqual([{ id: 'r-secret', ...refused }]);

    const { rows } = await admin('GET', `/${db}/_all_docs`);
    expect((rows as { id: string }[]).map((row) => row.id)).toEqual(['_design/rules', 'open', 'r-open']);
  });
});

describe('validate_doc_update arguments', () => {
  it('sees the writer as userCtx (with the database) and the database’s security object as secObj', async () => {
    const name = fresh('writer');
    const auth = await createUser(name, ['till']);
    const db = await dbForRole('till');
    // The function hands back what it was given, as the reason of a refusal.
    await admin('PUT', `/${db}/_design/probe`, {
      validate_doc_update: `function (newDoc, oldDoc, userCtx, secObj) {
        if (newDoc.probe) throw({ forbidden: JSON.stringify({ userCtx: userCtx, secObj: secObj }) });
      }`,
    });
    const res = await call(auth, 'PUT', `/${db}/p`, { probe: true });
    expect(res.status).toBe(403);
    expect(JSON.parse(String(res.json.reason))).toEqual({
      userCtx: { db, name, roles: ['till'] },
      secObj: { admins: { names: [], roles: [] }, members: { names: [], roles: ['till'] } },
    });
  });
});

describe('POST /_replicate as a user', () => {
  it('refuses create_target of a local database to anyone but a server admin, creating nothing', async () => {
    const name = fresh('copier');
    const auth = await createUser(name, ['till']);
    const source = await dbForRole('till');
    const target = fresh('new-target');
    const res = await call(auth, 'POST', '/_replicate', { source, target, create_target: true });
    expect(res).toEqual({
      status: 401,
      json: { error: 'unauthorized', reason: `unauthorized to create database ${target}` },
    });
    expect((await call(BASIC, 'GET', `/${target}`)).status).toBe(404);
  });

  it('lets a user cancel only their own continuous replication', async () => {
    const owner = await createUser(fresh('owner'), ['till']);
    const other = await createUser(fresh('other'), ['till']);
    const source = await dbForRole('till');
    const target = await dbForRole('till');
    const started = await call(owner, 'POST', '/_replicate', { source, target, continuous: true });
    expect(started.status).toBe(202);
    const id = started.json._local_id;
    const refused = await call(other, 'POST', '/_replicate', { replication_id: id, cancel: true });
    expect(refused).toEqual({
      status: 403,
      json: { error: 'forbidden', reason: 'This replication belongs to another user.' },
    });
    const { jobs } = await admin('GET', '/_scheduler/jobs');
    expect((jobs as { id: string }[]).map((job) => job.id)).toContain(id);
    expect(await call(owner, 'POST', '/_replicate', { replication_id: id, cancel: true })).toEqual({
      status: 200,
      json: { ok: true, _local_id: id },
    });
  });
});
