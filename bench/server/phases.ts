/**
 * What the client does to a server: one-shot push, pull and incremental push of N documents,
 * and live sync from one PouchDB through the server to another.
 */
import { type Dataset, gc, progress, type TempFolders } from '../lib.js';
import { closeQuietly, type Pouch, PouchDB, RequestCounter, remoteDb, type SyncHandle } from './pouch.js';
import type { ServerProcess } from './servers.js';
import { now, percentile, sleep, waitFor, withTimeout } from './util.js';

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
  /** This process's CPU (PouchDB on both local and HTTP side) during the phase, per document. */
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

function body(data: Dataset, i: number): object {
  return { _id: data.ids[i]!, ...data.body(i) };
}

/** Writes documents [from, to) of the data set into a local PouchDB (not timed). */
export async function load(db: Pouch, data: Dataset, from: number, to: number): Promise<void> {
  for (let start = from; start < to; start += LOAD_BATCH) {
    const docs: object[] = [];
    for (let i = start; i < Math.min(to, start + LOAD_BATCH); i++) docs.push(body(data, i));
    const results = await db.bulkDocs(docs);
    const failed = results.find((r) => r.error);
    if (failed) throw new Error(`loading the source failed at ${failed.id}: ${String(failed.error)}`);
  }
}

/** A generous bound for a replication of `docs` documents (even at 200 docs/s). */
function boundFor(docs: number): number {
  return 60_000 + docs * 5;
}

/** One PouchDB replication that must write exactly `expected` documents without failures. */
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

async function measured(
  server: ServerProcess,
  counter: RequestCounter,
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
    await load(source, data, 0, n);
    await remote.info(); // creates the remote database: not part of the timed push

    const push = await measured(server, counter, n, () => replicate(source, remote, n, 'push'));
    const remoteInfo = await remote.info();
    if (remoteInfo.doc_count !== n) throw new Error(`the server holds ${remoteInfo.doc_count} of ${n} docs`);
    progress(`${label} ${n}: ${describe('push', push)}`);

    const pull = await measured(server, counter, n, () => replicate(remote, sink, n, 'pull'));
    const sinkInfo = await sink.info();
    if (sinkInfo.doc_count !== n) throw new Error(`the pulled PouchDB holds ${sinkInfo.doc_count} of ${n}`);
    progress(`${label} ${n}: ${describe('pull', pull)}`);

    await load(source, data, n, n + incremental);
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

export interface LiveFigures {
  writes: number;
  intervalMs: number;
  delivered: number;
  p50: number;
  p95: number;
  max: number;
  mean: number;
  /** HTTP requests both clients sent from the first write until the last arrival + settle. */
  requests: number;
  requestsPerWrite: number;
  /** Request lines the server logged in the same window (a cross-check). */
  serverLogged: number;
  /** Requests per `METHOD endpoint` in the same window. */
  endpoints: Record<string, number>;
  serverCpuMsPerWrite: number;
  /** Settee only: its own milliseconds per request (from its request log), by endpoint. */
  serverMs?: Record<string, { n: number; p50: number; p95: number; max: number }>;
  errors: string[];
}

const ARRIVAL_TIMEOUT_MS = 30_000;
const SETTLE_MS = 250;

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
  const arrivals = new Map<string, number>();
  const prefix = `w-${intervalMs}-`;
  const feed = b.changes({ live: true, since: 'now', include_docs: true });
  try {
    await remoteA.info(); // creates the database
    feed.on('change', (change) => {
      const t = change.doc?.t;
      if (typeof t === 'number' && !arrivals.has(change.id)) arrivals.set(change.id, now() - t);
    });
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

    // A first write through the whole pipeline, so the measured ones find it set up and idle.
    const payload = data.body(0);
    await a.put({ _id: `${prefix}warm-up`, t: now(), ...payload, n: -1 });
    if (!(await waitFor(() => arrivals.has(`${prefix}warm-up`), ARRIVAL_TIMEOUT_MS))) {
      throw new Error(`${label}: the warm-up write never reached B (${errors.join('; ')})`);
    }
    await sleep(1000);

    gc();
    const cpu = server.cpuMs();
    const requests = counter.count;
    const endpoints = counter.snapshot();
    const logged = server.requestLines;
    const timed = server.timings.length;
    const start = performance.now();
    const puts: Promise<unknown>[] = [];
    for (let i = 0; i < writes; i++) {
      const due = start + i * intervalMs;
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait);
      // Not awaited: at 10 ms apart a slow local write must not push the next one back.
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
      ...(server.kind === 'settee' ? { serverMs: timingsByEndpoint(server.timings.slice(timed)) } : {}),
      errors,
    };
    progress(
      `${label} live ${intervalMs} ms: ${figures.delivered}/${writes} delivered, p50 ${figures.p50.toFixed(1)} ms, ` +
        `p95 ${figures.p95.toFixed(1)} ms, max ${figures.max.toFixed(1)} ms, ` +
        `${figures.requestsPerWrite.toFixed(1)} requests/write (server logged ${serverLogged}), ` +
        `server ${figures.serverCpuMsPerWrite.toFixed(2)} ms CPU/write ${JSON.stringify(figures.endpoints)}` +
        (figures.serverMs ? `; Settee's own ms per request ${JSON.stringify(figures.serverMs)}` : ''),
    );
    return figures;
  } finally {
    feed.cancel();
    for (const sync of syncs) sync.cancel();
    await sleep(100);
    for (const db of [remoteA, remoteB]) await closeQuietly(db);
    for (const db of [a, b]) await db.destroy().catch(() => closeQuietly(db));
  }
}

/** p50/p95/max of the logged milliseconds per endpoint (live feeds excluded: they wait by design). */
function timingsByEndpoint(
  timings: readonly { key: string; ms: number }[],
): Record<string, { n: number; p50: number; p95: number; max: number }> {
  const groups = new Map<string, number[]>();
  for (const { key, ms } of timings) {
    if (key.endsWith('_changes')) continue;
    const group = groups.get(key) ?? [];
    group.push(ms);
    groups.set(key, group);
  }
  return Object.fromEntries(
    [...groups].map(([key, values]) => [
      key,
      {
        n: values.length,
        p50: percentile(values, 50),
        p95: percentile(values, 95),
        max: percentile(values, 100),
      },
    ]),
  );
}
