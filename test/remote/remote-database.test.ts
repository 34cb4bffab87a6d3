import PouchDB from 'pouchdb';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { BulkGetRequest, ChangeRow, NewDoc, WriteOk } from '../../src/core/api.js';
import { encodeDocId, parseDbUrl, RemoteDatabase, RemoteError } from '../../src/remote/index.js';
import { type PouchServer, startPouchServer } from '../interop/pouchdb-server.js';
import { ADMIN, startServer, type TestServer } from '../server/harness.js';
import { type FakeServer, json, stall, startFakeServer } from './fake-server.js';

const AUTH = { username: ADMIN.name, password: ADMIN.password };
const R = (gen: number, c: string) => `${gen}-${c.repeat(32)}`;

let t: TestServer;
let counter = 0;

beforeAll(async () => {
  t = await startServer();
});

afterAll(async () => {
  await t?.stop();
});

/** A fresh, created database on the Settee server. */
async function freshDb(
  options: ConstructorParameters<typeof RemoteDatabase>[1] = {},
): Promise<RemoteDatabase> {
  const db = new RemoteDatabase(`${t.url}/remote-${++counter}`, { auth: AUTH, ...options });
  await db.ensureExists();
  return db;
}

/** Writes `a` with a conflict (two leaves 2-b, 2-c), `gone` deleted, and `plain`. */
async function seed(db: RemoteDatabase): Promise<void> {
  const results = await db.bulkDocs(
    [
      { _id: 'a', _rev: R(2, 'b'), _revisions: { start: 2, ids: ['b'.repeat(32), 'a'.repeat(32)] }, v: 'b' },
      { _id: 'a', _rev: R(2, 'c'), _revisions: { start: 2, ids: ['c'.repeat(32), 'a'.repeat(32)] }, v: 'c' },
      { _id: 'gone', _rev: R(1, 'd'), _deleted: true },
      { _id: 'plain', _rev: R(1, 'e'), v: 'e' },
    ],
    { newEdits: false },
  );
  expect(results.every((result) => 'ok' in result)).toBe(true);
}

/** A fetch that records `METHOD path` and can replace answers. */
function recordingFetch(log: string[], answer?: (url: URL) => Response | undefined): typeof fetch {
  return (input, init) => {
    const url = new URL(String(input));
    log.push(`${init?.method ?? 'GET'} ${url.pathname}`);
    const replaced = answer?.(url);
    return replaced ? Promise.resolve(replaced) : fetch(input, init);
  };
}

/**
 * A fetch that tells when a server has opened a longpoll: its response headers came. Settee
 * sends them just before it waits for a change (src/server/routes/changes.ts, pollFeed: the
 * FLUSH before wakeOrBeat); pouchdb-server once its live feed from `since` runs
 * (express-pouchdb lib/routes/changes.js, the longpoll branch).
 */
function watchingLongpolls(): { fetch: typeof fetch; opened: Promise<void> } {
  let open: () => void = () => undefined;
  const opened = new Promise<void>((resolve) => (open = resolve));
  const watching: typeof fetch = async (input, init) => {
    const response = await fetch(input, init);
    if (new URL(String(input)).searchParams.get('feed') === 'longpoll') open();
    return response;
  };
  return { fetch: watching, opened };
}

