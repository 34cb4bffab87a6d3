/**
 * CouchDB 3.5's replicator pulling from Settee, request for request (couch_replicator_worker.erl):
 * `_revs_diff` on the target, `_bulk_get?latest=true&revs=true&attachments=false` on the source,
 * keeping only the revisions without attachments; each revision with attachments fetched again
 * with `GET /{db}/{id}?revs=true&open_revs=[…]&latest=true` (plus `atts_since=[…]` when the
 * target has possible ancestors) and `Accept: multipart/mixed`; then written to the target as
 * `multipart/related` `PUT ?new_edits=false` (with attachments) or `_bulk_docs` (without).
 *
 * CouchDB answers that GET with every attachment's bytes following: chttpd_db.erl,
 * send_docs_multipart, adds `attachments` and `follows` to the options of each revision, and
 * db_doc_req hands `atts_since` to a read only without `open_revs`. Settee once sent stubs there,
 * and CouchDB stopped with missing_stub ("Invalid attachment stub in … for a.bin").
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Doc } from '../../src/core/api.js';
import { Database } from '../../src/database/database.js';
import { RemoteDatabase } from '../../src/remote/index.js';
import { replicate } from '../../src/replication/index.js';
import { type MultipartPart, multipartBoundary, parseMultipart } from '../../src/server/multipart.js';
import { ADMIN, startServer, type TestServer } from './harness.js';
import { raw } from './http-client.js';
import { makeTempDir, removeDir } from '../replication/helpers.js';

type Json = Record<string, unknown>;
type Att = { content_type: string; revpos: number; digest: string; length: number; follows?: true };

let t: TestServer;
beforeAll(async () => {
  t = await startServer();
});
afterAll(async () => {
  await t?.stop();
});

let dbCount = 0;
async function freshDb(): Promise<string> {
  const name = `pull${++dbCount}`;
  expect((await t.fetch(`/${name}`, { method: 'PUT' })).status).toBe(201);
  return name;
}

async function post(path: string, body: unknown, query = ''): Promise<unknown> {
  const res = await t.fetch(`${path}${query}`, { method: 'POST', body: JSON.stringify(body) });
  const json: unknown = await res.json();
  expect(res.status, `${path} ${JSON.stringify(json)}`).toBeLessThan(300);
  return json;
}

const md5 = (bytes: Buffer) => `md5-${createHash('md5').update(bytes).digest('base64')}`;
const q = (value: unknown) => encodeURIComponent(JSON.stringify(value));
// Bytes a careless multipart reader would cut: NUL, CR/LF, dashes, a boundary-like line.
const BINARY = Buffer.from('\u0000\r\n--x\r\n\u00ff--\r\n', 'latin1');
const TEXT = Buffer.from('plain text, line one\nline two\n'.repeat(30));
const EDITED = Buffer.concat([BINARY, BINARY, Buffer.from('edited')]);

const attachment = (bytes: Buffer, type = 'application/octet-stream') => ({
  content_type: type,
  data: bytes.toString('base64'),
});

/**
 * The source: `pic` edited over three revisions (a.bin, then b.txt beside it, then a.bin
 * changed); `fork` with a live leaf holding an attachment and a deleted leaf; `plain` without.
 */
async function seedSource(source: string): Promise<{ picRev1: string }> {
  const put = async (id: string, body: Json) =>
    (await (await t.fetch(`/${source}/${id}`, { method: 'PUT', body: JSON.stringify(body) })).json()) as Json;
  const r1 = await put('pic', { n: 1, _attachments: { 'a.bin': attachment(BINARY) } });
  const r2 = await put('pic', {
    _rev: r1.rev,
    n: 2,
    _attachments: {
      'a.bin': { stub: true, content_type: 'application/octet-stream' },
      'b.txt': attachment(TEXT, 'text/plain'),
    },
  });
  await put('pic', {
    _rev: r2.rev,
    n: 3,
    _attachments: { 'a.bin': attachment(EDITED), 'b.txt': { stub: true, content_type: 'text/plain' } },
  });
  await put('plain', { n: 1 });
  const root = 'f'.repeat(32);
  await post(`/${source}/_bulk_docs`, {
    new_edits: false,
    docs: [
      { _id: 'fork', _rev: `1-${root}`, _revisions: { start: 1, ids: [root] }, side: 'root' },
      {
        _id: 'fork',
        _rev: `2-${'1'.repeat(32)}`,
        _revisions: { start: 2, ids: ['1'.repeat(32), root] },
        side: 'live',
        _attachments: { 'c.bin': { ...attachment(BINARY), revpos: 2 } },
      },
      {
        _id: 'fork',
        _rev: `2-${'2'.repeat(32)}`,
        _revisions: { start: 2, ids: ['2'.repeat(32), root] },
        _deleted: true,
      },
    ],
  });
  return { picRev1: r1.rev as string };
}

