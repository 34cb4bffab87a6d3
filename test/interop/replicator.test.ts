/**
 * Settee's replicator against servers it did not write: it pulls from and pushes to
 * pouchdb-server (spawned from npm) and Settee's own server, with conflicts, deletions and binary
 * attachments (compared byte for byte), and shares checkpoints with PouchDB's replicator: a
 * replication between two URLs that one of them checkpointed is continued by the other without
 * reading the documents again.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import PouchDB from 'pouchdb';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { NewDoc, Peer, Seq } from '../../src/core/api.js';
import { Database } from '../../src/database/database.js';
import { RemoteDatabase } from '../../src/remote/index.js';
import { type CheckpointDoc, replicate, replicationId } from '../../src/replication/index.js';
import {
  diffPeerStates,
  fixtureDocs,
  peerState,
  pseudoBytes,
  type ReadablePeer,
  summarize,
} from '../faults/peer-state.js';
import { type FaultProxy, startFaultProxy } from '../faults/fault-proxy.js';
import { ADMIN, startServer, type TestServer } from '../server/harness.js';
import { type PouchServer, startPouchServer } from './pouchdb-server.js';

const AUTH = { username: ADMIN.name, password: ADMIN.password };

let settee: TestServer;
let pouchServer: PouchServer;
let tmp: string;
const opened: (Database | PouchDB)[] = [];

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'settee-interop-'));
  [settee, pouchServer] = await Promise.all([startServer(), startPouchServer()]);
}, 60_000);

afterEach(async () => {
  await Promise.all(opened.splice(0).map((db) => db.close()));
});

afterAll(async () => {
  await pouchServer?.stop();
  await settee?.stop();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

/** A database of Settee's server, through Settee's client. */
function onSettee(name: string): RemoteDatabase {
  return new RemoteDatabase(`${settee.url}/${name}`, { auth: AUTH });
}

/** A database of pouchdb-server, through Settee's client. */
function onPouchServer(name: string): RemoteDatabase {
  return new RemoteDatabase(`${pouchServer.url}/${name}`);
}

async function local(name: string): Promise<Database> {
  const db = await Database.open(path.join(tmp, `${name}.sqlite`), { durability: 'normal' });
  opened.push(db);
  return db;
}

/** PouchDB's HTTP adapter on either server; `log` records each request as `METHOD url`. */
function pouchClient(url: string, log?: string[]): PouchDB {
  const db = new PouchDB(url, {
    ...(url.startsWith(settee.url) ? { auth: AUTH } : {}),
    ...(log
      ? {
          fetch: (target, options) => {
            log.push(`${options.method ?? 'GET'} ${target}`);
            return PouchDB.fetch(target, options);
          },
        }
      : {}),
  });
  opened.push(db);
  return db;
}

const N = 120;

/**
 * Fills a database through PouchDB's own client (so that pouchdb-server holds data as PouchDB
 * writes it): the replicated data set of fixtureDocs, then interactive edits: new documents with
 * binary attachments added by `putAttachment`, an update, a deletion, a new conflict.
 */
async function fillWithPouchDB(url: string): Promise<void> {
  const db = pouchClient(url);
  await db.info();
  const results = await db.bulkDocs(fixtureDocs(N) as PouchDB.Document[], { new_edits: false });
  expect(results.filter((r) => 'error' in r)).toEqual([]);
  await editInteractively({
    put: (doc) => db.put(doc as PouchDB.Document),
    remove: (id, rev) => db.remove(id, rev),
    putAttachment: (id, name, rev, data, type) => db.putAttachment(id, name, rev, data, type),
    putReplicated: async (doc) => {
      await db.bulkDocs([doc as PouchDB.Document], { new_edits: false });
    },
  });
}

interface Editor {
  put(doc: NewDoc): Promise<{ rev: string }>;
  remove(id: string, rev: string): Promise<{ rev: string }>;
  putAttachment(id: string, name: string, rev: string, data: Buffer, type: string): Promise<{ rev: string }>;
  putReplicated(doc: NewDoc): Promise<void>;
}

