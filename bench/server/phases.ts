/**
 * What the client does to a server: one-shot push, pull and incremental push of N documents,
 * and live sync from one PouchDB through the server to another.
 */
import { type Dataset, gc, progress, type TempFolders } from '../lib.js';
import { Arrivals, type LiveFigures, timeLiveWrites } from './live.js';
import { closeQuietly, type Pouch, PouchDB, RequestCounter, remoteDb, type SyncHandle } from './pouch.js';
import type { RequestTally } from './requests.js';
import type { ServerProcess } from './servers.js';
import { boundFor, sleep, withTimeout } from './util.js';

const LOAD_BATCH = 1000;

/** Figures of one timed replication. */
export interface PhaseFigures {
  docs: number;
  ms: number;
  docsPerSec: number;
  /** The server's user + system CPU during the phase, per document. */
  serverCpuMsPerDoc: number;
  /** The system (kernel) part of it: syscalls such as fsync and socket writes. */
  serverSysMsPerDoc: number;
  /** This process's CPU (the client, local and HTTP side: PouchDB or Settee's replicator), per document. */
  clientCpuMsPerDoc: number;
  /** HTTP requests the client sent. */
  requests: number;
  /** Request lines the server logged during the phase (a cross-check of `requests`). */
  serverLogged: number;
  /** Requests per `METHOD endpoint`. */
  endpoints: Record<string, number>;
}

export interface BulkFigures {
  push: PhaseFigures;
  pull: PhaseFigures;
  incremental: PhaseFigures;
  /** Server memory after the bulk phases (before live sync). */
  afterBulk: { peakMB: number; rssMB: number };
}

/** Writes documents [from, to) of the data set into a local PouchDB as new edits (not timed). */
export async function loadPouch(db: Pouch, data: Dataset, from: number, to: number): Promise<void> {
  for (const docs of data.batches(LOAD_BATCH, (i) => data.doc(i), from, to)) {
    const results = await db.bulkDocs(docs);
    const failed = results.find((r) => r.error);
    if (failed) throw new Error(`loading the source failed at ${failed.id}: ${String(failed.error)}`);
  }
}

/**
 * One PouchDB replication (its defaults: batch_size 100, batches_limit 10), bounded, that must
 * write exactly `expected` documents without failures.
 */
export async function replicate(source: Pouch, target: Pouch, expected: number, what: string): Promise<void> {
  const replication = PouchDB.replicate(source, target, {});
  const result = await withTimeout(replication, boundFor(expected), what, () => replication.cancel());
  if (result.status !== 'complete' || result.docs_written !== expected || result.doc_write_failures > 0) {
    throw new Error(
      `${what}: status ${result.status}, ${result.docs_written} of ${expected} documents written, ` +
        `${result.doc_write_failures} failures ${JSON.stringify(result.errors).slice(0, 500)}`,
    );
  }
}

/** Runs `run` (which replicates `docs` documents) and measures it. */
export async function measured(
  server: ServerProcess,
  counter: RequestTally,
  docs: number,
  run: () => Promise<void>,
): Promise<PhaseFigures> {
  gc();
  const cpu = server.cpu();
  const logged = server.requestLines;
  const requests = counter.count;
  const endpoints = counter.snapshot();
  const client = process.cpuUsage();
  const start = performance.now();
  await run();
  const ms = performance.now() - start;
  const clientUsage = process.cpuUsage(client);
  const cpuAfter = server.cpu();
  const serverSysMs = cpuAfter.systemMs - cpu.systemMs;
  const serverCpuMs = cpuAfter.userMs - cpu.userMs + serverSysMs;
  return {
    docs,
    ms,
    docsPerSec: (docs * 1000) / ms,
    serverCpuMsPerDoc: serverCpuMs / docs,
    serverSysMsPerDoc: serverSysMs / docs,
    clientCpuMsPerDoc: (clientUsage.user + clientUsage.system) / 1000 / docs,
    requests: counter.count - requests,
    serverLogged: server.requestLines - logged,
    endpoints: counter.since(endpoints),
  };
}

function describe(what: string, figures: PhaseFigures): string {
  return (
    `${what}: ${figures.docs} docs in ${(figures.ms / 1000).toFixed(1)} s = ` +
    `${Math.round(figures.docsPerSec)} docs/s, server ${figures.serverCpuMsPerDoc.toFixed(3)} ms/doc ` +
    `(${figures.serverSysMsPerDoc.toFixed(3)} of it system), ` +
    `client ${figures.clientCpuMsPerDoc.toFixed(3)} ms/doc, ${figures.requests} requests ` +
    JSON.stringify(figures.endpoints)
  );
}

