import { describe, expect, it, vi } from 'vitest';
import type { Doc, Peer } from '../../src/core/api.js';
import { SetteeError } from '../../src/core/errors.js';
import type { Database } from '../../src/database/database.js';
import {
  type Replication,
  type ReplicationEvents,
  type ReplicationIdentity,
  type ReplicationOptions,
  replicate,
  replicationId,
  sync,
} from '../../src/replication/index.js';
import { RemoteDatabase } from '../../src/remote/index.js';
import {
  allIds,
  bytes,
  checkpointOn,
  dbState,
  docState,
  fill,
  fillOneByOne,
  peerOver,
  winnerOf,
} from './helpers.js';
import { AUTH, PAIRS, useSides } from './sides.js';

const sides = useSides();
const dbs = sides.local;

/** Replicates once and returns the result. */
async function once(source: Peer, target: Peer, options: ReplicationOptions = {}) {
  return replicate(source, target, options).done;
}

describe.each(PAIRS)('%s', (_name, sourceKind, targetKind) => {
  /** A source and a target of this pair's kinds. */
  const pair = async () => [await sides.open(sourceKind), await sides.open(targetKind)] as const;
  /** Replicates once between the databases' peers of this pair and returns the result. */
  const copy = (source: Database, target: Database, options: ReplicationOptions = {}) =>
    replicate(sides.peer(source), sides.peer(target), options).done;
  const idOf = (source: Database, target: Database, identity?: ReplicationIdentity) =>
    replicationId(sides.peer(source), sides.peer(target), identity);

  describe('one-shot replication copies', () => {
    it('documents, with bodies and revisions', async () => {
      const [source, target] = await pair();
      await fill(source, 30);
      const first = await source.put({ _id: 'edited', v: 1 });
      await source.put({ _id: 'edited', _rev: first.rev, v: 2, nested: { a: [1, 'x', null] } });

      const result = await copy(source, target);
      expect(result).toMatchObject({ ok: true, status: 'complete', docs_read: 31, docs_written: 31 });
      expect(result.doc_write_failures).toBe(0);
      expect(await dbState(target)).toEqual(await dbState(source));
      const edited = await target.get('edited', { revs: true });
      expect(edited).toMatchObject({ v: 2, nested: { a: [1, 'x', null] } });
      expect(edited._revisions?.ids).toHaveLength(2);
    });
    it('deletions as tombstones', async () => {
      const [source, target] = await pair();
      const revs = await fill(source, 5);
      await source.remove('doc001', revs.get('doc001')!);
      await source.remove('doc003', revs.get('doc003')!);

      await copy(source, target);
      expect(await winnerOf(target, 'doc001')).toBe('deleted');
      expect(await winnerOf(target, 'doc003')).toBe('deleted');
      expect((await target.info()).doc_count).toBe(3);
      expect((await target.info()).doc_del_count).toBe(2);
      expect(await dbState(target)).toEqual(await dbState(source));

      // A deletion made after a first replication follows in the next one.
      const doc000 = await source.get('doc000');
      await source.remove('doc000', doc000._rev);
      const again = await copy(source, target);
      expect(again.docs_written).toBe(1);
      expect(await winnerOf(target, 'doc000')).toBe('deleted');
    });
    it('binary attachments, several per document, byte for byte', async () => {
      const [source, target] = await pair();
      const blobs = { 'a.bin': bytes(70_000, 1), 'b.bin': bytes(1, 2), 'c.png': bytes(3_000, 3) };
      await source.put({
        _id: 'photos',
        _attachments: Object.fromEntries(
          Object.entries(blobs).map(([name, data]) => [
            name,
            { content_type: 'application/octet-stream', data: Buffer.from(data).toString('base64') },
          ]),
        ),
      });
      const zero = new Uint8Array(1024);
      await source.putAttachment('other', 'zeros', undefined, zero, 'application/x-zeros');
      const empty = await source.putAttachment(
        'empty',
        'nothing',
        undefined,
        new Uint8Array(0),
        'text/plain',
      );

      await copy(source, target);
      for (const [name, data] of Object.entries(blobs)) {
        const copy = await target.getAttachment('photos', name);
        expect(Buffer.from(copy.data).equals(Buffer.from(data)), name).toBe(true);
        expect(copy.digest).toBe((await source.getAttachment('photos', name)).digest);
      }
      expect(Buffer.from((await target.getAttachment('other', 'zeros')).data).equals(Buffer.from(zero))).toBe(
        true,
      );
      expect((await target.getAttachment('other', 'zeros')).contentType).toBe('application/x-zeros');
      expect((await target.getAttachment('empty', 'nothing', { rev: empty.rev })).data).toHaveLength(0);

      // A later revision adds one attachment and keeps the others as stubs: the target still ends
      // up with every byte (what it holds is not sent again, what it lacks is).
      const photos = await source.get('photos');
      const added = bytes(5_000, 4);
      await source.putAttachment('photos', 'd.bin', photos._rev, added, 'image/x-d');
      const photos2 = await source.get('photos');
      const { 'a.bin': _dropped, ...kept } = photos2._attachments!;
      await source.put({ ...photos2, _attachments: kept });
      const again = await copy(source, target);
      expect(again.docs_written).toBe(1);
      expect(again.doc_write_failures).toBe(0);
      expect(Object.keys((await target.get('photos'))._attachments!).sort()).toEqual([
        'b.bin',
        'c.png',
        'd.bin',
      ]);
      expect(
        Buffer.from((await target.getAttachment('photos', 'd.bin')).data).equals(Buffer.from(added)),
      ).toBe(true);
      expect(
        Buffer.from((await target.getAttachment('photos', 'c.png')).data).equals(Buffer.from(blobs['c.png'])),
      ).toBe(true);
      expect(await dbState(target)).toEqual(await dbState(source));
    });
    it('conflicts: both leaves, and the same winner on both sides', async () => {
      const [a, b] = await pair();
      const base = await a.put({ _id: 'doc', v: 'base' });
      await copy(a, b);
      await a.put({ _id: 'doc', _rev: base.rev, v: 'from a' });
      const fromB = await b.put({ _id: 'doc', _rev: base.rev, v: 'from b' });
      await b.put({ _id: 'doc', _rev: fromB.rev, v: 'from b, again' });
      // A deleted branch is part of the tree too.
      const branch = await b.bulkDocs(
        [
          {
            _id: 'doc',
            _rev: '2-0123456789abcdef0123456789abcdef',
            _revisions: { start: 2, ids: ['0123456789abcdef0123456789abcdef', base.rev.slice(2)] },
          },
        ],
        { newEdits: false },
      );
      await b.remove('doc', (branch[0] as { rev: string }).rev);
      await copy(a, b);
      await copy(b, a);

      const [stateA, stateB] = [await docState(a, 'doc'), await docState(b, 'doc')];
      expect(stateA).toEqual(stateB);
      expect(stateA.leaves.map((leaf) => leaf._rev)).toHaveLength(3);
      expect(stateA.leaves.filter((leaf) => leaf._deleted)).toHaveLength(1);
      const winner = stateA.winner as Doc;
      // The longer branch wins; the other leaves are conflicts.
      expect(winner).toMatchObject({ v: 'from b, again' });
      expect(winner._conflicts).toHaveLength(1);
      expect(winner._deleted_conflicts).toHaveLength(1);
      expect((await b.getOpenRevs('doc', 'all')).length).toBe(3);

      // A third database that only pulls from one side gets the whole tree.
      const c = await sides.open(targetKind);
      await copy(a, c);
      expect(await docState(c, 'doc')).toEqual(stateA);
      expect((await c.get('doc', { revs: true }))._revisions).toEqual(
        (await a.get('doc', { revs: true }))._revisions,
      );
    });
    it('deleted conflicts', async () => {
      const [a, b] = await pair();
      const base = await a.put({ _id: 'doc', v: 0 });
      await copy(a, b);
      const edited = await a.put({ _id: 'doc', _rev: base.rev, v: 1 });
      await a.put({ _id: 'doc', _rev: edited.rev, v: 2 });
      await b.remove('doc', base.rev);
      await copy(a, b);
      await copy(b, a);
      const state = await docState(a, 'doc');
      expect(state).toEqual(await docState(b, 'doc'));
      expect(state.winner).toMatchObject({ v: 2, _deleted_conflicts: [expect.stringMatching(/^2-/)] });
    });
    it('design documents, but not local documents', async () => {
      const [source, target] = await pair();
      await source.put({
        _id: '_design/app',
        views: { byType: { map: 'function (doc) { emit(doc.type) }' } },
      });
      await source.putLocal({ _id: '_local/private', secret: true });
      await source.put({ _id: 'plain' });

      const result = await copy(source, target);
      expect(result.docs_written).toBe(2);
      expect(await target.get('_design/app')).toMatchObject({
        views: { byType: { map: expect.any(String) } },
      });
      expect(await target.getLocal('_local/private')).toBeUndefined();
      expect(await allIds(target)).toEqual(['_design/app', 'plain']);
    });
  });

  describe('checkpoints', () => {
    it('a second run reads nothing; an incremental run copies exactly the new writes', async () => {
      const [source, target] = await pair();
      await fill(source, 40);
      expect((await copy(source, target)).docs_written).toBe(40);

      const second = await copy(source, target);
      expect(second).toMatchObject({ docs_read: 0, docs_written: 0, status: 'complete' });

      // 50 more writes: 30 new documents and 20 updates of old ones.
      await fill(source, 30, 'more');
      for (let i = 0; i < 20; i++) {
        const doc = await source.get(`doc${String(i).padStart(3, '0')}`);
        await source.put({ ...doc, updated: true });
      }
      const third = await copy(source, target);
      expect(third).toMatchObject({ docs_read: 50, docs_written: 50, doc_write_failures: 0 });
      expect(await dbState(target)).toEqual(await dbState(source));
    });
    it('are written to both peers under _local/<replication id> in PouchDB’s format', async () => {
      const [source, target] = await pair();
      await fill(source, 3);
      const id = await idOf(source, target);
      expect(id).toMatch(/^_local\/[A-Za-z0-9._]+={0,2}$/);
      await copy(source, target);

      const [onSource, onTarget] = [await checkpointOn(source, id), await checkpointOn(target, id)];
      for (const log of [onSource, onTarget]) {
        expect(log).toMatchObject({
          _id: id,
          _rev: expect.stringMatching(/^0-\d+$/),
          session_id: expect.any(String),
          last_seq: source.updateSeq(),
          version: 1,
          replicator: expect.any(String),
        });
        expect(log!.history).toEqual([{ session_id: log!.session_id, last_seq: source.updateSeq() }]);
      }
      expect(onSource!.session_id).toBe(onTarget!.session_id);

      // One history entry per session, newest first, at most 5.
      const sessions: string[] = [onTarget!.session_id];
      for (let run = 0; run < 6; run++) {
        await fill(source, 1, `run${run}-`);
        await copy(source, target);
        const log = await checkpointOn(target, id);
        sessions.unshift(log!.session_id);
        expect(log!.history[0]).toEqual({ session_id: log!.session_id, last_seq: source.updateSeq() });
      }
      for (const db of [source, target]) {
        const log = (await checkpointOn(db, id))!;
        expect(log.history).toHaveLength(5);
        expect(log.history.map((h) => h.session_id)).toEqual(sessions.slice(0, 5));
        expect(new Set(log.history.map((h) => h.session_id)).size).toBe(5);
        const seqs = log.history.map((h) => h.last_seq as number);
        expect([...seqs].sort((x, y) => y - x)).toEqual(seqs);
      }
      // Neither side holds any other local document, and none shows in the changes feed.
      expect(await allIds(target)).toEqual(await allIds(source));
    });
    it('`since` overrides the start point', async () => {
      const [source, target] = await pair();
      await fillOneByOne(source, 20);
      const result = await copy(source, target, { since: 12 });
      expect(result.docs_written).toBe(8);
      expect(await allIds(target)).toEqual(
        Array.from({ length: 8 }, (_, i) => `doc${String(i + 12).padStart(3, '0')}`),
      );
      expect(result.last_seq).toBe(20);

      // Even over an existing checkpoint: a replication from 0 fills in the rest.
      const full = await copy(source, target, { since: 0 });
      expect(full.docs_written).toBe(12);
      expect(await dbState(target)).toEqual(await dbState(source));
    });
  });

  describe('filtered replication', () => {
    it('by doc_ids, with its own replication id and checkpoint', async () => {
      const [source, target] = await pair();
      await fill(source, 10);
      const docIds = ['doc007', 'doc002', 'nonexistent'];
      const result = await copy(source, target, { doc_ids: docIds });
      expect(result.docs_written).toBe(2);
      expect(await allIds(target)).toEqual(['doc002', 'doc007']);

      const filteredId = await idOf(source, target, { doc_ids: docIds });
      const fullId = await idOf(source, target);
      expect(filteredId).not.toBe(fullId);
      expect(await checkpointOn(target, filteredId)).toBeDefined();
      expect(await checkpointOn(target, fullId)).toBeUndefined();

      // Later edits to a listed document follow; others do not.
      const doc = await source.get('doc002');
      await source.put({ ...doc, edited: true });
      const other = await source.get('doc003');
      await source.put({ ...other, edited: true });
      const again = await copy(source, target, { doc_ids: [...docIds].reverse() });
      expect(again.docs_written).toBe(1);
      expect(await target.get('doc002')).toMatchObject({ edited: true });

      // The unfiltered replication does not inherit the filtered checkpoint.
      const full = await copy(source, target);
      expect(full.docs_written).toBe(8);
      expect(await dbState(target)).toEqual(await dbState(source));
    });
    it('by selector, with its own replication id and checkpoint', async () => {
      const [source, target] = await pair();
      await source.bulkDocs(
        Array.from({ length: 12 }, (_, i) => ({ _id: `d${i}`, type: i % 3 === 0 ? 'fruit' : 'veg', n: i })),
      );
      const selector = { type: 'fruit', n: { $gte: 3 } };
      const result = await copy(source, target, { selector });
      expect(result.docs_written).toBe(3);
      expect(await allIds(target)).toEqual(['d3', 'd6', 'd9']);

      const filteredId = await idOf(source, target, { selector });
      expect(filteredId).not.toBe(await idOf(source, target));
      expect(await idOf(source, target, { selector: { n: { $gte: 3 }, type: 'fruit' } })).toBe(filteredId);
      expect(await checkpointOn(source, filteredId)).toMatchObject({ last_seq: source.updateSeq() });

      // A document that comes to match is replicated; the same selector with its keys in another
      // order resumes from the same checkpoint.
      const d4 = await source.get('d4');
      await source.put({ ...d4, type: 'fruit' });
      const again = await copy(source, target, { selector: { n: { $gte: 3 }, type: 'fruit' } });
      expect(again).toMatchObject({ docs_read: 1, docs_written: 1 });
      expect(await allIds(target)).toEqual(['d3', 'd4', 'd6', 'd9']);

      expect((await copy(source, target)).docs_written).toBe(8);
    });
    it('skip_deleted_on_first_pull skips tombstones into an empty target, but not later deletions', async () => {
      const [source, target] = await pair();
      const revs = await fill(source, 10);
      for (const id of ['doc001', 'doc004', 'doc005', 'doc008']) await source.remove(id, revs.get(id)!);

      const first = await copy(source, target, { skip_deleted_on_first_pull: true });
      expect(first.docs_written).toBe(6);
      expect(await allIds(target)).toEqual(['doc000', 'doc002', 'doc003', 'doc006', 'doc007', 'doc009']);
      expect((await target.info()).doc_del_count).toBe(0);

      // A deletion after the first pull replicates.
      await source.remove('doc002', revs.get('doc002')!);
      const second = await copy(source, target, { skip_deleted_on_first_pull: true });
      expect(second.docs_written).toBe(1);
      expect(await winnerOf(target, 'doc002')).toBe('deleted');

      // Its checkpoint is its own: a full replication starts over and brings the skipped tombstones.
      const skipId = await idOf(source, target, { skip_deleted_on_first_pull: true });
      const fullId = await idOf(source, target);
      expect(skipId).not.toBe(fullId);
      expect(await checkpointOn(target, skipId)).toBeDefined();
      expect(await checkpointOn(target, fullId)).toBeUndefined();
      const full = await copy(source, target);
      expect(full.docs_written).toBe(4);
      expect(await dbState(target)).toEqual(await dbState(source));
    });
  });

  describe('events and progress', () => {
    /** Records every event of a replication, in order. */
    function record(replication: ReturnType<typeof replicate>) {
      const events: { name: keyof ReplicationEvents; payload: unknown }[] = [];
      for (const name of ['active', 'paused', 'change', 'denied', 'error', 'complete'] as const) {
        replication.on(name, (payload) => events.push({ name, payload }));
      }
      return events;
    }
    it('active, one change per batch with growing counters, complete; pending reaches 0', async () => {
      const [source, target] = await pair();
      await fill(source, 95);
      const replication = replicate(sides.peer(source), sides.peer(target), { batch_size: 10 });
      const events = record(replication);
      const result = await replication.done;

      expect(events[0]?.name).toBe('active');
      expect(events.at(-1)?.name).toBe('complete');
      const changes = events
        .filter((e) => e.name === 'change')
        .map((e) => e.payload as ReplicationEvents['change']);
      expect(changes).toHaveLength(10);
      expect(changes.map((c) => c.docs_written)).toEqual([10, 20, 30, 40, 50, 60, 70, 80, 90, 95]);
      expect(changes.map((c) => c.docs.length)).toEqual([10, 10, 10, 10, 10, 10, 10, 10, 10, 5]);
      expect(changes.map((c) => c.pending)).toEqual([85, 75, 65, 55, 45, 35, 25, 15, 5, 0]);
      expect(events.some((e) => e.name === 'paused' || e.name === 'error' || e.name === 'denied')).toBe(
        false,
      );

      expect(result).toMatchObject({
        ok: true,
        status: 'complete',
        docs_read: 95,
        docs_written: 95,
        doc_write_failures: 0,
        pending: 0,
        last_seq: source.updateSeq(),
      });
      expect(events.at(-1)?.payload).toEqual(result);
      expect(Date.parse(result.end_time)).toBeGreaterThanOrEqual(Date.parse(result.start_time));
      expect(replication.state).toBe('complete');
      expect(replication.progress.pending).toBe(0);
    });
  });
});

