import { describe, expect, it } from 'vitest';
import type { Peer, PeerChangesOptions } from '../../src/core/api.js';
import type { Database } from '../../src/database/database.js';
import { type Replication, replicate, replicationId, sync } from '../../src/replication/index.js';
import {
  allIds,
  bytes,
  checkpointOn,
  dbState,
  fill,
  hasRev,
  peerOver,
  recreatable,
  useTempDatabases,
  waitFor,
  winnerOf,
} from './helpers.js';

const dbs = useTempDatabases();

/** Runs `test` with a live replication or sync, cancelling it whatever happens. */
async function running<T extends { cancel(): void; done: Promise<unknown> }, R>(
  handle: T,
  test: (handle: T) => Promise<R>,
): Promise<R> {
  try {
    return await test(handle);
  } finally {
    handle.cancel();
    await handle.done.catch(() => undefined);
  }
}

/**
 * A Peer over `db` that counts the longpolls it is asked for. An idle live replication asks for
 * the next one only once the previous one timed out and everything it led to (a checkpoint when
 * due, events) is done: each new longpoll is the fact that one more idle round is over.
 */
function countingLongpolls(db: Database): { peer: Peer; longpolls: () => number } {
  let longpolls = 0;
  const peer = peerOver(db, {
    changes: (options) => {
      if (options.longpoll) longpolls++;
      return db.changes(options);
    },
  });
  return { peer, longpolls: () => longpolls };
}

/**
 * Lets `rounds` idle rounds pass on every counted source (each one's longpoll timing out, then
 * handled), and expects `read` to return the same value after them as before.
 */
async function expectUnchangedFor(
  rounds: number,
  sources: (() => number)[],
  read: () => Promise<unknown>,
  what: string,
): Promise<void> {
  const before = JSON.stringify(await read());
  const targets = sources.map((longpolls) => longpolls() + rounds + 1);
  await waitFor(() => sources.every((longpolls, i) => longpolls() >= targets[i]!), `${rounds} idle rounds`);
  expect(JSON.stringify(await read()), what).toBe(before);
}

/** Every event name a replication emits, in order. */
function eventNames(replication: Replication): string[] {
  const names: string[] = [];
  for (const name of ['active', 'paused', 'change', 'denied', 'error', 'complete'] as const) {
    replication.on(name, () => names.push(name));
  }
  return names;
}

