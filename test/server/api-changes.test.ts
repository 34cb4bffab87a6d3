import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startServer, type TestServer, useServerPerFile } from './harness.js';
import { waitFor } from '../replication/helpers.js';
import { jsonLines, newlines, openLive, raw, writeWaiters } from './http-client.js';

let t: TestServer;
let db = '';
useServerPerFile(
  (server) => (t = server),
  (name) => (db = name),
);

type Json = Record<string, unknown>;
type Row = { seq: number; id: string; changes: { rev: string }[]; deleted?: true; doc?: Json };
type Changes = { results: Row[]; last_seq: number; pending: number };
const HASH_A = 'a'.repeat(32);
const HASH_B = 'b'.repeat(32);

async function write(...docs: Json[]): Promise<Json[]> {
  const res = await t.fetch(`/${db}/_bulk_docs`, { method: 'POST', body: JSON.stringify({ docs }) });
  expect(res.status).toBe(201);
  return (await res.json()) as Json[];
}

async function changes(query = '', init: RequestInit = {}): Promise<Changes> {
  const res = await t.fetch(`/${db}/_changes${query}`, init);
  expect(res.status, query).toBe(200);
  return (await res.json()) as Changes;
}

describe('normal feed', () => {
  it('has CouchDB’s shape: results, last_seq, pending; each doc once at its latest seq', async () => {
    await write({ _id: 'a' }, { _id: 'b' });
    const bDoc = (await (await t.fetch(`/${db}/b`)).json()) as Json;
    await write({ _id: 'b', _rev: bDoc._rev, v: 2 });
    const res = await t.fetch(`/${db}/_changes`);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    const body = (await res.json()) as Changes;
    expect(Object.keys(body).sort()).toEqual(['last_seq', 'pending', 'results']);
    expect(body.results.map((row) => row.id)).toEqual(['a', 'b']);
    expect(body.results[1]!.changes).toEqual([{ rev: expect.stringMatching(/^2-/) }]);
    expect(body.last_seq).toEqual(body.results[1]!.seq);
    expect(body.pending).toBe(0);
  });

  it('pages with since and limit: last_seq is the last returned row, pending counts the rest', async () => {
    await write(...['a', 'b', 'c', 'd', 'e'].map((_id) => ({ _id })));
    const first = await changes('?limit=2');
    expect(first.results.map((row) => row.id)).toEqual(['a', 'b']);
    expect(first.last_seq).toEqual(first.results[1]!.seq);
    expect(first.pending).toBe(3);
    const next = await changes(`?since=${first.last_seq}&limit=2`);
    expect(next.results.map((row) => row.id)).toEqual(['c', 'd']);
    expect(next.pending).toBe(1);
    const zero = await changes('?limit=0');
    expect(zero.results).toEqual([]);
    expect(zero.pending).toBe(5);
    const now = await changes('?since=now');
    expect(now.results).toEqual([]);
    expect(now.last_seq).toBe((await changes()).last_seq);
    // A string seq with a CouchDB-like suffix is accepted too.
    expect((await changes(`?since=${first.last_seq}-g1AAAA`)).results).toHaveLength(3);
  });

  it('walks newest first with descending', async () => {
    await write({ _id: 'a' }, { _id: 'b' }, { _id: 'c' });
    expect((await changes('?descending=true')).results.map((row) => row.id)).toEqual(['c', 'b', 'a']);
    expect((await changes('?descending=true&limit=1')).results.map((row) => row.id)).toEqual(['c']);
  });

  it('lists all leaves with style=all_docs, winner first; marks deletions', async () => {
    await write({ _id: 'gone' });
    const gone = (await (await t.fetch(`/${db}/gone`)).json()) as Json;
    await t.fetch(`/${db}/gone?rev=${gone._rev}`, { method: 'DELETE' });
    await t.fetch(`/${db}/_bulk_docs`, {
      method: 'POST',
      body: JSON.stringify({
        new_edits: false,
        docs: [
          { _id: 'c', _rev: `1-${HASH_A}`, v: 'a' },
          { _id: 'c', _rev: `1-${HASH_B}`, v: 'b' },
        ],
      }),
    });
    const main = await changes();
    expect(main.results.find((row) => row.id === 'c')!.changes).toEqual([{ rev: `1-${HASH_B}` }]);
    const all = await changes('?style=all_docs');
    expect(all.results.find((row) => row.id === 'c')!.changes).toEqual([
      { rev: `1-${HASH_B}` },
      { rev: `1-${HASH_A}` },
    ]);
    expect(all.results.find((row) => row.id === 'gone')!.deleted).toBe(true);
  });

  it('adds docs with include_docs, and _conflicts with conflicts=true', async () => {
    await t.fetch(`/${db}/_bulk_docs`, {
      method: 'POST',
      body: JSON.stringify({
        new_edits: false,
        docs: [
          { _id: 'c', _rev: `1-${HASH_A}`, v: 'a' },
          { _id: 'c', _rev: `1-${HASH_B}`, v: 'b' },
        ],
      }),
    });
    const plain = await changes('?include_docs=true');
    expect(plain.results[0]!.doc).toEqual({ _id: 'c', _rev: `1-${HASH_B}`, v: 'b' });
    const withConflicts = await changes('?include_docs=true&conflicts=true');
    expect(withConflicts.results[0]!.doc).toEqual({
      _id: 'c',
      _rev: `1-${HASH_B}`,
      v: 'b',
      _conflicts: [`1-${HASH_A}`],
    });
    expect((await changes()).results[0]!.doc).toBeUndefined();
  });

  it('inlines attachment data with include_docs&attachments=true', async () => {
    await write({ _id: 'att', _attachments: { 'a.txt': { content_type: 'text/plain', data: 'aGk=' } } });
    const [stub] = (await changes('?include_docs=true')).results;
    expect((stub!.doc!._attachments as Record<string, Json>)['a.txt']).toMatchObject({ stub: true });
    const [inline] = (await changes('?include_docs=true&attachments=true')).results;
    expect((inline!.doc!._attachments as Record<string, Json>)['a.txt']).toMatchObject({ data: 'aGk=' });
  });

  it('gives a deleted doc as a tombstone with include_docs', async () => {
    await write({ _id: 'x', keep: false });
    const x = (await (await t.fetch(`/${db}/x`)).json()) as Json;
    await t.fetch(`/${db}/x?rev=${x._rev}`, { method: 'DELETE' });
    const [row] = (await changes('?include_docs=true')).results;
    expect(row!.deleted).toBe(true);
    expect(row!.doc).toEqual({ _id: 'x', _rev: expect.stringMatching(/^2-/), _deleted: true });
  });

  it('answers POST like GET, with an empty body too', async () => {
    await write({ _id: 'a' });
    const res = await raw(t.url, `/${db}/_changes`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
    });
    expect(res.status).toBe(200);
    expect((res.json as Changes).results).toHaveLength(1);
  });

  it('accepts Content-Type: application/json on GET (PouchDB sends it everywhere)', async () => {
    await write({ _id: 'a' });
    expect((await changes('', { headers: { 'content-type': 'application/json' } })).results).toHaveLength(1);
  });
});

