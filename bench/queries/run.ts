/**
 * The queries benchmark (issue 13): Mango `find` with and without an index, embedded and over
 * HTTP, and view builds, beside PouchDB (pouchdb-find, its map/reduce; pouchdb-server over HTTP)
 * and the raw ceiling (the same SQL on better-sqlite3 index tables, every body parsed), in one
 * run, reported as ratios because the machines are shared and noisy.
 *
 *   node --expose-gc --import tsx bench/queries/run.ts                 # 100k documents
 *   node --expose-gc --import tsx bench/queries/run.ts --n 5000 --runs 1 --seconds 0.5   # a quick look
 *
 * Prints a table and the goals; writes the same figures to bench-results/queries.json.
 */
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type BetterSqlite3 from 'better-sqlite3';
// As the Node entry has it: Database.open on SQLite files, views in worker threads' sandboxes.
import '../../src/storage/sqlite/open.js';
import '../../src/design/install-node.js';
import {
  fmt,
  machine,
  median,
  perSecond,
  progress,
  Report,
  type Row,
  TempFolders,
  type Unit,
  writeResults,
} from '../lib.js';
import { killAllStarted, type ServerKind, setteeAsStarted } from '../server/servers.js';
import { type HttpPeer, startLoaded } from './http.js';
import { checkSameAnswers, queriesPerSecond } from './measure.js';
import { buildIndex, dropIndex, findRunner, pouchPeer, type QueryPeer, setteePeer } from './peer.js';
import { rawDocs, rawIndexBuild, rawIndexDrop, rawRunner } from './raw.js';
import { buildView, dropView, editDocs, updateView, VIEWS } from './views.js';
import { CASES, INDEXED_CASES, INDEXES, QueryDataset } from './workload.js';

const { values: args } = parseArgs({
  options: {
    n: { type: 'string', default: '100000' },
    runs: { type: 'string', default: '3' },
    // Builds from empty (indexes, views) are long for PouchDB at 100k docs: once by default.
    'build-runs': { type: 'string', default: '1' },
    // Seconds each query rate is measured for, per contender and run (a quarter more to warm up).
    seconds: { type: 'string', default: '2' },
    // Requests in flight over HTTP, one keep-alive connection each.
    concurrency: { type: 'string', default: '4' },
    edits: { type: 'string', default: '1000' },
    settee: { type: 'string', default: 'auto' },
  },
});
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const RESULTS = join(ROOT, 'bench-results', 'queries.json');
const N = Number(args.n);
const RUNS = Number(args.runs);
const BUILD_RUNS = Number(args['build-runs']);
const BUDGET = { ms: Number(args.seconds) * 1000, size: N };
const CONCURRENCY = Number(args.concurrency);
const EDITS = Number(args.edits);
const BATCH = 1000;
if (
  ![N, RUNS, BUILD_RUNS, BUDGET.ms, CONCURRENCY, EDITS].every((v) => Number.isFinite(v) && v > 0) ||
  2 * EDITS * RUNS > N
) {
  throw new Error(
    '--n, --runs, --build-runs, --seconds, --concurrency and --edits are positive, and 2 × edits × runs ≤ n',
  );
}

const report = new Report();
const folders = new TempFolders();
const began = performance.now();
const int = (n: number) => n.toLocaleString('en-US');

type Contender = 'settee' | 'ceiling' | 'pouchdb';

/** Figures of one measure per contender, over the runs; the table shows their medians. */
class Samples {
  private readonly values: Record<Contender, number[]> = { settee: [], ceiling: [], pouchdb: [] };

  push(who: Contender, value: number): void {
    this.values[who].push(value);
  }

  median(who: Contender): number | null {
    return this.values[who].length === 0 ? null : median(this.values[who]);
  }

  toJSON(): Record<Contender, number[]> {
    return this.values;
  }
}

function addRow(section: string, operation: string, unit: Unit, samples: Samples): Row {
  (report.meta.samples as Record<string, unknown>)[`${section} / ${operation}`] = samples;
  return report.add({
    section,
    operation,
    unit,
    settee: samples.median('settee'),
    ceiling: samples.median('ceiling'),
    pouchdb: samples.median('pouchdb'),
  });
}