describe('checkpoints (local)', () => {
  it('a re-created target (new file at the same path) restarts from 0', async () => {
    const [source, first] = [await dbs.open(), await dbs.open()];
    await fill(source, 30);
    const path = dbs.pathOf(first);
    await once(source, first);
    const oldId = await replicationId(source, first);
    const uuid = (await first.info()).uuid;
    await first.destroy();

    const target = await dbs.openAt(path);
    expect((await target.info()).uuid).not.toBe(uuid);
    expect(await checkpointOn(source, oldId)).toBeDefined();
    const result = await once(source, target);
    expect(result).toMatchObject({ docs_read: 30, docs_written: 30 });
    expect(await dbState(target)).toEqual(await dbState(source));
  });
  it('a target that lost its checkpoint restarts from 0 instead of trusting the source’s', async () => {
    const [source, target] = [await dbs.open(), await dbs.open()];
    await fill(source, 10);
    await once(source, target);
    const id = await replicationId(source, target);
    await target.removeLocal(id);
    // It reads the source's changes from 0 again (the target still holds every document).
    const changes = vi.spyOn(source, 'changes');
    const result = await once(source, target);
    expect(changes.mock.calls[0]![0]?.since).toBe(0);
    expect(result.docs_written).toBe(0);
    expect((await checkpointOn(target, id))?.last_seq).toBe(source.updateSeq());

    // A target checkpoint from a session the source does not know is not trusted either.
    await fill(source, 5, 'late');
    await target.putLocal({
      ...(await checkpointOn(target, id))!,
      session_id: 'someone-else',
      history: [{ session_id: 'someone-else', last_seq: 999 }],
    });
    changes.mockClear();
    const fresh = await once(source, target);
    expect(changes.mock.calls[0]![0]?.since).toBe(0);
    expect(fresh.docs_written).toBe(5);
  });
  it('a source that refuses checkpoint writes (read-only) still replicates, checkpointing the target', async () => {
    const [db, target] = [await dbs.open(), await dbs.open()];
    await fill(db, 10);
    let refused = 0;
    const source = peerOver(db, {
      putLocal: async () => {
        refused++;
        throw new SetteeError('forbidden', 'read-only replica');
      },
    });
    const result = await once(source, target, { batch_size: 2 });
    expect(result).toMatchObject({ status: 'complete', docs_written: 10, doc_write_failures: 0 });
    // It stops trying after the first refusal.
    expect(refused).toBe(1);
    const id = await replicationId(source, target);
    expect(await checkpointOn(target, id)).toMatchObject({ last_seq: db.updateSeq() });
    expect(await db.getLocal(id)).toBeUndefined();

    // The next run trusts the target's checkpoint alone (as PouchDB): it reads only what is new.
    const before = db.updateSeq();
    await fill(db, 3, 'more');
    const reads: unknown[] = [];
    const watched = {
      ...source,
      changes: (options: Parameters<Peer['changes']>[0]) => {
        reads.push(options?.since);
        return db.changes(options);
      },
    };
    const next = await once(watched, target, { batch_size: 2 });
    expect(next).toMatchObject({ status: 'complete', docs_written: 3 });
    expect(reads[0]).toBe(before);
  });
});

