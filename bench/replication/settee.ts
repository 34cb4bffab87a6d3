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
import { type Dataset, gc, progress, type TempFolders } from '../lib.js';
import { ADMIN, type ServerProcess } from '../server/servers.js';
import { now, percentile, sleep, waitFor, withTimeout } from '../server/util.js';
import { boundFor, RequestLog } from './measure.js';

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
  const batches: NewDoc[][] = [];
  for (let start = from; start < to; start += batch) {
    const docs: NewDoc[] = [];
    for (let i = start; i < Math.min(to, start + batch); i++) docs.push(replicatedDoc(data, i));
    batches.push(docs);
  }
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
    const batches: NewDoc[][] = [];
    for (let start = 0; start < n; start += batch) {
      const docs: NewDoc[] = [];
      for (let i = start; i < Math.min(n, start + batch); i++) docs.push(replicatedDoc(data, i));
      batches.push(docs);
    }
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

/** The same figures as the server benchmark's PouchDB live run (../server/phases.ts liveRun). */
export interface LiveFigures {
  writes: number;
  intervalMs: number;
  delivered: number;
  p50: number;
  p95: number;
  max: number;
  mean: number;
  requests: number;
  requestsPerWrite: number;
  serverLogged: number;
  endpoints: Record<string, number>;
  serverCpuMsPerWrite: number;
  errors: string[];
}

const ARRIVAL_TIMEOUT_MS = 30_000;
const SETTLE_MS = 250;

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
  const arrivals = new Map<string, number>();
  const prefix = `w-${intervalMs}-`;
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
          for (const doc of change.docs as Doc[]) {
            const t = doc.t;
            if (typeof t === 'number' && !arrivals.has(doc._id)) arrivals.set(doc._id, at - t);
          }
        });
      }
      syncs.push(handle);
    }

    // A first write through the whole pipeline, so the measured ones find it set up and idle.
    await a.put({ _id: `${prefix}warm-up`, t: now(), ...data.body(0), n: -1 });
    if (!(await waitFor(() => arrivals.has(`${prefix}warm-up`), ARRIVAL_TIMEOUT_MS))) {
      throw new Error(`settee live: the warm-up write never reached B (${errors.join('; ')})`);
    }
    await sleep(1000);

    gc();
    const cpu = server.cpuMs();
    const requests = counter.count;
    const endpoints = counter.snapshot();
    const logged = server.requestLines;
    const start = performance.now();
    const puts: Promise<unknown>[] = [];
    for (let i = 0; i < writes; i++) {
      const wait = start + i * intervalMs - performance.now();
      if (wait > 0) await sleep(wait);
      const put = a.put({ _id: `${prefix}${String(i).padStart(5, '0')}`, t: now(), ...data.body(i), n: i });
      puts.push(put.catch((error: unknown) => errors.push(`put ${i}: ${String(error)}`)));
    }
    await withTimeout(Promise.all(puts), ARRIVAL_TIMEOUT_MS, 'the live writes on A');
    const measuredIds = (id: string) => id.startsWith(prefix) && !id.endsWith('warm-up');
    const deliveredCount = () => [...arrivals.keys()].filter(measuredIds).length;
    await waitFor(() => deliveredCount() >= writes, ARRIVAL_TIMEOUT_MS, 10);
    await sleep(SETTLE_MS);
    const sent = counter.count - requests;
    const serverCpuMs = server.cpuMs() - cpu;
    const serverLogged = server.requestLines - logged;

    const latencies = [...arrivals.entries()].filter(([id]) => measuredIds(id)).map(([, ms]) => ms);
    if (latencies.length < writes) errors.push(`${writes - latencies.length} writes never reached B`);
    const figures: LiveFigures = {
      writes,
      intervalMs,
      delivered: latencies.length,
      p50: percentile(latencies, 50),
      p95: percentile(latencies, 95),
      max: percentile(latencies, 100),
      mean: latencies.reduce((sum, ms) => sum + ms, 0) / Math.max(1, latencies.length),
      requests: sent,
      requestsPerWrite: sent / writes,
      serverLogged,
      endpoints: counter.since(endpoints),
      serverCpuMsPerWrite: serverCpuMs / writes,
      errors,
    };
    progress(
      `settee live ${intervalMs} ms: ${figures.delivered}/${writes} delivered, p50 ${figures.p50.toFixed(1)} ms, ` +
        `p95 ${figures.p95.toFixed(1)} ms, max ${figures.max.toFixed(1)} ms, ` +
        `${figures.requestsPerWrite.toFixed(2)} requests/write (server logged ${serverLogged}), ` +
        `server ${figures.serverCpuMsPerWrite.toFixed(2)} ms CPU/write ${JSON.stringify(figures.endpoints)}`,
    );
    return figures;
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