/**
 * Push N documents from a local PouchDB to an empty remote database, pull them into an empty
 * local PouchDB, then push `incremental` more from the first one (from its checkpoint).
 */
export async function bulkPhases(
  server: ServerProcess,
  data: Dataset,
  n: number,
  incremental: number,
  folders: TempFolders,
): Promise<BulkFigures> {
  const counter = new RequestCounter();
  const label = server.kind;
  const source = new PouchDB(folders.path(`${label}-source-${n}`));
  const sink = new PouchDB(folders.path(`${label}-sink-${n}`));
  const remote = remoteDb(server.url, `bench-${n}`, counter, server.auth);
  try {
    progress(`${label} ${n}: loading ${n} documents into the source PouchDB`);
    await loadPouch(source, data, 0, n);
    await remote.info(); // creates the remote database: not part of the timed push

    const push = await measured(server, counter, n, () => replicate(source, remote, n, 'push'));
    const remoteInfo = await remote.info();
    if (remoteInfo.doc_count !== n) throw new Error(`the server holds ${remoteInfo.doc_count} of ${n} docs`);
    progress(`${label} ${n}: ${describe('push', push)}`);

    const pull = await measured(server, counter, n, () => replicate(remote, sink, n, 'pull'));
    const sinkInfo = await sink.info();
    if (sinkInfo.doc_count !== n) throw new Error(`the pulled PouchDB holds ${sinkInfo.doc_count} of ${n}`);
    progress(`${label} ${n}: ${describe('pull', pull)}`);

    await loadPouch(source, data, n, n + incremental);
    const more = await measured(server, counter, incremental, () =>
      replicate(source, remote, incremental, 'incremental push'),
    );
    const after = await remote.info();
    if (after.doc_count !== n + incremental) {
      throw new Error(`after the incremental push the server holds ${after.doc_count} of ${n + incremental}`);
    }
    progress(`${label} ${n}: ${describe('incremental push', more)}`);
    return { push, pull, incremental: more, afterBulk: server.memory() };
  } finally {
    await closeQuietly(remote);
    for (const db of [source, sink]) await db.destroy().catch(() => closeQuietly(db));
  }
}

// ---------------------------------------------------------------------------------------------
// Live sync

/**
 * PouchDB A —live sync→ server ←live sync— PouchDB B: a ~1 KB write on A every `intervalMs`,
 * timed (from a timestamp field in the document) until B's live changes feed reports it.
 */
export async function liveRun(
  server: ServerProcess,
  data: Dataset,
  folders: TempFolders,
  writes: number,
  intervalMs: number,
): Promise<LiveFigures> {
  const label = server.kind;
  const name = `live-${intervalMs}ms`;
  const counter = new RequestCounter();
  const remoteA = remoteDb(server.url, name, counter, server.auth);
  const remoteB = remoteDb(server.url, name, counter, server.auth);
  const a = new PouchDB(folders.path(`${label}-live-a`));
  const b = new PouchDB(folders.path(`${label}-live-b`));
  const errors: string[] = [];
  const syncs: SyncHandle[] = [];
  const arrivals = new Arrivals();
  const feed = b.changes({ live: true, since: 'now', include_docs: true });
  try {
    await remoteA.info(); // creates the database
    feed.on('change', (change) => arrivals.seen(change.id, change.doc?.t));
    feed.on('error', (error) => errors.push(`B changes: ${String(error)}`));
    for (const [db, remote, side] of [
      [a, remoteA, 'A'],
      [b, remoteB, 'B'],
    ] as const) {
      const sync = db.sync(remote, { live: true, retry: true });
      sync.on('error', (error) => errors.push(`${side} sync error: ${String(error)}`));
      sync.on('denied', (error) => errors.push(`${side} sync denied: ${String(error)}`));
      syncs.push(sync);
    }
    return await timeLiveWrites(
      server,
      data,
      { label, put: (doc) => a.put(doc), arrivals, errors, counter },
      writes,
      intervalMs,
    );
  } finally {
    feed.cancel();
    for (const sync of syncs) sync.cancel();
    await sleep(100);
    for (const db of [remoteA, remoteB]) await closeQuietly(db);
    for (const db of [a, b]) await db.destroy().catch(() => closeQuietly(db));
  }
}