describe('options', () => {
  it('create_target is harmless for a local database', async () => {
    const [source, target] = [await dbs.open(), await dbs.open()];
    await fill(source, 3);
    const ensureExists = vi.spyOn(target, 'ensureExists');
    const result = await once(source, target, { create_target: true });
    expect(ensureExists).toHaveBeenCalledTimes(1);
    expect(result.docs_written).toBe(3);
    // Without the option, it is not called.
    ensureExists.mockClear();
    await once(source, target);
    expect(ensureExists).not.toHaveBeenCalled();
    // create_target does not enter the replication id: the same checkpoint serves both.
    expect(await checkpointOn(target, await replicationId(source, target))).toBeDefined();
  });
  it('revs_limit: a source that keeps 5 revisions sends at most 5', async () => {
    const [source, target] = [await dbs.open({ revsLimit: 5 }), await dbs.open()];
    let rev = (await source.put({ _id: 'doc', edit: 0 })).rev;
    for (let edit = 1; edit < 20; edit++) rev = (await source.put({ _id: 'doc', _rev: rev, edit })).rev;
    await once(source, target);
    const copy = await target.get('doc', { revs: true });
    expect(copy._rev).toBe(rev);
    expect(copy.edit).toBe(19);
    expect(copy._revisions!.ids.length).toBeLessThanOrEqual(5);
    expect(copy._revisions!.start).toBe(20);
    expect(copy._revisions).toEqual((await source.get('doc', { revs: true }))._revisions);
  });
});

