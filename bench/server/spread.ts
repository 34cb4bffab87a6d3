/**
 * The scale-out load: C clients at once, client i talking to server i mod S of a deployment (one
 * or several Settee servers), PouchDB and Settee's replicator each pushing its share of N documents
 * into one database, then each pulling the whole database into an empty one. Every phase is timed
 * with the CPU of every server process and of PostgreSQL's, and checked: each target holds what
 * its sources hold (a count and a SHA-256 over ids, revisions and bodies, read through every server).
 */
import { createHash } from 'node:crypto';
import { canonicalJson } from '../../src/core/canonical-json.js';
import type { Database } from '../../src/database/database.js';
import { RemoteDatabase } from '../../src/remote/index.js';
import '../../src/storage/sqlite/open.js'; // Database.open on SQLite files, as the Node entry has it
import { type Dataset, gc, progress, type TempFolders } from '../lib.js';
import { type Counters, countersDelta, countersText } from './cpu-probe.js';
import { RequestLog } from '../replication/measure.js';
import { openLocal, setteeReplicate } from '../replication/settee.js';
import { loadPouch, replicate } from './phases.js';
import {
  type AllDocsPage,
  type AllDocsPaging,
  closeQuietly,
  PouchDB,
  RequestCounter,
  remoteDb,
} from './pouch.js';
import { ADMIN, type ServerProcess } from './servers.js';

/** Servers under test, and where PostgreSQL's CPU is read (nothing for SQLite). */
export interface Deployment {
  readonly label: string;
  readonly servers: readonly ServerProcess[];
  postgresCpuMs(): number;
  /** Finer counters of every process (`cpu-probe.ts`), whose difference over each phase is reported. */
  counters(): Promise<Counters>;
  /** PostgreSQL's deferred maintenance done now (`BenchPostgres.settle`); nothing for SQLite. */
  settle(options: { analyze: boolean }): Promise<void>;
}

/** What a target holds: its document count and a digest of every id, winning revision and body. */
export interface Digest {
  count: number;
  sha256: string;
}

export interface SpreadFigures {
  /** Documents written by all clients together. */
  docs: number;
  ms: number;
  docsPerSec: number;
  setteeCpuMsPerDoc: number;
  postgresCpuMsPerDoc: number;
  cpuMsPerDoc: number;
  /** What every target of the phase holds (all were checked equal to their sources). */
  digest: Digest;
  /** The difference of `Deployment.counters` over the phase. */
  counters: Counters;
}

export interface SpreadRun {
  pouchPush: SpreadFigures;
  pouchPull: SpreadFigures;
  setteePush: SpreadFigures;
  setteePull: SpreadFigures;
}

/** Settee's replicator batch: its default, and PouchDB's. */
const SETTEE_BATCH = 100;
const DIGEST_PAGE = 1000;
const LOAD_BATCH = 1000;

/** Anything with `_all_docs`: a PouchDB handle, a local Settee Database or a RemoteDatabase. */
interface AllDocsReader {
  allDocs(options: AllDocsPaging): Promise<AllDocsPage>;
}

/**
 * The digest of the documents of `readers` read one after the other, each in id order: for
 * sources holding consecutive id ranges, the digest of their union.
 */
export async function digestOf(readers: readonly AllDocsReader[]): Promise<Digest> {
  const hash = createHash('sha256');
  let count = 0;
  for (const reader of readers) {
    let startkey: string | undefined;
    for (;;) {
      const paging: AllDocsPaging = { include_docs: true, limit: DIGEST_PAGE };
      const page = await reader.allDocs(startkey === undefined ? paging : { ...paging, startkey, skip: 1 });
      for (const row of page.rows) {
        const { _id, _rev, ...body } = (row.doc ?? {}) as { _id?: string; _rev?: string };
        hash.update(`${_id}\n${_rev}\n${canonicalJson(body)}\n`);
        count++;
      }
      if (page.rows.length < DIGEST_PAGE) break;
      startkey = page.rows.at(-1)!.key;
    }
  }
  return { count, sha256: hash.digest('hex') };
}

/** Fails unless every target's digest equals the sources'. */
async function expectSame(what: string, sources: Digest, targets: readonly AllDocsReader[]): Promise<void> {
  for (const [i, target] of targets.entries()) {
    const digest = await digestOf([target]);
    if (digest.count !== sources.count || digest.sha256 !== sources.sha256) {
      throw new Error(
        `${what}: target ${i} holds ${digest.count} docs (${digest.sha256.slice(0, 12)}), ` +
          `the sources ${sources.count} (${sources.sha256.slice(0, 12)})`,
      );
    }
  }
}