describe('filters', () => {
  beforeEach(async () => {
    await write(
      { _id: 'a', type: 'x' },
      { _id: 'b', type: 'y' },
      { _id: '_design/app' },
      { _id: 'c', type: 'x' },
    );
  });

  it('filter=_doc_ids: from the doc_ids query param and from the POST body', async () => {
    const viaGet = await changes(`?filter=_doc_ids&doc_ids=${encodeURIComponent('["c","a","zz"]')}`);
    expect(viaGet.results.map((row) => row.id)).toEqual(['a', 'c']);
    // last_seq is the end of the scanned range, past the last matching row.
    expect(viaGet.last_seq).toBe((await changes()).last_seq);
    const viaPost = await changes('?filter=_doc_ids', { method: 'POST', body: '{"doc_ids":["b"]}' });
    expect(viaPost.results.map((row) => row.id)).toEqual(['b']);
  });

  it('filter=_doc_ids without ids, or with bad ids, is 400', async () => {
    for (const [query, init] of [
      ['?filter=_doc_ids', {}],
      ['?filter=_doc_ids&doc_ids=%22a%22', {}],
      ['?filter=_doc_ids&doc_ids=%5B1%5D', {}],
      ['?filter=_doc_ids&doc_ids=notjson', {}],
      ['?filter=_doc_ids', { method: 'POST', body: '{"doc_ids":"a"}' }],
    ] as [string, RequestInit][]) {
      const res = await t.fetch(`/${db}/_changes${query}`, init);
      expect(res.status, query).toBe(400);
      expect(((await res.json()) as Json).error).toBe('bad_request');
    }
  });

  it('filter=_selector: POST body selector; missing selector is 400', async () => {
    const res = await changes('?filter=_selector', { method: 'POST', body: '{"selector":{"type":"x"}}' });
    expect(res.results.map((row) => row.id)).toEqual(['a', 'c']);
    const missing = await t.fetch(`/${db}/_changes?filter=_selector`, { method: 'POST', body: '{}' });
    expect(missing.status).toBe(400);
    expect(((await missing.json()) as Json).reason).toBe('Selector must be specified in POST payload');
    // A selector that is not an object: couch_changes.erl, check_selector.
    for (const selector of ['1', '"x"', '[]', '[{"type":"x"}]', 'null', 'true']) {
      const body = `{"selector":${selector}}`;
      const bad = await t.fetch(`/${db}/_changes?filter=_selector`, { method: 'POST', body });
      expect(bad.status, body).toBe(400);
      expect(await bad.json(), body).toEqual({
        error: 'bad_request',
        reason: 'Selector error: expected a JSON object',
      });
    }
    expect((await t.fetch(`/${db}/_changes?filter=_selector`)).status).toBe(400);
  });

  it('filter=_selector refuses an invalid selector with 400', async () => {
    const bad = await t.fetch(`/${db}/_changes?filter=_selector`, {
      method: 'POST',
      body: '{"selector":{"type":{"$nope":1}}}',
    });
    expect(bad.status).toBe(400);
  });

  it('filter=_design lists design documents only', async () => {
    expect((await changes('?filter=_design')).results.map((row) => row.id)).toEqual(['_design/app']);
  });

  it('refuses unknown filters with 400 (design filters: api-changes-filter.test.ts)', async () => {
    for (const filter of ['nonsense', '_nonsense']) {
      expect((await t.fetch(`/${db}/_changes?filter=${filter}`)).status, filter).toBe(400);
    }
  });
});