describe('RemoteDatabase against a Settee server', () => {
  it('peerId is the server uuid plus the database name, as PouchDB computes it, and is cached', async () => {
    const root = (await (await t.fetch('/')).json()) as { uuid: string };
    const log: string[] = [];
    const db = new RemoteDatabase(`${t.url}/peer$db(1)`, { auth: AUTH, fetch: recordingFetch(log) });
    expect(await db.peerId()).toBe(`${root.uuid}peer%24db(1)`);
    expect(await db.peerId()).toBe(`${root.uuid}peer%24db(1)`);
    expect(log).toEqual(['GET /']);
    const pouch = new PouchDB(`${t.url}/peer$db(1)`, { auth: AUTH, skip_setup: true });
    try {
      expect(await (pouch as unknown as { id(): Promise<string> }).id()).toBe(await db.peerId());
    } finally {
      await pouch.close();
    }
  });

  it('info and ensureExists (an existing database is fine)', async () => {
    const db = await freshDb();
    await db.ensureExists();
    const info = await db.info();
    expect(info).toMatchObject({ db_name: db.name, doc_count: 0, doc_del_count: 0, update_seq: 0 });
    expect(typeof info.instance_start_time).toBe('string');
  });

  it('a missing database is not_found, and getLocal does not mistake it for a missing document', async () => {
    const db = new RemoteDatabase(`${t.url}/no-such-db`, { auth: AUTH });
    const err = (await db.info().catch((e: unknown) => e)) as RemoteError;
    expect([err.error, err.status]).toEqual(['not_found', 404]);
    await expect(db.getLocal('_local/x')).rejects.toBeInstanceOf(RemoteError);
  });

  it('changes: all_docs style, since, limit, include_docs, conflicts, descending', async () => {
    const db = await freshDb();
    await seed(db);
    const all = await db.changes({ style: 'all_docs' });
    expect(all.results.map((row) => row.id)).toEqual(['a', 'gone', 'plain']);
    expect(all.results[0]!.changes.map((c) => c.rev).sort()).toEqual([R(2, 'b'), R(2, 'c')]);
    expect(all.results[1]).toMatchObject({ deleted: true });
    // Both leaves of `a` arrived in one write: one sequence.
    expect(all).toMatchObject({ last_seq: 3, pending: 0 });

    const page = await db.changes({ since: all.results[0]!.seq, limit: 1 });
    expect(page.results.map((row) => row.id)).toEqual(['gone']);
    expect(page.pending).toBe(1);
    expect(page.last_seq).toBe(page.results[0]!.seq);

    const docs = await db.changes({ include_docs: true, conflicts: true });
    expect(docs.results[0]!.doc).toMatchObject({ _id: 'a', _rev: R(2, 'c'), _conflicts: [R(2, 'b')] });
    const down = await db.changes({ descending: true });
    expect(down.results.map((row) => row.id)).toEqual(['plain', 'gone', 'a']);
  });

  it('changes filtered by doc_ids and by selector (POST)', async () => {
    const log: string[] = [];
    const db = await freshDb({ fetch: recordingFetch(log) });
    await seed(db);
    const byIds = await db.changes({ doc_ids: ['plain', 'nope'] });
    expect(byIds.results.map((row) => row.id)).toEqual(['plain']);
    const bySelector = await db.changes({ selector: { v: 'c' } });
    expect(bySelector.results.map((row) => row.id)).toEqual(['a']);
    expect(log.filter((line) => line.endsWith('/_changes'))).toEqual([
      `POST /${db.name}/_changes`,
      `POST /${db.name}/_changes`,
    ]);
  });

  it('streams a large feed row by row', async () => {
    const db = await freshDb();
    const docs = Array.from({ length: 3000 }, (_, i) => ({ _id: `doc-${String(i).padStart(5, '0')}`, i }));
    await db.bulkDocs(docs);
    const seen: ChangeRow[] = [];
    const response = await db.changes({ include_docs: true }, (row) => seen.push(row));
    expect(response.results).toHaveLength(3000);
    expect(seen).toEqual(response.results);
    expect(response.last_seq).toBe(3000);
  });

  it('a longpoll waits for the next write; with none it ends at its timeout', async () => {
    const longpolls = watchingLongpolls();
    const db = await freshDb({ fetch: longpolls.fetch });
    await seed(db);
    const { last_seq } = await db.changes({});
    const waiting = db.changes({ since: last_seq, longpoll: true, timeout: 10_000 });
    // Written once the server waits: `late` can only come back if the longpoll waited for it.
    await longpolls.opened;
    await db.put({ _id: 'late' });
    const woke = await waiting;
    expect(woke.results.map((row) => row.id)).toEqual(['late']);

    const started = Date.now();
    const idle = await db.changes({ since: woke.last_seq, longpoll: true, timeout: 300 });
    expect(idle.results).toEqual([]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
  });

  it('a longpoll is cancelled by its signal', async () => {
    const longpolls = watchingLongpolls();
    const db = await freshDb({ fetch: longpolls.fetch });
    const controller = new AbortController();
    // Aborted while the server waits; it rejects with this very reason, not the one of the
    // client's own end of the longpoll at its timeout.
    const cancelled = new DOMException('cancelled by the test', 'AbortError');
    void longpolls.opened.then(() => controller.abort(cancelled));
    await expect(
      db.changes({ since: 'now', longpoll: true, timeout: 10_000, signal: controller.signal }),
    ).rejects.toBe(cancelled);
  });

  it('revsDiff', async () => {
    const db = await freshDb();
    await seed(db);
    const diff = await db.revsDiff({ a: [R(2, 'b'), R(3, 'f')], plain: [R(1, 'e')], other: [R(1, 'x')] });
    diff.a?.possible_ancestors?.sort();
    expect(diff).toEqual({
      a: { missing: [R(3, 'f')], possible_ancestors: [R(2, 'b'), R(2, 'c')] },
      other: { missing: [R(1, 'x')] },
    });
    expect(await db.revsDiff({})).toEqual({});
  });

  const bulkGetRequest: BulkGetRequest = {
    docs: [
      { id: 'a', rev: R(2, 'b') },
      { id: 'a' },
      { id: 'plain', rev: R(1, 'e') },
      { id: 'plain', rev: R(9, 'z') },
      { id: 'missing' },
      { id: 'gone', rev: R(1, 'd') },
    ],
  };

  it('bulkGet: one result per entry, all leaves when no rev, errors for missing revisions', async () => {
    const db = await freshDb();
    await seed(db);
    const { results } = await db.bulkGet(bulkGetRequest, { revs: true, latest: true });
    expect(results.map((result) => result.id)).toEqual(['a', 'a', 'plain', 'plain', 'missing', 'gone']);
    expect(results[0]!.docs).toEqual([
      {
        ok: {
          _id: 'a',
          _rev: R(2, 'b'),
          _revisions: { start: 2, ids: ['b'.repeat(32), 'a'.repeat(32)] },
          v: 'b',
        },
      },
    ]);
    expect(results[1]!.docs.map((doc) => ('ok' in doc ? doc.ok._rev : 'error')).sort()).toEqual([
      R(2, 'b'),
      R(2, 'c'),
    ]);
    expect(results[3]!.docs).toEqual([
      { error: { id: 'plain', rev: R(9, 'z'), error: 'not_found', reason: 'missing' } },
    ]);
    expect(results[4]!.docs).toEqual([
      { error: { id: 'missing', rev: 'undefined', error: 'not_found', reason: 'missing' } },
    ]);
    expect(results[5]!.docs[0]).toMatchObject({ ok: { _id: 'gone', _deleted: true } });
  });

  it('bulkGet through open_revs answers exactly like _bulk_get', async () => {
    const db = await freshDb();
    await seed(db);
    const log: string[] = [];
    const fallback = new RemoteDatabase(db.url, {
      auth: AUTH,
      useBulkGet: false,
      fetch: recordingFetch(log),
    });
    for (const options of [{ revs: true, latest: true }, {}]) {
      const viaBulkGet = await db.bulkGet(bulkGetRequest, options);
      const viaOpenRevs = await fallback.bulkGet(bulkGetRequest, options);
      expect(sortLeaves(viaOpenRevs)).toEqual(sortLeaves(viaBulkGet));
    }
    expect(log.some((line) => line.includes('_bulk_get'))).toBe(false);
  });

  it('falls back to open_revs when the server lacks _bulk_get, and remembers it', async () => {
    const db = await freshDb();
    await seed(db);
    for (const status of [404, 405, 400, 501]) {
      const log: string[] = [];
      const noBulkGet = recordingFetch(log, (url) =>
        url.pathname.endsWith('/_bulk_get')
          ? new Response(JSON.stringify({ error: 'x', reason: 'no bulk_get here' }), { status })
          : undefined,
      );
      const remote = new RemoteDatabase(db.url, { auth: AUTH, fetch: noBulkGet });
      const expected = sortLeaves(await db.bulkGet(bulkGetRequest, { revs: true }));
      expect(sortLeaves(await remote.bulkGet(bulkGetRequest, { revs: true }))).toEqual(expected);
      expect(sortLeaves(await remote.bulkGet(bulkGetRequest, { revs: true }))).toEqual(expected);
      expect(log.filter((line) => line.endsWith('/_bulk_get'))).toHaveLength(1);
      expect(log.filter((line) => line.startsWith('GET'))).toHaveLength(2 * bulkGetRequest.docs.length);
    }
  });

  it('a 500 from _bulk_get falls back at once, without retries', async () => {
    const db = await freshDb();
    await seed(db);
    const log: string[] = [];
    const broken = recordingFetch(log, (url) =>
      url.pathname.endsWith('/_bulk_get')
        ? new Response('{"error":"unknown_error"}', { status: 500 })
        : undefined,
    );
    const remote = new RemoteDatabase(db.url, { auth: AUTH, fetch: broken });
    const { results } = await remote.bulkGet({ docs: [{ id: 'plain' }] });
    expect(results[0]!.docs[0]).toMatchObject({ ok: { _id: 'plain' } });
    expect(log).toEqual([`POST /${db.name}/_bulk_get`, `GET /${db.name}/plain`]);
  });

  it('bulkDocs with newEdits false reports every document, failures where the server says so', async () => {
    const db = await freshDb();
    // An invalid document refuses the whole request, as CouchDB's _bulk_docs does.
    await expect(db.bulkDocs([{ _id: '_bad', _rev: R(1, 'b') }], { newEdits: false })).rejects.toMatchObject({
      status: 400,
    });
    const docs: NewDoc[] = [
      { _id: 'x', _rev: R(1, 'a'), n: 1 },
      { _id: 'y', _revisions: { start: 3, ids: ['c'.repeat(32), 'b'.repeat(32)] } },
    ];
    const results = await db.bulkDocs(docs, { newEdits: false });
    expect(results).toHaveLength(2);
    expect(results[0]).toEqual({ ok: true, id: 'x', rev: R(1, 'a') });
    expect(results[1]).toEqual({ ok: true, id: 'y', rev: R(3, 'c') });
    // Re-sending known revisions is a no-op that still succeeds.
    expect(await db.bulkDocs([docs[0]!], { newEdits: false })).toEqual([results[0]]);
    expect((await db.get('y', { revs: true }))._revisions).toEqual({
      start: 3,
      ids: ['c'.repeat(32), 'b'.repeat(32)],
    });
  });

  it('bulkDocs with new edits answers one result per document, conflicts included', async () => {
    const db = await freshDb();
    const [first] = await db.bulkDocs([{ _id: 'k', n: 1 }]);
    const results = await db.bulkDocs([
      { _id: 'k', n: 2 },
      { _id: 'k', _rev: (first as WriteOk).rev, n: 3 },
    ]);
    expect(results[0]).toMatchObject({ id: 'k', error: 'conflict' });
    expect(results[1]).toMatchObject({ ok: true, id: 'k' });
    await expect(db.bulkDocs([{ _id: 'k' }], { atomic: true })).rejects.toMatchObject({
      error: 'bad_request',
    });
  });

  it('local documents: missing is undefined; put and get round-trip, only under _local/', async () => {
    const db = await freshDb();
    expect(await db.getLocal('_local/cp')).toBeUndefined();
    const first = await db.putLocal({ _id: '_local/cp', last_seq: 5 });
    expect(first).toEqual({ ok: true, id: '_local/cp', rev: '0-1' });
    const stored = await db.getLocal('_local/cp');
    expect(stored).toEqual({ _id: '_local/cp', _rev: '0-1', last_seq: 5 });
    expect(await db.putLocal({ ...stored!, last_seq: 6 })).toMatchObject({ rev: '0-2' });
    // As a local Database: `cp` names no local document (and is not fetched as the document cp).
    await db.put({ _id: 'cp', plain: true });
    expect(await db.getLocal('cp')).toBeUndefined();
    await expect(db.putLocal({ _id: 'cp', last_seq: 7 })).rejects.toMatchObject({ error: 'bad_request' });
    expect(await db.getLocal('_local/cp')).toMatchObject({ last_seq: 6 });
    await db.putLocal({ _id: '_local/with/slash and space', x: 1 });
    expect(await db.getLocal('_local/with/slash and space')).toMatchObject({ x: 1 });
  });

  it('get, put, remove, allDocs and destroy', async () => {
    const db = await freshDb();
    const ids = ['plain', 'a/b c+d?e#f%g&h', '_design/my ddoc', 'ünï©ødé'];
    for (const id of ids) {
      const written = await db.put({ _id: id, value: id });
      expect(written).toMatchObject({ ok: true, id });
      expect(await db.get(id)).toMatchObject({ _id: id, _rev: written.rev, value: id });
    }
    const conflict = (await db.put({ _id: 'plain' }).catch((e: unknown) => e)) as RemoteError;
    expect([conflict.error, conflict.status]).toEqual(['conflict', 409]);
    const { _rev } = await db.get('plain');
    const removed = await db.remove('plain', _rev);
    expect(removed.rev.startsWith('2-')).toBe(true);
    const missing = (await db.get('plain').catch((e: unknown) => e)) as RemoteError;
    expect([missing.error, missing.reason]).toEqual(['not_found', 'deleted']);
    expect((await db.get('plain', { rev: removed.rev }))._deleted).toBe(true);
    const listed = await db.allDocs({ include_docs: true });
    expect(listed.rows.map((row) => row.id).sort()).toEqual(ids.slice(1).sort());
    const byKeys = await db.allDocs({ keys: ['nope', ids[1]!] });
    expect(byKeys.rows.map((row) => row.key)).toEqual(['nope', ids[1]]);
    const ranged = await db.allDocs({ startkey: 'a', endkey: 'b' });
    expect(ranged.rows.map((row) => row.id)).toEqual([ids[1]]);
    await db.destroy();
    await expect(db.info()).rejects.toMatchObject({ error: 'not_found' });
  });
});

describe('RemoteDatabase against a misbehaving server', () => {
  let fake: FakeServer | undefined;
  afterEach(async () => {
    await fake?.close();
    fake = undefined;
  });

  it('peerId falls back to the database URL when the root has no uuid', async () => {
    fake = await startFakeServer(json({ couchdb: 'Welcome' }));
    const db = new RemoteDatabase(`${fake.url}/some/prefix/my%2Fdb/`);
    expect(await db.peerId()).toBe(`${fake.url}/some/prefix/my%2Fdb/`);
    expect(db.name).toBe('my/db');
    expect(fake.requests).toEqual(['GET /some/prefix/']);
  });

  it('a longpoll that receives only heartbeats stays alive past timeoutMs', async () => {
    // Timers are this test's subject: a server that sends heartbeats only, for longer than the
    // client's stall timeout, then answers.
    fake = await startFakeServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"results":[\n');
      const beat = setInterval(() => res.write('\n'), 50);
      setTimeout(() => {
        clearInterval(beat);
        res.end('{"seq":7,"id":"x","changes":[{"rev":"1-a"}]}\n],\n"last_seq":7,"pending":0}\n');
      }, 800);
    });
    const db = new RemoteDatabase(`${fake.url}/db`, { timeoutMs: 200, retries: 0, heartbeatMs: 50 });
    const started = Date.now();
    const response = await db.changes({ since: 6, longpoll: true, timeout: 5000 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(750);
    expect(response).toEqual({
      results: [{ seq: 7, id: 'x', changes: [{ rev: '1-a' }] }],
      last_seq: 7,
      pending: 0,
    });
    expect(fake.requests[0]).toContain('feed=longpoll');
    expect(fake.requests[0]).toContain('heartbeat=50');
  });

  it('a longpoll the server holds past its timeout ends on the client, empty, at since', async () => {
    fake = await startFakeServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"results":[\n');
    });
    const db = new RemoteDatabase(`${fake.url}/db`, { timeoutMs: 200, retries: 0 });
    const started = Date.now();
    expect(await db.changes({ since: '12-abc', longpoll: true, timeout: 300 })).toEqual({
      results: [],
      last_seq: '12-abc',
      pending: 0,
    });
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect(fake.requests).toHaveLength(1);
  });

  it('a longpoll whose headers never come is abandoned after timeoutMs plus its timeout', async () => {
    fake = await startFakeServer(stall);
    const db = new RemoteDatabase(`${fake.url}/db`, { timeoutMs: 200, retries: 0 });
    const started = Date.now();
    await expect(db.changes({ longpoll: true, timeout: 300 })).rejects.toMatchObject({
      name: 'RetriesExhaustedError',
      cause: { name: 'StallTimeoutError' },
    });
    expect(Date.now() - started).toBeGreaterThanOrEqual(490);
  });

  it.each([
    ['streamed (no limit)', {}],
    ['read whole (a page with a limit)', { limit: 5 }],
  ])('a changes feed cut off mid-stream is read again from the start: %s', async (_way, options) => {
    fake = await startFakeServer((req, res, n) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      if (n === 0) {
        // Cut once the first row has left: the client may have read it, never the end.
        res.write('{"results":[{"seq":1,"id":"a","changes":[{"rev":"1-a"}]},', () => req.socket.destroy());
        return;
      }
      res.end('{"results":[{"seq":1,"id":"a","changes":[{"rev":"1-a"}]}],"last_seq":1,"pending":0}');
    });
    const db = new RemoteDatabase(`${fake.url}/db`, { backoffBaseMs: 1 });
    const rows: ChangeRow[] = [];
    const response = await db.changes(options, (row) => rows.push(row));
    expect(response.results).toHaveLength(1);
    // The cut-off attempt's row was not handed over: rows come from the complete answer only.
    expect(rows).toEqual(response.results);
    expect(fake.requests).toHaveLength(2);
  });
});