/** Documents [from, to) of client `i` of `clients`: consecutive ranges, in id order. */
function shareOf(n: number, clients: number, i: number): { from: number; to: number } {
  return { from: Math.floor((n * i) / clients), to: Math.floor((n * (i + 1)) / clients) };
}

function setteeCpuMs(deployment: Deployment): number {
  return deployment.servers.reduce((sum, server) => sum + server.cpuMs(), 0);
}

async function measured(deployment: Deployment, docs: number, run: () => Promise<void>) {
  // PostgreSQL at rest: no checkpoint or vacuum left over from what ran before falls in the phase.
  await deployment.settle({ analyze: true });
  gc();
  const settee = setteeCpuMs(deployment);
  const postgres = deployment.postgresCpuMs();
  const counters = await deployment.counters();
  const start = performance.now();
  await run();
  const ms = performance.now() - start;
  // The phase's own deferred maintenance, in its CPU but not in its time.
  await deployment.settle({ analyze: false });
  const setteeMs = setteeCpuMs(deployment) - settee;
  const postgresMs = deployment.postgresCpuMs() - postgres;
  const delta = countersDelta(counters, await deployment.counters());
  return {
    counters: delta,
    docs,
    ms,
    docsPerSec: (docs * 1000) / ms,
    setteeCpuMsPerDoc: setteeMs / docs,
    postgresCpuMsPerDoc: postgresMs / docs,
    cpuMsPerDoc: (setteeMs + postgresMs) / docs,
  };
}

function describe(what: string, figures: SpreadFigures): string {
  return (
    `${what}: ${figures.docs} docs in ${(figures.ms / 1000).toFixed(1)} s = ${Math.round(figures.docsPerSec)} docs/s, ` +
    `CPU ${figures.cpuMsPerDoc.toFixed(3)} ms/doc (Settee ${figures.setteeCpuMsPerDoc.toFixed(3)}, ` +
    `PostgreSQL ${figures.postgresCpuMsPerDoc.toFixed(3)}), ${figures.digest.count} docs ${figures.digest.sha256.slice(0, 12)}` +
    `\n  ${countersText(figures.counters, figures.docs)}`
  );
}

/** How many clients, and the databases they replicate with on the servers (fresh ones, each time). */
export interface SpreadLoad {
  clients: number;
  /** Prefix of the server databases' names. */
  prefix: string;
  /**
   * The clients one after the other rather than all at once: at any moment one client replicates
   * with one server, so a deployment of several servers on a machine of few cores measures the
   * work per document without the servers competing for the cores (see scale-out.ts).
   */
  oneAtATime?: boolean;
}

/** Runs the four phases of `load.clients` clients on `deployment` with `n` documents. */
export async function spreadPhases(
  deployment: Deployment,
  data: Dataset,
  n: number,
  load: SpreadLoad,
  folders: TempFolders,
): Promise<SpreadRun> {
  const pouch = await pouchPhases(deployment, data, n, load, folders);
  const settee = await setteePhases(deployment, data, n, load, folders);
  return { ...pouch, ...settee };
}

function serverOf(deployment: Deployment, client: number): ServerProcess {
  return deployment.servers[client % deployment.servers.length]!;
}

/** One kind of client's databases: local sources and sinks, and remote ones on the servers. */
interface ClientSide<Db extends AllDocsReader> {
  /** Names the client in progress lines and errors. */
  name: string;
  /** One per client, loaded with its share of the documents. */
  sources: readonly Db[];
  /** One per client, empty. */
  sinks: readonly Db[];
  /** Client i's handle on the server database, on server i mod S. */
  remotes: readonly Db[];
  /** One handle on the server database per server, for the checks. */
  everyServer: readonly Db[];
  /** A one-shot replication that must write exactly `expected` documents. */
  replicate(source: Db, target: Db, expected: number, what: string): Promise<unknown>;
}

/**
 * Every client pushes its source into the server database, then pulls the whole of it into its
 * sink; each phase timed, then checked: every target holds what the sources hold, read through
 * every server for the server database.
 */
async function pushThenPull<Db extends AllDocsReader>(
  deployment: Deployment,
  n: number,
  { clients, oneAtATime = false }: SpreadLoad,
  side: ClientSide<Db>,
): Promise<{ push: SpreadFigures; pull: SpreadFigures }> {
  const label = `${deployment.label}: ${side.name}`;
  const indexes = [...Array(clients).keys()];
  const sourceDigest = await digestOf(side.sources);
  const phase = async (
    what: string,
    docs: number,
    work: (i: number) => Promise<unknown>,
    targets: readonly Db[],
  ) => {
    const figures = {
      ...(await measured(deployment, docs, () => all(indexes, oneAtATime, work))),
      digest: sourceDigest,
    };
    await expectSame(what, sourceDigest, targets);
    progress(describe(what, figures));
    return figures;
  };
  const pushShare = (i: number) => {
    const { from, to } = shareOf(n, clients, i);
    return side.replicate(side.sources[i]!, side.remotes[i]!, to - from, `${label} push ${i}`);
  };
  const push = await phase(`${label} push`, n, pushShare, side.everyServer);
  const pullAll = (i: number) => side.replicate(side.remotes[i]!, side.sinks[i]!, n, `${label} pull ${i}`);
  const pull = await phase(`${label} pull`, n * clients, pullAll, side.sinks);
  return { push, pull };
}

