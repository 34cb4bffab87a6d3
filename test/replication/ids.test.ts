import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { Peer, Seq } from '../../src/core/api.js';
import type { Database } from '../../src/database/database.js';
import {
  type CheckpointDoc,
  Checkpointer,
  CheckpointLostError,
  compareLogs,
  replicationId,
} from '../../src/replication/index.js';
import { useTempDatabases } from './helpers.js';

const dbs = useTempDatabases();

/** JSON with object keys sorted at every depth, written here independently of src/. */
function sortedJson(value: unknown): string {
  const sort = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(sort);
    if (v === null || typeof v !== 'object') return v;
    const entries = Object.entries(v as Record<string, unknown>).sort(([a], [b]) =>
      a < b ? -1 : a > b ? 1 : 0,
    );
    return Object.fromEntries(entries.map(([k, x]) => [k, sort(x)]));
  };
  return JSON.stringify(sort(value));
}

/**
 * pouchdb-generate-replication-id, as PouchDB runs it in Node: md5 over the source id, target id,
 * sorted doc ids joined by commas and the selector's JSON, fed to the hash as `binary` (each
 * UTF-16 unit cut to a byte, not UTF-8); base64, then `/` → `.` and `+` → `_`.
 */
function pouchReplicationId(
  sourceId: string,
  targetId: string,
  options: { doc_ids?: string[]; selector?: unknown } = {},
): string {
  const docIds = options.doc_ids ? [...options.doc_ids].sort().join(',') : '';
  const selector = options.selector ? sortedJson(options.selector) : '';
  const digest = createHash('md5')
    .update(sourceId + targetId + docIds + selector, 'latin1')
    .digest('base64');
  return `_local/${digest.replace(/\//g, '.').replace(/\+/g, '_')}`;
}

describe('replicationId', () => {
  async function pair() {
    const [a, b] = [await dbs.open(), await dbs.open()];
    const [idA, idB] = [await a.peerId(), await b.peerId()];
    return { a, b, idA, idB };
  }

  it('a local peer is named by its persisted uuid', async () => {
    const { a, idA } = await pair();
    expect(idA).toBe((await a.info()).uuid);
    expect(idA).toMatch(/^[0-9a-f]{32}$/);
  });

  it('is PouchDB’s id for an unfiltered replication, and depends on the direction', async () => {
    const { a, b, idA, idB } = await pair();
    expect(await replicationId(a, b)).toBe(pouchReplicationId(idA, idB));
    expect(await replicationId(b, a)).toBe(pouchReplicationId(idB, idA));
    expect(await replicationId(a, b)).not.toBe(await replicationId(b, a));
    expect(await replicationId(a, b, {})).toBe(await replicationId(a, b));
  });

  it('hashes doc_ids sorted, so their order does not matter', async () => {
    const { a, b, idA, idB } = await pair();
    const docIds = ['zeta', 'Alpha', 'beta', '_design/x', 'a,b'];
    const id = await replicationId(a, b, { doc_ids: docIds });
    expect(id).toBe(pouchReplicationId(idA, idB, { doc_ids: docIds }));
    expect(await replicationId(a, b, { doc_ids: [...docIds].reverse() })).toBe(id);
    expect(id).not.toBe(await replicationId(a, b));
    expect(id).not.toBe(await replicationId(a, b, { doc_ids: ['zeta'] }));
    // The caller's array is left as it was.
    expect(docIds[0]).toBe('zeta');
  });

  it('hashes a selector from sorted JSON: key order does not change the id', async () => {
    const { a, b, idA, idB } = await pair();
    const selector = {
      type: 'order',
      $or: [{ total: { $gt: 10, $lt: 100 } }, { 'customer.name': { $regex: '^A"\\n' } }],
      tags: { $all: ['x', 'y'] },
    };
    const shuffled = {
      tags: { $all: ['x', 'y'] },
      $or: [{ total: { $lt: 100, $gt: 10 } }, { 'customer.name': { $regex: '^A"\\n' } }],
      type: 'order',
    };
    const id = await replicationId(a, b, { selector });
    expect(id).toBe(pouchReplicationId(idA, idB, { selector }));
    expect(await replicationId(a, b, { selector: shuffled })).toBe(id);
    // An already sorted selector hashes exactly as PouchDB's plain JSON.stringify does.
    const sorted = JSON.parse(sortedJson(selector)) as Record<string, unknown>;
    const plain = createHash('md5')
      .update(idA + idB + JSON.stringify(sorted))
      .digest('base64');
    expect(id).toBe(`_local/${plain.replace(/\//g, '.').replace(/\+/g, '_')}`);
    // Array order is meaningful.
    const swapped = { ...selector, tags: { $all: ['y', 'x'] } };
    expect(await replicationId(a, b, { selector: swapped })).not.toBe(id);
  });

  it('doc_ids and selector together, in PouchDB’s order', async () => {
    const { a, b, idA, idB } = await pair();
    const options = { doc_ids: ['b', 'a'], selector: { n: 1 } };
    expect(await replicationId(a, b, options)).toBe(pouchReplicationId(idA, idB, options));
  });

  it('non-ASCII doc ids and selectors hash as PouchDB’s `binary` input does', async () => {
    const { a, b, idA, idB } = await pair();
    for (const options of [
      { doc_ids: ['café', 'naïve'] },
      { doc_ids: ['€uro', '日本', '😀'] },
      { selector: { name: 'Zoë', city: 'Zürich' } },
    ]) {
      expect(await replicationId(a, b, options)).toBe(pouchReplicationId(idA, idB, options));
    }
  });

  it('skip_deleted_on_first_pull makes a replication of its own', async () => {
    const { a, b } = await pair();
    const plain = await replicationId(a, b);
    const skipping = await replicationId(a, b, { skip_deleted_on_first_pull: true });
    expect(skipping).not.toBe(plain);
    expect(await replicationId(a, b, { skip_deleted_on_first_pull: false })).toBe(plain);
    const filtered = { doc_ids: ['x'] };
    expect(await replicationId(a, b, { ...filtered, skip_deleted_on_first_pull: true })).not.toBe(
      await replicationId(a, b, filtered),
    );
  });

  it('is made of characters that are safe in a document id', async () => {
    const { a, b } = await pair();
    for (let i = 0; i < 50; i++) {
      expect(await replicationId(a, b, { doc_ids: [String(i)] })).toMatch(/^_local\/[A-Za-z0-9._]{22}==$/);
    }
  });
});

