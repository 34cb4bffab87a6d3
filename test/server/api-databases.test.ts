import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from './harness.js';
import { raw } from './http-client.js';

let t: TestServer;

beforeEach(async () => {
  t = await startServer();
});

afterEach(async () => {
  await t.stop();
});

/** The databases of `_all_dbs` but the system ones (`_replicator` exists from the start). */
async function userDbs(): Promise<string[]> {
  const names = (await (await t.fetch('/_all_dbs')).json()) as string[];
  return names.filter((name) => !name.startsWith('_'));
}

interface DbInfo {
  db_name: string;
  update_seq: unknown;
  instance_start_time: string;
  doc_count: number;
  doc_del_count: number;
  purge_seq: unknown;
  sizes: { file: number; external: number; active: number };
}

const info = async (path: string) => (await (await t.fetch(path)).json()) as DbInfo;

describe('PUT /{db}', () => {
  it('creates a database: 201, ok, Location', async () => {
    const res = await t.fetch('/db', { method: 'PUT' });
    expect(res.status).toBe(201);
    expect(await res.json()).toEqual({ ok: true });
    expect(res.headers.get('location')).toMatch(/\/db$/);
  });

  it('accepts a trailing slash and an empty JSON body', async () => {
    const res = await raw(t.url, '/db/', { method: 'PUT', headers: { 'content-type': 'application/json' } });
    expect(res.status).toBe(201);
    expect((await info('/db/')).db_name).toBe('db');
  });

  it('answers 412 file_exists when the database exists', async () => {
    await t.fetch('/db', { method: 'PUT' });
    const res = await t.fetch('/db/', { method: 'PUT' });
    expect(res.status).toBe(412);
    expect(await res.json()).toEqual({
      error: 'file_exists',
      reason: 'The database could not be created, the file already exists.',
    });
  });

  it('refuses illegal names with 400 illegal_database_name', async () => {
    for (const name of ['Upper', '1abc', 'a%20b', 'a.b', 'a%40b', '%C3%A9t%C3%A9', 'a*b']) {
      const res = await t.fetch(`/${name}`, { method: 'PUT' });
      expect(res.status, name).toBe(400);
      expect(((await res.json()) as { error: string }).error, name).toBe('illegal_database_name');
    }
    expect(await userDbs()).toEqual([]);
  });

  it('refuses a name too long for a file name with 400, and takes the longest that fits', async () => {
    const long = await t.fetch(`/${'a'.repeat(300)}`, { method: 'PUT' });
    expect(long.status).toBe(400);
    expect(((await long.json()) as { error: string }).error).toBe('illegal_database_name');
    // `/` takes three characters in the file name.
    const slashes = await t.fetch(`/a${'%2F'.repeat(90)}`, { method: 'PUT' });
    expect(slashes.status).toBe(400);
    const fits = 'b'.repeat(200);
    expect((await t.fetch(`/${fits}`, { method: 'PUT' })).status).toBe(201);
    expect(await userDbs()).toEqual([fits]);
  });

  it('creates the system databases _users and _replicator', async () => {
    for (const name of ['_users', '_replicator']) {
      // The server may have created _replicator itself.
      expect([201, 412], name).toContain((await t.fetch(`/${name}`, { method: 'PUT' })).status);
      expect((await info(`/${name}`)).db_name).toBe(name);
    }
    const all = (await (await t.fetch('/_all_dbs')).json()) as string[];
    expect(all).toEqual(expect.arrayContaining(['_replicator', '_users']));
  });
});

describe('names with / $ ( ) + -', () => {
  const name = 'a/b$c(d)+e-f_g';
  const encoded = 'a%2Fb%24c(d)%2Be-f_g';

  it('round-trip through the URL, _all_dbs and a restart', async () => {
    const created = await t.fetch(`/${encoded}`, { method: 'PUT' });
    expect(created.status).toBe(201);
    // The same name with the raw $ ( ) + characters (only / must be encoded).
    expect((await raw(t.url, '/a%2Fb$c(d)+e-f_g/')).status).toBe(200);
    expect((await t.fetch(`/${encoded}/doc`, { method: 'PUT', body: '{"x":1}' })).status).toBe(201);
    expect((await info(`/${encoded}`)).db_name).toBe(name);
    expect(await userDbs()).toEqual([name]);

    await t.stop({ keepData: true });
    t = await startServer({ dataDir: t.dataDir });
    expect(await userDbs()).toEqual([name]);
    const after = await info(`/${encoded}`);
    expect(after.db_name).toBe(name);
    expect(after.doc_count).toBe(1);
    expect(await (await t.fetch(`/${encoded}/doc`)).json()).toMatchObject({ _id: 'doc', x: 1 });
  });

  it('keeps names apart that differ only in those characters', async () => {
    const names = ['a-b', 'a_b', 'a+b', 'a$b', 'a/b', 'a(b', 'a)b'];
    for (const n of names) {
      expect((await t.fetch(`/${encodeURIComponent(n)}`, { method: 'PUT' })).status, n).toBe(201);
    }
    expect(await userDbs()).toEqual([...names].sort());
    await t.stop({ keepData: true });
    t = await startServer({ dataDir: t.dataDir });
    expect(await userDbs()).toEqual([...names].sort());
  });

  it('treats a literal / after the name as a document path, not part of the name', async () => {
    await t.fetch('/a', { method: 'PUT' });
    expect((await t.fetch('/a/b', { method: 'PUT', body: '{}' })).status).toBe(201);
    expect(await userDbs()).toEqual(['a']);
  });
});