/** The attachments' original bytes, by digest: what every part that follows must carry. */
const ORIGINALS = new Map([BINARY, TEXT, EDITED].map((bytes) => [md5(bytes), bytes]));

interface Pulled {
  /** The GETs with open_revs, as sent. */
  openRevsQueries: string[];
  /** Every attachment part read: its stub in the JSON and its bytes. */
  attachments: { id: string; name: string; att: Att; bytes: Buffer }[];
}

/** One pass of CouchDB's replicator from `source` to `target`, over real HTTP. */
async function couchdbPull(source: string, target: string): Promise<Pulled> {
  const pulled: Pulled = { openRevsQueries: [], attachments: [] };
  const changes = (await (await t.fetch(`/${source}/_changes?style=all_docs`)).json()) as {
    results: { id: string; changes: { rev: string }[] }[];
  };
  const wanted = Object.fromEntries(changes.results.map((row) => [row.id, row.changes.map((c) => c.rev)]));
  const diff = (await post(`/${target}/_revs_diff`, wanted)) as Record<
    string,
    { missing: string[]; possible_ancestors?: string[] }
  >;
  const entries = Object.entries(diff).flatMap(([id, { missing }]) => missing.map((rev) => ({ id, rev })));
  const bulk = (await post(
    `/${source}/_bulk_get`,
    { docs: entries },
    '?latest=true&revs=true&attachments=false',
  )) as { results: { id: string; docs: ({ ok: Doc } | { error: Json })[] }[] };
  const withoutAttachments: Doc[] = [];
  const withAttachments = new Set<string>();
  for (const { id, docs } of bulk.results) {
    for (const found of docs) {
      if (!('ok' in found)) continue;
      if (found.ok._attachments) withAttachments.add(id);
      else withoutAttachments.push(found.ok);
    }
  }
  if (withoutAttachments.length > 0) {
    expect(await post(`/${target}/_bulk_docs`, { docs: withoutAttachments, new_edits: false })).toEqual([]);
  }
  for (const id of withAttachments) {
    const { missing, possible_ancestors: ancestors } = diff[id]!;
    const query =
      `?revs=true&open_revs=${q(missing)}&latest=true` +
      (ancestors?.length ? `&atts_since=${q(ancestors)}` : '');
    pulled.openRevsQueries.push(query);
    const res = await raw(t.url, `/${source}/${encodeURIComponent(id)}${query}`, {
      headers: { accept: 'multipart/mixed' },
    });
    expect(res.status).toBe(200);
    for (const part of partsOf(res.headers['content-type'], res.body, 'multipart/mixed')) {
      await writeRevision(target, id, part, pulled);
    }
  }
  return pulled;
}

/** Writes one revision of an open_revs answer as CouchDB's replicator does. */
async function writeRevision(target: string, id: string, part: MultipartPart, pulled: Pulled): Promise<void> {
  const type = part.headers['content-type']!;
  if (type.startsWith('application/json')) {
    const doc = JSON.parse(part.body.toString('utf8')) as Doc;
    // A JSON part of a revision that has attachments would hold stubs: the target cannot take those.
    expect(doc._attachments, `${id} ${doc._rev} came without its attachments' bytes`).toBeUndefined();
    expect(await post(`/${target}/_bulk_docs`, { docs: [doc], new_edits: false })).toEqual([]);
    return;
  }
  const [json, ...files] = partsOf(type, part.body, 'multipart/related');
  const doc = JSON.parse(json!.body.toString('utf8')) as Doc;
  const atts = Object.entries(doc._attachments as Record<string, Att>);
  expect(files).toHaveLength(atts.length);
  atts.forEach(([name, att], i) => {
    const bytes = files[i]!.body;
    pulled.attachments.push({ id, name, att, bytes });
  });
  const put = await raw(t.url, `/${target}/${encodeURIComponent(id)}?new_edits=false`, {
    method: 'PUT',
    headers: { 'content-type': type },
    body: part.body,
  });
  expect(put.status, put.text).toBe(201);
}

function partsOf(contentType: string | undefined, body: Buffer, type: string): MultipartPart[] {
  expect(contentType).toMatch(new RegExp(`^${type};`));
  return parseMultipart(body, multipartBoundary(contentType)!);
}

/** Every leaf of every document, with its attachments' data: what two replicas must agree on. */
async function everyLeaf(db: string): Promise<Json> {
  const leaves: Json = {};
  for (const id of ['pic', 'fork', 'plain']) {
    const res = await t.fetch(`/${db}/${id}?open_revs=all&revs=true&attachments=true`);
    const found = (await res.json()) as { ok: Doc }[];
    leaves[id] = found.map((r) => r.ok).sort((a, b) => a._rev.localeCompare(b._rev));
  }
  return leaves;
}

