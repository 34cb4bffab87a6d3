import { randomBytes } from 'node:crypto';
import BetterSqlite3 from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import type { Attachment, Doc } from '../../src/core/api.js';
import type { Database } from '../../src/database/database.js';
import {
  b64,
  errorsOf,
  expectError,
  genOf,
  hashOf,
  md5Digest,
  replicated,
  rev,
  useTempDatabases,
} from './helpers.js';

const dbs = useTempDatabases();

/** Random bytes with runs of zeros in them (and a zero at both ends). */
function binary(size: number): Uint8Array {
  const bytes = new Uint8Array(randomBytes(size));
  bytes.fill(0, size / 4, size / 4 + 100);
  bytes[0] = 0;
  bytes[size - 1] = 0;
  return bytes;
}

const inline = (data: string | Uint8Array, content_type = 'text/plain') => ({
  content_type,
  data: b64(data),
});

/** How many attachment blobs the database file holds (read after closing it). */
async function blobCount(db: Database, file: string): Promise<number> {
  return readClosed(
    db,
    file,
    (raw) => raw.prepare('SELECT COUNT(*) FROM attachments').pluck().get() as number,
  );
}

/** Whether the database file holds the blob of `digest` (read after closing it). */
async function holdsBlob(db: Database, file: string, digest: string): Promise<boolean> {
  return readClosed(
    db,
    file,
    (raw) => raw.prepare('SELECT 1 FROM attachments WHERE digest = ?').get(digest) !== undefined,
  );
}

async function readClosed<T>(
  db: Database,
  file: string,
  read: (raw: BetterSqlite3.Database) => T,
): Promise<T> {
  await db.close();
  const raw = new BetterSqlite3(file, { readonly: true });
  try {
    return read(raw);
  } finally {
    raw.close();
  }
}

