/**
 * `GET /_my_dbs` (Settee's own endpoint, docs/security.md): the databases a signed-in user may
 * read — as a member, as a database admin, or because the database is public —, never `_users`
 * nor `_replicator`, paged with `_all_dbs`' parameters.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BASIC, basicAuth, startServer, type TestServer } from './harness.js';
import { callJson } from './http-client.js';

let t: TestServer;

const as = async (authorization: string, path: string) => {
  const { status, json } = await callJson(t.url, authorization, 'GET', path);
  return { status, json: json as unknown };
};

async function admin(method: string, path: string, body?: unknown): Promise<void> {
  const res = await t.fetch(path, { method, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  expect(res.status, `${method} ${path}`).toBeLessThan(300);
  await res.body?.cancel();
}

const group = (names: string[] = [], roles: string[] = []) => ({ names, roles });
const reader = basicAuth('reader', 'pw');

beforeAll(async () => {
  t = await startServer();
  await admin('PUT', '/_users/org.couchdb.user:reader', {
    name: 'reader',
    type: 'user',
    roles: ['till'],
    password: 'pw',
  });
  // Readable by `reader`: by name, by role, as a database admin, public. The others: not.
  const securities: Record<string, object> = {
    'a-by-name': { members: group(['reader']), admins: group() },
    'b-hidden': { members: group(['someone-else']), admins: group() },
    'c-by-role': { members: group([], ['till']), admins: group() },
    'd-admin-only': { members: group([], ['_admin']), admins: group([], ['_admin']) },
    'e-db-admin': { members: group(['someone-else']), admins: group(['reader']) },
    'f-public': { members: group(), admins: group() },
  };
  for (const [name, security] of Object.entries(securities)) {
    await admin('PUT', `/${name}`);
    await admin('PUT', `/${name}/_security`, security);
  }
});

afterAll(async () => {
  await t?.stop();
});

describe('GET /_my_dbs', () => {
  it('lists the databases the user may read, in order, and no system database', async () => {
    expect(await as(reader, '/_my_dbs')).toEqual({
      status: 200,
      json: ['a-by-name', 'c-by-role', 'e-db-admin', 'f-public'],
    });
    // A server admin reads every database: all of them but _users and _replicator.
    const { json: all } = await as(BASIC, '/_my_dbs');
    expect(all).toEqual(['a-by-name', 'b-hidden', 'c-by-role', 'd-admin-only', 'e-db-admin', 'f-public']);
  });

  it('pages as _all_dbs does, skip and limit counting readable databases only', async () => {
    expect((await as(reader, '/_my_dbs?limit=2')).json).toEqual(['a-by-name', 'c-by-role']);
    expect((await as(reader, '/_my_dbs?skip=1&limit=2')).json).toEqual(['c-by-role', 'e-db-admin']);
    expect((await as(reader, '/_my_dbs?start_key="b"&end_key="e-db-admin"')).json).toEqual([
      'c-by-role',
      'e-db-admin',
    ]);
    expect((await as(reader, '/_my_dbs?descending=true&limit=3')).json).toEqual([
      'f-public',
      'e-db-admin',
      'c-by-role',
    ]);
    expect((await as(reader, '/_my_dbs?end_key="e-db-admin"&inclusive_end=false')).json).toEqual([
      'a-by-name',
      'c-by-role',
    ]);
  });

  it('answers a bad parameter with a CouchDB error, and anonymous callers with 401', async () => {
    // The same error as `_all_dbs` gives for the same parameter.
    const bad = await as(reader, '/_my_dbs?limit=-1');
    expect(bad.status).toBe(400);
    expect(bad).toEqual(await as(BASIC, '/_all_dbs?limit=-1'));
    const anonymous = await fetch(`${t.url}/_my_dbs`);
    expect(anonymous.status).toBe(401);
    expect(await anonymous.json()).toMatchObject({ error: 'unauthorized' });
  });
});