async function pouchPhases(
  deployment: Deployment,
  data: Dataset,
  n: number,
  load: SpreadLoad,
  folders: TempFolders,
): Promise<Pick<SpreadRun, 'pouchPush' | 'pouchPull'>> {
  const name = `${load.prefix}pouch`;
  const indexes = [...Array(load.clients).keys()];
  const counter = new RequestCounter();
  const everyServer = deployment.servers.map((server) => remoteDb(server.url, name, counter, ADMIN));
  const remotes = indexes.map((i) => remoteDb(serverOf(deployment, i).url, name, counter, ADMIN));
  const sources = indexes.map((i) => new PouchDB(folders.path(`${name}-source-${i}`)));
  const sinks = indexes.map((i) => new PouchDB(folders.path(`${name}-sink-${i}`)));
  try {
    for (const [i, source] of sources.entries()) {
      const { from, to } = shareOf(n, load.clients, i);
      await loadPouch(source, data, from, to);
    }
    await everyServer[0]!.info(); // creates the database: not part of the timed push
    const side = { name: 'PouchDB', sources, sinks, remotes, everyServer, replicate };
    const { push, pull } = await pushThenPull(deployment, n, load, side);
    return { pouchPush: push, pouchPull: pull };
  } finally {
    for (const db of [...everyServer, ...remotes]) await closeQuietly(db);
    for (const db of [...sources, ...sinks]) await db.destroy().catch(() => closeQuietly(db));
  }
}

async function setteePhases(
  deployment: Deployment,
  data: Dataset,
  n: number,
  load: SpreadLoad,
  folders: TempFolders,
): Promise<Pick<SpreadRun, 'setteePush' | 'setteePull'>> {
  const name = `${load.prefix}settee`;
  const indexes = [...Array(load.clients).keys()];
  const remoteOn = (server: ServerProcess) =>
    new RemoteDatabase(`${server.url}/${name}`, { auth: ADMIN, onRequest: new RequestLog().onRequest });
  const everyServer = deployment.servers.map(remoteOn);
  const remotes = indexes.map((i) => remoteOn(serverOf(deployment, i)));
  const sources: Database[] = [];
  const sinks: Database[] = [];
  try {
    for (const i of indexes) {
      sources.push(await openLocal(folders, `${name}-source-${i}`));
      sinks.push(await openLocal(folders, `${name}-sink-${i}`));
      await loadSettee(sources[i]!, data, shareOf(n, load.clients, i));
    }
    await everyServer[0]!.ensureExists();
    const side: ClientSide<Database | RemoteDatabase> = {
      name: 'Settee',
      sources,
      sinks,
      remotes,
      everyServer,
      replicate: (source, target, expected, what) =>
        setteeReplicate(source, target, expected, SETTEE_BATCH, what),
    };
    const { push, pull } = await pushThenPull(deployment, n, load, side);
    return { setteePush: push, setteePull: pull };
  } finally {
    for (const db of [...sources, ...sinks]) await db.destroy().catch(() => db.close());
  }
}

/** Writes documents [from, to) into a local Settee database as new edits (not timed). */
async function loadSettee(
  db: Database,
  data: Dataset,
  { from, to }: { from: number; to: number },
): Promise<void> {
  for (const docs of data.batches(LOAD_BATCH, (i) => data.doc(i), from, to)) {
    const results = await db.bulkDocs(docs);
    const failed = results.find((r) => 'error' in r);
    if (failed) throw new Error(`loading a Settee source failed: ${JSON.stringify(failed)}`);
  }
}

/** Runs `work` for every index, at once (fails with the first failure once all have settled) or in turn. */
async function all(
  indexes: readonly number[],
  oneAtATime: boolean,
  work: (i: number) => Promise<unknown>,
): Promise<void> {
  if (oneAtATime) {
    for (const i of indexes) await work(i);
    return;
  }
  const outcomes = await Promise.allSettled(indexes.map(work));
  const failure = outcomes.find((outcome) => outcome.status === 'rejected');
  if (failure) throw failure.reason;
}