/** A checkpoint document with these sessions as its history, newest first. */
function log(session: string, lastSeq: Seq, history: [string, Seq][] = [[session, lastSeq]]): CheckpointDoc {
  return {
    _id: '_local/x',
    session_id: session,
    last_seq: lastSeq,
    history: history.map(([session_id, last_seq]) => ({ session_id, last_seq })),
    replicator: 'test',
    version: 1,
  };
}

describe('compareLogs (protocol.md §3.4)', () => {
  it('the same current session on both sides: the source’s last_seq', () => {
    expect(compareLogs(log('s1', 42), log('s1', 42))).toBe(42);
    // Seqs are opaque: passed back verbatim.
    expect(compareLogs(log('s1', '17-g1AAAA'), log('s1', '17-g1AAAA'))).toBe('17-g1AAAA');
  });

  it('logs of one session that disagree: the lesser progress, or from the start when opaque', () => {
    // A target restored from a backup (or a crash between the two checkpoint writes) holds an
    // older checkpoint of the session: resuming from the source's would skip what it lost.
    expect(compareLogs(log('s1', 100), log('s1', 50))).toBe(50);
    expect(compareLogs(log('s1', 50), log('s1', 100))).toBe(50);
    expect(compareLogs(log('s1', '17-g1AAAA'), log('s1', '9-g1BBBB'))).toBe(0);
    const source = log('s3', 30, [
      ['s3', 30],
      ['s2', 20],
    ]);
    const restored = log('s4', 5, [
      ['s4', 5],
      ['s2', 12],
    ]);
    expect(compareLogs(source, restored)).toBe(12);
  });

  it('the source’s newest session found in the target’s history', () => {
    const source = log('s2', 20, [
      ['s2', 20],
      ['s1', 10],
    ]);
    const target = log('s3', 30, [
      ['s3', 30],
      ['s2', 20],
      ['s1', 10],
    ]);
    expect(compareLogs(source, target)).toBe(20);
  });

  it('the target’s newest session found in the source’s older history', () => {
    const source = log('s3', 30, [
      ['s3', 30],
      ['s2', 20],
      ['s1', 10],
    ]);
    const target = log('s2', 20, [
      ['s2', 20],
      ['s1', 10],
    ]);
    expect(compareLogs(source, target)).toBe(20);
  });

  it('a common session deeper in both histories', () => {
    const source = log('x', 50, [
      ['x', 50],
      ['y', 40],
      ['common', 10],
    ]);
    const target = log('z', 45, [
      ['z', 45],
      ['w', 35],
      ['common', 10],
    ]);
    expect(compareLogs(source, target)).toBe(10);
  });

  it('the seq of the common session as the side where it was found recorded it', () => {
    const source = log('a', 5, [['a', 5]]);
    const target = log('b', 9, [
      ['b', 9],
      ['a', 7],
    ]);
    expect(compareLogs(source, target)).toBe(5);
  });

  it('no common session, or no history: 0', () => {
    expect(compareLogs(log('a', 5), log('b', 9))).toBe(0);
    const source = log('a', 5, [
      ['a', 5],
      ['c', 3],
    ]);
    const target = log('b', 9, [
      ['b', 9],
      ['d', 2],
    ]);
    expect(compareLogs(source, target)).toBe(0);
    expect(compareLogs(log('a', 5, []), log('b', 5, []))).toBe(0);
    expect(compareLogs({ ...log('a', 5), history: undefined } as never, log('b', 5))).toBe(0);
  });
});

