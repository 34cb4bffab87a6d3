/**
 * Replication through a fault-injecting proxy (fault-proxy.ts) that cuts connections, stalls and
 * truncates responses and delays them, at random but seeded. Over many seeds every replication
 * completes, the target equals the source (documents, revisions, conflicts, deletions, attachment
 * bytes), nothing is written twice, and a one-shot run resumed after an interruption reads at
 * most one batch that was already written.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { ChangeRow, Peer, Seq } from '../../src/core/api.js';
import { SetteeError } from '../../src/core/errors.js';
import { Database } from '../../src/database/database.js';
import { RemoteDatabase } from '../../src/remote/index.js';
import {
  type CheckpointDoc,
  compareLogs,
  type ReplicationOptions,
  replicate,
  replicationId,
} from '../../src/replication/index.js';
import { waitFor } from '../replication/helpers.js';
import { ADMIN, startServer, type TestServer } from '../server/harness.js';
import { type FaultProxy, mulberry32, startFaultProxy } from './fault-proxy.js';
import { diffPeerStates, fixtureDocs, peerState, summarize } from './peer-state.js';

const AUTH = { username: ADMIN.name, password: ADMIN.password };
const DOCS = 300;
const BATCH = 40;
/** The client's stall timeout: a stalled response is abandoned after this long and retried. */
const STALL_TIMEOUT = 300;
const SEEDS = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];

let server: TestServer;
let tmp: string;
let sourceState: Awaited<ReturnType<typeof peerState>>;
const proxies: FaultProxy[] = [];
const opened: Database[] = [];

/** A RemoteDatabase as the replicator should use it on a bad network: short stall timeout, quick retries. */
function remote(base: string, db: string): RemoteDatabase {
  return new RemoteDatabase(`${base}/${db}`, {
    auth: AUTH,
    timeoutMs: STALL_TIMEOUT,
    backoffBaseMs: 5,
    retries: 4,
  });
}

/** The server's database, without a proxy: for setting up and checking. */
function direct(db: string): RemoteDatabase {
  return new RemoteDatabase(`${server.url}/${db}`, { auth: AUTH });
}

const OPTIONS: ReplicationOptions = { batch_size: BATCH, retry: true, backoff: { initialMs: 5, maxMs: 100 } };

async function proxy(seed: number, faultRate = 0.25): Promise<FaultProxy> {
  const started = await startFaultProxy({
    targetPort: Number(new URL(server.url).port),
    seed,
    faultRate,
    stallMs: STALL_TIMEOUT * 3,
    maxFaultOffset: 3000,
    maxDelayMs: STALL_TIMEOUT / 3,
  });
  proxies.push(started);
  return started;
}

async function localDb(name: string): Promise<Database> {
  const db = await Database.open(path.join(tmp, `${name}.sqlite`), { durability: 'normal' });
  opened.push(db);
  return db;
}

beforeAll(async () => {
  server = await startServer();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'settee-faults-'));
  const source = direct('source');
  await source.ensureExists();
  await source.bulkDocs(fixtureDocs(DOCS), { newEdits: false });
  sourceState = await peerState(source);
  const summary = summarize(sourceState);
  // The data set has everything replication must carry.
  expect(summary.docs).toBe(DOCS);
  expect(summary.deleted).toBeGreaterThan(30);
  expect(summary.conflicted).toBeGreaterThan(20);
  expect(summary.attachments).toBeGreaterThan(80);
});

afterEach(async () => {
  await Promise.all(proxies.splice(0).map((p) => p.close()));
  await Promise.all(opened.splice(0).map((db) => db.close()));
});