/** Each measure's rows, kept for the goals. */
const rows = {
  find: new Map<string, Row>(),
  http: new Map<string, Row>(),
  views: new Map<string, Row>(),
};

async function main(): Promise<void> {
  progress(`building ${int(N)} documents`);
  const data = new QueryDataset(N);
  Object.assign(report.meta, machine(), {
    documents: N,
    averageDocumentBytes: data.averageJsonBytes(),
    runs: RUNS,
    buildRuns: BUILD_RUNS,
    secondsPerRate: BUDGET.ms / 1000,
    httpConcurrency: CONCURRENCY,
    loadAverageAtStart: loadavg()[0],
    samples: {},
  });
  report.note(
    `${int(N)} documents of ~${data.averageJsonBytes()} bytes (the shared data set, its \`type\` cycling through 7 kinds), ` +
      `written with bulkDocs new_edits=false in batches of ${BATCH}; each figure is the median of ${RUNS} runs (builds from empty: ${BUILD_RUNS}).`,
  );

  progress('writing the documents: raw table, Settee, PouchDB');
  const raw = rawDocs(folders.path('raw.sqlite'), data, BATCH);
  const settee = await setteePeer(folders.path('settee.sqlite'), data, BATCH);
  const pouch = await pouchPeer(folders.path('pouch'), data, BATCH);

  await indexBuilds(raw, settee, pouch);
  await embeddedFind(raw, settee, pouch);
  await httpFind(data, raw);
  raw.close();
  await views(data, settee, pouch);
  await settee.close();
  await pouch.close();
  goals();
  printAndSave();
}

/** Each JSON index built from the documents, BUILD_RUNS times (dropped in between). */
async function indexBuilds(raw: BetterSqlite3.Database, settee: QueryPeer, pouch: QueryPeer): Promise<void> {
  const section = `Index build over the ${int(N)} docs (ceiling: INSERT … SELECT json_extract(…) + CREATE INDEX)`;
  for (const index of INDEXES) {
    const samples = new Samples();
    for (let run = 0; run < BUILD_RUNS; run++) {
      progress(`index [${index.fields.join(', ')}], run ${run + 1}/${BUILD_RUNS}: raw, Settee, PouchDB`);
      const last = run === BUILD_RUNS - 1;
      if (run > 0) rawIndexDrop(raw, index.name);
      samples.push('ceiling', perSecond(N, rawIndexBuild(raw, index.name, index.fields)));
      for (const [who, peer] of [
        ['settee', settee],
        ['pouchdb', pouch],
      ] as const) {
        samples.push(who, perSecond(N, await buildIndex(peer, index.name, index.fields)));
        if (!last) await dropIndex(peer, index.name);
      }
    }
    addRow(section, `createIndex [${index.fields.join(', ')}] + first query`, 'docs/s', samples);
  }
  report.note(
    'Index build: from createIndex to the end of the first find that uses it (both build JSON indexes ' +
      'lazily, on the first query at the latest); between runs the index is deleted and viewCleanup drops its storage.',
  );
}

/** Queries/second of each case, embedded, after checking all three answer alike. */
async function embeddedFind(raw: BetterSqlite3.Database, settee: QueryPeer, pouch: QueryPeer): Promise<void> {
  const section = `Embedded find over ${int(N)} docs (ceiling: the same SQL on the index table joined to the bodies + JSON.parse)`;
  for (const queryCase of CASES) {
    const runners = {
      ceiling: rawRunner(raw, queryCase),
      settee: findRunner((body) => settee.find(body), queryCase),
      pouchdb: findRunner((body) => pouch.find(body), queryCase),
    };
    progress(`find ${queryCase.name}: checking that every contender answers alike`);
    await checkSameAnswers(
      queryCase,
      runners.ceiling,
      { settee: runners.settee, pouchdb: runners.pouchdb },
      BUDGET,
    );
    const samples = new Samples();
    for (let run = 0; run < RUNS; run++) {
      for (const who of ['ceiling', 'settee', 'pouchdb'] as const) {
        progress(`find ${queryCase.name}, run ${run + 1}/${RUNS}: ${who}`);
        samples.push(who, await queriesPerSecond(runners[who], BUDGET));
      }
    }
    rows.find.set(queryCase.name, addRow(section, queryCase.label, 'queries/s', samples));
  }
  report.note(
    `Query rates: each contender runs the same seeded sequence of constants (type, price range, title), ` +
      `one query at a time, for ${fmt(BUDGET.ms / 1000)} s after ${fmt(BUDGET.ms / 4000)} s of warm-up; ` +
      'before timing, the first 5 queries of each case return the same ids in the same order on every contender.',
  );
}