describe('writing and reading attachments', () => {
  it('inline base64 in, stubs out with digest, length, revpos and content_type', async () => {
    const db = await dbs.open();
    const result = await db.put({
      _id: 'a',
      title: 't',
      _attachments: { 'hello.txt': inline('hello world') },
    });
    const doc = await db.get('a');
    expect(doc).toEqual({
      _id: 'a',
      _rev: result.rev,
      title: 't',
      _attachments: {
        'hello.txt': {
          content_type: 'text/plain',
          digest: md5Digest('hello world'),
          length: 11,
          revpos: 1,
          stub: true,
        },
      },
    });
  });

  it('a client-sent digest and length on inline data are ignored; the type defaults to octet-stream', async () => {
    const db = await dbs.open();
    await db.put({
      _id: 'a',
      _attachments: { f: { data: b64('abc'), digest: 'md5-bogus', length: 99 } },
    });
    const att = (await db.get('a'))._attachments!.f!;
    expect(att).toMatchObject({
      content_type: 'application/octet-stream',
      digest: md5Digest('abc'),
      length: 3,
    });
  });

  it('attachments: true inlines the data', async () => {
    const db = await dbs.open();
    const bytes = binary(1000);
    await db.put({
      _id: 'a',
      _attachments: { 'x.bin': inline(bytes, 'application/octet-stream'), 't.txt': inline('t') },
    });
    const doc = await db.get('a', { attachments: true });
    const x = doc._attachments!['x.bin']!;
    expect(x).toMatchObject({
      content_type: 'application/octet-stream',
      digest: md5Digest(bytes),
      revpos: 1,
    });
    expect(x.stub).toBeUndefined();
    expect(Buffer.from(x.data!, 'base64').equals(Buffer.from(bytes))).toBe(true);
    expect(doc._attachments!['t.txt']!.data).toBe(b64('t'));
  });

  it('getAttachment returns the exact bytes of binary data, zeros included', async () => {
    const db = await dbs.open();
    const bytes = binary(200_000);
    const empty = new Uint8Array(0);
    await db.put({
      _id: 'a',
      _attachments: { 'blob.bin': inline(bytes, 'application/x-thing'), 'empty.bin': inline(empty) },
    });
    const got = await db.getAttachment('a', 'blob.bin');
    expect(got.contentType).toBe('application/x-thing');
    expect(got.digest).toBe(md5Digest(bytes));
    expect(got.data.length).toBe(bytes.length);
    expect(Buffer.from(got.data).equals(Buffer.from(bytes))).toBe(true);
    const none = await db.getAttachment('a', 'empty.bin');
    expect(none.data.length).toBe(0);
    expect((await db.get('a'))._attachments!['empty.bin']).toMatchObject({
      length: 0,
      digest: md5Digest(empty),
    });
    await expectError(db.getAttachment('a', 'nope.bin'), 'not_found', 'Document is missing attachment');
    await expectError(db.getAttachment('zz', 'blob.bin'), 'not_found', 'missing');
  });

  it('several attachments per document, each with its own metadata', async () => {
    const db = await dbs.open();
    const names = ['a.txt', 'b.json', 'c/d.bin', 'ü.txt'];
    const data = names.map((name) => `content of ${name}`);
    await db.put({
      _id: 'multi',
      _attachments: Object.fromEntries(names.map((name, i) => [name, inline(data[i]!, `type/${i}`)])),
    });
    const stubs = (await db.get('multi'))._attachments!;
    expect(Object.keys(stubs).sort()).toEqual([...names].sort());
    for (const [i, name] of names.entries()) {
      expect(stubs[name]).toEqual({
        content_type: `type/${i}`,
        digest: md5Digest(data[i]!),
        length: Buffer.byteLength(data[i]!),
        revpos: 1,
        stub: true,
      });
      const got = await db.getAttachment('multi', name);
      expect(Buffer.from(got.data).toString()).toBe(data[i]);
    }
  });

  it('identical data is stored once, under one digest', async () => {
    const db = await dbs.open();
    const bytes = binary(5000);
    await db.put({ _id: 'a', _attachments: { one: inline(bytes), two: inline(bytes) } });
    await db.put({ _id: 'b', _attachments: { three: inline(bytes, 'image/png') } });
    const a = (await db.get('a'))._attachments!;
    const b = (await db.get('b'))._attachments!;
    expect(a.one!.digest).toBe(md5Digest(bytes));
    expect(a.two!.digest).toBe(a.one!.digest);
    expect(b.three!.digest).toBe(a.one!.digest);
    expect(await blobCount(db, dbs.pathOf(db))).toBe(1);
  });

  it('a document without _attachments in an update drops them; stubs carry them with their revpos', async () => {
    const db = await dbs.open();
    const first = await db.put({ _id: 'a', v: 1, _attachments: { 'f.txt': inline('f') } });
    const read = await db.get('a');
    const second = await db.put({ ...read, v: 2 });
    const third = await db.put({ ...(await db.get('a')), v: 3 });
    expect(genOf(third.rev)).toBe(3);
    const kept = (await db.get('a'))._attachments!['f.txt']!;
    expect(kept).toEqual({ ...read._attachments!['f.txt'], revpos: 1 });
    // An attachment added later has the revpos of its own revision.
    const withNew = await db.put({
      ...(await db.get('a')),
      _attachments: { ...(await db.get('a'))._attachments, 'g.txt': inline('g') },
    });
    const atts = (await db.get('a'))._attachments!;
    expect(atts['f.txt']!.revpos).toBe(1);
    expect(atts['g.txt']!.revpos).toBe(4);
    // Replacing data under the same name gives it the new revpos.
    await db.put({ ...(await db.get('a')), _attachments: { 'f.txt': inline('F'), 'g.txt': atts['g.txt'] } });
    const replaced = (await db.get('a'))._attachments!;
    expect(replaced['f.txt']).toMatchObject({ revpos: 5, digest: md5Digest('F') });
    expect(replaced['g.txt']!.revpos).toBe(4);
    // Without _attachments, the new revision has none; older revisions keep theirs.
    const bare = await db.put({ _id: 'a', _rev: (await db.get('a'))._rev, v: 'bare' });
    expect((await db.get('a'))._attachments).toBeUndefined();
    expect((await db.get('a', { rev: second.rev }))._attachments!['f.txt']!.revpos).toBe(1);
    expect(genOf(bare.rev)).toBe(6);
    expect(first.rev).not.toBe(second.rev);
    expect(withNew.rev).toMatch(/^4-/);
  });

  it('a stub for an unknown name, or with a wrong revpos, is 412 missing_stub', async () => {
    const db = await dbs.open();
    const first = await db.put({ _id: 'a', _attachments: { 'f.txt': inline('f') } });
    const stub = (await db.get('a'))._attachments!['f.txt']!;
    const error = await expectError(
      db.put({ _id: 'a', _rev: first.rev, _attachments: { 'other.txt': stub } }),
      'missing_stub',
      'Invalid attachment stub in a for other.txt',
    );
    expect(error.status).toBe(412);
    await expectError(
      db.put({ _id: 'a', _rev: first.rev, _attachments: { 'f.txt': { ...stub, revpos: 7 } } }),
      'missing_stub',
    );
    // A stub on a new document has no previous revision to refer to.
    await expectError(db.put({ _id: 'new', _attachments: { 'f.txt': { stub: true } } }), 'missing_stub');
    const [entry] = await db.bulkDocs([
      { _id: 'a', _rev: first.rev, _attachments: { nope: { stub: true } } },
    ]);
    expect(entry).toMatchObject({ id: 'a', error: 'missing_stub' });
    expect((await db.info()).update_seq).toBe(1);
  });

  it('bad base64 is a bad_request and writes nothing', async () => {
    const db = await dbs.open();
    for (const data of ['not base64!', 'abc', '====', 'YW=Jj']) {
      await expectError(
        db.put({ _id: 'a', _attachments: { f: { content_type: 'text/plain', data } } }),
        'bad_request',
      );
    }
    expect((await db.info()).update_seq).toBe(0);
    // Whitespace inside base64 (MIME line wrapping) is tolerated.
    await db.put({ _id: 'a', _attachments: { f: { content_type: 'text/plain', data: 'aGVs\nbG8=' } } });
    expect(Buffer.from((await db.getAttachment('a', 'f')).data).toString()).toBe('hello');
  });

  it('attachments change the revision id, deterministically', async () => {
    const one = await dbs.open();
    const two = await dbs.open();
    const plain = await one.put({ _id: 'a' });
    const withAtt = await two.put({ _id: 'a', _attachments: { f: inline('x') } });
    expect(withAtt.rev).not.toBe(plain.rev);
    const same = await one.put({ _id: 'b', _attachments: { f: inline('x') } });
    expect(hashOf(same.rev)).toBe(hashOf(withAtt.rev));
    const otherType = await one.put({ _id: 'c', _attachments: { f: inline('x', 'text/html') } });
    expect(otherType.rev).not.toBe(withAtt.rev);
  });
});