describe('events and progress (local)', () => {
  /** Records every event of a replication, in order. */
  function record(replication: ReturnType<typeof replicate>) {
    const events: { name: keyof ReplicationEvents; payload: unknown }[] = [];
    for (const name of ['active', 'paused', 'change', 'denied', 'error', 'complete'] as const) {
      replication.on(name, (payload) => events.push({ name, payload }));
    }
    return events;
  }
  it('state names what it is doing: writing while writing, checkpointing while checkpointing', async () => {
    const [db, targetDb] = [await dbs.open(), await dbs.open()];
    await fill(db, 5);
    const seen = new Map<string, Set<string>>();
    // Peers call `note` only once the replication runs, after `replication` is assigned.
    const note = (call: string) => seen.set(call, (seen.get(call) ?? new Set()).add(replication.state));
    const target = peerOver(targetDb, {
      bulkDocs: (docs, options) => (note('bulkDocs'), targetDb.bulkDocs(docs, options)),
      putLocal: (doc) => (note('putLocal'), targetDb.putLocal(doc)),
    });
    const source = peerOver(db, { changes: (options) => (note('changes'), db.changes(options)) });
    const replication: Replication = replicate(source, target, { batch_size: 2 });
    expect(replication.state).toBe('starting');
    const result = await replication.done;
    expect(result.docs_written).toBe(5);
    expect([...seen.get('bulkDocs')!]).toEqual(['writing']);
    expect([...seen.get('putLocal')!]).toEqual(['checkpointing']);
    // Reads go on ahead of the writer, so they happen in any of the run's states but never before it starts.
    expect(seen.get('changes')!.has('starting')).toBe(false);
    expect(replication.state).toBe('complete');
  });

  it('a live replication pauses when caught up and becomes active again on a write', async () => {
    const [source, target] = [await dbs.open(), await dbs.open()];
    await fill(source, 5);
    const replication = replicate(source, target, { live: true });
    const events = record(replication);
    await replication.idle();
    expect(events.map((e) => e.name)).toEqual(['active', 'change', 'paused']);
    expect(replication.state).toBe('paused');
    expect(replication.progress).toMatchObject({ docs_written: 5, pending: 0 });

    await source.put({ _id: 'late' });
    const paused = new Promise<void>((resolve) => {
      const listener = () => {
        replication.off('paused', listener);
        resolve();
      };
      replication.on('paused', listener);
    });
    await paused;
    expect(events.map((e) => e.name)).toEqual(['active', 'change', 'paused', 'active', 'change', 'paused']);
    expect((events[4]!.payload as ReplicationEvents['change']).docs_written).toBe(6);

    replication.cancel();
    const result = await replication.done;
    expect(result).toMatchObject({ status: 'cancelled', docs_written: 6 });
    expect(events.at(-1)?.name).toBe('complete');
  });
  it('an error ends a one-shot replication with the error event', async () => {
    const [source, target] = [await dbs.open(), await dbs.open()];
    await fill(source, 3);
    await target.close();
    const replication = replicate(source, target);
    const events = record(replication);
    await expect(replication.done).rejects.toThrow();
    expect(replication.state).toBe('error');
    expect(events.map((e) => e.name)).toContain('error');
    expect(events.map((e) => e.name)).not.toContain('complete');
  });
});