describe('bad parameters', () => {
  it('answers a malformed since with 400 and CouchDB’s reason', async () => {
    for (const since of ['abc', '-1', '1.5', '%5B%5D', 'nowish', '99999999999999999999999']) {
      const res = await t.fetch(`/${db}/_changes?since=${since}`);
      expect(res.status, since).toBe(400);
      expect(await res.json()).toEqual({
        error: 'bad_request',
        reason: "Malformed sequence supplied in 'since' parameter.",
      });
    }
  });

  it('answers bad feed, limit, style, booleans, heartbeat and timeout with 400', async () => {
    for (const query of [
      'feed=sideways',
      'limit=-1',
      'limit=abc',
      'style=some',
      'include_docs=yes',
      'descending=1',
      'heartbeat=abc',
      'timeout=-5',
      'feed=continuous&heartbeat=1e3',
    ]) {
      const res = await t.fetch(`/${db}/_changes?${query}`);
      expect(res.status, query).toBe(400);
      expect(((await res.json()) as Json).error).toBe('bad_request');
    }
  });

  it('answers a missing database with 404', async () => {
    const res = await t.fetch('/nope/_changes?feed=continuous');
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: 'not_found', reason: 'Database does not exist.' });
  });
});

describe('longpoll', () => {
  it('returns at once when there are changes', async () => {
    await write({ _id: 'a' });
    const body = await changes('?feed=longpoll');
    expect(body.results.map((row) => row.id)).toEqual(['a']);
  });

  it('waits for a write, then returns it', async () => {
    await write({ _id: 'a' });
    const since = (await changes()).last_seq;
    let settled = false;
    const pending = changes(`?feed=longpoll&since=${since}`).then((body) => {
      settled = true;
      return body;
    });
    // The server has looked, found nothing after `since` and parked the feed on the next write.
    await waitFor(async () => (await writeWaiters(t, db)) === 1, 'the longpoll to wait');
    expect(settled).toBe(false);
    await write({ _id: 'late' });
    const body = await pending;
    expect(body.results.map((row) => row.id)).toEqual(['late']);
    expect(body.last_seq).toBe(body.results[0]!.seq);
  });

  it('returns an empty result with last_seq on timeout', async () => {
    await write({ _id: 'a' });
    const started = Date.now();
    const body = await changes('?feed=longpoll&since=now&timeout=100');
    expect(Date.now() - started).toBeGreaterThanOrEqual(90);
    expect(body.results).toEqual([]);
    expect(body.last_seq).toBe((await changes()).last_seq);
  });

  it('sends heartbeat newlines inside the JSON, and a heartbeat holds past the timeout', async () => {
    const live = await openLive(t.url, `/${db}/_changes?feed=longpoll&since=now&heartbeat=30&timeout=60`);
    expect(live.status).toBe(200);
    // Five heartbeats span four periods of 30 ms: twice the 60 ms timeout, and the feed is open.
    await live.until((text) => newlines(text) >= 5, 3000);
    await write({ _id: 'beat' });
    const text = await live.ended;
    const body = JSON.parse(text) as Changes;
    expect(body.results.map((row) => row.id)).toEqual(['beat']);
  });
});