describe('atts_since', () => {
  /** `a`: f.txt at revpos 1, a plain edit (2), g.txt added at revpos 3. */
  async function threeRevs() {
    const db = await dbs.open();
    const r1 = await db.put({ _id: 'a', _attachments: { 'f.txt': inline('f') } });
    const r2 = await db.put({ ...(await db.get('a')), v: 2 });
    const current = await db.get('a');
    const r3 = await db.put({ ...current, _attachments: { ...current._attachments, 'g.txt': inline('g') } });
    return { db, revs: [r1.rev, r2.rev, r3.rev] as const };
  }

  const kinds = (atts: Record<string, Attachment>) =>
    Object.fromEntries(Object.entries(atts).map(([name, att]) => [name, att.stub ? 'stub' : att.data]));

  it('inlines only attachments newer than the newest listed ancestor', async () => {
    const { db, revs } = await threeRevs();
    const since2 = await db.get('a', { atts_since: [revs[1]] });
    expect(kinds(since2._attachments!)).toEqual({ 'f.txt': 'stub', 'g.txt': b64('g') });
    const since1 = await db.get('a', { atts_since: [revs[0]] });
    expect(kinds(since1._attachments!)).toEqual({ 'f.txt': 'stub', 'g.txt': b64('g') });
    const since3 = await db.get('a', { atts_since: [revs[2]] });
    expect(kinds(since3._attachments!)).toEqual({ 'f.txt': 'stub', 'g.txt': 'stub' });
    // The newest of several listed revisions counts.
    const several = await db.get('a', { atts_since: [revs[0], revs[2]] });
    expect(kinds(several._attachments!)).toEqual({ 'f.txt': 'stub', 'g.txt': 'stub' });
  });

  it('revisions not on the path (or unknown) count for nothing: everything is inlined', async () => {
    const { db } = await threeRevs();
    const unknown = await db.get('a', { atts_since: [rev(2, 'f'), 'garbage'] });
    expect(kinds(unknown._attachments!)).toEqual({ 'f.txt': b64('f'), 'g.txt': b64('g') });
  });

  it('works on an older revision and through bulkGet', async () => {
    const { db, revs } = await threeRevs();
    const old = await db.get('a', { rev: revs[1], atts_since: [revs[0]] });
    expect(kinds(old._attachments!)).toEqual({ 'f.txt': 'stub' });
    const response = await db.bulkGet({ docs: [{ id: 'a', rev: revs[2], atts_since: [revs[1]] }] });
    const doc = (response.results[0]!.docs[0] as { ok: Doc }).ok;
    expect(kinds(doc._attachments!)).toEqual({ 'f.txt': 'stub', 'g.txt': b64('g') });
  });
});