/** The same interactive edits on any database. */
async function editInteractively(db: Editor): Promise<void> {
  for (let i = 0; i < 5; i++) {
    const { rev } = await db.put({ _id: `edited-${i}`, i, kind: 'interactive' });
    const withAttachment = await db.putAttachment(
      `edited-${i}`,
      'image.png',
      rev,
      pseudoBytes(300 + i * 97, 1000 + i),
      'image/png',
    );
    if (i % 2 === 0) await db.put({ _id: `edited-${i}`, _rev: withAttachment.rev, i, kind: 'updated' });
    if (i === 3) await db.remove(`edited-${i}`, withAttachment.rev);
    if (i === 4) {
      // A conflicting branch from the first revision, carrying its own binary attachment.
      await db.putReplicated({
        _id: `edited-${i}`,
        _rev: '2-cafebabecafebabecafebabecafebabe',
        _revisions: { start: 2, ids: ['cafebabecafebabecafebabecafebabe', rev.slice(2)] },
        i,
        kind: 'branch',
        _attachments: {
          'other.bin': {
            content_type: 'application/octet-stream',
            data: pseudoBytes(77, 9).toString('base64'),
          },
        },
      });
    }
  }
}

/** Fills a local Settee database: the same data set and edits, through Settee's own API. */
async function fillLocal(db: Database): Promise<void> {
  await db.bulkDocs(fixtureDocs(N), { newEdits: false });
  await editInteractively({
    put: (doc) => db.put(doc),
    remove: (id, rev) => db.remove(id, rev),
    putAttachment: (id, name, rev, data, type) => db.putAttachment(id, name, rev, data, type),
    putReplicated: async (doc) => {
      await db.bulkDocs([doc], { newEdits: false });
    },
  });
}

async function expectSameState(source: ReadablePeer, target: ReadablePeer): Promise<void> {
  const expected = await peerState(source);
  expect(diffPeerStates(expected, await peerState(target))).toEqual([]);
  const summary = summarize(expected);
  // The data set really has what the test claims to carry.
  expect(summary.docs).toBe(N + 5);
  expect(summary.deleted).toBeGreaterThan(10);
  expect(summary.conflicted).toBeGreaterThan(10);
  expect(summary.attachments).toBeGreaterThan(30);
}

describe('Settee’s replicator and pouchdb-server', () => {
  it('pulls from pouchdb-server into a local database', async () => {
    await fillWithPouchDB(`${pouchServer.url}/pull-source`);
    const target = await local('pulled-from-pouch');
    const result = await replicate(onPouchServer('pull-source'), target).done;
    expect(result).toMatchObject({ status: 'complete', doc_write_failures: 0 });
    await expectSameState(onPouchServer('pull-source'), target);
  });

  it('pushes from a local database to pouchdb-server', async () => {
    const source = await local('push-to-pouch');
    await fillLocal(source);
    const target = onPouchServer('push-target');
    const result = await replicate(source, target, { create_target: true }).done;
    expect(result).toMatchObject({ status: 'complete', doc_write_failures: 0 });
    await expectSameState(source, target);
  });

  it('replicates from pouchdb-server to Settee’s server and back', async () => {
    await fillWithPouchDB(`${pouchServer.url}/r2r-source`);
    const there = await replicate(onPouchServer('r2r-source'), onSettee('from-pouch'), {
      create_target: true,
    }).done;
    expect(there).toMatchObject({ status: 'complete', doc_write_failures: 0 });
    await expectSameState(onPouchServer('r2r-source'), onSettee('from-pouch'));
    const back = await replicate(onSettee('from-pouch'), onPouchServer('back-from-settee'), {
      create_target: true,
    }).done;
    expect(back).toMatchObject({ status: 'complete', doc_write_failures: 0 });
    await expectSameState(onSettee('from-pouch'), onPouchServer('back-from-settee'));
  });
});

describe('Settee’s replicator and Settee’s server', () => {
  it('pulls from the server into a local database', async () => {
    const source = await local('settee-origin');
    await fillLocal(source);
    await replicate(source, onSettee('pull-source'), { create_target: true }).done;
    const target = await local('pulled-from-settee');
    const result = await replicate(onSettee('pull-source'), target).done;
    expect(result).toMatchObject({ status: 'complete', doc_write_failures: 0 });
    await expectSameState(onSettee('pull-source'), target);
  });

  it('pushes from a local database to the server', async () => {
    const source = await local('push-to-settee');
    await fillLocal(source);
    const target = onSettee('push-target');
    const result = await replicate(source, target, { create_target: true }).done;
    expect(result).toMatchObject({ status: 'complete', doc_write_failures: 0 });
    await expectSameState(source, target);
  });
});