describe('GET and HEAD /{db}', () => {
  it('answers the info CouchDB replicators need', async () => {
    await t.fetch('/db', { method: 'PUT' });
    await t.fetch('/db/a', { method: 'PUT', body: '{}' });
    const b = (await (await t.fetch('/db/b', { method: 'PUT', body: '{}' })).json()) as { rev: string };
    await t.fetch(`/db/b?rev=${b.rev}`, { method: 'DELETE' });
    await t.fetch('/db/_local/l', { method: 'PUT', body: '{}' });
    const body = await info('/db');
    expect(body.db_name).toBe('db');
    expect(body.update_seq).toBeDefined();
    expect(typeof body.instance_start_time).toBe('string');
    expect(body.doc_count).toBe(1);
    expect(body.doc_del_count).toBe(1);
    expect(body.purge_seq).toBeDefined();
    expect(body.sizes).toMatchObject({ file: expect.any(Number), active: expect.any(Number) });
  });

  it('answers the same on /db and /db/', async () => {
    await t.fetch('/db', { method: 'PUT' });
    expect(await info('/db/')).toEqual(await info('/db'));
  });

  it('answers 404 for a missing database', async () => {
    const res = await t.fetch('/nope');
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: 'not_found', reason: 'Database does not exist.' });
  });

  it('answers HEAD with 200 or 404 and no body', async () => {
    await t.fetch('/db', { method: 'PUT' });
    const ok = await raw(t.url, '/db', { method: 'HEAD' });
    expect(ok.status).toBe(200);
    expect(ok.body.length).toBe(0);
    const missing = await raw(t.url, '/nope/', { method: 'HEAD' });
    expect(missing.status).toBe(404);
    expect(missing.body.length).toBe(0);
  });

  it('keeps instance_start_time across a restart', async () => {
    await t.fetch('/db', { method: 'PUT' });
    const before = (await info('/db')).instance_start_time;
    await t.stop({ keepData: true });
    t = await startServer({ dataDir: t.dataDir });
    expect((await info('/db')).instance_start_time).toBe(before);
  });

  it('gives a re-created database a fresh start', async () => {
    await t.fetch('/db', { method: 'PUT' });
    await t.fetch('/db/doc', { method: 'PUT', body: '{}' });
    await t.fetch('/db', { method: 'DELETE' });
    await t.fetch('/db', { method: 'PUT' });
    const body = await info('/db');
    expect(body.doc_count).toBe(0);
    expect((await t.fetch('/db/doc')).status).toBe(404);
  });
});

describe('DELETE /{db}', () => {
  it('deletes: 200 ok, then 404', async () => {
    await t.fetch('/db', { method: 'PUT' });
    const res = await t.fetch('/db/', { method: 'DELETE' });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true });
    expect((await t.fetch('/db')).status).toBe(404);
    expect(await userDbs()).toEqual([]);
  });

  it('answers 404 for a missing database', async () => {
    const res = await t.fetch('/nope', { method: 'DELETE' });
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: 'not_found' });
  });

  it('refuses ?rev= with 400, keeping the database', async () => {
    await t.fetch('/db', { method: 'PUT' });
    const res = await t.fetch('/db?rev=1-abc', { method: 'DELETE' });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: 'bad_request' });
    expect((await t.fetch('/db')).status).toBe(200);
  });
});

describe('POST /{db}', () => {
  it('creates a document with a generated id', async () => {
    await t.fetch('/db', { method: 'PUT' });
    const res = await t.fetch('/db', { method: 'POST', body: '{"x":1}' });
    expect(res.status).toBe(201);
    const body = (await res.json()) as { ok: boolean; id: string; rev: string };
    expect(body.ok).toBe(true);
    expect(body.id).toMatch(/^[0-9a-f]{32}$/);
    expect(body.rev).toMatch(/^1-[0-9a-f]{32}$/);
    expect(res.headers.get('location')).toContain(body.id);
    expect(await (await t.fetch(`/db/${body.id}`)).json()).toEqual({ _id: body.id, _rev: body.rev, x: 1 });
  });

  it('uses a given _id and answers 409 when it exists', async () => {
    await t.fetch('/db', { method: 'PUT' });
    const first = await t.fetch('/db/', { method: 'POST', body: '{"_id":"given"}' });
    expect(first.status).toBe(201);
    expect(await first.json()).toMatchObject({ id: 'given' });
    const again = await t.fetch('/db', { method: 'POST', body: '{"_id":"given"}' });
    expect(again.status).toBe(409);
    expect(await again.json()).toEqual({ error: 'conflict', reason: 'Document update conflict.' });
  });

  it('answers 404 on a missing database and 400 on a non-object body', async () => {
    expect((await t.fetch('/nope', { method: 'POST', body: '{}' })).status).toBe(404);
    await t.fetch('/db', { method: 'PUT' });
    for (const body of ['[]', '"x"', '1', 'null', '{bad']) {
      const res = await t.fetch('/db', { method: 'POST', body });
      expect(res.status, body).toBe(400);
    }
  });
});