describe('putAttachment and removeAttachment', () => {
  it('add, replace and remove one attachment, each a new revision', async () => {
    const db = await dbs.open();
    const created = await db.putAttachment('a', 'f.txt', undefined, Buffer.from('one'), 'text/plain');
    expect(genOf(created.rev)).toBe(1);
    expect((await db.get('a'))._attachments!['f.txt']).toMatchObject({ revpos: 1, length: 3 });

    await db.put({ ...(await db.get('a')), field: 'kept' });
    const added = await db.putAttachment(
      'a',
      'g.bin',
      (await db.get('a'))._rev,
      new Uint8Array([0, 0, 7]),
      'application/x',
    );
    expect(genOf(added.rev)).toBe(3);
    let doc = await db.get('a');
    expect(doc.field).toBe('kept');
    expect(doc._attachments!['f.txt']!.revpos).toBe(1);
    expect(doc._attachments!['g.bin']).toMatchObject({ revpos: 3, length: 3, content_type: 'application/x' });
    expect([...(await db.getAttachment('a', 'g.bin')).data]).toEqual([0, 0, 7]);

    const replaced = await db.putAttachment('a', 'f.txt', added.rev, Buffer.from('two'), 'text/markdown');
    const got = await db.getAttachment('a', 'f.txt');
    expect(Buffer.from(got.data).toString()).toBe('two');
    expect(got.contentType).toBe('text/markdown');
    // The old revision still reads the old bytes.
    expect(Buffer.from((await db.getAttachment('a', 'f.txt', { rev: added.rev })).data).toString()).toBe(
      'one',
    );

    const removed = await db.removeAttachment('a', 'f.txt', replaced.rev);
    expect(genOf(removed.rev)).toBe(5);
    doc = await db.get('a');
    expect(Object.keys(doc._attachments!)).toEqual(['g.bin']);
    await expectError(db.getAttachment('a', 'f.txt'), 'not_found', 'Document is missing attachment');
    await expectError(db.removeAttachment('a', 'f.txt', removed.rev), 'not_found');
  });

  it('a stale revision is a conflict; no revision on an existing document too', async () => {
    const db = await dbs.open();
    const first = await db.putAttachment('a', 'f', undefined, Buffer.from('1'), 'text/plain');
    await db.putAttachment('a', 'f', first.rev, Buffer.from('2'), 'text/plain');
    await expectError(db.putAttachment('a', 'f', first.rev, Buffer.from('3'), 'text/plain'), 'conflict');
    await expectError(db.putAttachment('a', 'f', undefined, Buffer.from('3'), 'text/plain'), 'conflict');
    await expectError(db.removeAttachment('a', 'f', first.rev), 'conflict');
  });
});