/** `_find` over HTTP on Settee's server and pouchdb-server, with the same indexes. */
async function httpFind(data: QueryDataset, raw: BetterSqlite3.Database): Promise<void> {
  const section = `Over HTTP: POST /{db}/_find, undici, ${CONCURRENCY} in flight (the PouchDB column is pouchdb-server)`;
  const settee = setteeAsStarted(ROOT, args.settee);
  const peers: Partial<Record<ServerKind, HttpPeer>> = {};
  try {
    for (const kind of ['settee', 'pouchdb-server'] as const) {
      progress(`HTTP: starting ${kind} and writing the ${int(N)} documents through _bulk_docs`);
      const options = { root: ROOT, dir: folders.path(kind), settee, connections: CONCURRENCY };
      peers[kind] = await startLoaded(kind, options, data, BATCH);
    }
    const both = { settee: peers.settee!, pouchdb: peers['pouchdb-server']! };
    for (const index of INDEXES) {
      const samples = new Samples();
      for (const who of ['settee', 'pouchdb'] as const) {
        progress(`HTTP: index [${index.fields.join(', ')}] on ${who}`);
        samples.push(who, perSecond(N, await buildIndex(both[who], index.name, index.fields)));
      }
      addRow(section, `POST _index [${index.fields.join(', ')}] + first _find`, 'docs/s', samples);
    }
    for (const queryCase of CASES) {
      const runners = {
        settee: findRunner(both.settee.find, queryCase),
        pouchdb: findRunner(both.pouchdb.find, queryCase),
      };
      progress(`HTTP find ${queryCase.name}: checking the answers against the raw query`);
      await checkSameAnswers(queryCase, rawRunner(raw, queryCase), runners, BUDGET);
      const samples = new Samples();
      for (let run = 0; run < RUNS; run++) {
        for (const who of ['settee', 'pouchdb'] as const) {
          progress(`HTTP find ${queryCase.name}, run ${run + 1}/${RUNS}: ${who}`);
          samples.push(who, await queriesPerSecond(runners[who], BUDGET, CONCURRENCY));
        }
      }
      rows.http.set(queryCase.name, addRow(section, `_find ${queryCase.label}`, 'queries/s', samples));
    }
  } finally {
    for (const peer of Object.values(peers)) await peer.stop();
  }
  report.note(
    `HTTP: each server in its own process (Settee: ${settee.description}, as npm start runs it, ` +
      'Basic auth as admin; pouchdb-server on leveldb without auth), loaded through _bulk_docs new_edits=false.',
  );
}

/**
 * Each view built from empty BUILD_RUNS times (Settee keeps one index per distinct map function, so
 * every design document is deleted after its build), then both kept and each brought up to date
 * after its own EDITS edits, RUNS times.
 */