describe('live replication', () => {
  it('picks up writes, updates, deletions and attachments as they happen', async () => {
    const [source, target] = [await dbs.open(), await dbs.open()];
    await fill(source, 5);
    await running(replicate(source, target, { live: true }), async (replication) => {
      await replication.idle();
      expect(await allIds(target)).toHaveLength(5);

      const created = await source.put({ _id: 'new', v: 1 });
      await waitFor(() => hasRev(target, 'new', created.rev), 'the new document');
      const updated = await source.put({ _id: 'new', _rev: created.rev, v: 2 });
      const doc0 = await source.get('doc000');
      await source.remove('doc000', doc0._rev);
      const data = bytes(20_000, 7);
      await source.putAttachment('doc001', 'blob', (await source.get('doc001'))._rev, data, 'x/y');

      await waitFor(async () => (await target.get('new')).v === 2, 'the update');
      await waitFor(async () => (await winnerOf(target, 'doc000')) === 'deleted', 'the deletion');
      await waitFor(
        async () => (await target.get('doc001'))._attachments?.blob !== undefined,
        'the attachment',
      );
      expect(Buffer.from((await target.getAttachment('doc001', 'blob')).data).equals(Buffer.from(data))).toBe(
        true,
      );
      expect((await target.get('new'))._rev).toBe(updated.rev);
      await waitFor(async () => {
        await replication.idle();
        return replication.state === 'paused' && replication.progress.last_seq === source.updateSeq();
      }, 'the replication to catch up');
      expect(await dbState(target)).toEqual(await dbState(source));
    });
  });

  it('checkpoints when it pauses, coalescing batches as a one-shot run does (per batch only at interval 0)', async () => {
    const [source, live, oneShot, everyBatch] = [
      await dbs.open(),
      await dbs.open(),
      await dbs.open(),
      await dbs.open(),
    ];
    await fill(source, 100);
    // Ten batches within one checkpoint_interval (5 s): one checkpoint, at the end; each write of
    // a `_local` document adds one to its revision's counter.
    await replicate(source, oneShot, { batch_size: 10 }).done;
    const oneShotLog = await checkpointOn(oneShot, await replicationId(source, oneShot));
    expect(oneShotLog).toMatchObject({ _rev: '0-1', last_seq: source.updateSeq() });
    await replicate(source, everyBatch, { batch_size: 10, checkpoint_interval: 0 }).done;
    const everyBatchLog = await checkpointOn(everyBatch, await replicationId(source, everyBatch));
    expect(everyBatchLog).toMatchObject({ _rev: '0-10', last_seq: source.updateSeq() });

    await running(replicate(source, live, { live: true, batch_size: 10 }), async (replication) => {
      await replication.idle();
      const id = await replicationId(source, live);
      const log = await checkpointOn(live, id);
      expect(log).toMatchObject({ _rev: '0-1', last_seq: source.updateSeq() });
      expect(await checkpointOn(source, id)).toMatchObject({ _rev: '0-1', last_seq: source.updateSeq() });

      // A later write is checkpointed once caught up again.
      await source.put({ _id: 'later' });
      await waitFor(
        async () => (await checkpointOn(live, id))?.last_seq === source.updateSeq(),
        'a checkpoint of the new write',
      );
      expect((await checkpointOn(source, id))?.last_seq).toBe(source.updateSeq());
    });
  });

  it('is idle when nothing changes: no writes, no checkpoints, no events', async () => {
    const [db, target] = [await dbs.open(), await dbs.open()];
    await fill(db, 10);
    const { peer: source, longpolls } = countingLongpolls(db);
    // Short longpolls, each longer than the checkpoint interval: every idle round may checkpoint.
    const options = { live: true, heartbeat_timeout: 100, checkpoint_interval: 50 };
    await running(replicate(source, target, options), async (replication) => {
      await replication.idle();
      const names = eventNames(replication);
      const id = await replicationId(source, target);
      await expectUnchangedFor(
        3,
        [longpolls],
        async () => ({
          source: (await checkpointOn(db, id))?._rev,
          target: (await checkpointOn(target, id))?._rev,
          targetSeq: target.updateSeq(),
          sourceSeq: db.updateSeq(),
        }),
        'checkpoints and sequences while idle',
      );
      expect(names).toEqual([]);
      expect(replication.state).toBe('paused');
    });
  });

  it('cancel ends with status cancelled and a final checkpoint of what was written', async () => {
    const [source, target] = [await dbs.open(), await dbs.open()];
    await fill(source, 100);
    // A long checkpoint interval: only the final checkpoint can record the batches written.
    const replication = replicate(source, target, {
      live: true,
      batch_size: 10,
      checkpoint_interval: 60_000,
    });
    let batches = 0;
    replication.on('change', () => {
      if (++batches === 3) replication.cancel();
    });
    const result = await replication.done;
    expect(result.status).toBe('cancelled');
    expect(replication.state).toBe('cancelled');
    expect(result.docs_written).toBeGreaterThanOrEqual(30);
    expect(result.docs_written).toBeLessThan(100);
    const id = await replicationId(source, target);
    expect((await checkpointOn(target, id))?.last_seq).toBe(result.last_seq);
    expect((await checkpointOn(source, id))?.last_seq).toBe(result.last_seq);

    // A new run resumes from there.
    const rest = await replicate(source, target).done;
    expect(rest.docs_read).toBe(100 - result.docs_written);
    expect(await dbState(target)).toEqual(await dbState(source));
  });

  it('cancel writes the final checkpoint even when the peer rejects the aborted read', async () => {
    const [db, target] = [await dbs.open(), await dbs.open()];
    await fill(db, 100);
    // Like an HTTP peer, this source rejects a read when its signal aborts; from the fourth
    // read on it stalls, so cancel() always catches a read in flight.
    const source = stallingSource(db, 3);
    const replication = replicate(source, target, {
      live: true,
      batch_size: 10,
      checkpoint_interval: 60_000,
    });
    let batches = 0;
    replication.on('change', () => {
      if (++batches === 3) replication.cancel();
    });
    const result = await replication.done;
    expect(result).toMatchObject({ status: 'cancelled', docs_written: 30, last_seq: 30 });
    const id = await replicationId(source, target);
    expect((await checkpointOn(target, id))?.last_seq).toBe(30);
    expect((await checkpointOn(db, id))?.last_seq).toBe(30);
  });

  it('skip_deleted_on_first_pull: tombstones of the first pull are skipped, later deletions follow', async () => {
    const [source, target] = [await dbs.open(), await dbs.open()];
    const revs = await fill(source, 6);
    await source.remove('doc000', revs.get('doc000')!);
    const options = { live: true, skip_deleted_on_first_pull: true, batch_size: 2 };
    await running(replicate(source, target, options), async (replication) => {
      await replication.idle();
      expect(await allIds(target)).toEqual(['doc001', 'doc002', 'doc003', 'doc004', 'doc005']);
      await source.remove('doc003', revs.get('doc003')!);
      await waitFor(async () => (await winnerOf(target, 'doc003')) === 'deleted', 'the later deletion');
      expect(await winnerOf(target, 'doc000')).toBe('missing');
    });
  });

  it('after a transient failure it resumes from its checkpoint, not from `since` again', async () => {
    const [source, db] = [await dbs.open(), await dbs.open()];
    await fill(source, 10);
    let failures = 0;
    // A target that fails one write, as a cut connection would.
    const target = peerOver(db, {
      bulkDocs: async (docs, options) => {
        if (docs.some((doc) => doc._id === 'while-failing') && failures++ === 0)
          throw new Error('socket hang up');
        return db.bulkDocs(docs, options);
      },
    });
    const options = { live: true, since: 'now', backoff: { initialMs: 10, maxMs: 20 } };
    await running(replicate(source, target, options), async (replication) => {
      const paused: (Error | undefined)[] = [];
      replication.on('paused', ({ error }) => paused.push(error));
      await replication.idle();
      expect(await allIds(db)).toEqual([]);
      await source.put({ _id: 'while-failing' });
      await waitFor(() => failures > 0, 'the failure');
      await waitFor(async () => (await allIds(db)).includes('while-failing'), 'the retried write');
      expect(paused.some((error) => error?.message === 'socket hang up')).toBe(true);
    });
  });

  it('a target destroyed and re-created under it is filled again from zero', async () => {
    const [source, first] = [await dbs.open(), await dbs.open()];
    await fill(source, 10);
    const target = recreatable(first, dbs.openAt);
    // They have synced before: the live replication finds its checkpoints on both sides.
    await replicate(source, target).done;
    await running(replicate(source, target, { live: true }), async (replication) => {
      await replication.idle();
      await target.recreate(dbs.pathOf(first));
      await source.put({ _id: 'late' });
      await waitFor(
        async () => (await allIds(target.current)).length === 11,
        'every document in the new target',
      );
    });
    // Nor does a later run trust a checkpoint the new target got from the old session.
    await replicate(source, target).done;
    expect(await dbState(target.current)).toEqual(await dbState(source));
  });

  it('a target re-created during a one-shot run is refilled from zero once noticed', async () => {
    const [source, first] = [await dbs.open(), await dbs.open()];
    await fill(source, 200);
    const recreated = recreatable(first, dbs.openAt);
    // The run checks whether a peer was re-created at most once per checkpoint interval, before
    // a checkpoint it writes once the interval is over: the interval is this test's subject.
    // The target is re-created after two batches, before any checkpoint (which, missing from
    // the new target, would tell the run on its own); the write after it waits until the
    // interval since the run started is over, so the checkpoint that follows it checks.
    const interval = 500;
    let startedAt = Number.POSITIVE_INFINITY;
    let checkpointsBeforeRecreation: number | undefined;
    let checkpoints = 0;
    const target = {
      ...recreated,
      putLocal: (doc: Parameters<Peer['putLocal']>[0]) => {
        checkpoints++;
        return recreated.putLocal(doc);
      },
      bulkDocs: async (...args: Parameters<Peer['bulkDocs']>) => {
        if (checkpointsBeforeRecreation !== undefined)
          await waitFor(() => Date.now() - startedAt >= interval, 'the checkpoint interval');
        return recreated.bulkDocs(...args);
      },
    };
    const replication = replicate(source, target, { batch_size: 5, checkpoint_interval: interval });
    replication.on('active', () => (startedAt = Math.min(startedAt, Date.now())));
    let batches = 0;
    replication.on('change', () => {
      if (++batches !== 2) return;
      checkpointsBeforeRecreation = checkpoints;
      void recreated.recreate(dbs.pathOf(first));
    });
    const result = await replication.done;
    expect(result.status).toBe('complete');
    expect(checkpointsBeforeRecreation).toBe(0);
    expect(await dbState(recreated.current)).toEqual(await dbState(source));
  });

  it('a one-shot run shorter than its checkpoint interval notices a re-created target at its end', async () => {
    const [source, first] = [await dbs.open(), await dbs.open()];
    await fill(source, 200);
    const recreated = recreatable(first, dbs.openAt);
    // An interval no run here lasts: only the check before the completing checkpoint can notice.
    const replication = replicate(source, recreated, { batch_size: 5, checkpoint_interval: 600_000 });
    let batches = 0;
    replication.on('change', () => {
      if (++batches === 2) void recreated.recreate(dbs.pathOf(first));
    });
    expect((await replication.done).status).toBe('complete');
    expect(await dbState(recreated.current)).toEqual(await dbState(source));
  });

  it('cancel while paused resolves done promptly', async () => {
    const [source, target] = [await dbs.open(), await dbs.open()];
    await fill(source, 3);
    const replication = replicate(source, target, { live: true });
    await replication.idle();
    const started = Date.now();
    replication.cancel();
    const result = await replication.done;
    expect(Date.now() - started).toBeLessThan(2000);
    expect(result).toMatchObject({ status: 'cancelled', docs_written: 3, last_seq: source.updateSeq() });
    expect(await replication.idle()).toBeUndefined();
  });
});

