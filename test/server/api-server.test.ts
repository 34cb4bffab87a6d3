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

describe('GET /', () => {
  it('welcomes anonymous clients with the vendor and a uuid', async () => {
    const res = await fetch(`${t.url}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    const body = (await res.json()) as Record<string, unknown>;
    expect(body.couchdb).toBe('Welcome');
    expect(typeof body.version).toBe('string');
    expect(body.vendor).toMatchObject({ name: 'Settee' });
    expect(body.uuid).toMatch(/^[0-9a-f]{32}$/);
  });

  it('keeps the uuid across a restart on the same data folder', async () => {
    const before = ((await (await fetch(`${t.url}/`)).json()) as { uuid: string }).uuid;
    await t.stop({ keepData: true });
    t = await startServer({ dataDir: t.dataDir });
    const after = ((await (await fetch(`${t.url}/`)).json()) as { uuid: string }).uuid;
    expect(after).toBe(before);
  });

  it('gives another data folder another uuid', async () => {
    const other = await startServer();
    try {
      const a = ((await (await fetch(`${t.url}/`)).json()) as { uuid: string }).uuid;
      const b = ((await (await fetch(`${other.url}/`)).json()) as { uuid: string }).uuid;
      expect(a).not.toBe(b);
    } finally {
      await other.stop();
    }
  });
});

describe('/_up and /_uuids', () => {
  it('answers /_up without credentials', async () => {
    const res = await fetch(`${t.url}/_up`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: 'ok' });
  });

  it('gives one uuid by default, uncached', async () => {
    const res = await fetch(`${t.url}/_uuids`);
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toMatch(/no-cache/);
    const { uuids } = (await res.json()) as { uuids: string[] };
    expect(uuids).toHaveLength(1);
    expect(uuids[0]).toMatch(/^[0-9a-f]{32}$/);
  });

  it('gives count distinct uuids, up to 1000', async () => {
    const { uuids } = (await (await fetch(`${t.url}/_uuids?count=1000`)).json()) as { uuids: string[] };
    expect(uuids).toHaveLength(1000);
    expect(new Set(uuids).size).toBe(1000);
    for (const uuid of uuids) expect(uuid).toMatch(/^[0-9a-f]{32}$/);
  });

  it('refuses more than 1000 and non-numbers with 400', async () => {
    for (const count of ['1001', '99999999999999999999', 'abc', '-1', '1.5']) {
      const res = await fetch(`${t.url}/_uuids?count=${count}`);
      expect(res.status, count).toBe(400);
      expect(await res.json()).toMatchObject({ error: 'bad_request' });
    }
  });

  it('answers count=0 with no uuids', async () => {
    const { uuids } = (await (await fetch(`${t.url}/_uuids?count=0`)).json()) as { uuids: string[] };
    expect(uuids).toEqual([]);
  });
});

describe('/_all_dbs', () => {
  it('lists the databases, sorted', async () => {
    for (const name of ['zeta', 'alpha', 'mid'])
      expect((await t.fetch(`/${name}`, { method: 'PUT' })).status).toBe(201);
    const res = await t.fetch('/_all_dbs');
    expect(res.status).toBe(200);
    expect(await userDbs()).toEqual(['alpha', 'mid', 'zeta']);
  });

  it('has no user databases on a fresh server', async () => {
    expect(await userDbs()).toEqual([]);
  });
});

describe('authentication required', () => {
  it('answers anonymous requests with 401 and CouchDB’s body everywhere but the public endpoints', async () => {
    expect((await t.fetch('/db', { method: 'PUT' })).status).toBe(201);
    expect((await t.fetch('/db/doc', { method: 'PUT', body: '{}' })).status).toBe(201);
    const calls: [string, string][] = [
      ['GET', '/_all_dbs'],
      ['PUT', '/newdb'],
      ['GET', '/db'],
      ['GET', '/db/'],
      ['HEAD', '/db'],
      ['DELETE', '/db'],
      ['POST', '/db'],
      ['GET', '/db/doc'],
      ['GET', '/db/_changes'],
      ['GET', '/db/_all_docs'],
      ['POST', '/db/_bulk_docs'],
      ['POST', '/db/_bulk_get'],
      ['POST', '/db/_revs_diff'],
      ['GET', '/db/_local/x'],
      ['GET', '/db/_design/x'],
      ['GET', '/db/doc/att'],
      ['GET', '/db/_security'],
      ['GET', '/missing-db'],
      ['GET', '/_unknown'],
    ];
    for (const [method, path] of calls) {
      const res = await raw(t.url, path, {
        method,
        auth: false,
        headers: { 'content-type': 'application/json' },
        ...(method === 'POST' ? { body: '{}' } : {}),
      });
      expect(res.status, `${method} ${path}`).toBe(401);
      expect(res.headers['www-authenticate'], `${method} ${path}`).toBeUndefined();
      if (method !== 'HEAD') {
        const body = res.json as { error: string; reason: string };
        expect(body.error, `${method} ${path}`).toBe('unauthorized');
        expect(typeof body.reason).toBe('string');
      }
    }
    // Nothing happened.
    expect(await userDbs()).toEqual(['db']);
  });

  it('lets anonymous clients reach /, /_up, /_uuids and /_session', async () => {
    for (const path of ['/', '/_up', '/_uuids', '/_session']) {
      const res = await fetch(`${t.url}${path}`);
      expect(res.status, path).toBe(200);
    }
  });

  it('answers wrong credentials with 401 even on public endpoints', async () => {
    const res = await fetch(`${t.url}/`, {
      headers: { authorization: `Basic ${Buffer.from('admin:wrong').toString('base64')}` },
    });
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({ error: 'unauthorized', reason: 'Name or password is incorrect.' });
  });
});

describe('unknown paths and methods', () => {
  it('answers unknown server endpoints with 404 not_found', async () => {
    for (const path of ['/_nothing', '/_nothing/deeper', '/_uuids/x', '/_session/x']) {
      const res = await t.fetch(path);
      expect(res.status, path).toBe(404);
      const body = (await res.json()) as { error: string; reason: string };
      expect(body.error).toBe('not_found');
      expect(typeof body.reason).toBe('string');
    }
  });

  it('answers unknown database endpoints with 404 not_found', async () => {
    await t.fetch('/db', { method: 'PUT' });
    for (const path of ['/db/_nothing', '/db/_design', '/db/_all_docs/x', '/db/_security/x']) {
      const res = await t.fetch(path);
      expect(res.status, path).toBe(404);
      expect(await res.json()).toMatchObject({ error: 'not_found' });
    }
  });

  it('answers a wrong method with 405 and an Allow header', async () => {
    await t.fetch('/db', { method: 'PUT' });
    const cases: [string, string, string[]][] = [
      ['DELETE', '/_up', ['GET']],
      ['POST', '/_all_dbs', ['GET']],
      ['PUT', '/_uuids', ['GET']],
      ['PUT', '/', ['GET']],
      ['GET', '/db/_bulk_docs', ['POST']],
      ['PUT', '/db/_changes', ['GET', 'POST']],
      ['DELETE', '/db/_revs_limit', ['GET', 'PUT']],
      ['POST', '/db/doc', ['DELETE', 'GET', 'HEAD', 'PUT']],
    ];
    for (const [method, path, allowed] of cases) {
      const res = await t.fetch(path, { method, ...(method === 'GET' ? {} : { body: '{}' }) });
      expect(res.status, `${method} ${path}`).toBe(405);
      expect(await res.json()).toMatchObject({ error: 'method_not_allowed' });
      const allow = (res.headers.get('allow') ?? '').split(',').map((m) => m.trim());
      expect(allow.sort(), `${method} ${path}`).toEqual(allowed);
    }
  });

  it('answers methods it does not know at all with 405 too', async () => {
    await t.fetch('/db', { method: 'PUT' });
    const res = await raw(t.url, '/db', { method: 'PATCH', body: '{}' });
    expect(res.status).toBe(405);
    expect(res.json).toMatchObject({ error: 'method_not_allowed' });
    const copy = await raw(t.url, '/db/doc', { method: 'COPY', headers: { destination: 'other' } });
    expect(copy.status).toBe(405);
    expect(copy.headers.allow).toBeDefined();
  });

  it('sends JSON bodies for errors', async () => {
    const res = await t.fetch('/missing');
    expect(res.status).toBe(404);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await res.json()).toEqual({ error: 'not_found', reason: 'Database does not exist.' });
  });
});