function expectEveryAttachmentFollowed(pulled: Pulled): void {
  expect(pulled.attachments.length).toBeGreaterThan(0);
  for (const { id, name, att, bytes } of pulled.attachments) {
    const label = `${id}/${name}`;
    expect(att.follows, label).toBe(true);
    expect(att, label).not.toHaveProperty('stub');
    expect(att, label).not.toHaveProperty('data');
    expect(att.length, label).toBe(bytes.length);
    expect(att.digest, label).toBe(md5(bytes));
    expect(ORIGINALS.get(att.digest), label).toEqual(bytes);
  }
}

describe("CouchDB's replicator pulling attachments from Settee", () => {
  it('gets every attachment with its bytes following, and writes the target without a missing stub', async () => {
    const [source, target] = [await freshDb(), await freshDb()];
    await seedSource(source);
    const pulled = await couchdbPull(source, target);
    // Nothing on the target yet: no possible ancestors, so no atts_since.
    expect(pulled.openRevsQueries.every((query) => !query.includes('atts_since'))).toBe(true);
    expectEveryAttachmentFollowed(pulled);
    // pic's leaf (a.bin edited, b.txt) and fork's live leaf (c.bin).
    expect(pulled.attachments.map(({ id, name }) => `${id}/${name}`).sort()).toEqual([
      'fork/c.bin',
      'pic/a.bin',
      'pic/b.txt',
    ]);
    expect(await everyLeaf(target)).toEqual(await everyLeaf(source));
    const fork = (await everyLeaf(target)).fork as Doc[];
    expect(fork.map((doc) => doc._deleted ?? false)).toEqual([false, true]);
  });

  it('still sends every byte when atts_since names an ancestor the target holds', async () => {
    const [source, target] = [await freshDb(), await freshDb()];
    const put = (db: string, id: string, body: Json) =>
      t
        .fetch(`/${db}/${id}`, { method: 'PUT', body: JSON.stringify(body) })
        .then((r) => r.json() as Promise<Json>);
    const r1 = await put(source, 'pic', { n: 1, _attachments: { 'a.bin': attachment(BINARY) } });
    await couchdbPull(source, target);
    const r2 = await put(source, 'pic', {
      _rev: r1.rev,
      n: 2,
      _attachments: {
        'a.bin': { stub: true, content_type: 'application/octet-stream' },
        'b.txt': attachment(TEXT, 'text/plain'),
      },
    });
    // a.bin unchanged since 1 (the target holds it), b.txt edited at 3.
    const r3 = await put(source, 'pic', {
      _rev: r2.rev,
      n: 3,
      _attachments: {
        'a.bin': { stub: true, content_type: 'application/octet-stream' },
        'b.txt': attachment(EDITED),
      },
    });
    await put(source, 'plain', { n: 1 });
    await put(source, 'fork', { n: 1 });

    const pulled = await couchdbPull(source, target);
    expect(pulled.openRevsQueries).toEqual([
      `?revs=true&open_revs=${q([r3.rev])}&latest=true&atts_since=${q([r1.rev])}`,
    ]);
    expectEveryAttachmentFollowed(pulled);
    expect(pulled.attachments.map(({ name, att }) => [name, att.revpos])).toEqual([
      ['a.bin', 1],
      ['b.txt', 3],
    ]);
    expect(await everyLeaf(target)).toEqual(await everyLeaf(source));
  });
});

describe("Settee's replicator reading a Settee server through open_revs", () => {
  it('copies every revision with its attachments when _bulk_get is not used', async () => {
    const source = await freshDb();
    await seedSource(source);
    const dir = makeTempDir();
    const local = await Database.open(`${dir}/target.sqlite`);
    try {
      const remote = new RemoteDatabase(`${t.url}/${source}`, {
        auth: { username: ADMIN.name, password: ADMIN.password },
        useBulkGet: false,
      });
      await replicate(remote, local).done;
      for (const id of ['pic', 'fork', 'plain']) {
        const ours = await local.getOpenRevs(id, 'all', { revs: true, attachments: true });
        const theirs = await remote.bulkGet({ docs: [{ id }] }, { revs: true, attachments: true });
        const sort = (docs: Doc[]) => docs.sort((a, b) => a._rev.localeCompare(b._rev));
        const expected = theirs.results[0]!.docs.flatMap((found) => ('ok' in found ? [found.ok] : []));
        expect(sort(ours.flatMap((found) => ('ok' in found ? [found.ok] : []))), id).toEqual(sort(expected));
      }
    } finally {
      await local.close();
      removeDir(dir);
    }
  });
});