describe('URLs', () => {
  it('parses database URLs as PouchDB does', () => {
    expect(parseDbUrl('http://u%40x:p%3Aw@h:5984/db')).toEqual({
      root: 'http://h:5984',
      dbSegment: 'db',
      auth: { username: 'u@x', password: 'p:w' },
    });
    expect(parseDbUrl('https://h/couch/a$b/')).toEqual({ root: 'https://h/couch', dbSegment: 'a%24b' });
    expect(() => parseDbUrl('http://h/')).toThrow();
  });

  it('encodes document ids, keeping the slash of _design/ and _local/', () => {
    expect(encodeDocId('a/b c+d')).toBe('a%2Fb%20c%2Bd');
    expect(encodeDocId('_design/x/y')).toBe('_design/x%2Fy');
    expect(encodeDocId('_local/cp')).toBe('_local/cp');
  });
});

describe('RemoteDatabase against pouchdb-server', () => {
  let pouchServer: PouchServer | undefined;
  let base: string;

  beforeAll(async () => {
    pouchServer = await startPouchServer();
    base = pouchServer.url;
  }, 60_000);

  afterAll(async () => {
    await pouchServer?.stop();
  });

  async function pouchServerDb(name: string, options: ConstructorParameters<typeof RemoteDatabase>[1] = {}) {
    const db = new RemoteDatabase(`${base}/${name}`, options);
    await db.ensureExists();
    await db.ensureExists();
    return db;
  }

  it('peerId matches PouchDB, info reads its shape', async () => {
    const db = await pouchServerDb('info');
    const pouch = new PouchDB(`${base}/info`, { skip_setup: true });
    try {
      expect(await db.peerId()).toBe(await (pouch as unknown as { id(): Promise<string> }).id());
    } finally {
      await pouch.close();
    }
    const info = await db.info();
    expect(info).toMatchObject({ db_name: 'info', doc_count: 0, doc_del_count: 0 });
    expect(typeof info.instance_start_time).toBe('string');
  });

  it('bulkDocs newEdits false, changes, revsDiff, bulkGet (both paths) and local documents', async () => {
    const db = await pouchServerDb('peer');
    await seed(db);
    const changes = await db.changes({ style: 'all_docs' });
    expect(changes.results.map((row) => row.id).sort()).toEqual(['a', 'gone', 'plain']);
    // pouchdb-server says nothing of what is pending: unknown, not 0.
    expect(changes.pending).toBeUndefined();
    const limited = await db.changes({ limit: 1 });
    expect(limited.results).toHaveLength(1);
    const rest = await db.changes({ since: limited.last_seq });
    expect(rest.results).toHaveLength(2);
    const byIds = await db.changes({ doc_ids: ['plain'] });
    expect(byIds.results.map((row) => row.id)).toEqual(['plain']);

    expect(await db.revsDiff({ plain: [R(1, 'e'), R(2, 'f')], other: [R(1, 'x')] })).toEqual({
      plain: { missing: [R(2, 'f')] },
      other: { missing: [R(1, 'x')] },
    });

    // latest=true with an unknown revision crashes pouchdb-server 4.2: ask for known ones only.
    const request: BulkGetRequest = {
      docs: [{ id: 'a', rev: R(2, 'b') }, { id: 'plain' }, { id: 'missing' }],
    };
    const viaBulkGet = await db.bulkGet(request, { revs: true });
    expect(viaBulkGet.results.map((result) => result.docs.length)).toEqual([1, 1, 1]);
    expect(viaBulkGet.results[0]!.docs[0]).toMatchObject({ ok: { _id: 'a', _rev: R(2, 'b'), v: 'b' } });
    // pouchdb-server answers a missing document with `{}`: normalized to CouchDB's error.
    expect(viaBulkGet.results[2]!.docs).toEqual([
      { error: { id: 'missing', rev: 'undefined', error: 'not_found', reason: 'missing' } },
    ]);
    const fallback = new RemoteDatabase(db.url, { useBulkGet: false });
    expect(await fallback.bulkGet(request, { revs: true })).toEqual(viaBulkGet);
    // Without a rev, open_revs=all gives every leaf (pouchdb-server's _bulk_get gives the winner only).
    const leaves = await fallback.bulkGet({ docs: [{ id: 'a' }] }, { revs: true });
    expect(leaves.results[0]!.docs).toHaveLength(2);

    expect(await db.getLocal('_local/cp')).toBeUndefined();
    expect(await db.putLocal({ _id: '_local/cp', last_seq: 3 })).toMatchObject({ ok: true, id: '_local/cp' });
    expect(await db.getLocal('_local/cp')).toMatchObject({ _id: '_local/cp', last_seq: 3 });
  });

  it('a longpoll wakes on a write', async () => {
    const longpolls = watchingLongpolls();
    const db = await pouchServerDb('live', { fetch: longpolls.fetch });
    const { last_seq } = await db.changes({});
    const waiting = db.changes({ since: last_seq, longpoll: true, timeout: 5000 });
    await longpolls.opened;
    await db.bulkDocs([{ _id: 'n', _rev: R(1, 'n') }], { newEdits: false });
    expect((await waiting).results.map((row) => row.id)).toEqual(['n']);
  });
});

/** Leaves of an all-leaves entry in rev order, so two servers' answers compare equal. */
function sortLeaves<T extends { results: { docs: unknown[] }[] }>(response: T): T {
  const key = (doc: unknown) => JSON.stringify(doc);
  for (const result of response.results) result.docs.sort((x, y) => key(x).localeCompare(key(y)));
  return response;
}