afterAll(async () => {
  await server?.stop();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

/** Fault counts summed over runs: the seeds must really have exercised every fault. */
const seen = { cut: 0, stall: 0, truncate: 0, delay: 0 };
function tally(p: FaultProxy): void {
  for (const kind of Object.keys(seen) as (keyof typeof seen)[]) seen[kind] += p.stats[kind];
}

describe('replication through a faulty network', () => {
  it.each(SEEDS)('pulls from a server into a local database, seed %i', async (seed) => {
    const p = await proxy(seed);
    const target = await localDb(`pull-${seed}`);
    const result = await replicate(remote(p.url, 'source'), target, OPTIONS).done;
    tally(p);

    expect(result.status).toBe('complete');
    expect(diffPeerStates(sourceState, await peerState(target))).toEqual([]);
    // Each missing revision was fetched and written exactly once: none lost, none twice.
    const { leaves } = summarize(sourceState);
    expect(result).toMatchObject({ docs_read: leaves, docs_written: leaves, doc_write_failures: 0 });
  });

  it.each(SEEDS)('pushes from a local database to a server, seed %i', async (seed) => {
    const source = await localDb(`push-source-${seed}`);
    await source.bulkDocs(fixtureDocs(DOCS), { newEdits: false });
    await direct(`target-${seed}`).ensureExists();
    const p = await proxy(1000 + seed);
    const result = await replicate(source, remote(p.url, `target-${seed}`), OPTIONS).done;
    tally(p);

    expect(result.status).toBe('complete');
    expect(diffPeerStates(sourceState, await peerState(direct(`target-${seed}`)))).toEqual([]);
    // A write whose answer was lost may have landed: it is not sent again, and not counted.
    const { leaves } = summarize(sourceState);
    expect(result.docs_written).toBeLessThanOrEqual(leaves);
    expect(result.doc_write_failures).toBe(0);
    // A second run finds nothing to do.
    const again = await replicate(source, remote(p.url, `target-${seed}`), OPTIONS).done;
    expect(again).toMatchObject({ docs_read: 0, docs_written: 0 });
  });

  it('exercised every kind of fault', () => {
    for (const count of Object.values(seen)) expect(count).toBeGreaterThan(5);
  });
});

/** A Peer that records the rows of every `changes` call and the entries of every `bulkGet`. */
function recording(peer: Peer) {
  const reads: { since: Seq; rows: ChangeRow[] }[] = [];
  const fetched: { id: string; rev?: string }[] = [];
  const wrapped: Peer = {
    peerId: () => peer.peerId(),
    info: () => peer.info(),
    ensureExists: () => peer.ensureExists(),
    changes: async (options) => {
      // Recorded when asked, in the order asked; the rows when they come.
      const read = { since: options.since ?? 0, rows: [] as ChangeRow[] };
      reads.push(read);
      const page = await peer.changes(options);
      read.rows = page.results;
      return page;
    },
    revsDiff: (request) => peer.revsDiff(request),
    bulkGet: async (request, options) => {
      const response = await peer.bulkGet(request, options);
      fetched.push(...request.docs);
      return response;
    },
    bulkDocs: (docs, options) => peer.bulkDocs(docs, options),
    getLocal: (id) => peer.getLocal(id),
    putLocal: (doc) => peer.putLocal(doc),
  };
  return { peer: wrapped, reads, fetched };
}

/**
 * A target that "crashes" right after its `crashAfter`-th write: the write lands, but from then
 * on every call fails as a process that died would, so the checkpoint for that batch is never
 * written. (403 is permanent: the replication ends instead of retrying.)
 */
function crashing(db: Database, crashAfter: number): Peer {
  let writes = 0;
  let dead = false;
  const alive = <T>(fn: () => Promise<T>): Promise<T> =>
    dead ? Promise.reject(new SetteeError('forbidden', 'simulated crash')) : fn();
  return {
    peerId: () => alive(() => db.peerId()),
    info: () => alive(() => db.info()),
    ensureExists: () => alive(() => db.ensureExists()),
    changes: (options) => alive(() => db.changes(options)),
    revsDiff: (request) => alive(() => db.revsDiff(request)),
    bulkGet: (request, options) => alive(() => db.bulkGet(request, options)),
    bulkDocs: (docs, options) =>
      alive(async () => {
        const results = await db.bulkDocs(docs, options);
        if (++writes === crashAfter) dead = true;
        return results;
      }),
    getLocal: (id) => alive(() => db.getLocal(id)),
    putLocal: (doc) => alive(() => db.putLocal(doc)),
  };
}

/** Every revision a local database holds as a leaf, as `id\nrev`. */
async function heldRevs(db: Database): Promise<Set<string>> {
  const { results } = await db.changes({ style: 'all_docs' });
  return new Set(results.flatMap((row) => row.changes.map((change) => `${row.id}\n${change.rev}`)));
}

/** The checkpoint logs of a pull from the server's `source` into `target`, on both sides. */
async function logs(target: Database) {
  const id = await replicationId(direct('source'), target);
  const sourceLog = (await direct('source').getLocal(id)) as CheckpointDoc | undefined;
  const targetLog = (await target.getLocal(id)) as CheckpointDoc | undefined;
  return { sourceLog, targetLog };
}

describe('a one-shot replication resumed after an interruption', () => {
  it.each(SEEDS.slice(0, 8))(
    'checkpointing after every batch, after a crash re-reads at most the one batch written since the checkpoint, seed %i',
    async (seed) => {
      const random = mulberry32(seed);
      const target = await localDb(`crash-${seed}`);
      // Crash after the 3rd..6th write, of 8 batches (a batch may take two writes: a stub re-fetched).
      const crashAfter = 3 + Math.floor(random() * 4);
      const first = await proxy(2000 + seed);
      // checkpoint_interval 0: a checkpoint after every batch (by default, once per interval:
      // crash.test.ts covers that policy).
      const failed = await replicate(remote(first.url, 'source'), crashing(target, crashAfter), {
        ...OPTIONS,
        checkpoint_interval: 0,
      }).done.then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(failed).toMatchObject({ reason: 'simulated crash' });

      const { sourceLog, targetLog } = await logs(target);
      expect(sourceLog && targetLog).toBeTruthy();
      const resumeAt = compareLogs(sourceLog!, targetLog!);
      expect(resumeAt).toBeGreaterThan(0);
      const before = await heldRevs(target);

      const second = await proxy(3000 + seed);
      const source = recording(remote(second.url, 'source'));
      const result = await replicate(source.peer, target, { ...OPTIONS, checkpoint_interval: 0 }).done;
      expect(result.status).toBe('complete');
      expect(diffPeerStates(sourceState, await peerState(target))).toEqual([]);

      // It started from the checkpoint, not from zero…
      expect(source.reads[0]!.since).toBe(resumeAt);
      // …re-read at least the batch that was written but not checkpointed, and at most one batch…
      const reread = source.reads
        .flatMap((read) => read.rows)
        .filter((row) => row.changes.every((change) => before.has(`${row.id}\n${change.rev}`)));
      expect(reread.length).toBeGreaterThan(0);
      expect(reread.length).toBeLessThanOrEqual(BATCH);
      // …and fetched none of the revisions the target already had.
      expect(source.fetched.filter((entry) => before.has(`${entry.id}\n${entry.rev}`))).toEqual([]);
    },
  );

  it.each([1, 2, 3])('after cancel(), re-reads nothing, seed %i', async (seed) => {
    const target = await localDb(`cancel-${seed}`);
    const first = await proxy(4000 + seed);
    const replication = replicate(remote(first.url, 'source'), target, OPTIONS);
    let changes = 0;
    replication.on('change', () => {
      if (++changes === 1 + seed) replication.cancel();
    });
    const cancelled = await replication.done;
    expect(cancelled.status).toBe('cancelled');

    const { sourceLog, targetLog } = await logs(target);
    expect(targetLog?.last_seq).toBe(cancelled.last_seq);
    expect(compareLogs(sourceLog!, targetLog!)).toBe(cancelled.last_seq);
    const before = await heldRevs(target);

    const second = await proxy(5000 + seed);
    const source = recording(remote(second.url, 'source'));
    const result = await replicate(source.peer, target, OPTIONS).done;
    expect(result.status).toBe('complete');
    expect(diffPeerStates(sourceState, await peerState(target))).toEqual([]);
    expect(source.reads[0]!.since).toBe(cancelled.last_seq);
    const reread = source.reads
      .flatMap((read) => read.rows)
      .filter((row) => row.changes.every((change) => before.has(`${row.id}\n${change.rev}`)));
    expect(reread).toEqual([]);
  });
});

describe('a live replication through repeated outages', () => {
  it('backs off from the first step again after it recovered, not from where the last outage left it', async () => {
    // The whole backoff step every time (no jitter), so the waits are known: 20, 40, 80… ms.
    vi.spyOn(Math, 'random').mockReturnValue(0.999);
    try {
      const p = await startFaultProxy({
        targetPort: Number(new URL(server.url).port),
        seed: 6000,
        faultRate: 0,
        weights: { cut: 1, stall: 0, truncate: 0, delay: 0 },
        maxFaultOffset: 0,
      });
      proxies.push(p);
      await direct('outages').ensureExists();
      const source = new RemoteDatabase(`${p.url}/outages`, { auth: AUTH, retries: 0, timeoutMs: 2000 });
      const target = await localDb('outages');
      const replication = replicate(source, target, {
        live: true,
        backoff: { initialMs: 20, maxMs: 60_000 },
      });
      const failedAt: number[] = [];
      replication.on('paused', ({ error }) => {
        if (error) failedAt.push(performance.now());
      });
      await replication.idle();

      // A first outage long enough for seven failures in a row (waits of 20 to 1,280 ms)…
      p.setFaultRate(1);
      await direct('outages').bulkDocs([{ _id: 'first' }]);
      await waitFor(() => failedAt.length >= 7, 'seven failures in a row');
      p.setFaultRate(0);
      await waitFor(async () => (await target.info()).doc_count === 1, 'the first document');
      await replication.idle();

      // …then a second one: after the recovery its first waits are short again (20 and 40 ms,
      // not 2.5 s and more).
      const before = failedAt.length;
      p.setFaultRate(1);
      await direct('outages').bulkDocs([{ _id: 'second' }]);
      await waitFor(() => failedAt.length >= before + 3, 'three more failures');
      expect(failedAt[before + 2]! - failedAt[before]!).toBeLessThan(1000);
      p.setFaultRate(0);
      await waitFor(async () => (await target.info()).doc_count === 2, 'the second document');
      replication.cancel();
      expect((await replication.done).status).toBe('cancelled');
    } finally {
      vi.restoreAllMocks();
    }
  });
});
