/**
 * The Peer conformance suite: what the replicator relies on from either end, run by every Peer
 * (a local Database, a RemoteDatabase over a real server). `runPeerTests(makePeer)` registers
 * the tests; `makePeer` gives each test a new, empty, existing database.
 *
 * CouchDB facts the cases hold to: /work/shared/protocol.md §2 (changes, revs_diff, bulk_get,
 * bulk_docs, local documents), and apache/couchdb src/couch/src/couch_doc.erl
 * `transfer_fields`, where `_revisions` decides the revision of a replicated write and `_rev`
 * counts only without it ("we already got the rev from the _revisions").
 */
import { describe, expect, it } from 'vitest';
import type { BulkGetDoc, Doc, NewDoc, Peer } from '../../src/core/api.js';
import { SetteeError } from '../../src/core/errors.js';

/** A revision id of generation `gen` whose hash is `c` repeated. */
export const rev = (gen: number, c: string) => `${gen}-${c.repeat(32)}`;
const hash = (c: string) => c.repeat(32);
/** "hello" in base64, and its digest as CouchDB gives it. */
const HELLO = { data: 'aGVsbG8=', digest: 'md5-XUFAKrxLKna5cZ2REBfFkg==' };

/**
 * The fixture, written with new_edits=false: `a` in conflict (live leaves 2-b, 2-c and a
 * deleted branch ending in 3-d, all from 1-a), `gone` deleted, `plain` with an attachment.
 */
const FIXTURE: NewDoc[] = [
  { _id: 'a', _rev: rev(2, 'b'), _revisions: { start: 2, ids: [hash('b'), hash('a')] }, v: 'b' },
  { _id: 'a', _rev: rev(2, 'c'), _revisions: { start: 2, ids: [hash('c'), hash('a')] }, v: 'c' },
  {
    _id: 'a',
    _rev: rev(3, 'd'),
    _deleted: true,
    _revisions: { start: 3, ids: [hash('d'), hash('e'), hash('a')] },
  },
  { _id: 'gone', _rev: rev(1, 'd'), _deleted: true },
  {
    _id: 'plain',
    _rev: rev(1, 'e'),
    v: 'e',
    _attachments: { 'hello.txt': { content_type: 'text/plain', data: HELLO.data } },
  },
];

async function seeded(makePeer: () => Promise<Peer>): Promise<Peer> {
  const peer = await makePeer();
  const results = await peer.bulkDocs(FIXTURE, { newEdits: false });
  expect(results.every((result) => 'ok' in result)).toBe(true);
  return peer;
}

function okDocs(found: BulkGetDoc[]): Doc[] {
  return found.map((doc) => {
    if (!('ok' in doc)) throw new Error(`expected a document, got ${JSON.stringify(doc)}`);
    return doc.ok;
  });
}

/** A thrown SetteeError with this CouchDB name and status (the reason's wording may differ). */
async function expectError(call: Promise<unknown>, error: string, status: number): Promise<void> {
  const thrown = await call.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(thrown).toBeInstanceOf(SetteeError);
  expect(thrown).toMatchObject({ error, status });
}