describe('Checkpointer', () => {
  it('resumes only from a checkpoint both peers share, in the same version', async () => {
    const [source, target] = [await dbs.open(), await dbs.open()];
    const id = await replicationId(source, target);
    expect(await new Checkpointer(source, target, id, 'first').startSeq()).toBe(0);

    await new Checkpointer(source, target, id, 'first').write(7);
    expect(await new Checkpointer(source, target, id, 'second').startSeq()).toBe(7);
    const second = new Checkpointer(source, target, id, 'second');
    await second.write(9);
    await second.write(12);
    expect(await source.getLocal(id)).toMatchObject({
      session_id: 'second',
      last_seq: 12,
      history: [
        { session_id: 'second', last_seq: 12 },
        { session_id: 'first', last_seq: 7 },
      ],
    });
    expect(await new Checkpointer(source, target, id, 'third').startSeq()).toBe(12);

    // Another version of the format on one side: start over.
    const onTarget = (await target.getLocal(id))!;
    await target.putLocal({ ...onTarget, version: 2 });
    expect(await new Checkpointer(source, target, id, 'fourth').startSeq()).toBe(0);
    await target.putLocal({ ...(await target.getLocal(id))!, version: 1 });
    expect(await new Checkpointer(source, target, id, 'fourth').startSeq()).toBe(12);

    // Either log missing: start over.
    await source.removeLocal(id);
    expect(await new Checkpointer(source, target, id, 'fifth').startSeq()).toBe(0);
  });

  it('refuses to write over a checkpoint that vanished since it was seen (a re-created peer)', async () => {
    const [source, target] = [await dbs.open(), await dbs.open()];
    const id = await replicationId(source, target);
    await new Checkpointer(source, target, id, 'first').write(3);

    // refreshMs 0: the log is re-read before every write, so a vanished one is noticed at once.
    const seenAtStart = new Checkpointer(source, target, id, 'second', 0);
    expect(await seenAtStart.startSeq()).toBe(3);
    await target.removeLocal(id);
    await expect(seenAtStart.write(5)).rejects.toBeInstanceOf(CheckpointLostError);
    expect(await target.getLocal(id)).toBeUndefined();

    // Seen when writing (its own earlier checkpoint), then gone from the source.
    const fresh = new Checkpointer(source, target, id, 'third', 0);
    await fresh.write(6);
    await fresh.write(7);
    await source.removeLocal(id);
    await expect(fresh.write(8)).rejects.toBeInstanceOf(CheckpointLostError);

    // A log never seen is simply created.
    await target.removeLocal(id);
    await new Checkpointer(source, target, id, 'fourth').write(9);
    expect(await target.getLocal(id)).toMatchObject({ session_id: 'fourth', last_seq: 9 });
  });

  it('reads a log once per refresh interval, not before every write', async () => {
    const [source, target] = [await dbs.open(), await dbs.open()];
    const id = await replicationId(source, target);
    let reads = 0;
    const counted: Peer = {
      ...peerMethods(target),
      getLocal: (localId) => {
        reads++;
        return target.getLocal(localId);
      },
    };
    const checkpointer = new Checkpointer(source, counted, id, 'session', 60_000);
    expect(await checkpointer.startSeq()).toBe(0);
    for (let seq = 1; seq <= 10; seq++) await checkpointer.write(seq);
    expect(reads).toBe(1);
    expect(await target.getLocal(id)).toMatchObject({ session_id: 'session', last_seq: 10 });
  });
});

/** A Peer that forwards every call to a database (so a test can override one of them). */
function peerMethods(db: Database): Peer {
  return {
    peerId: () => db.peerId(),
    info: () => db.info(),
    ensureExists: () => db.ensureExists(),
    changes: (options) => db.changes(options),
    revsDiff: (request) => db.revsDiff(request),
    bulkGet: (request, options) => db.bulkGet(request, options),
    bulkDocs: (docs, options) => db.bulkDocs(docs, options),
    getLocal: (localId) => db.getLocal(localId),
    putLocal: (doc) => db.putLocal(doc),
  };
}