describe('attachments in replication reads and writes', () => {
  it('bulkGet with attachments: true inlines data; without, stubs', async () => {
    const db = await dbs.open();
    const bytes = binary(3000);
    const written = await db.put({ _id: 'a', _attachments: { 'x.bin': inline(bytes, 'application/x') } });
    const withData = await db.bulkGet(
      { docs: [{ id: 'a', rev: written.rev }] },
      { attachments: true, revs: true },
    );
    const doc = (withData.results[0]!.docs[0] as { ok: Doc }).ok;
    expect(Buffer.from(doc._attachments!['x.bin']!.data!, 'base64').equals(Buffer.from(bytes))).toBe(true);
    const stubs = await db.bulkGet({ docs: [{ id: 'a' }] });
    expect((stubs.results[0]!.docs[0] as { ok: Doc }).ok._attachments!['x.bin']!.stub).toBe(true);
  });

  it('changes with include_docs and attachments inlines data', async () => {
    const db = await dbs.open();
    await db.put({ _id: 'a', _attachments: { f: inline('data') } });
    const changes = await db.changes({ include_docs: true, attachments: true });
    expect(changes.results[0]!.doc!._attachments!.f!.data).toBe(b64('data'));
    const stubbed = await db.changes({ include_docs: true });
    expect(stubbed.results[0]!.doc!._attachments!.f!.stub).toBe(true);
  });

  it('a replicated write keeps the sender revpos of inline data', async () => {
    const db = await dbs.open();
    const doc = replicated('a', [rev(3, 'c'), rev(2, 'b'), rev(1, 'a')], {
      _attachments: { f: { content_type: 'text/plain', data: b64('f'), revpos: 1 } },
    });
    expect(errorsOf(await db.bulkDocs([doc], { newEdits: false }))).toEqual([]);
    expect((await db.get('a'))._attachments!.f).toMatchObject({ revpos: 1, digest: md5Digest('f') });
  });

  it('a replicated write resolves stubs against the nearest ancestor it holds', async () => {
    const source = await dbs.open();
    const target = await dbs.open();
    const bytes = binary(4000);
    const r1 = await source.put({ _id: 'a', _attachments: { 'big.bin': inline(bytes, 'application/x') } });
    const first = await source.get('a', { revs: true, attachments: true });
    expect(errorsOf(await target.bulkDocs([first], { newEdits: false }))).toEqual([]);

    const r2 = await source.put({ ...(await source.get('a')), v: 2 });
    const r3 = await source.put({ ...(await source.get('a')), v: 3 });
    // The target is asked for what it misses; it holds r1, so big.bin travels as a stub.
    const diff = await target.revsDiff({ a: [r3.rev] });
    expect(diff.a).toEqual({ missing: [r3.rev], possible_ancestors: [r1.rev] });
    const got = await source.bulkGet(
      { docs: [{ id: 'a', rev: r3.rev, atts_since: diff.a!.possible_ancestors! }] },
      { revs: true },
    );
    const doc = (got.results[0]!.docs[0] as { ok: Doc }).ok;
    expect(doc._attachments!['big.bin']!.stub).toBe(true);
    expect(doc._revisions!.ids).toHaveLength(3);
    expect(errorsOf(await target.bulkDocs([doc], { newEdits: false }))).toEqual([]);

    const copy = await target.getAttachment('a', 'big.bin');
    expect(Buffer.from(copy.data).equals(Buffer.from(bytes))).toBe(true);
    expect((await target.get('a'))._attachments!['big.bin']).toEqual(
      (await source.get('a'))._attachments!['big.bin'],
    );
    expect(r2.rev).not.toBe(r3.rev);
  });

  it('a replicated stub with no ancestor held is missing_stub', async () => {
    const db = await dbs.open();
    const doc = replicated('a', [rev(2, 'b'), rev(1, 'a')], {
      _attachments: { f: { content_type: 'text/plain', stub: true, revpos: 1, digest: md5Digest('f') } },
    });
    const results = await db.bulkDocs([doc, replicated('ok', [rev(1, 'a')])], { newEdits: false });
    expect(results[0]).toMatchObject({ id: 'a', error: 'missing_stub' });
    expect(errorsOf(results)).toHaveLength(1);
    await expectError(db.get('a'), 'not_found', 'missing');
    expect((await db.get('ok'))._rev).toBe(rev(1, 'a'));
  });

  it('a replicated stub against an ancestor that lacks that name is missing_stub', async () => {
    const db = await dbs.open();
    expect(
      errorsOf(await db.bulkDocs([replicated('a', [rev(1, 'a')], { v: 1 })], { newEdits: false })),
    ).toEqual([]);
    const doc = replicated('a', [rev(2, 'b'), rev(1, 'a')], {
      _attachments: { f: { content_type: 'text/plain', stub: true, revpos: 1 } },
    });
    const [result] = await db.bulkDocs([doc], { newEdits: false });
    expect(result).toMatchObject({ error: 'missing_stub', reason: 'Invalid attachment stub in a for f' });
  });
});