export function runPeerTests(makePeer: () => Promise<Peer>): void {
  describe('info and identity', () => {
    it('counts live and deleted documents and the update sequence; its identity stays', async () => {
      const peer = await makePeer();
      const empty = await peer.info();
      expect(empty).toMatchObject({ doc_count: 0, doc_del_count: 0, update_seq: 0 });
      expect(typeof empty.instance_start_time).toBe('string');
      expect(typeof empty.db_name).toBe('string');
      const id = await peer.peerId();
      expect(id).toEqual(expect.any(String));

      await peer.bulkDocs(FIXTURE, { newEdits: false });
      const info = await peer.info();
      // `a` and `plain` live, `gone` deleted; one sequence per document written.
      expect(info).toMatchObject({ doc_count: 2, doc_del_count: 1, update_seq: 3 });
      expect(info.instance_start_time).toBe(empty.instance_start_time);
      expect(await peer.peerId()).toBe(id);
    });

    it('ensureExists on an existing database changes nothing', async () => {
      const peer = await seeded(makePeer);
      await peer.ensureExists();
      expect(await peer.info()).toMatchObject({ doc_count: 2, update_seq: 3 });
    });
  });

  describe('changes', () => {
    it('one row per document in sequence order, the winner only by default, deleted ones marked', async () => {
      const peer = await seeded(makePeer);
      const { results, last_seq, pending } = await peer.changes({ since: 0 });
      expect(results.map((row) => row.id)).toEqual(['a', 'gone', 'plain']);
      expect(results.map((row) => row.seq)).toEqual([1, 2, 3]);
      expect(last_seq).toBe(3);
      expect(pending ?? 0).toBe(0);
      // The winner of `a`: live beats deleted, then the highest hash among equal generations.
      expect(results[0]!.changes).toEqual([{ rev: rev(2, 'c') }]);
      expect(results[1]).toMatchObject({ deleted: true, changes: [{ rev: rev(1, 'd') }] });
      expect(results[2]!.deleted).toBeFalsy();
    });

    it('style=all_docs lists every leaf, deleted ones too, the winner first', async () => {
      const peer = await seeded(makePeer);
      const { results } = await peer.changes({ since: 0, style: 'all_docs' });
      const leaves = results[0]!.changes.map((change) => change.rev);
      expect(leaves[0]).toBe(rev(2, 'c'));
      expect([...leaves].sort()).toEqual([rev(2, 'b'), rev(2, 'c'), rev(3, 'd')]);
    });

    it('since and limit page through the feed; pending counts the rest', async () => {
      const peer = await seeded(makePeer);
      const first = await peer.changes({ since: 0, limit: 2 });
      expect(first.results.map((row) => row.id)).toEqual(['a', 'gone']);
      expect(first.last_seq).toBe(2);
      expect(first.pending).toBe(1);
      const rest = await peer.changes({ since: first.last_seq, limit: 2 });
      expect(rest.results.map((row) => row.id)).toEqual(['plain']);
      const after = await peer.changes({ since: rest.last_seq });
      expect(after).toMatchObject({ results: [], last_seq: 3 });
    });

    it('an update moves its document to the end of the feed, once', async () => {
      const peer = await seeded(makePeer);
      await peer.bulkDocs(
        [{ _id: 'gone', _rev: rev(2, 'f'), _revisions: { start: 2, ids: [hash('f'), hash('d')] }, back: 1 }],
        { newEdits: false },
      );
      const { results, last_seq } = await peer.changes({ since: 0 });
      expect(results.map((row) => [row.id, row.seq])).toEqual([
        ['a', 1],
        ['plain', 3],
        ['gone', 4],
      ]);
      expect(results[2]!.deleted).toBeFalsy();
      expect(last_seq).toBe(4);
      expect((await peer.changes({ since: 3 })).results.map((row) => row.id)).toEqual(['gone']);
    });

    it('filtered by doc_ids', async () => {
      const peer = await seeded(makePeer);
      const { results } = await peer.changes({ since: 0, doc_ids: ['plain', 'nowhere', 'gone'] });
      expect(results.map((row) => row.id)).toEqual(['gone', 'plain']);
    });
  });

  describe('revsDiff', () => {
    it('lists what is missing and the leaves it may descend from; known revisions are left out', async () => {
      const peer = await seeded(makePeer);
      const diff = await peer.revsDiff({
        a: [rev(1, 'a'), rev(2, 'b'), rev(4, 'g')],
        plain: [rev(1, 'e')],
        nowhere: [rev(1, 'z')],
      });
      // 1-a is an ancestor the peer holds, 2-b a leaf: neither is missing.
      expect(diff.a!.missing).toEqual([rev(4, 'g')]);
      // Possible ancestors: the leaves of a lower generation than a missing revision (protocol.md §2.6).
      expect([...diff.a!.possible_ancestors!].sort()).toEqual([rev(2, 'b'), rev(2, 'c'), rev(3, 'd')]);
      expect(diff.plain).toBeUndefined();
      expect(diff.nowhere).toEqual({ missing: [rev(1, 'z')] });
      expect(await peer.revsDiff({})).toEqual({});
    });
  });

  describe('bulkGet', () => {
    it('one result per entry, in order; a revision it lacks is a not_found error', async () => {
      const peer = await seeded(makePeer);
      const { results } = await peer.bulkGet({
        docs: [
          { id: 'a', rev: rev(2, 'b') },
          { id: 'a', rev: rev(9, 'z') },
          { id: 'nowhere', rev: rev(1, 'a') },
        ],
      });
      expect(results.map((result) => result.id)).toEqual(['a', 'a', 'nowhere']);
      expect(okDocs(results[0]!.docs)).toEqual([{ _id: 'a', _rev: rev(2, 'b'), v: 'b' }]);
      expect(results[1]!.docs).toEqual([
        { error: { id: 'a', rev: rev(9, 'z'), error: 'not_found', reason: 'missing' } },
      ]);
      expect(results[2]!.docs).toEqual([
        { error: { id: 'nowhere', rev: rev(1, 'a'), error: 'not_found', reason: 'missing' } },
      ]);
    });

    it('revs gives the ancestry; latest replaces a revision that is no longer a leaf by its leaves', async () => {
      const peer = await seeded(makePeer);
      const { results } = await peer.bulkGet(
        {
          docs: [
            { id: 'a', rev: rev(1, 'a') },
            { id: 'gone', rev: rev(1, 'd') },
          ],
        },
        { revs: true, latest: true },
      );
      const leaves = okDocs(results[0]!.docs).sort((x, y) => x._rev.localeCompare(y._rev));
      expect(leaves).toEqual([
        { _id: 'a', _rev: rev(2, 'b'), v: 'b', _revisions: { start: 2, ids: [hash('b'), hash('a')] } },
        { _id: 'a', _rev: rev(2, 'c'), v: 'c', _revisions: { start: 2, ids: [hash('c'), hash('a')] } },
        {
          _id: 'a',
          _rev: rev(3, 'd'),
          _deleted: true,
          _revisions: { start: 3, ids: [hash('d'), hash('e'), hash('a')] },
        },
      ]);
      expect(okDocs(results[1]!.docs)).toEqual([
        { _id: 'gone', _rev: rev(1, 'd'), _deleted: true, _revisions: { start: 1, ids: [hash('d')] } },
      ]);
      // Without latest, an inner revision has no body to give.
      const inner = await peer.bulkGet({ docs: [{ id: 'a', rev: rev(1, 'a') }] });
      expect(inner.results[0]!.docs[0]).toMatchObject({ error: { error: 'not_found' } });
    });

    it('attachments: data when asked for, stubs otherwise, and stubs for those the asker has (atts_since)', async () => {
      const peer = await seeded(makePeer);
      const entry = { id: 'plain', rev: rev(1, 'e') };
      const stored = { content_type: 'text/plain', revpos: 1, digest: HELLO.digest };
      const [withData] = okDocs(
        (await peer.bulkGet({ docs: [entry] }, { attachments: true })).results[0]!.docs,
      );
      expect(withData!._attachments).toEqual({ 'hello.txt': { ...stored, data: HELLO.data } });
      const [stubs] = okDocs((await peer.bulkGet({ docs: [entry] })).results[0]!.docs);
      expect(stubs!._attachments).toEqual({ 'hello.txt': { ...stored, length: 5, stub: true } });
      // A child revision keeps hello.txt (as a stub) and adds bye.txt. Asked with its parent in
      // atts_since, only the attachment newer than the parent comes with data (apache/couchdb
      // src/couch/src/couch_db.erl apply_open_options2: data when revpos > the generation of the
      // first atts_since revision on the document's path).
      const stub = { stub: true, content_type: 'text/plain', digest: HELLO.digest, length: 5 };
      const child = {
        _id: 'plain',
        _rev: rev(2, 'f'),
        _revisions: { start: 2, ids: [hash('f'), hash('e')] },
        _attachments: { 'hello.txt': stub, 'bye.txt': { content_type: 'text/plain', data: HELLO.data } },
      };
      expect(await peer.bulkDocs([child], { newEdits: false })).toEqual([
        { ok: true, id: 'plain', rev: rev(2, 'f') },
      ]);
      const since = { id: 'plain', rev: rev(2, 'f'), atts_since: [rev(1, 'e')] };
      // The same with `attachments: true`, as replicators ask: the asker has hello.txt already.
      for (const options of [{}, { attachments: true }]) {
        const [newer] = okDocs((await peer.bulkGet({ docs: [since] }, options)).results[0]!.docs);
        expect(newer!._attachments!['hello.txt']).toMatchObject({ stub: true, revpos: 1 });
        expect(newer!._attachments!['bye.txt']).toMatchObject({ data: HELLO.data, revpos: 2 });
      }
    });
  });

  describe('bulkDocs with new_edits=false', () => {
    it('stores revisions as given: branches become conflicts, tombstones deletions; repeating changes nothing', async () => {
      const peer = await seeded(makePeer);
      const before = await peer.info();
      const again = await peer.bulkDocs(FIXTURE, { newEdits: false });
      expect(again).toEqual(FIXTURE.map((doc) => ({ ok: true, id: doc._id, rev: doc._rev })));
      expect(await peer.info()).toMatchObject({ update_seq: before.update_seq, doc_count: 2 });
      const diff = await peer.revsDiff({ a: FIXTURE.slice(0, 3).map((doc) => doc._rev as string) });
      expect(diff).toEqual({});
    });

    it('an attachment stub needs the attachment on the peer: missing_stub for that document only', async () => {
      const peer = await seeded(makePeer);
      const stub = { stub: true, content_type: 'text/plain', digest: HELLO.digest, length: 5 };
      const results = await peer.bulkDocs(
        [
          {
            _id: 'plain',
            _rev: rev(2, 'f'),
            _revisions: { start: 2, ids: [hash('f'), hash('e')] },
            _attachments: { 'hello.txt': stub },
          },
          { _id: 'stray', _rev: rev(1, 'f'), _attachments: { 'hello.txt': stub } },
        ],
        { newEdits: false },
      );
      expect(results[0]).toEqual({ ok: true, id: 'plain', rev: rev(2, 'f') });
      expect(results[1]).toMatchObject({ id: 'stray', error: 'missing_stub' });
      const [kept] = okDocs(
        (await peer.bulkGet({ docs: [{ id: 'plain', rev: rev(2, 'f') }] }, { attachments: true })).results[0]!
          .docs,
      );
      expect(kept!._attachments!['hello.txt']).toMatchObject({ data: HELLO.data, revpos: 1 });
    });

    it('_revisions decides the revision written, not a _rev that disagrees (couch_doc:transfer_fields)', async () => {
      const peer = await makePeer();
      const doc = { _id: 'x', _rev: rev(1, 'a'), _revisions: { start: 2, ids: [hash('b'), hash('a')] } };
      expect(await peer.bulkDocs([doc], { newEdits: false })).toEqual([
        { ok: true, id: 'x', rev: rev(2, 'b') },
      ]);
      const { results } = await peer.changes({ since: 0, style: 'all_docs' });
      expect(results[0]!.changes).toEqual([{ rev: rev(2, 'b') }]);
    });
  });

  describe('_local checkpoints', () => {
    it('read and written by id, 0-N revisions, outside the feed and the counts', async () => {
      const peer = await seeded(makePeer);
      expect(await peer.getLocal('_local/checkpoint')).toBeUndefined();
      expect(await peer.putLocal({ _id: '_local/checkpoint', last_seq: 3 })).toEqual({
        ok: true,
        id: '_local/checkpoint',
        rev: '0-1',
      });
      // As in CouchDB 3 a local write checks no revision (replicators must never see a 409).
      expect((await peer.putLocal({ _id: '_local/checkpoint', _rev: '0-1', last_seq: 4 })).rev).toBe('0-2');
      expect(await peer.getLocal('_local/checkpoint')).toEqual({
        _id: '_local/checkpoint',
        _rev: '0-2',
        last_seq: 4,
      });
      expect(await peer.info()).toMatchObject({ doc_count: 2, update_seq: 3 });
      expect((await peer.changes({ since: 3 })).results).toEqual([]);
    });

    it('only under _local/: another id names no local document', async () => {
      const peer = await seeded(makePeer);
      expect(await peer.getLocal('plain')).toBeUndefined();
      await expectError(peer.putLocal({ _id: 'checkpoint', last_seq: 1 }), 'bad_request', 400);
    });
  });

  describe('errors are typed (SetteeError, CouchDB name and status) and change nothing', () => {
    it('a malformed since', async () => {
      const peer = await makePeer();
      await expectError(peer.changes({ since: 'garbage' }), 'bad_request', 400);
    });

    it('a malformed revision in revsDiff', async () => {
      const peer = await makePeer();
      await expectError(peer.revsDiff({ a: ['not-a-rev'] }), 'bad_request', 400);
    });

    it('a replicated write without a revision, or with an illegal id', async () => {
      const peer = await makePeer();
      await expectError(peer.bulkDocs([{ _id: 'x' }], { newEdits: false }), 'bad_request', 400);
      await expectError(
        peer.bulkDocs([{ _id: '_x', _rev: rev(1, 'a') }], { newEdits: false }),
        'illegal_docid',
        400,
      );
      expect(await peer.info()).toMatchObject({ doc_count: 0, update_seq: 0 });
    });
  });
}