describe('continuous feed', () => {
  it('sends existing rows as lines, then new writes as they happen', async () => {
    await write({ _id: 'a' }, { _id: 'b' });
    const live = await openLive(t.url, `/${db}/_changes?feed=continuous`);
    expect(live.status).toBe(200);
    await live.until((text) => jsonLines(text).length === 2);
    const [a, b] = jsonLines(live.received) as Row[];
    expect([a!.id, b!.id]).toEqual(['a', 'b']);
    await write({ _id: 'c' });
    await live.until((text) => jsonLines(text).length === 3);
    expect((jsonLines(live.received)[2] as Row).id).toBe('c');
    live.destroy();
  });

  it('takes heartbeat=true (60 s) and keeps the feed open past the timeout', async () => {
    const live = await openLive(t.url, `/${db}/_changes?feed=continuous&since=now&heartbeat=true&timeout=50`);
    expect(live.status).toBe(200);
    // A control feed opened after it with the same timeout and no heartbeat ends: the 50 ms have
    // passed on the server's clock, so had the timeout been kept, the first feed would be over.
    const control = await openLive(t.url, `/${db}/_changes?feed=continuous&since=now&timeout=50`);
    expect(jsonLines(await control.ended)).toEqual([{ last_seq: 0, pending: 0 }]);
    await write({ _id: 'still-open' });
    await live.until((text) => text.includes('still-open'));
    live.destroy();
  });

  it('sends heartbeats as bare newlines', async () => {
    const live = await openLive(t.url, `/${db}/_changes?feed=continuous&since=now&heartbeat=50`);
    const text = await live.until((received) => received.length >= 3, 3000);
    expect(text).toMatch(/^\n+$/);
    await write({ _id: 'x' });
    await live.until((received) => received.includes('"x"'));
    await live.until((received) => /"x".*\}\n\n/s.test(received), 3000);
    live.destroy();
  });

  it('ends on timeout with a final last_seq line', async () => {
    await write({ _id: 'a' });
    const started = Date.now();
    const live = await openLive(t.url, `/${db}/_changes?feed=continuous&timeout=100`);
    const text = await live.ended;
    expect(Date.now() - started).toBeLessThan(3000);
    const lines = jsonLines(text) as Json[];
    expect((lines[0] as Row).id).toBe('a');
    expect(lines.at(-1)).toEqual({ last_seq: (lines[0] as Row).seq, pending: 0 });
    expect(text.endsWith('\n')).toBe(true);
  });

  it('ends after limit rows with a final last_seq line', async () => {
    await write(...['a', 'b', 'c', 'd'].map((_id) => ({ _id })));
    const live = await openLive(t.url, `/${db}/_changes?feed=continuous&limit=2`);
    const lines = jsonLines(await live.ended) as Json[];
    expect(lines).toHaveLength(3);
    expect(lines.at(-1)).toEqual({ last_seq: (lines[1] as Row).seq, pending: 2 });
  });

  it('counts the limit across rows that arrive live', async () => {
    await write({ _id: 'a' });
    const live = await openLive(t.url, `/${db}/_changes?feed=continuous&limit=2&heartbeat=1000`);
    await live.until((text) => jsonLines(text).length === 1);
    await write({ _id: 'b' });
    const lines = jsonLines(await live.ended) as Json[];
    expect(lines.map((line) => (line as Row).id ?? 'end')).toEqual(['a', 'b', 'end']);
  });

  it('applies filters and include_docs to live rows', async () => {
    const live = await openLive(
      t.url,
      `/${db}/_changes?feed=continuous&include_docs=true&filter=_doc_ids&doc_ids=${encodeURIComponent('["want"]')}`,
    );
    await write({ _id: 'skip' }, { _id: 'want', v: 1 });
    await live.until((text) => jsonLines(text).length === 1);
    const [row] = jsonLines(live.received) as Row[];
    expect(row!.id).toBe('want');
    expect(row!.doc).toMatchObject({ _id: 'want', v: 1 });
    live.destroy();
  });

  it('accepts feed=live as continuous', async () => {
    await write({ _id: 'a' });
    const live = await openLive(t.url, `/${db}/_changes?feed=live&timeout=50`);
    const lines = jsonLines(await live.ended) as Json[];
    expect(lines.at(-1)).toHaveProperty('last_seq');
  });
});