describe('compaction', () => {
  it('drops bodies of non-leaf revisions but keeps the tree', async () => {
    const db = await dbs.open();
    const r1 = await db.put({ _id: 'a', v: 1 });
    const r2 = await db.put({ _id: 'a', _rev: r1.rev, v: 2 });
    const r3 = await db.put({ _id: 'a', _rev: r2.rev, v: 3 });
    expect(await db.get('a', { rev: r1.rev })).toMatchObject({ v: 1 });
    await db.compact();
    await expectError(db.get('a', { rev: r1.rev }), 'not_found', 'missing');
    await expectError(db.get('a', { rev: r2.rev }), 'not_found', 'missing');
    const doc = await db.get('a', { revs: true });
    expect(doc).toMatchObject({ _rev: r3.rev, v: 3 });
    expect(doc._revisions).toEqual({ start: 3, ids: [r3.rev, r2.rev, r1.rev].map(hashOf) });
    expect(await db.revsDiff({ a: [r1.rev, r2.rev, r3.rev] })).toEqual({});
    // Editing continues normally after compaction.
    const r4 = await db.put({ _id: 'a', _rev: r3.rev, v: 4 });
    expect(genOf(r4.rev)).toBe(4);
    await expectError(db.get('a', { rev: r2.rev }), 'not_found', 'missing');
  });

  it('keeps the bodies of every leaf, deleted and conflicting ones included', async () => {
    const db = await dbs.open();
    await db.bulkDocs(
      [
        replicated('a', [rev(2, 'a'), rev(1, '1')], { v: 'a' }),
        replicated('a', [rev(2, 'b'), rev(1, '1')], { v: 'b' }),
        { ...replicated('a', [rev(3, 'c'), rev(2, 'c'), rev(1, '1')]), _deleted: true },
      ],
      { newEdits: false },
    );
    await db.compact();
    expect(await db.get('a', { rev: rev(2, 'a') })).toMatchObject({ v: 'a' });
    expect(await db.get('a', { rev: rev(2, 'b') })).toMatchObject({ v: 'b' });
    expect(await db.get('a', { rev: rev(3, 'c') })).toMatchObject({ _deleted: true });
  });

  it('keeps attachments of leaves and drops unreferenced ones', async () => {
    const db = await dbs.open();
    const oldBytes = binary(2000);
    const keptBytes = binary(2000);
    const conflictBytes = binary(2000);
    const r1 = await db.put({ _id: 'a', _attachments: { f: inline(oldBytes), k: inline(keptBytes) } });
    const current = await db.get('a');
    const r2 = await db.put({ ...current, _attachments: { f: inline('new'), k: current._attachments!.k } });
    // A conflicting leaf (replicated) holding its own attachment.
    await db.bulkDocs(
      [
        replicated('b', [rev(1, 'b')], {
          _attachments: { c: { content_type: 'x/y', data: b64(conflictBytes) } },
        }),
      ],
      { newEdits: false },
    );
    await db.bulkDocs([replicated('b', [rev(1, '0')], { v: 'other branch' })], { newEdits: false });

    expect(
      Buffer.from((await db.getAttachment('a', 'f', { rev: r1.rev })).data).equals(Buffer.from(oldBytes)),
    ).toBe(true);
    await db.compact();

    await expectError(db.getAttachment('a', 'f', { rev: r1.rev }), 'not_found');
    expect(Buffer.from((await db.getAttachment('a', 'k')).data).equals(Buffer.from(keptBytes))).toBe(true);
    expect(Buffer.from((await db.getAttachment('a', 'f')).data).toString()).toBe('new');
    const conflict = await db.getAttachment('b', 'c', { rev: rev(1, 'b') });
    expect(Buffer.from(conflict.data).equals(Buffer.from(conflictBytes))).toBe(true);
    expect((await db.get('a', { attachments: true }))._attachments!.k!.data).toBe(b64(keptBytes));
    expect(genOf(r2.rev)).toBe(2);
    expect(await holdsBlob(db, dbs.pathOf(db), md5Digest(oldBytes))).toBe(false);
  });

  it('keeps compacted state across close and reopen', async () => {
    const db = await dbs.open();
    const r1 = await db.put({ _id: 'a', v: 1, _attachments: { f: inline('old') } });
    await db.put({ _id: 'a', _rev: r1.rev, v: 2 });
    await db.compact();
    const reopened = await dbs.reopen(db);
    await expectError(reopened.get('a', { rev: r1.rev }), 'not_found', 'missing');
    expect((await reopened.get('a', { revs_info: true }))._revs_info).toEqual([
      { rev: (await reopened.get('a'))._rev, status: 'available' },
      { rev: r1.rev, status: 'missing' },
    ]);
    expect(await holdsBlob(reopened, dbs.pathOf(reopened), md5Digest('old'))).toBe(false);
  });
});