describe('_ensure_full_commit and _compact', () => {
  beforeEach(async () => {
    await t.fetch('/db', { method: 'PUT' });
  });

  it('answers _ensure_full_commit with an empty body: 201 and the instance_start_time', async () => {
    const res = await raw(t.url, '/db/_ensure_full_commit', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
    });
    expect(res.status).toBe(201);
    expect(res.json).toEqual({ ok: true, instance_start_time: (await info('/db')).instance_start_time });
  });

  it('answers _ensure_full_commit without any content type, and with {}', async () => {
    expect((await raw(t.url, '/db/_ensure_full_commit', { method: 'POST' })).status).toBe(201);
    expect((await t.fetch('/db/_ensure_full_commit', { method: 'POST', body: '{}' })).status).toBe(201);
  });

  it('answers _compact with an empty body: 202 ok', async () => {
    const res = await raw(t.url, '/db/_compact', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
    });
    expect(res.status).toBe(202);
    expect(res.json).toEqual({ ok: true });
  });

  it('keeps the documents through _compact', async () => {
    const one = (await (await t.fetch('/db/d', { method: 'PUT', body: '{"v":1}' })).json()) as {
      rev: string;
    };
    await t.fetch(`/db/d?rev=${one.rev}`, { method: 'PUT', body: '{"v":2}' });
    expect((await t.fetch('/db/_compact', { method: 'POST' })).status).toBe(202);
    expect(await (await t.fetch('/db/d')).json()).toMatchObject({ v: 2 });
  });

  it('refuses another media type with 415', async () => {
    for (const path of ['/db/_ensure_full_commit', '/db/_compact']) {
      const res = await t.fetch(path, {
        method: 'POST',
        headers: { 'content-type': 'text/plain' },
        body: 'x',
      });
      expect(res.status, path).toBe(415);
      expect(await res.json()).toMatchObject({ error: 'bad_content_type' });
    }
  });
});

describe('_revs_limit', () => {
  beforeEach(async () => {
    await t.fetch('/db', { method: 'PUT' });
  });

  it('is 1000 by default, a bare number', async () => {
    const res = await t.fetch('/db/_revs_limit');
    expect(res.status).toBe(200);
    expect((await res.text()).trim()).toBe('1000');
  });

  it('can be set, and stays set across a restart', async () => {
    const res = await t.fetch('/db/_revs_limit', { method: 'PUT', body: '2000' });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true });
    expect(await (await t.fetch('/db/_revs_limit')).json()).toBe(2000);
    await t.stop({ keepData: true });
    t = await startServer({ dataDir: t.dataDir });
    expect(await (await t.fetch('/db/_revs_limit')).json()).toBe(2000);
  });

  it('refuses non-integers with 400', async () => {
    for (const body of ['"5"', '0', '-3', '1.5', '{}', '', 'abc']) {
      const res = await t.fetch('/db/_revs_limit', { method: 'PUT', body });
      expect(res.status, body).toBe(400);
      expect(await res.json()).toMatchObject({ error: 'bad_request' });
    }
    expect(await (await t.fetch('/db/_revs_limit')).json()).toBe(1000);
  });
});

describe('_security', () => {
  beforeEach(async () => {
    await t.fetch('/db', { method: 'PUT' });
  });

  it('is admin-only for a new database, as CouchDB 3 makes them', async () => {
    const res = await t.fetch('/db/_security');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      members: { names: [], roles: ['_admin'] },
      admins: { names: [], roles: ['_admin'] },
    });
  });

  it('stores the object as given, extra keys included, across a restart', async () => {
    const security = {
      admins: { names: ['boss'], roles: [] },
      members: { names: [], roles: ['staff'] },
      extra: { kept: true },
    };
    const res = await t.fetch('/db/_security', { method: 'PUT', body: JSON.stringify(security) });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true });
    expect(await (await t.fetch('/db/_security')).json()).toEqual(security);
    await t.stop({ keepData: true });
    t = await startServer({ dataDir: t.dataDir });
    expect(await (await t.fetch('/db/_security')).json()).toEqual(security);
  });

  it('refuses a non-object with 400', async () => {
    for (const body of ['[]', '"x"', 'null', '{oops']) {
      const res = await t.fetch('/db/_security', { method: 'PUT', body });
      expect(res.status, body).toBe(400);
    }
  });

  it('answers 404 on a missing database', async () => {
    expect((await t.fetch('/nope/_security')).status).toBe(404);
  });
});