describe('URL endpoints, as PouchDB takes them', () => {
  it('replicate and sync build a RemoteDatabase with the options given (auth), on either side', async () => {
    const [server, other, local] = [await sides.open('http'), await sides.open('http'), await dbs.open()];
    await fill(server, 4, 'remote');
    await fill(local, 3, 'local');
    const pulled = await replicate(sides.url(server), local, { auth: AUTH }).done;
    expect(pulled).toMatchObject({ status: 'complete', docs_written: 4 });
    const pushed = await replicate(local, sides.url(other), { auth: AUTH, batch_size: 2 }).done;
    expect(pushed).toMatchObject({ status: 'complete', docs_written: 7 });
    // Its checkpoint is the one a RemoteDatabase of the same URL finds (PouchDB's id for it).
    const id = await replicationId(local, new RemoteDatabase(sides.url(other)));
    expect(await checkpointOn(other, id)).toMatchObject({ last_seq: local.updateSeq() });

    await fill(other, 2, 'other');
    const both = await sync(sides.url(server), sides.url(other), { auth: AUTH }).done;
    // `other` holds all of `server` already (through `local`); `server` lacks local's 3 and other's 2.
    expect(both.push).toMatchObject({ status: 'complete', docs_written: 0 });
    expect(both.pull).toMatchObject({ status: 'complete', docs_written: 5 });
    expect(await dbState(server)).toEqual(await dbState(other));
  });

  it('without the credentials the server asks for, it ends with unauthorized', async () => {
    const [server, local] = [await sides.open('http'), await dbs.open()];
    const failed = await replicate(sides.url(server), local).done.catch((error: unknown) => error);
    expect(failed).toBeInstanceOf(SetteeError);
    expect(failed).toMatchObject({ error: 'unauthorized', status: 401 });
  });

  it('a string that is not an http(s) URL naming a database is a bad_request, thrown at once', async () => {
    const local = await dbs.open();
    for (const endpoint of ['shop', 'ftp://127.0.0.1/shop', 'http://127.0.0.1:5984/']) {
      expect(() => replicate(endpoint, local), endpoint).toThrow(
        expect.objectContaining({ error: 'bad_request', status: 400 }),
      );
      expect(() => sync(local, endpoint), endpoint).toThrow(
        expect.objectContaining({ error: 'bad_request' }),
      );
    }
    // Credentials never appear in the message.
    expect(() => replicate('ftp://ann:s3cret@host/db', local)).toThrow(/^(?!.*s3cret)/);
  });
});