/** A Peer that records the `since` of each changes call and counts fetched and written documents. */
function recording(peer: Peer) {
  const calls = { since: [] as Seq[], bulkGet: 0, revsDiff: 0, bulkDocs: 0 };
  const wrapped: Peer = {
    peerId: () => peer.peerId(),
    info: () => peer.info(),
    ensureExists: () => peer.ensureExists(),
    changes: (options) => {
      calls.since.push(options.since ?? 0);
      return peer.changes(options);
    },
    revsDiff: (request) => {
      calls.revsDiff++;
      return peer.revsDiff(request);
    },
    bulkGet: (request, options) => {
      calls.bulkGet++;
      return peer.bulkGet(request, options);
    },
    bulkDocs: (docs, options) => {
      calls.bulkDocs++;
      return peer.bulkDocs(docs, options);
    },
    getLocal: (id) => peer.getLocal(id),
    putLocal: (doc) => peer.putLocal(doc),
  };
  return { peer: wrapped, calls };
}

/** The `since` of every `_changes` request in a PouchDB request log, for one database URL. */
function changesSince(log: string[], dbUrl: string): string[] {
  return log
    .map((line) => new URL(line.slice(line.indexOf(' ') + 1)))
    .filter((url) => `${url.origin}${url.pathname}` === `${dbUrl}/_changes`)
    .map((url) => url.searchParams.get('since') ?? '');
}

/** Writes `count` new documents through Settee's client. */
async function addDocs(db: RemoteDatabase, prefix: string, count: number): Promise<void> {
  for (let i = 0; i < count; i++) await db.put({ _id: `${prefix}-${i}`, i });
}

describe('checkpoints shared with PouchDB’s replicator (between two URLs)', () => {
  it('PouchDB continues a replication that Settee checkpointed, without reading the documents again', async () => {
    const sourceUrl = `${settee.url}/ck-settee-first`;
    const targetUrl = `${pouchServer.url}/ck-settee-first-target`;
    await fillWithPouchDB(sourceUrl);
    const source = onSettee('ck-settee-first');
    const target = onPouchServer('ck-settee-first-target');
    const settees = await replicate(source, target, { create_target: true }).done;
    expect(settees.docs_written).toBeGreaterThan(N);
    const id = await replicationId(source, target);
    const checkpoint = (await target.getLocal(id)) as CheckpointDoc | undefined;
    expect(checkpoint).toMatchObject({ last_seq: settees.last_seq, replicator: 'settee' });

    const log: string[] = [];
    const pouchs = await PouchDB.replicate(pouchClient(sourceUrl, log), pouchClient(targetUrl, log));
    expect(pouchs).toMatchObject({ ok: true, docs_read: 0, docs_written: 0 });
    // It read Settee's checkpoint (the same replication id) on both sides and started there…
    const requests = log.map(decodeURIComponent);
    expect(requests).toContain(`GET ${sourceUrl}/${id}`);
    expect(requests).toContain(`GET ${targetUrl}/${id}`);
    expect(changesSince(log, sourceUrl)[0]).toBe(String(settees.last_seq));
    // …so it neither compared nor fetched a single document.
    expect(log.filter((line) => /_revs_diff|_bulk_get|_all_docs|open_revs/.test(line))).toEqual([]);

    // Later writes: PouchDB copies exactly those, starting from the checkpoint, and records its
    // own session on top of Settee's history.
    await addDocs(source, 'later', 3);
    const laterLog: string[] = [];
    const later = await PouchDB.replicate(pouchClient(sourceUrl, laterLog), pouchClient(targetUrl, laterLog));
    expect(later).toMatchObject({ docs_read: 3, docs_written: 3 });
    expect(changesSince(laterLog, sourceUrl)[0]).toBe(String(settees.last_seq));
    const after = (await target.getLocal(id)) as CheckpointDoc | undefined;
    expect(after).toMatchObject({ last_seq: later.last_seq, version: 1 });
    expect(after!.history.map((h) => h.session_id)).toContain(checkpoint!.session_id);
    expect(diffPeerStates(await peerState(source), await peerState(target))).toEqual([]);
  });

  it('Settee continues a replication that PouchDB checkpointed, without reading the documents again', async () => {
    const sourceUrl = `${pouchServer.url}/ck-pouch-first`;
    const targetUrl = `${settee.url}/ck-pouch-first-target`;
    await fillWithPouchDB(sourceUrl);
    const pouchs = await PouchDB.replicate(pouchClient(sourceUrl), pouchClient(targetUrl));
    expect(pouchs.docs_written).toBeGreaterThan(N);
    const source = recording(onPouchServer('ck-pouch-first'));
    const target = recording(onSettee('ck-pouch-first-target'));
    const id = await replicationId(source.peer, target.peer);
    expect(await target.peer.getLocal(id)).toMatchObject({ last_seq: pouchs.last_seq });

    const settees = await replicate(source.peer, target.peer).done;
    expect(settees).toMatchObject({ status: 'complete', docs_read: 0, docs_written: 0 });
    expect(source.calls.since[0]).toBe(pouchs.last_seq);
    expect(target.calls).toMatchObject({ revsDiff: 0, bulkDocs: 0 });
    expect(source.calls.bulkGet).toBe(0);

    // Later writes: Settee copies exactly those, from the checkpoint.
    await addDocs(onPouchServer('ck-pouch-first'), 'later', 3);
    const mark = source.calls.since.length;
    const later = await replicate(source.peer, target.peer).done;
    expect(later).toMatchObject({ docs_read: 3, docs_written: 3 });
    expect(source.calls.since[mark]).toBe(pouchs.last_seq);
    const [there, here] = [onPouchServer('ck-pouch-first'), onSettee('ck-pouch-first-target')];
    expect(diffPeerStates(await peerState(there), await peerState(here))).toEqual([]);
  });
});

