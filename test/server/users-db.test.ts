/**
 * Audit of issue 10, "Users and authentication": the claims about `_users` that no other test
 * checked — the system databases from the first start, the default hash strength of a real
 * server, no password in clear on any path a user document takes, and the modes of the files
 * that hold secrets.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../replication/helpers.js';
import { DEFAULT_ITERATIONS } from '../../src/server/auth/index.js';
import { BASIC, basicAuth, startServer, TEST_BACKEND, type TestServer } from './harness.js';
import { callJson } from './http-client.js';

let t: TestServer;

beforeAll(async () => {
  t = await startServer();
});

afterAll(async () => {
  await t?.stop();
});

const admin = (method: string, path: string, body?: unknown) => callJson(t.url, BASIC, method, path, body);

const user = (name: string, password: string) => ({
  _id: `org.couchdb.user:${name}`,
  name,
  type: 'user',
  roles: [],
  password,
});

describe('_users and _replicator', () => {
  it('exist from the first start, before anyone creates them', async () => {
    // Nothing has been written to this server yet: no PUT of either database.
    for (const name of ['_users', '_replicator']) {
      const { status, json } = await admin('GET', `/${name}`);
      expect(status, name).toBe(200);
      expect(json.db_name).toBe(name);
    }
    const { json: all } = await admin('GET', '/_all_dbs');
    expect(all).toEqual(expect.arrayContaining(['_replicator', '_users']));
  });
});

describe('user names', () => {
  // CouchDB: src/couch/include/couch_js_functions.hrl, ?AUTH_DB_DOC_VALIDATE_FUNCTION refuses a
  // name that starts with `_` ("Username may not start with underscore.") or holds `:`
  // ("Character `:` is not allowed in usernames."): Basic auth and the AuthSession cookie both
  // split at the first `:`, so such a user could never sign in.
  it.each([
    ['_hidden', 'Username may not start with underscore.'],
    ['shop:7', 'Character `:` is not allowed in usernames.'],
  ])('refuses %s with 403 and stores nothing', async (name, reason) => {
    const res = await admin('PUT', `/_users/org.couchdb.user:${encodeURIComponent(name)}`, user(name, 'pw'));
    expect(res.status).toBe(403);
    expect(res.json).toEqual({ error: 'forbidden', reason });
    expect((await admin('GET', `/_users/org.couchdb.user:${encodeURIComponent(name)}`)).status).toBe(404);
  });
});

describe('deleting a user', () => {
  // CouchDB: src/couch/include/couch_js_functions.hrl, ?AUTH_DB_DOC_VALIDATE_FUNCTION lets admins
  // and the matching user delete a user document ("allow deletes by admins and matching users").
  it('is for server admins and for the user themselves, who then no longer sign in', async () => {
    await admin('PUT', '/_users/org.couchdb.user:leaving', user('leaving', 'pw'));
    const { json: staying } = await admin('PUT', '/_users/org.couchdb.user:staying', user('staying', 'pw'));
    const as = (name: string, method = 'GET') => ({
      method,
      headers: { authorization: basicAuth(name, 'pw') },
    });
    const url = (name: string) => `${t.url}/_users/org.couchdb.user:${name}`;

    const refused = await fetch(`${url('staying')}?rev=${String(staying.rev)}`, as('leaving', 'DELETE'));
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as { error: string }).error).toBe('forbidden');
    expect((await admin('GET', '/_users/org.couchdb.user:staying')).status).toBe(200);

    const { _rev } = (await (await fetch(url('leaving'), as('leaving'))).json()) as { _rev: string };
    const deleted = await fetch(`${url('leaving')}?rev=${_rev}`, as('leaving', 'DELETE'));
    expect(deleted.status).toBe(200);
    expect((await admin('GET', '/_users/org.couchdb.user:leaving')).status).toBe(404);
    await waitFor(
      async () => (await fetch(`${t.url}/_session`, as('leaving'))).status === 401,
      'the deleted user to be refused',
    );
  });
});

describe('password hashes', () => {
  it("are made with at least CouchDB 3.4's strength when the server is not told otherwise", async () => {
    // CouchDB: src/couch/src/couch_passwords.erl, hash_admin_password/2 reads [chttpd_auth]
    // iterations and pbkdf2_prf (sha256); CouchDB 3.4 raised the default to 600,000.
    const real = await startServer({ passwordIterations: undefined });
    try {
      const res = await fetch(`${real.url}/_users/org.couchdb.user:strong`, {
        method: 'PUT',
        headers: { authorization: BASIC, 'content-type': 'application/json' },
        body: JSON.stringify(user('strong', 'pw')),
      });
      expect(res.status).toBe(201);
      const doc = (await (
        await fetch(`${real.url}/_users/org.couchdb.user:strong`, { headers: { authorization: BASIC } })
      ).json()) as Record<string, unknown>;
      expect(DEFAULT_ITERATIONS).toBeGreaterThanOrEqual(600_000);
      expect(doc).toMatchObject({
        password_scheme: 'pbkdf2',
        pbkdf2_prf: 'sha256',
        iterations: DEFAULT_ITERATIONS,
      });
    } finally {
      await real.stop();
    }
  });

  it('replace the password on every way in: _bulk_docs, replicated writes, then every way out', async () => {
    const bulk = await admin('POST', '/_users/_bulk_docs', { docs: [user('bulky', 'bulk-secret-1')] });
    expect(bulk.status).toBe(201);
    const replicated = await admin('POST', '/_users/_bulk_docs', {
      new_edits: false,
      docs: [{ ...user('copied', 'bulk-secret-2'), _rev: '1-0123456789abcdef0123456789abcdef' }],
    });
    expect(replicated.status).toBe(201);
    const reads = [
      '/_users/_all_docs?include_docs=true',
      '/_users/_changes?include_docs=true',
      '/_users/org.couchdb.user:copied?revs=true&open_revs=all',
    ];
    for (const url of reads) {
      const res = await fetch(t.url + url, { headers: { authorization: BASIC, accept: 'application/json' } });
      const text = await res.text();
      expect(res.status, url).toBe(200);
      expect(text, url).toContain('derived_key');
      expect(text, url).not.toMatch(/bulk-secret|"password"/);
    }
    const signIn = await fetch(`${t.url}/_session`, {
      headers: { authorization: `Basic ${Buffer.from('copied:bulk-secret-2').toString('base64')}` },
    });
    expect(((await signIn.json()) as { userCtx: unknown }).userCtx).toEqual({ name: 'copied', roles: [] });
  });
});

describe.runIf(TEST_BACKEND === 'sqlite')('files that hold secrets (SQLite: files on disk)', () => {
  it('auth.json and the write-ahead logs of _users and _replicator are 0600', async () => {
    // Writes, so that SQLite has made the -wal files of both databases.
    expect((await admin('PUT', '/_users/org.couchdb.user:moded', user('moded', 'pw'))).status).toBe(201);
    expect((await admin('PUT', '/_replicator/job', { source: 'a', target: 'b' })).status).toBe(201);
    const files = ['_settee/auth.json', '_users.sqlite-wal', '_replicator.sqlite-wal'];
    for (const file of files) {
      expect(fs.statSync(path.join(t.dataDir, file)).mode & 0o777, file).toBe(0o600);
    }
  });
});