async function views(data: QueryDataset, settee: QueryPeer, pouch: QueryPeer): Promise<void> {
  const section = `Views over ${int(N)} docs (PouchDB: db.query on the same design document)`;
  const peers = { settee, pouchdb: pouch };
  for (const spec of VIEWS) {
    const build = new Samples();
    for (let run = 0; run < BUILD_RUNS; run++) {
      for (const who of ['settee', 'pouchdb'] as const) {
        progress(`view ${spec.name}, run ${run + 1}/${BUILD_RUNS}: ${who} builds from empty`);
        const { ms, rev } = await buildView(peers[who], spec, N);
        build.push(who, perSecond(N, ms));
        await dropView(peers[who], spec, rev);
      }
    }
    rows.views.set(spec.name, addRow(section, `build from empty: ${spec.label}`, 'docs/s', build));
  }
  for (const who of ['settee', 'pouchdb'] as const) {
    progress(`views: ${who} builds both views again, to update them`);
    for (const spec of VIEWS) await buildView(peers[who], spec, N);
  }
  let edited = 0;
  for (const spec of VIEWS) {
    const update = new Samples();
    for (let run = 0; run < RUNS; run++) {
      const firstId = data.ids[edited]!;
      edited += EDITS;
      for (const who of ['settee', 'pouchdb'] as const) {
        progress(
          `view ${spec.name}, run ${run + 1}/${RUNS}: ${who} edits ${int(EDITS)} docs, then catches up`,
        );
        await editDocs(peers[who], firstId, EDITS);
        update.push(who, perSecond(EDITS, await updateView(peers[who], spec, N)));
      }
    }
    addRow(section, `update after ${int(EDITS)} edits: ${spec.label}`, 'docs/s', update);
  }
  report.note(
    'Views: a build is timed from the design document write to the end of the first query (map: limit 1; ' +
      `_count: the total, checked = ${int(N)}), the design document deleted and viewCleanup run after each; ` +
      `an update is the first query after ${int(EDITS)} other docs were edited in one bulkDocs (docs/s = edits ÷ its time).`,
  );
}

function goals(): void {
  const times = (r: number) => `${r >= 10 ? r.toFixed(1) : r.toFixed(2)}×`;
  for (const queryCase of INDEXED_CASES) {
    const row = rows.find.get(queryCase.name)!;
    const overPouch = row.settee! / row.pouchdb!;
    const overCeiling = row.ceiling! / row.settee!;
    report.target(`embedded find, ${queryCase.label}: ≥ 10× PouchDB-find`, overPouch >= 10, times(overPouch));
    report.target(
      `embedded find, ${queryCase.label}: within 3× of the raw query`,
      overCeiling <= 3,
      `the raw query is ${times(overCeiling)} faster`,
    );
  }
  for (const queryCase of INDEXED_CASES) {
    const row = rows.http.get(queryCase.name)!;
    const overPouch = row.settee! / row.pouchdb!;
    report.target(`HTTP _find, ${queryCase.label}: ≥ 5× pouchdb-server`, overPouch >= 5, times(overPouch));
  }
  for (const spec of VIEWS) {
    const row = rows.views.get(spec.name)!;
    const overPouch = row.settee! / row.pouchdb!;
    report.target(`view build (${spec.label}): ≥ 3× PouchDB docs/s`, overPouch >= 3, times(overPouch));
  }
}

function printAndSave(): void {
  report.meta.totalSeconds = Math.round((performance.now() - began) / 1000);
  report.meta.loadAverageAtEnd = loadavg()[0];
  const busiest = Math.max(report.meta.loadAverageAtStart as number, loadavg()[0]!, loadavg()[1]!);
  if (busiest > cpus().length) {
    report.note(
      `The machine was busy (1-minute load average up to ${busiest.toFixed(1)} on ${cpus().length} CPUs): ` +
        'absolute figures are depressed; the ratios, measured side by side, hold better.',
    );
  }
  const printed = report.print();
  console.log(
    `\nSettee queries benchmark — ${report.meta.date as string}, Node ${process.version}, ${report.meta.cpus as string}, ` +
      `${report.meta.totalSeconds as number} s\n`,
  );
  console.log(printed);
  writeResults(RESULTS, report.toJSON());
  console.log(`\nFigures written to ${RESULTS}`);
}

// Last, so every module-level constant above is initialized when main runs.
process.on('exit', killAllStarted);
try {
  await main();
} catch (error) {
  // Said before the cleanup, which may fail too while a database is still open.
  progress(`the run failed: ${(error as Error).stack ?? String(error)}`);
  process.exitCode = 1;
} finally {
  killAllStarted();
  folders.remove();
}