describe('live sync', () => {
  it('picks up writes on either side, and converges conflicting edits', async () => {
    const [a, b] = [await dbs.open(), await dbs.open()];
    await fill(a, 3, 'a');
    await fill(b, 4, 'b');
    await running(sync(a, b, { live: true }), async (handle) => {
      await waitFor(
        async () => (await allIds(a)).length === 7 && (await allIds(b)).length === 7,
        'first sync',
      );

      const fromA = await a.put({ _id: 'x', by: 'a' });
      await waitFor(() => hasRev(b, 'x', fromA.rev), 'a → b');
      const fromB = await b.put({ _id: 'x', _rev: fromA.rev, by: 'b' });
      await waitFor(() => hasRev(a, 'x', fromB.rev), 'b → a');

      // Both edit the same revision at (nearly) the same time.
      const [onA, onB] = await Promise.all([
        a.put({ _id: 'x', _rev: fromB.rev, edit: 'a' }),
        b.put({ _id: 'x', _rev: fromB.rev, edit: 'b' }),
      ]);
      await waitFor(
        async () =>
          (await hasRev(a, 'x', onB.rev)) &&
          (await hasRev(b, 'x', onA.rev)) &&
          JSON.stringify(await dbState(a)) === JSON.stringify(await dbState(b)),
        'the conflict on both sides',
      );
      const winner = await a.get('x', { conflicts: true });
      expect(winner._conflicts).toHaveLength(1);
      expect(await b.get('x', { conflicts: true })).toEqual(winner);

      await handle.idle();
      expect(handle.push.state).toBe('paused');
      expect(handle.pull.state).toBe('paused');
    });
  });

  it('is idle when nothing changes: its four checkpoint documents stay as they are', async () => {
    const [a, b] = [await dbs.open(), await dbs.open()];
    await fill(a, 5, 'a');
    await fill(b, 5, 'b');
    const [countedA, countedB] = [countingLongpolls(a), countingLongpolls(b)];
    await running(
      sync(countedA.peer, countedB.peer, { live: true, heartbeat_timeout: 100 }),
      async (handle) => {
        await waitFor(async () => (await allIds(a)).length === 10 && (await allIds(b)).length === 10, 'sync');
        await waitFor(async () => {
          await handle.idle();
          return handle.push.state === 'paused' && handle.pull.state === 'paused';
        }, 'both directions to pause');
        const [push, pull] = [await replicationId(a, b), await replicationId(b, a)];
        const logs = async () =>
          Promise.all([
            checkpointOn(a, push),
            checkpointOn(b, push),
            checkpointOn(a, pull),
            checkpointOn(b, pull),
          ]);
        for (const log of await logs()) expect(log).toBeDefined();
        await expectUnchangedFor(
          3,
          [countedA.longpolls, countedB.longpolls],
          async () => ({
            logs: (await logs()).map((log) => log?._rev),
            seqs: [a.updateSeq(), b.updateSeq()],
          }),
          'checkpoints and sequences while idle',
        );
      },
    );
  });

  it('cancel ends both directions, each with status cancelled', async () => {
    const [a, b] = [await dbs.open(), await dbs.open()];
    await fill(a, 2);
    const handle = sync(a, b, { live: true });
    let completed: unknown;
    handle.on('complete', (result) => {
      completed = result;
    });
    await waitFor(async () => (await allIds(b)).length === 2, 'sync');
    handle.cancel();
    const { push, pull } = await handle.done;
    expect(push.status).toBe('cancelled');
    expect(pull.status).toBe('cancelled');
    expect(push.docs_written).toBe(2);
    expect(completed).toEqual({ push, pull });
  });
});

/**
 * A Peer over a local database whose `changes` rejects with the abort reason when its signal
 * aborts, as an HTTP peer does; reads after the first `freeAfter` never answer on their own.
 */
function stallingSource(db: Database, freeAfter: number): Peer {
  let reads = 0;
  return peerOver(db, {
    changes: (options: PeerChangesOptions) =>
      new Promise((resolve, reject) => {
        const { signal } = options;
        if (signal?.aborted) return reject(signal.reason);
        signal?.addEventListener('abort', () => reject(signal.reason), { once: true });
        if (++reads <= freeAfter) db.changes(options).then(resolve, reject);
      }),
  });
}