/**
 * A fetch that loses the answer of the first PUT whose URL matches: the server acted on it, the
 * client sees a connection cut and sends it again.
 */
function losingFirstAnswer(pattern: RegExp): typeof fetch {
  let lost = false;
  return async (input, init) => {
    const response = await fetch(input, init);
    if (lost || init?.method !== 'PUT' || !pattern.test(String(input))) return response;
    lost = true;
    await response.body?.cancel();
    const cause = Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' });
    throw new TypeError('fetch failed', { cause });
  };
}

describe('pouchdb-server checks the revisions of `_local` documents', () => {
  const proxies: FaultProxy[] = [];
  afterEach(async () => {
    await Promise.all(proxies.splice(0).map((p) => p.close()));
  });

  it('a checkpoint write whose answer was lost, sent again, is not a conflict (target)', async () => {
    const source = await local('lost-answer-push');
    await fillLocal(source);
    // The first checkpoint write creates the log: sent again without a _rev, it is a conflict.
    const target = new RemoteDatabase(`${pouchServer.url}/lost-answer-target`, {
      backoffBaseMs: 1,
      fetch: losingFirstAnswer(/\/_local\//),
    });
    const result = await replicate(source, target, { create_target: true, batch_size: 20 }).done;
    expect(result.status).toBe('complete');
    const id = await replicationId(source, target);
    expect(await target.getLocal(id)).toMatchObject({ last_seq: result.last_seq });
    await expectSameState(source, target);
  });

  it('a checkpoint write whose answer was lost, sent again, is not a conflict (source)', async () => {
    await fillWithPouchDB(`${pouchServer.url}/lost-answer-source`);
    const source = new RemoteDatabase(`${pouchServer.url}/lost-answer-source`, {
      backoffBaseMs: 1,
      fetch: losingFirstAnswer(/\/_local\//),
    });
    const target = await local('lost-answer-pull');
    const result = await replicate(source, target, { batch_size: 20 }).done;
    expect(result.status).toBe('complete');
    // The source's log kept up: it was not given up on as read-only after the 409.
    const id = await replicationId(source, target);
    expect(await source.getLocal(id)).toMatchObject({ last_seq: result.last_seq });
    expect(await target.getLocal(id)).toMatchObject({ last_seq: result.last_seq });
  });

  it.each([1, 2, 3, 4])('pushes and pulls through a faulty network, seed %i', async (seed) => {
    const proxy = await startFaultProxy({
      targetPort: Number(new URL(pouchServer.url).port),
      seed,
      faultRate: 0.3,
      stallMs: 600,
    });
    proxies.push(proxy);
    const faulty = (name: string) =>
      new RemoteDatabase(`${proxy.url}/${name}`, { timeoutMs: 300, backoffBaseMs: 5, retries: 4 });
    const options = { batch_size: 30, retry: true, backoff: { initialMs: 5, maxMs: 50 } };
    const source = await local(`faulty-push-${seed}`);
    await fillLocal(source);
    await onPouchServer(`faulty-${seed}`).ensureExists();
    const pushed = await replicate(source, faulty(`faulty-${seed}`), options).done;
    expect(pushed.status).toBe('complete');
    await expectSameState(source, onPouchServer(`faulty-${seed}`));
    const back = await local(`faulty-pull-${seed}`);
    const pulled = await replicate(faulty(`faulty-${seed}`), back, options).done;
    expect(pulled.status).toBe('complete');
    await expectSameState(source, back);
  });
});