describe('eventsource feed', () => {
  it('sends data/id events, heartbeats as events, and a last_seq event at the end', async () => {
    await write({ _id: 'a' });
    const live = await openLive(t.url, `/${db}/_changes?feed=eventsource&heartbeat=40`);
    expect(live.headers['content-type']).toMatch(/^text\/event-stream/);
    const text = await live.until((received) => received.includes('event: heartbeat\ndata: \n\n'), 3000);
    const [first] = text.split('\n\n');
    const match = /^data: (.*)\nid: (\d+)$/.exec(first!);
    expect(match).not.toBeNull();
    const row = JSON.parse(match![1]!) as Row;
    expect(row.id).toBe('a');
    expect(Number(match![2])).toBe(row.seq);
    live.destroy();

    const ending = await openLive(t.url, `/${db}/_changes?feed=eventsource&timeout=50`);
    expect(await ending.ended).toMatch(/event: last_seq\ndata: \{"last_seq":\d+,"pending":0\}\n\n$/);
  });

  it('takes the Last-Event-ID header as since', async () => {
    await write({ _id: 'a' }, { _id: 'b' });
    const first = (await changes()).results[0]!.seq;
    const live = await openLive(t.url, `/${db}/_changes?feed=eventsource&timeout=50`, {
      headers: { 'last-event-id': String(first) },
    });
    const text = await live.ended;
    expect(text).toContain('"id":"b"');
    expect(text).not.toContain('"id":"a"');
  });
});

describe('live feeds and the server’s lifecycle', () => {
  // These tests close their server: each gets its own, with the test's database on it.
  let shared: TestServer;

  beforeEach(async () => {
    shared = t;
    t = await startServer();
    await t.fetch(`/${db}`, { method: 'PUT' });
  });

  afterEach(async () => {
    await t.stop();
    t = shared;
  });

  it('cleans up after a client that disconnects mid-feed; the server keeps serving and closes promptly', async () => {
    await write({ _id: 'a' });
    const connections = () =>
      new Promise<number>((resolve, reject) =>
        t.server.app.server.getConnections((err, count) => (err ? reject(err) : resolve(count))),
      );
    const before = await connections();
    const feeds = await Promise.all(
      Array.from({ length: 5 }, () => openLive(t.url, `/${db}/_changes?feed=continuous&heartbeat=20`)),
    );
    for (const live of feeds) await live.until((text) => text.includes('"a"'));
    expect(await connections()).toBe(before + 5);
    // Each feed waits on the database's write notifier; a vanished client must not stay there.
    expect(await writeWaiters(t, db)).toBe(5);
    for (const live of feeds) live.destroy();
    await waitFor(async () => (await connections()) === before, 'the connections to close');
    expect(await writeWaiters(t, db)).toBe(0);
    await write({ _id: 'b' });
    expect((await changes()).results).toHaveLength(2);
    expect((await t.fetch(`/${db}/b`)).status).toBe(200);
    const started = Date.now();
    await t.server.close();
    // Not the keep-alive timeout (5 s) an idle connection would hold it for; room for a busy machine.
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('ends open continuous feeds with their last_seq line when the server closes', async () => {
    await write({ _id: 'a' }, { _id: 'b' });
    const live = await openLive(t.url, `/${db}/_changes?feed=continuous&heartbeat=1000`);
    const longpoll = await openLive(t.url, `/${db}/_changes?feed=longpoll&since=now`);
    await live.until((text) => jsonLines(text).length === 2);
    const started = Date.now();
    const closing = t.server.close();
    const text = await live.ended;
    await closing;
    // Not the open feeds' lifetime (they never end of themselves); room for a busy machine.
    expect(Date.now() - started).toBeLessThan(4000);
    const lines = jsonLines(text) as Json[];
    expect(lines).toHaveLength(3);
    expect(lines[2]).toEqual({ last_seq: (lines[1] as Row).seq, pending: 0 });
    const polled = JSON.parse(await longpoll.ended) as Changes;
    expect(polled.results).toEqual([]);
    expect(polled.last_seq).toBe((lines[1] as Row).seq);
  });
});
