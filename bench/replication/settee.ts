/**
 * Settee's side: the replicated documents as they travel (with `_rev` and `_revisions`),
 * seeding a server database, a timed Settee replication, the local ceiling (bulkDocs
 * new_edits=false straight into a local database) and a two-way live sync through the server.
 */
import type { Doc, NewDoc } from '../../src/core/api.js';
import { Database } from '../../src/database/database.js';
import { RemoteDatabase } from '../../src/remote/index.js';
import '../../src/remote/undici-transport.js';
import { replicate, type ReplicationResult, sync, type Sync } from '../../src/replication/index.js';
import { type Dataset, gc, type TempFolders } from '../lib.js';
import { Arrivals, type LiveEnds, type LiveFigures, timeLiveWrites } from '../server/live.js';
import { ADMIN, type ServerProcess } from '../server/servers.js';
import { boundFor, now, withTimeout } from '../server/util.js';
import { RequestLog } from './measure.js';

/** Document i as a replicator writes it: its revision and the revision's history. */
export function replicatedDoc(data: Dataset, i: number): NewDoc {
  const rev = data.revs[i]!;
  return {
    _id: data.ids[i]!,
    _rev: rev,
    _revisions: { start: 1, ids: [rev.slice(2)] },
    ...data.body(i),
  };
}

/** A Settee handle on a server database, sending its requests through `counter`. */
export function remote(server: ServerProcess, name: string, counter: RequestLog): RemoteDatabase {
  return new RemoteDatabase(`${server.url}/${name}`, { auth: ADMIN, onRequest: counter.onRequest });
}

/**
 * Writes documents [from, to) into a server database with `_bulk_docs` (new_edits=false), in
 * batches; returns the milliseconds it took (the HTTP write path without a replicator).
 */
export async function seed(
  db: RemoteDatabase,
  data: Dataset,
  from: number,
  to: number,
  batch: number,
): Promise<number> {
  await db.ensureExists();
  const batches = data.batches(batch, (i) => replicatedDoc(data, i), from, to);
  const began = performance.now();
  for (const docs of batches) {
    const results = await db.bulkDocs(docs, { newEdits: false });
    const failed = results.find((r) => 'error' in r);
    if (failed) throw new Error(`seeding ${db.name} failed: ${JSON.stringify(failed)}`);
  }
  return performance.now() - began;
}

/** One-shot Settee replication, bounded; checks that exactly `expected` documents were written. */
export async function setteeReplicate(
  source: RemoteDatabase | Database,
  target: RemoteDatabase | Database,
  expected: number,
  batchSize: number,
  what: string,
): Promise<ReplicationResult> {
  const replication = replicate(source, target, { batch_size: batchSize });
  const result = await withTimeout(replication.done, boundFor(expected), what, () => replication.cancel());
  if (result.status !== 'complete' || result.docs_written !== expected || result.doc_write_failures > 0) {
    throw new Error(
      `${what}: status ${result.status}, ${result.docs_written} of ${expected} documents written, ` +
        `${result.doc_write_failures} failures`,
    );
  }
  return result;
}

export async function openLocal(folders: TempFolders, name: string): Promise<Database> {
  return Database.open(folders.path(`${name}.sqlite`));
}

/**
 * The local ceiling: the same documents written with bulkDocs(new_edits=false) into an empty
 * local database, `batch` at a time, without network or replicator. The batches are built
 * before the clock starts. Returns docs/s.
 */
export async function ceiling(
  data: Dataset,
  n: number,
  batch: number,
  folders: TempFolders,
): Promise<number> {
  const db = await openLocal(folders, `ceiling-${batch}`);
  try {
    const batches = data.batches(batch, (i) => replicatedDoc(data, i), 0, n);
    gc();
    const began = performance.now();
    for (const docs of batches) {
      const results = await db.bulkDocs(docs, { newEdits: false });
      if (results.some((r) => 'error' in r)) throw new Error(`ceiling batch ${batch}: a write failed`);
    }
    const ms = performance.now() - began;
    const info = await db.info();
    if (info.doc_count !== n) throw new Error(`ceiling batch ${batch}: ${info.doc_count} of ${n} docs`);
    return (n * 1000) / ms;
  } finally {
    await db.destroy().catch(() => db.close());
  }
}

// ---------------------------------------------------------------------------------------------
// Live sync

/**
 * Local Settee A ⇄ live sync ⇄ server ⇄ live sync ⇄ local Settee B (four live replications, as
 * PouchDB's run has): a ~1 KB write on A every `intervalMs`, timed (from a timestamp in the
 * document) until B's pull has written it into B.
 */
export async function setteeLive(
  server: ServerProcess,
  data: Dataset,
  folders: TempFolders,
  writes: number,
  intervalMs: number,
): Promise<LiveFigures> {
  const name = `settee-live-${intervalMs}ms`;
  const counter = new RequestLog();
  const remoteA = remote(server, name, counter);
  const remoteB = remote(server, name, counter);
  const a = await openLocal(folders, 'live-a');
  const b = await openLocal(folders, 'live-b');
  const errors: string[] = [];
  const syncs: Sync[] = [];
  const arrivals = new Arrivals();
  try {
    await remoteA.ensureExists();
    for (const [db, peer, side] of [
      [a, remoteA, 'A'],
      [b, remoteB, 'B'],
    ] as const) {
      const handle = sync(db, peer, { live: true });
      handle.on('error', ({ direction, error }) => errors.push(`${side} ${direction}: ${String(error)}`));
      handle.on('denied', ({ direction, denied }) => errors.push(`${side} ${direction} denied ${denied.id}`));
      if (side === 'B') {
        handle.on('change', ({ direction, change }) => {
          if (direction !== 'pull') return;
          const at = now();
          for (const doc of change.docs as Doc[]) arrivals.seen(doc._id, doc.t, at);
        });
      }
      syncs.push(handle);
    }
    const ends: LiveEnds = { label: 'settee', put: (doc) => a.put(doc), arrivals, errors, counter };
    return await timeLiveWrites(server, data, ends, writes, intervalMs);
  } finally {
    for (const handle of syncs) handle.cancel();
    await withTimeout(
      Promise.allSettled(syncs.map((s) => s.done)),
      10_000,
      'cancelling the live syncs',
    ).catch((error: unknown) => errors.push(String(error)));
    for (const db of [a, b]) await db.destroy().catch(() => db.close());
  }
}
