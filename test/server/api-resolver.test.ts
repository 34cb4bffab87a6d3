/**
 * Automatic conflict resolution on the server over real HTTP: `/{db}/_resolver` (set, show,
 * reset, refuse), the backlog it resolves, conflicts arriving later by replication, stamping of
 * HTTP writes, persistence across restarts, custom strategies (server option and module files),
 * `GET /{db}/_resolve/{docid}` and the `_resolutions` history.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { custom, formatStamp, isStamp, type Leaf } from '../../src/conflicts/index.js';
import { RemoteDatabase } from '../../src/remote/index.js';
import { replicate } from '../../src/replication/index.js';
import { loadResolverModules, type ResolverStrategy } from '../../src/server/resolvers.js';
import { useTempDatabases } from '../replication/helpers.js';
import { ADMIN, startServer, type TestServer, useServerPerFile } from './harness.js';

let t: TestServer;
let db = '';
useServerPerFile(
  (server) => (t = server),
  (name) => (db = name),
);
const locals = useTempDatabases();

type Json = Record<string, unknown>;
const T0 = 2_000_000_000_000;
const rev = (gen: number, digit: string) => `${gen}-${digit.repeat(32)}`;
const stamp = (wall: number, node = 'n') => formatStamp({ wall, counter: 0, node });

/** Servers a test starts itself (restarts, custom strategies): stopped after it. */
const ownServers: TestServer[] = [];
const tempDirs: string[] = [];
afterEach(async () => {
  for (const server of ownServers.splice(0)) await server.stop();
  for (const dir of tempDirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

async function ownServer(options: Parameters<typeof startServer>[0] = {}): Promise<TestServer> {
  const server = await startServer(options);
  ownServers.push(server);
  return server;
}

/** Stops an own server but keeps its data folder, for a restart on it. */
async function stopKeepingData(server: TestServer): Promise<void> {
  ownServers.splice(ownServers.indexOf(server), 1);
  tempDirs.push(server.dataDir);
  await server.stop({ keepData: true });
}

async function call(
  method: string,
  p: string,
  body?: unknown,
  server: TestServer = t,
): Promise<{ status: number; json: Json }> {
  const res = await server.fetch(p, {
    method,
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  return { status: res.status, json: (await res.json()) as Json };
}

async function ok(method: string, p: string, body?: unknown, server: TestServer = t): Promise<Json> {
  const { status, json } = await call(method, p, body, server);
  expect(status, `${method} ${p}: ${JSON.stringify(json)}`).toBeLessThan(300);
  return json;
}

/**
 * Conflicts as replication brings them (new_edits=false): for each entry, sibling revisions
 * `2-…` under one shared `1-…`, each with its own body.
 */
async function conflicted(
  entries: { id: string; leaves: { digit: string; body: Json }[] }[],
  server: TestServer = t,
  name: string = db,
): Promise<void> {
  const docs = entries.flatMap(({ id, leaves }) =>
    leaves.map(({ digit, body }) => ({
      _id: id,
      _rev: rev(2, digit),
      _revisions: { start: 2, ids: [digit.repeat(32), '0'.repeat(32)] },
      ...body,
    })),
  );
  const res = await server.fetch(`/${name}/_bulk_docs`, {
    method: 'POST',
    body: JSON.stringify({ docs, new_edits: false }),
  });
  expect(res.status).toBe(201);
  expect(await res.json()).toEqual([]);
}

async function conflictCount(server: TestServer = t, name: string = db): Promise<number> {
  return (await ok('GET', `/${name}/_conflicts`, undefined, server)).total_rows as number;
}

async function updateSeq(name: string = db): Promise<unknown> {
  return (await ok('GET', `/${name}`)).update_seq;
}

function remote(server: TestServer, name: string): RemoteDatabase {
  return new RemoteDatabase(`${server.url}/${name}`, {
    auth: { username: ADMIN.name, password: ADMIN.password },
  });
}

describe('/{db}/_resolver', () => {
  it('starts as CouchDB’s behaviour, sets each built-in strategy, shows it, and resets', async () => {
    expect(await ok('GET', `/${db}/_resolver`)).toEqual({ strategy: 'couchdb', active: true });
    const configs = [
      { strategy: 'last-writer-wins' },
      { strategy: 'last-writer-wins', options: { field: 'clock' } },
      { strategy: 'field-merge', options: { field: 'stamps' } },
      { strategy: 'crdt', options: { schema: { likes: 'counter', tags: 'set' } } },
      { strategy: 'last-writer-wins', stamping: false },
      { strategy: 'field-merge', stamping: { field: 'hlc', fields: 'per_field' } },
      { strategy: 'couchdb' },
    ];
    for (const config of configs) {
      expect(await call('PUT', `/${db}/_resolver`, config)).toEqual({
        status: 200,
        json: { ok: true, resolved: 0 },
      });
      expect(await ok('GET', `/${db}/_resolver`)).toEqual({ ...config, active: true });
    }
    await ok('PUT', `/${db}/_resolver`, { strategy: 'last-writer-wins' });
    expect(await call('DELETE', `/${db}/_resolver`)).toEqual({ status: 200, json: { ok: true } });
    expect(await ok('GET', `/${db}/_resolver`)).toEqual({ strategy: 'couchdb', active: true });
  });

  it('refuses bad configurations with 400 and keeps the one it had', async () => {
    await ok('PUT', `/${db}/_resolver`, { strategy: 'last-writer-wins', options: { field: 'clock' } });
    const bad: unknown[] = [
      { strategy: 'newest' },
      { strategy: 'Last-Writer-Wins' },
      {},
      { strategy: 5 },
      { strategy: 'toString' },
      { strategy: 'last-writer-wins', options: { field: 5 } },
      { strategy: 'last-writer-wins', options: [] },
      { strategy: 'last-writer-wins', options: 'settee_hlc' },
      { strategy: 'crdt' },
      { strategy: 'crdt', options: { schema: { likes: 'tally' } } },
      { strategy: 'crdt', options: { schema: ['likes'] } },
      { strategy: 'last-writer-wins', extra: true },
      { strategy: 'last-writer-wins', option: { field: 'x' } },
      { strategy: 'last-writer-wins', stamping: true },
      { strategy: 'last-writer-wins', stamping: { field: 5 } },
      { strategy: 'last-writer-wins', stamping: { node: 'x' } },
      { strategy: 'last-writer-wins', stamping: { field: '_hlc' } },
      { strategy: 'field-merge', stamping: { field: 'same', fields: 'same' } },
      [],
      ['last-writer-wins'],
      'last-writer-wins',
      42,
      null,
    ];
    for (const body of bad) {
      const { status, json } = await call('PUT', `/${db}/_resolver`, JSON.stringify(body));
      expect([status, json.error], JSON.stringify(body)).toEqual([400, 'bad_request']);
      expect(typeof json.reason).toBe('string');
    }
    for (const raw of ['', '{"strategy": ']) {
      const { status, json } = await call('PUT', `/${db}/_resolver`, raw);
      expect([status, json.error], raw).toEqual([400, 'bad_request']);
    }
    // Nothing of the refused ones took: same configuration, same stamping.
    expect(await ok('GET', `/${db}/_resolver`)).toEqual({
      strategy: 'last-writer-wins',
      options: { field: 'clock' },
      active: true,
    });
    await ok('PUT', `/${db}/plain`, { v: 1 });
    const doc = await ok('GET', `/${db}/plain`);
    expect(isStamp(doc.clock)).toBe(true);
    expect(doc.settee_hlc).toBeUndefined();
  });

  it('answers 401 without credentials or with a wrong password, and changes nothing', async () => {
    const wrong = `Basic ${Buffer.from(`${ADMIN.name}:nope`).toString('base64')}`;
    for (const authorization of [undefined, wrong]) {
      for (const method of ['GET', 'PUT', 'DELETE']) {
        const res = await fetch(`${t.url}/${db}/_resolver`, {
          method,
          headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
          ...(method === 'PUT' ? { body: JSON.stringify({ strategy: 'last-writer-wins' }) } : {}),
        });
        expect(res.status, `${method} ${authorization ?? 'anonymous'}`).toBe(401);
        expect(((await res.json()) as Json).error).toBe('unauthorized');
      }
    }
    expect(await ok('GET', `/${db}/_resolver`)).toEqual({ strategy: 'couchdb', active: true });
  });

  it('404s for a database that does not exist', async () => {
    for (const method of ['GET', 'PUT', 'DELETE']) {
      const body = method === 'PUT' ? { strategy: 'couchdb' } : undefined;
      const { status, json } = await call(method, '/no_such_db/_resolver', body);
      expect([status, json.error], method).toEqual([404, 'not_found']);
    }
  });
});

describe('resolving with the server’s resolver', () => {
  it('goes away with its database: a database created again under the name has none', async () => {
    await ok('PUT', `/${db}/_resolver`, { strategy: 'last-writer-wins' });
    await ok('DELETE', `/${db}`);
    await ok('PUT', `/${db}`);
    expect(await ok('GET', `/${db}/_resolver`)).toEqual({ strategy: 'couchdb', active: true });
    await ok('PUT', `/${db}/doc`, { v: 1 });
    expect((await ok('GET', `/${db}/doc`)).settee_hlc).toBeUndefined();
    await conflicted([
      {
        id: 'open',
        leaves: [
          { digit: 'a', body: { v: 'a' } },
          { digit: 'b', body: { v: 'b' } },
        ],
      },
    ]);
    expect(await conflictCount()).toBe(1);
  });

  it('PUT resolves the backlog of conflicts and says how many', async () => {
    // In CouchDB's order `b` beats `a`; by the clock, `a` is later in the first two documents.
    await conflicted(
      ['x', 'y'].map((id) => ({
        id,
        leaves: [
          { digit: 'a', body: { v: `${id}-a`, settee_hlc: stamp(T0 + 10) } },
          { digit: 'b', body: { v: `${id}-b`, settee_hlc: stamp(T0) } },
        ],
      })),
    );
    await conflicted([
      {
        id: 'z',
        leaves: ['a', 'b', 'c'].map((digit) => ({ digit, body: { v: `z-${digit}` } })),
      },
    ]);
    await conflicted([{ id: 'single', leaves: [{ digit: 'a', body: { v: 1 } }] }]);
    expect(await conflictCount()).toBe(3);
    expect(await call('PUT', `/${db}/_resolver`, { strategy: 'last-writer-wins' })).toEqual({
      status: 200,
      json: { ok: true, resolved: 3 },
    });
    expect(await conflictCount()).toBe(0);
    for (const id of ['x', 'y']) {
      const doc = await ok('GET', `/${db}/${id}?conflicts=true`);
      expect([doc.v, doc._conflicts, (doc._rev as string).slice(0, 2)]).toEqual([`${id}-a`, undefined, '3-']);
    }
    // Unstamped versions: CouchDB's winner.
    expect((await ok('GET', `/${db}/z`)).v).toBe('z-c');
    // Setting it again finds nothing left to resolve.
    expect(await ok('PUT', `/${db}/_resolver`, { strategy: 'last-writer-wins' })).toEqual({
      ok: true,
      resolved: 0,
    });
  });

  it('resolves conflicts that arrive later, as each _bulk_docs batch brings them in', async () => {
    await ok('PUT', `/${db}/_resolver`, { strategy: 'last-writer-wins' });
    const before = await updateSeq();
    await conflicted([
      {
        id: 'doc',
        leaves: [
          { digit: 'a', body: { v: 'later', settee_hlc: stamp(T0 + 5) } },
          { digit: 'f', body: { v: 'earlier', settee_hlc: stamp(T0) } },
        ],
      },
    ]);
    // The batch returned with the conflict already resolved.
    expect(await conflictCount()).toBe(0);
    expect(await updateSeq()).not.toEqual(before);
    const doc = await ok('GET', `/${db}/doc?conflicts=true`);
    expect([doc.v, doc._conflicts]).toEqual(['later', undefined]);
  });

  it('resolves conflicts pushed by Settee’s replicator from two offline replicas', async () => {
    await ok('PUT', `/${db}/_resolver`, { strategy: 'last-writer-wins' });
    const now = { a: T0, b: T0 };
    const a = await locals.open({ stamping: { node: 'a', now: () => now.a } });
    const b = await locals.open({ stamping: { node: 'b', now: () => now.b } });
    const server = remote(t, db);
    await a.put({ _id: 'doc', title: 'first' });
    await replicate(a, server).done;
    await replicate(server, b).done;
    now.a += 60_000;
    now.b += 1_000;
    await a.put({ ...(await a.get('doc')), title: 'from a, later' });
    // b's edit is earlier but has the longer history: CouchDB's winner.
    await b.put({ ...(await b.get('doc')), title: 'from b' });
    await b.put({ ...(await b.get('doc')), title: 'from b, again' });
    await replicate(b, server).done;
    await replicate(a, server).done;
    expect(await conflictCount()).toBe(0);
    const doc = await ok('GET', `/${db}/doc?conflicts=true`);
    expect([doc.title, doc._conflicts]).toEqual(['from a, later', undefined]);
    // The replicas pull the resolution and agree; pushing again writes nothing on the server.
    for (const local of [a, b]) await replicate(server, local).done;
    for (const local of [a, b]) {
      const got = await local.get('doc', { conflicts: true });
      expect([got._rev, got.title, got._conflicts]).toEqual([doc._rev, 'from a, later', undefined]);
    }
    const seq = await updateSeq();
    for (const local of [a, b]) expect((await replicate(local, server).done).docs_written).toBe(0);
    expect(await updateSeq()).toEqual(seq);
  });

  it('stamps the writes it receives over HTTP as the strategy needs', async () => {
    await ok('PUT', `/${db}/before`, { v: 0 });
    expect((await ok('GET', `/${db}/before`)).settee_hlc).toBeUndefined();

    await ok('PUT', `/${db}/_resolver`, { strategy: 'last-writer-wins' });
    const first = await ok('PUT', `/${db}/doc`, { v: 1 });
    const one = await ok('GET', `/${db}/doc`);
    expect(isStamp(one.settee_hlc)).toBe(true);
    await ok('PUT', `/${db}/doc`, { ...one, v: 2 });
    const two = await ok('GET', `/${db}/doc`);
    expect((two.settee_hlc as string) > (one.settee_hlc as string)).toBe(true);
    expect(first.rev).not.toBe(two._rev);
    const posted = await ok('POST', `/${db}`, { v: 'posted' });
    expect(isStamp((await ok('GET', `/${db}/${posted.id as string}`)).settee_hlc)).toBe(true);
    await ok('POST', `/${db}/_bulk_docs`, { docs: [{ _id: 'bulk', v: 3 }] });
    expect(isStamp((await ok('GET', `/${db}/bulk`)).settee_hlc)).toBe(true);
    await ok('PUT', `/${db}/_design/app`, { views: {} });
    expect((await ok('GET', `/${db}/_design/app`)).settee_hlc).toBeUndefined();

    await ok('PUT', `/${db}/_resolver`, { strategy: 'field-merge' });
    await ok('PUT', `/${db}/fields`, { title: 't', body: 'b' });
    const fields = await ok('GET', `/${db}/fields`);
    expect(fields.settee_hlc).toBeUndefined();
    expect(Object.keys(fields.settee_fields as Json).sort()).toEqual(['_created', 'body', 'title']);

    await ok('PUT', `/${db}/_resolver`, { strategy: 'last-writer-wins', stamping: false });
    await ok('PUT', `/${db}/unstamped`, { v: 1 });
    expect((await ok('GET', `/${db}/unstamped`)).settee_hlc).toBeUndefined();

    await ok('PUT', `/${db}/_resolver`, { strategy: 'last-writer-wins' });
    await ok('DELETE', `/${db}/_resolver`);
    await ok('PUT', `/${db}/after`, { v: 1 });
    expect((await ok('GET', `/${db}/after`)).settee_hlc).toBeUndefined();
  });
});

describe('the resolver across a restart', () => {
  it('is kept in the database file, applied again, and resolves new conflicts', async () => {
    const first = await ownServer();
    await ok('PUT', '/shop', undefined, first);
    await ok('PUT', '/shop/_resolver', { strategy: 'last-writer-wins', options: { field: 'clock' } }, first);
    await stopKeepingData(first);

    const second = await ownServer({ dataDir: first.dataDir });
    expect(await ok('GET', '/shop/_resolver', undefined, second)).toEqual({
      strategy: 'last-writer-wins',
      options: { field: 'clock' },
      active: true,
    });
    await conflicted(
      [
        {
          id: 'doc',
          leaves: [
            { digit: 'a', body: { v: 'later', clock: stamp(T0 + 5) } },
            { digit: 'b', body: { v: 'earlier', clock: stamp(T0) } },
          ],
        },
      ],
      second,
      'shop',
    );
    expect(await conflictCount(second, 'shop')).toBe(0);
    expect((await ok('GET', '/shop/doc', undefined, second)).v).toBe('later');
    // Its stamping came back too.
    await ok('PUT', '/shop/new', { v: 1 }, second);
    expect(isStamp((await ok('GET', '/shop/new', undefined, second)).clock)).toBe(true);

    // A reset is kept as well.
    await ok('DELETE', '/shop/_resolver', undefined, second);
    await stopKeepingData(second);
    const third = await ownServer({ dataDir: first.dataDir });
    expect(await ok('GET', '/shop/_resolver', undefined, third)).toEqual({
      strategy: 'couchdb',
      active: true,
    });
  });
});

describe('CouchDB’s strategy with stamping', () => {
  it('stamps writes, leaves conflicts open, and keeps its stamping across a restart', async () => {
    const first = await ownServer();
    await ok('PUT', '/notes', undefined, first);
    const config = { strategy: 'couchdb', stamping: { field: 'clock' } };
    expect(await ok('PUT', '/notes/_resolver', config, first)).toEqual({ ok: true, resolved: 0 });
    await stopKeepingData(first);

    const second = await ownServer({ dataDir: first.dataDir });
    expect(await ok('GET', '/notes/_resolver', undefined, second)).toEqual({ ...config, active: true });
    await ok('PUT', '/notes/one', { v: 1 }, second);
    expect(isStamp((await ok('GET', '/notes/one', undefined, second)).clock)).toBe(true);
    await conflicted(
      [
        {
          id: 'two',
          leaves: [
            { digit: 'a', body: { v: 'a' } },
            { digit: 'b', body: { v: 'b' } },
          ],
        },
      ],
      second,
      'notes',
    );
    expect(await conflictCount(second, 'notes')).toBe(1);
  });
});

/** The live leaf with the longest `text` (ties: CouchDB's order, which `custom` sorts by). */
const longestText = (name: string, field: string) =>
  custom(name, (leaves: readonly Leaf[]) => {
    const live = leaves.filter((leaf) => !leaf.deleted);
    const best = live.reduce((a, b) => (String(b.doc[field]).length > String(a.doc[field]).length ? b : a));
    return { kind: 'merge', body: best.doc };
  });

describe('custom strategies', () => {
  it('from the server’s resolvers option: set by name with options, resolving backlog and arrivals', async () => {
    const seen: Json[] = [];
    const strategies: Record<string, ResolverStrategy> = {
      longest: {
        create: (options) => {
          seen.push(options);
          if (typeof options.field !== 'string') throw new TypeError('field must be a string');
          return longestText('longest', options.field);
        },
        stamping: () => false,
      },
    };
    const server = await ownServer({ resolvers: strategies });
    await ok('PUT', '/notes', undefined, server);
    await conflicted(
      [
        {
          id: 'n1',
          leaves: [
            { digit: 'a', body: { text: 'the longest text of all' } },
            { digit: 'b', body: { text: 'short' } },
          ],
        },
      ],
      server,
      'notes',
    );
    const bad = await call('PUT', '/notes/_resolver', { strategy: 'longest' }, server);
    expect([bad.status, bad.json.error]).toEqual([400, 'bad_request']);
    expect(bad.json.reason).toMatch(/field must be a string/);
    expect(
      await ok('PUT', '/notes/_resolver', { strategy: 'longest', options: { field: 'text' } }, server),
    ).toEqual({ ok: true, resolved: 1 });
    expect(seen.at(-1)).toEqual({ field: 'text' });
    expect(await ok('GET', '/notes/_resolver', undefined, server)).toEqual({
      strategy: 'longest',
      options: { field: 'text' },
      active: true,
    });
    expect((await ok('GET', '/notes/n1', undefined, server)).text).toBe('the longest text of all');
    await conflicted(
      [
        {
          id: 'n2',
          leaves: [
            { digit: 'a', body: { text: 'a' } },
            { digit: 'b', body: { text: 'bbb' } },
            { digit: 'c', body: { text: 'cc' } },
          ],
        },
      ],
      server,
      'notes',
    );
    expect(await conflictCount(server, 'notes')).toBe(0);
    expect((await ok('GET', '/notes/n2', undefined, server)).text).toBe('bbb');
    // Its stamping says none.
    await ok('PUT', '/notes/plain', { text: 'x' }, server);
    expect((await ok('GET', '/notes/plain', undefined, server)).settee_hlc).toBeUndefined();
    const history = await ok('GET', '/notes/_resolutions', undefined, server);
    expect((history.rows as Json[]).map((row) => [row.id, row.by])).toEqual([
      ['n1', 'resolver:longest'],
      ['n2', 'resolver:longest'],
    ]);
  });

  it('resolves a backlog of several pages, passing over the documents it keeps open', async () => {
    // Resolves the even-numbered documents only.
    const evens = custom('evens', (leaves) =>
      Number(String(leaves[0]!.doc.n)) % 2 === 0 ? { kind: 'merge', body: leaves[0]!.doc } : { kind: 'keep' },
    );
    const server = await ownServer({ resolvers: { evens: { create: () => evens } } });
    await ok('PUT', '/many', undefined, server);
    const ids = Array.from({ length: 250 }, (_, n) => `doc-${String(n).padStart(3, '0')}`);
    await conflicted(
      ids.map((id, n) => ({
        id,
        leaves: [
          { digit: 'a', body: { n } },
          { digit: 'b', body: { n, side: 'b' } },
        ],
      })),
      server,
      'many',
    );
    expect(await conflictCount(server, 'many')).toBe(250);
    expect(await ok('PUT', '/many/_resolver', { strategy: 'evens' }, server)).toEqual({
      ok: true,
      resolved: 125,
    });
    const left = await ok('GET', '/many/_conflicts?limit=1000', undefined, server);
    expect((left.rows as { id: string }[]).map((row) => row.id)).toEqual(ids.filter((_, n) => n % 2 === 1));
    expect((await ok('GET', '/many/_resolutions?limit=1', undefined, server)).total_rows).toBe(125);
  });

  it('refuses a server resolver that redefines a built-in strategy', async () => {
    await expect(
      startServer({ resolvers: { couchdb: { create: () => longestText('x', 'text') } } }),
    ).rejects.toThrow(/may not redefine "couchdb"/);
  });

  it('from a module file loaded with loadResolverModules; inactive after a restart without it', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'settee-resolvers-'));
    tempDirs.push(dir);
    const file = path.join(dir, 'resolvers.mjs');
    // A plain resolver value, pure: sorts the leaves itself and picks the shortest text.
    fs.writeFileSync(
      file,
      `export const shortest = {
  create: (options) => ({
    name: 'shortest',
    resolve(leaves) {
      const field = options.field ?? 'text';
      const live = leaves.filter((leaf) => !leaf.deleted).sort((a, b) => (a.rev < b.rev ? -1 : 1));
      const best = live.reduce((a, b) => (String(b.doc[field]).length < String(a.doc[field]).length ? b : a));
      const body = Object.fromEntries(Object.entries(best.doc).filter(([key]) => !key.startsWith('_')));
      return { kind: 'merge', body: { ...body, picked: 'shortest' } };
    },
  }),
};
export default { alsoShortest: { create: () => { throw new Error('not this one'); } } };
`,
    );
    const bad = path.join(dir, 'bad.mjs');
    fs.writeFileSync(bad, 'export const notAStrategy = 42;\n');
    await expect(loadResolverModules([bad])).rejects.toThrow(/notAStrategy is not a resolver strategy/);

    const strategies = await loadResolverModules([file]);
    // A default export object supplies the strategies; named exports beside it are ignored.
    expect(Object.keys(strategies)).toEqual(['alsoShortest']);
    const named = path.join(dir, 'named.mjs');
    fs.writeFileSync(named, fs.readFileSync(file, 'utf8').replace(/^export default .*$/m, ''));
    const loaded = await loadResolverModules([named]);
    expect(Object.keys(loaded)).toEqual(['shortest']);

    const server = await ownServer({ resolvers: loaded });
    await ok('PUT', '/notes', undefined, server);
    await conflicted(
      [
        {
          id: 'n',
          leaves: [
            { digit: 'a', body: { text: 'medium' } },
            { digit: 'b', body: { text: 'longest of them' } },
            { digit: 'c', body: { text: 'tiny' } },
          ],
        },
      ],
      server,
      'notes',
    );
    expect(await ok('PUT', '/notes/_resolver', { strategy: 'shortest' }, server)).toEqual({
      ok: true,
      resolved: 1,
    });
    const doc = await ok('GET', '/notes/n?conflicts=true', undefined, server);
    expect([doc.text, doc.picked, doc._conflicts]).toEqual(['tiny', 'shortest', undefined]);

    // Restarted without the module: the configuration stays, shown inactive with the reason.
    await stopKeepingData(server);
    const without = await ownServer({ dataDir: server.dataDir });
    const status = await ok('GET', '/notes/_resolver', undefined, without);
    expect(status).toMatchObject({ strategy: 'shortest', active: false });
    expect(status.reason).toMatch(/shortest/);
    await conflicted(
      [
        {
          id: 'open',
          leaves: [
            { digit: 'a', body: { text: 'a' } },
            { digit: 'b', body: { text: 'bb' } },
          ],
        },
      ],
      without,
      'notes',
    );
    expect(await conflictCount(without, 'notes')).toBe(1);
  });
});

describe('GET /{db}/_resolve/{docid}', () => {
  it('shows the live versions, the winner first, their common ancestor and the stamp fields', async () => {
    await ok('PUT', `/${db}/doc`, { title: 'base' });
    const base = await ok('GET', `/${db}/doc`);
    const child = (digit: string, title: string) => ({
      _id: 'doc',
      _rev: rev(2, digit),
      _revisions: { start: 2, ids: [digit.repeat(32), (base._rev as string).slice(2)] },
      title,
    });
    await ok('POST', `/${db}/_bulk_docs`, {
      docs: [child('a', 'from a'), child('c', 'from c'), { ...child('b', ''), _deleted: true }],
      new_edits: false,
    });
    const versions = await ok('GET', `/${db}/_resolve/doc`);
    expect(versions).toEqual({
      id: 'doc',
      winner: rev(2, 'c'),
      leaves: [
        { rev: rev(2, 'c'), doc: { _id: 'doc', _rev: rev(2, 'c'), title: 'from c' } },
        { rev: rev(2, 'a'), doc: { _id: 'doc', _rev: rev(2, 'a'), title: 'from a' } },
      ],
      ancestor: { rev: base._rev, doc: base },
      // The deletion made beside the edits contends with them, as the resolvers weigh leaves.
      deleted_leaves: [
        { rev: rev(2, 'b'), doc: { _id: 'doc', _rev: rev(2, 'b'), _deleted: true, title: '' } },
      ],
      stamp_fields: expect.arrayContaining(['settee_hlc', 'settee_fields']) as unknown,
    });
  });

  it('has one leaf and no ancestor without a conflict; 404 for a missing document', async () => {
    await ok('PUT', `/${db}/plain`, { v: 1 });
    const versions = await ok('GET', `/${db}/_resolve/plain`);
    expect([(versions.leaves as unknown[]).length, versions.ancestor, versions.deleted_leaves]).toEqual([
      1,
      null,
      [],
    ]);
    const missing = await call('GET', `/${db}/_resolve/nope`);
    expect([missing.status, missing.json.error]).toEqual([404, 'not_found']);
    const noDb = await call('GET', '/no_such_db/_resolve/doc');
    expect(noDb.status).toBe(404);
  });

  it('names the stamp field of the configured strategy', async () => {
    await ok('PUT', `/${db}/_resolver`, { strategy: 'last-writer-wins', options: { field: 'clock' } });
    await ok('PUT', `/${db}/doc`, { v: 1 });
    expect((await ok('GET', `/${db}/_resolve/doc`)).stamp_fields).toContain('clock');
  });
});

describe('GET /{db}/_resolutions', () => {
  interface HistoryRow {
    seq: number;
    id: string;
    at: string;
    by: string;
    kept: string;
    rev: string;
    losers: Json[];
  }
  const history = async (query = '') =>
    (await ok('GET', `/${db}/_resolutions${query}`)) as { total_rows: number; rows: HistoryRow[] };

  it('records a resolution by hand (user:<name>) and one by the resolver, with the losing bodies', async () => {
    expect(await history()).toEqual({ total_rows: 0, rows: [] });
    await conflicted([
      {
        id: 'manual',
        leaves: [
          { digit: 'b', body: { v: 'kept' } },
          { digit: 'a', body: { v: 'lost', note: 'by hand' } },
        ],
      },
    ]);
    const versions = await ok('GET', `/${db}/_resolve/manual`);
    const [winner, loser] = (versions.leaves as { rev: string; doc: Json }[]).map((leaf) => leaf.rev);
    const posted = await call('POST', `/${db}/_resolve/manual`, { merged: { v: 'merged' }, losers: [loser] });
    expect(posted.status).toBe(201);

    await ok('PUT', `/${db}/_resolver`, { strategy: 'last-writer-wins' });
    await conflicted([
      {
        id: 'auto',
        leaves: [
          { digit: 'a', body: { v: 'later', settee_hlc: stamp(T0 + 1) } },
          { digit: 'b', body: { v: 'earlier', settee_hlc: stamp(T0) } },
        ],
      },
    ]);
    const { total_rows, rows } = await history();
    expect(total_rows).toBe(2);
    const [byHand, byResolver] = rows;
    expect(byHand).toMatchObject({
      id: 'manual',
      by: `user:${ADMIN.name}`,
      kept: winner,
      rev: posted.json.rev,
      // What the merge replaced: the kept version's body too, not only the deleted one.
      losers: [
        { _id: 'manual', _rev: winner, v: 'kept' },
        { _id: 'manual', _rev: loser, v: 'lost', note: 'by hand' },
      ],
    });
    expect(byResolver).toMatchObject({
      id: 'auto',
      by: 'resolver:last-writer-wins',
      kept: rev(2, 'b'),
      // The later version won, written over CouchDB's winner: the earlier one is what was lost.
      losers: [{ _id: 'auto', _rev: rev(2, 'b'), v: 'earlier', settee_hlc: stamp(T0) }],
    });
    expect(byResolver!.rev).toBe((await ok('GET', `/${db}/auto`))._rev);
    for (const row of rows) expect(Number.isNaN(Date.parse(row.at))).toBe(false);
    expect(byResolver!.seq).toBeGreaterThan(byHand!.seq);
    // By document.
    expect(await history('?doc=auto')).toEqual({ total_rows: 1, rows: [byResolver] });
    expect(await history('?doc=none')).toEqual({ total_rows: 0, rows: [] });
  });

  it('pages with limit, since and descending; total_rows counts them all', async () => {
    const ids = ['d1', 'd2', 'd3', 'd4', 'd5'];
    await conflicted(
      ids.map((id) => ({
        id,
        leaves: [
          { digit: 'a', body: { v: `${id}-a` } },
          { digit: 'b', body: { v: `${id}-b` } },
        ],
      })),
    );
    expect(await ok('PUT', `/${db}/_resolver`, { strategy: 'last-writer-wins' })).toEqual({
      ok: true,
      resolved: 5,
    });
    const all = await history();
    expect(all.total_rows).toBe(5);
    expect(all.rows.map((row) => row.id)).toEqual(ids);
    const seqs = all.rows.map((row) => row.seq);
    expect([...seqs].sort((x, y) => x - y)).toEqual(seqs);

    const first = await history('?limit=2');
    expect([first.total_rows, first.rows]).toEqual([5, all.rows.slice(0, 2)]);
    const next = await history(`?limit=2&since=${first.rows[1]!.seq}`);
    expect(next.rows).toEqual(all.rows.slice(2, 4));
    const rest = await history(`?since=${next.rows[1]!.seq}`);
    expect(rest.rows).toEqual(all.rows.slice(4));
    expect((await history('?descending=true')).rows).toEqual([...all.rows].reverse());
    expect((await history('?descending=true&limit=1')).rows).toEqual([all.rows[4]]);
    expect((await history(`?since=${seqs[4]}`)).rows).toEqual([]);

    for (const query of ['?limit=-1', '?limit=x', '?since=-3', '?since=abc']) {
      const { status, json } = await call('GET', `/${db}/_resolutions${query}`);
      expect([status, json.error], query).toEqual([400, 'bad_request']);
    }
  });

  it('is kept through compaction, and not readable without credentials', async () => {
    await conflicted([
      {
        id: 'doc',
        leaves: [
          { digit: 'a', body: { v: 'a' } },
          { digit: 'b', body: { v: 'b' } },
        ],
      },
    ]);
    await ok('PUT', `/${db}/_resolver`, { strategy: 'last-writer-wins' });
    const before = await history();
    const compact = await call('POST', `/${db}/_compact`, {});
    expect(compact.status).toBe(202);
    expect(await history()).toEqual(before);
    expect(before.rows[0]!.losers).toEqual([{ _id: 'doc', _rev: rev(2, 'a'), v: 'a' }]);
    const anonymous = await fetch(`${t.url}/${db}/_resolutions`);
    expect(anonymous.status).toBe(401);
  });
});
