/**
 * The embedded database benchmark: Settee beside its physical ceiling (raw better-sqlite3, same
 * rows, same durability) and its peer (PouchDB on leveldb), all in one run, reported as ratios
 * because the machines are shared and noisy.
 *
 *   npm run bench                      # the full benchmark (100k documents)
 *   npm run bench -- --n 10000 --runs 1 --hot 2000 --pouch-hot 1000    # a quick look
 *
 * Prints a table and the targets; writes the same figures to bench-results/embedded.json.
 */
import { rmSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type BetterSqlite3 from 'better-sqlite3';
import type { Database } from '../src/database/database.js';
import '../src/storage/sqlite/open.js'; // Database.open on SQLite files, as the Node entry has it
import { type ConflictFigures, pouchConflicts, REPEATS, setteeConflicts } from './embedded/conflicts.js';
import {
  lockstep,
  microsPerWrite,
  pouchHotWriter,
  rawHotWriter,
  setteeHotWriter,
  WARMUP_WRITES,
} from './embedded/hot.js';
import { type Pouch, pouchAllDocs, pouchChanges, pouchGets, pouchWrite } from './embedded/pouch.js';
import { openRaw, rawBatches, rawGets, rawInsert, rawScan } from './embedded/raw.js';
import { pouchRevsLimit, type RevsLimitFigures, setteeRevsLimit } from './embedded/revs-limit.js';
import { type Engine, type ScanMode, type ScanResult, scanInChild } from './embedded/rss.js';
import { setteeAllDocs, setteeChanges, setteeGets, setteeWrite } from './embedded/settee.js';
import {
  Dataset,
  fmt,
  gc,
  machine,
  median,
  perSecond,
  progress,
  Report,
  TempFolders,
  writeResults,
} from './lib.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const RESULTS = join(ROOT, 'bench-results', 'embedded.json');

const { values: args } = parseArgs({
  options: {
    n: { type: 'string', default: '100000' },
    runs: { type: 'string', default: '3' },
    'pouch-runs': { type: 'string' },
    gets: { type: 'string', default: '10000' },
    hot: { type: 'string', default: '10000' },
    'pouch-hot': { type: 'string', default: '3000' },
    branches: { type: 'string', default: '300' },
    edits: { type: 'string', default: '2000' },
  },
});
const N = Number(args.n);
const RUNS = Number(args.runs);
const POUCH_RUNS = Number(args['pouch-runs'] ?? args.runs);
const GETS = Number(args.gets);
const HOT = Number(args.hot);
const POUCH_HOT = Math.min(HOT, Number(args['pouch-hot']));
const BRANCHES = Number(args.branches);
const EDITS = Number(args.edits);
const BATCH = 1000;
const WINDOW = Math.min(100, Math.floor(HOT / 2));
const SMALL_SCAN = Math.max(1, Math.round(N / 10));

const report = new Report();
const folders = new TempFolders();
const began = performance.now();
const int = (n: number) => n.toLocaleString('en-US');

async function main(): Promise<void> {
  progress(`building ${int(N)} documents`);
  const data = new Dataset(N);
  const docBytes = data.averageJsonBytes();
  Object.assign(report.meta, machine(), {
    documents: N,
    averageDocumentBytes: docBytes,
    batch: BATCH,
    runs: RUNS,
    pouchRuns: POUCH_RUNS,
    gets: GETS,
    hotWrites: HOT,
    pouchHotWrites: POUCH_HOT,
    loadAverageAtStart: loadavg()[0],
  });
  report.note(
    `${int(N)} documents of ~${docBytes} bytes of JSON (ids doc-000000…), written in batches of ${BATCH}; ` +
      `timed steps are the median of ${RUNS} runs (PouchDB: ${POUCH_RUNS}).`,
  );
  report.note(
    'Durability: Settee uses durability "full" (WAL, synchronous=FULL); the raw ceiling uses the same ' +
      '(WAL, synchronous=FULL, exclusive locking) in a table (id TEXT PRIMARY KEY, rev, body), ' +
      'one transaction per batch. PouchDB/leveldb writes without fsync (leveldown default sync:false).',
  );

  const { settee, raw, pouch } = await writes(data);
  await reads(data, settee.db, raw.db, pouch.db);
  await settee.db.close();
  raw.db.close();
  await pouch.db.close();
  await peakRss(settee.path, raw.path, pouch.path);
  await hotDocument(data);
  await conflicts(data);
  await revsLimit(data);
  targets();

  report.meta.totalSeconds = Math.round((performance.now() - began) / 1000);
  report.meta.loadAverageAtEnd = loadavg()[0];
  const busiest = Math.max(report.meta.loadAverageAtStart as number, loadavg()[0]!, loadavg()[1]!);
  if (busiest > cpus().length) {
    report.note(
      `The machine was busy during this run (1-minute load average up to ${busiest.toFixed(1)} on ` +
        `${cpus().length} CPUs): absolute figures are depressed and noisy; the ratios, measured side by side, hold better.`,
    );
  }
  const printed = report.print();
  console.log(
    `\nSettee embedded benchmark — ${report.meta.date}, Node ${process.version}, ${report.meta.cpus}, ` +
      `${report.meta.totalSeconds} s, load average ${fmt(report.meta.loadAverageAtStart as number)} → ` +
      `${fmt(report.meta.loadAverageAtEnd as number)}\n`,
  );
  console.log(printed);
  writeResults(RESULTS, report.toJSON());
  console.log(`\nFigures written to ${RESULTS}`);
}

/** bulkDocs with new_edits=false and true, beside the raw insert of the same rows. */
async function writes(data: Dataset) {
  const times = {
    raw: [] as number[],
    nef: [] as number[],
    ne: [] as number[],
    pouchNef: [] as number[],
    pouchNe: [] as number[],
  };
  let kept: {
    settee: { db: Database; path: string };
    raw: { db: BetterSqlite3.Database; path: string };
    pouch: { db: Pouch; path: string };
  } | null = null;
  for (let run = 0; run < RUNS; run++) {
    const last = run === RUNS - 1;
    progress(`writes, run ${run + 1}/${RUNS}: raw SQLite insert`);
    const rawPath = folders.path('raw.sqlite');
    const rawDb = openRaw(rawPath);
    times.raw.push(rawInsert(rawDb, rawBatches(data, BATCH)));

    progress(`writes, run ${run + 1}/${RUNS}: Settee bulkDocs new_edits=false`);
    const setteePath = folders.path('settee-nef.sqlite');
    const nef = await setteeWrite(setteePath, data.bulkBatches(BATCH, false), false);
    times.nef.push(nef.ms);

    progress(`writes, run ${run + 1}/${RUNS}: Settee bulkDocs new_edits=true`);
    const ne = await setteeWrite(folders.path('settee-ne.sqlite'), data.bulkBatches(BATCH, true), true);
    times.ne.push(ne.ms);
    await ne.db.destroy();

    let pouchNef: { db: Pouch; ms: number } | undefined;
    const pouchPath = folders.path('pouch-nef');
    if (run < POUCH_RUNS || last) {
      progress(`writes, run ${run + 1}/${RUNS}: PouchDB bulkDocs new_edits=false`);
      pouchNef = await pouchWrite(pouchPath, data.bulkBatches(BATCH, false), false);
      if (run < POUCH_RUNS) times.pouchNef.push(pouchNef.ms);
    }
    if (run < POUCH_RUNS) {
      progress(`writes, run ${run + 1}/${RUNS}: PouchDB bulkDocs new_edits=true`);
      const pouchNe = await pouchWrite(folders.path('pouch-ne'), data.bulkBatches(BATCH, true), true);
      times.pouchNe.push(pouchNe.ms);
      await pouchNe.db.destroy();
    }

    if (last) {
      kept = {
        settee: { db: nef.db, path: setteePath },
        raw: { db: rawDb, path: rawPath },
        pouch: { db: pouchNef!.db, path: pouchPath },
      };
    } else {
      await nef.db.destroy();
      rawDb.close();
      for (const suffix of ['', '-wal', '-shm']) rmSync(rawPath + suffix, { force: true });
      if (pouchNef) await pouchNef.db.destroy();
    }
  }
  const rate = (all: number[]) => (all.length === 0 ? null : perSecond(N, median(all)));
  const section = `Bulk writes: ${int(N)} docs, bulkDocs batches of ${BATCH} (ceiling: raw INSERT, same rows)`;
  report.add({
    section,
    operation: 'bulkDocs new_edits=false',
    unit: 'docs/s',
    settee: rate(times.nef),
    ceiling: rate(times.raw),
    pouchdb: rate(times.pouchNef),
  });
  report.add({
    section,
    operation: 'bulkDocs new_edits=true',
    unit: 'docs/s',
    settee: rate(times.ne),
    ceiling: rate(times.raw),
    pouchdb: rate(times.pouchNe),
  });
  report.meta.writeRunsMs = times;
  return kept!;
}

/** What a full read reports: its milliseconds and the documents it read. */
interface FullRead {
  ms: number;
  rows: number;
}

/** get by id, a full changes read and a full allDocs read, with the documents. */
async function reads(
  data: Dataset,
  settee: Database,
  raw: BetterSqlite3.Database,
  pouch: Pouch,
): Promise<void> {
  const ids = data.randomIds(GETS);
  const times = {
    rawGets: [] as number[],
    gets: [] as number[],
    pouchGets: [] as number[],
    rawChanges: [] as number[],
    changes: [] as number[],
    pouchChanges: [] as number[],
    rawAllDocs: [] as number[],
    allDocs: [] as number[],
    pouchAllDocs: [] as number[],
  };
  /** One full read, checked to have read every document; its time goes `into` the list. */
  const fullRead = async (what: string, read: () => FullRead | Promise<FullRead>, into: number[]) => {
    gc();
    const { ms, rows } = await read();
    if (rows !== N) throw new Error(`${what} read ${rows} documents, expected ${N}`);
    into.push(ms);
  };
  for (let run = 0; run < RUNS; run++) {
    const pouchToo = run < POUCH_RUNS;
    progress(`reads, run ${run + 1}/${RUNS}: get by id ×${int(GETS)}`);
    gc();
    times.rawGets.push(rawGets(raw, ids));
    gc();
    times.gets.push(await setteeGets(settee, ids));
    if (pouchToo) {
      gc();
      times.pouchGets.push(await pouchGets(pouch, ids));
    }

    progress(`reads, run ${run + 1}/${RUNS}: full changes read`);
    await fullRead('raw changes-order scan', () => rawScan(raw, 'rowid'), times.rawChanges);
    await fullRead('Settee changes', () => setteeChanges(settee), times.changes);
    if (pouchToo) await fullRead('PouchDB changes', () => pouchChanges(pouch), times.pouchChanges);

    progress(`reads, run ${run + 1}/${RUNS}: full allDocs read`);
    await fullRead('raw id-order scan', () => rawScan(raw, 'id'), times.rawAllDocs);
    await fullRead('Settee allDocs', () => setteeAllDocs(settee), times.allDocs);
    if (pouchToo) await fullRead('PouchDB allDocs', () => pouchAllDocs(pouch), times.pouchAllDocs);
  }
  const rate = (count: number, all: number[]) => (all.length === 0 ? null : perSecond(count, median(all)));
  const section = `Reads of the ${int(N)} docs (ceiling: raw SELECT + JSON.parse of each body)`;
  report.add({
    section,
    operation: `get by id (${int(GETS)} random ids)`,
    unit: 'gets/s',
    settee: rate(GETS, times.gets),
    ceiling: rate(GETS, times.rawGets),
    pouchdb: rate(GETS, times.pouchGets),
  });
  report.add({
    section,
    operation: 'full changes read, include_docs',
    unit: 'docs/s',
    settee: rate(N, times.changes),
    ceiling: rate(N, times.rawChanges),
    pouchdb: rate(N, times.pouchChanges),
  });
  report.add({
    section,
    operation: 'full allDocs read, include_docs',
    unit: 'docs/s',
    settee: rate(N, times.allDocs),
    ceiling: rate(N, times.rawAllDocs),
    pouchdb: rate(N, times.pouchAllDocs),
  });
  report.note(
    'Settee reads stream (changesFeed / allDocsStream); PouchDB reads page by 1,000 (changes from last_seq, ' +
      'allDocs from the last key with skip=1); the raw ceilings iterate SELECT id, rev, body ORDER BY rowid ' +
      '(changes) or ORDER BY id (allDocs) and JSON.parse each body.',
  );
  report.meta.readRunsMs = times;
}

/** The reads whose peak RSS is measured: docs read, and how many times over in one process. */
const SCANS = [
  { label: () => `${int(SMALL_SCAN)} docs`, limit: () => SMALL_SCAN, passes: 1, pouch: true },
  { label: () => `${int(N)} docs`, limit: () => N, passes: 1, pouch: true },
  // Three passes over every document: if peak RSS grew with the documents read, it would show.
  // Not for PouchDB, whose three full reads would take half a minute more.
  { label: () => `${int(N)} docs ×3 (${int(3 * N)} rows)`, limit: () => N, passes: 3, pouch: false },
];

/** Peak RSS of child processes that stream the first 10%, all, and three times all of the docs. */
async function peakRss(setteePath: string, rawPath: string, pouchPath: string): Promise<void> {
  const paths: Record<Engine, string> = { settee: setteePath, raw: rawPath, pouchdb: pouchPath };
  const results: ScanResult[] = [];
  const section =
    'Peak RSS of a process that streams the docs with include_docs (ceiling: raw SELECT + parse)';
  for (const [mode, name] of [
    ['changes', 'changes'],
    ['alldocs', 'allDocs'],
  ] as [ScanMode, string][]) {
    const peaks: Record<Engine, number | null>[] = [];
    for (const scan of SCANS) {
      const peak: Record<Engine, number | null> = { settee: null, raw: null, pouchdb: null };
      for (const engine of ['settee', 'raw', 'pouchdb'] as Engine[]) {
        if (engine === 'pouchdb' && !scan.pouch) continue;
        progress(`peak RSS: ${engine} ${name} of ${scan.label()}, in a child process`);
        const result = await scanInChild(engine, paths[engine], mode, scan.limit(), scan.passes);
        results.push(result);
        peak[engine] = result.maxRssMB;
      }
      peaks.push(peak);
      report.add({
        section,
        operation: `${name} over ${scan.label()}`,
        unit: 'MB',
        settee: peak.settee,
        ceiling: peak.raw,
        pouchdb: peak.pouchdb,
      });
    }
    const growth = (engine: Engine, from: number, to: number) => {
      const [a, b] = [peaks[from]![engine], peaks[to]![engine]];
      return a === null || b === null ? null : b / a;
    };
    for (const [from, to] of [
      [0, 1],
      [1, 2],
    ] as const) {
      report.add({
        section,
        operation: `${name}: growth ${SCANS[from]!.label().split(' (')[0]} → ${SCANS[to]!.label().split(' (')[0]}`,
        unit: '×',
        settee: growth('settee', from, to),
        ceiling: growth('raw', from, to),
        pouchdb: growth('pouchdb', from, to),
      });
    }
  }
  report.note(
    'Peak RSS is process.resourceUsage().maxRSS of a fresh `node --import tsx bench/embedded/scan-child.ts` ' +
      "per read (the Node + tsx baseline included); each engine's child loads only that engine. " +
      `"×3": the ${int(N)} docs read three times over in one process (not run for PouchDB, to bound the runtime).`,
  );
  report.meta.rss = results;
}

/** One document edited HOT times: the first writes against the last, per revs_limit. */
async function hotDocument(data: Dataset): Promise<void> {
  const body = data.body(0);
  type Windows = { early: number; late: number };
  const windows = (times: number[]): Windows => ({
    early: microsPerWrite(times, 0, WINDOW),
    late: microsPerWrite(times, times.length - WINDOW, times.length),
  });
  const medianWindows = (all: Windows[]) => ({
    early: median(all.map((w) => w.early)),
    late: median(all.map((w) => w.late)),
    ratio: median(all.map((w) => w.late / w.early)),
  });

  const runs: Record<'raw' | 'settee 1000' | 'settee 100', Windows[]> = {
    raw: [],
    'settee 1000': [],
    'settee 100': [],
  };
  for (let run = 0; run < RUNS; run++) {
    progress(
      `hot document, run ${run + 1}/${RUNS}: Settee revs_limit 1000 and 100 and raw SQLite in lockstep, ${int(HOT)} edits each`,
    );
    gc();
    const writers = [
      await setteeHotWriter(folders.path('settee-hot-1000.sqlite'), body, 1000),
      await setteeHotWriter(folders.path('settee-hot-100.sqlite'), body, 100),
      await rawHotWriter(folders.path('raw-hot.sqlite'), body),
    ];
    const [s1000, s100, raw] = await lockstep(writers, HOT);
    for (const writer of writers) await writer.close();
    runs['settee 1000'].push(windows(s1000!));
    runs['settee 100'].push(windows(s100!));
    runs.raw.push(windows(raw!));
  }

  // PouchDB rewrites the whole stored tree on every edit, so at revs_limit 1000 an edit costs
  // milliseconds once the tree is full: that run is shortened (and said so) to bound the runtime.
  progress(`hot document: PouchDB revs_limit 1000 (${int(POUCH_HOT)} edits) and 100 (${int(HOT)} edits)`);
  gc();
  const p1000 = await pouchHotWriter(folders.path('pouch-hot-1000'), body, 1000);
  const p100 = await pouchHotWriter(folders.path('pouch-hot-100'), body, 100);
  const [pouch1000, pouch100Start] = await lockstep([p1000, p100], POUCH_HOT);
  await p1000.close();
  const [pouch100Rest] = await lockstep([p100], HOT - POUCH_HOT);
  await p100.close();
  const pouchTimes: Record<number, number[]> = {
    1000: pouch1000!,
    100: [...pouch100Start!, ...pouch100Rest!],
  };

  const rawHot = medianWindows(runs.raw);
  const section = `Hot document: ${int(HOT)} successive edits of one doc, each its own commit (ceiling: 1-row INSERT + commit)`;
  const perLimit: Record<string, unknown> = { ...runs };
  for (const limit of [1000, 100] as const) {
    const settee = medianWindows(runs[`settee ${limit}`]);
    const times = pouchTimes[limit]!;
    const pouch = windows(times);
    perLimit[`pouchdb ${limit}`] = { ...pouch, writes: times.length, perThousandMicros: thousands(times) };
    const shortPouch = times.length !== HOT ? ' *' : '';
    report.add({
      section,
      operation: `revs 1–${WINDOW}, revs_limit ${limit}`,
      unit: 'µs/write',
      settee: settee.early,
      ceiling: rawHot.early,
      pouchdb: pouch.early,
    });
    report.add({
      section,
      operation: `revs ${int(HOT - WINDOW + 1)}–${int(HOT)}, revs_limit ${limit}`,
      flag: shortPouch,
      unit: 'µs/write',
      settee: settee.late,
      ceiling: rawHot.late,
      pouchdb: pouch.late,
    });
    report.add({
      section,
      operation: `last ÷ first, revs_limit ${limit}`,
      flag: shortPouch,
      unit: '×',
      settee: settee.ratio,
      ceiling: rawHot.ratio,
      pouchdb: pouch.late / pouch.early,
    });
    if (shortPouch) {
      report.note(
        `* PouchDB hot document at revs_limit ${limit}: ${int(times.length)} edits, not ${int(HOT)}, to bound the ` +
          `runtime; its "last" window is revs ${int(times.length - WINDOW + 1)}–${int(times.length)}. ` +
          `Its mean µs per edit, per 1,000 edits: ${thousands(times)
            .map((v) => fmt(v))
            .join(', ')}.`,
      );
    }
  }
  report.note(
    `Hot document: each contender first edits another document ${WARMUP_WRITES} times (JIT and caches warm), ` +
      `then times every edit of one document; µs/write is the mean over ${WINDOW} edits (amortized stemming ` +
      `included). Settee (both limits) and raw run in lockstep, edit i of each in turn, so they meet the same ` +
      `machine load; median of ${RUNS} runs. PouchDB: 1 run, its two limits in lockstep.`,
  );
  report.meta.hot = perLimit;
}

/** Mean µs per edit over each 1,000 edits. */
function thousands(times: number[]): number[] {
  const out: number[] = [];
  for (let i = 0; i < times.length; i += 1000)
    out.push(microsPerWrite(times, i, Math.min(times.length, i + 1000)));
  return out;
}

/** A document with BRANCHES conflicting leaves, half of them deleted. */
async function conflicts(data: Dataset): Promise<void> {
  const tombstones = Math.floor(BRANCHES / 2);
  const body = data.body(1);
  progress(`conflicts: Settee, ${BRANCHES} branches, ${tombstones} deleted`);
  gc();
  const settee = await setteeConflicts(folders.path('settee-conflicts.sqlite'), body, BRANCHES, tombstones);
  progress(`conflicts: PouchDB, ${BRANCHES} branches, ${tombstones} deleted`);
  gc();
  const pouch = await pouchConflicts(folders.path('pouch-conflicts'), body, BRANCHES, tombstones);
  const section = `Big tree: one doc with ${BRANCHES} conflicting branches, ${tombstones} of them deleted`;
  const row = (operation: string, key: keyof ConflictFigures) =>
    report.add({ section, operation, unit: 'ms', settee: settee[key], ceiling: null, pouchdb: pouch[key] });
  row(`write ${BRANCHES} branches (1 bulkDocs, new_edits=false)`, 'writeBranches');
  row(`write ${tombstones} tombstones (1 bulkDocs, new_edits=false)`, 'writeTombstones');
  row('get, conflicts=true', 'get');
  row('changes read of the doc (all_docs, include_docs, conflicts)', 'changes');
  row('edit of the winner', 'editWarm');
  row('edit of a plain 1-leaf doc, same db, in turn (reference)', 'editPlain');
  row('get, conflicts=true, after reopening', 'getCold');
  row('edit of the winner, after reopening', 'editCold');
  const live = BRANCHES - tombstones - 1;
  for (const [name, figures] of [
    ['Settee', settee],
    ['PouchDB', pouch],
  ] as const) {
    if (figures.conflicts !== live || figures.changeRevs !== BRANCHES) {
      report.note(
        `${name} big tree: get returned ${figures.conflicts} _conflicts (expected ${live}), the changes row ` +
          `listed ${figures.changeRevs} leaves (expected ${BRANCHES}).`,
      );
    }
  }
  report.note(
    `Big tree: reads are the median of ${REPEATS}, edits the median of ${REPEATS} (each a new revision of the winner); ` +
      '"after reopening" is the first read and the first edit once the database is closed and opened again.',
  );
  report.meta.conflicts = { settee, pouchdb: pouch };
}

/** EDITS edits of one document under revs_limit 1000 and 100: what is kept, what is sent. */
async function revsLimit(data: Dataset): Promise<void> {
  const body = data.body(2);
  const figures: Record<string, { settee: RevsLimitFigures; pouchdb: RevsLimitFigures }> = {};
  for (const limit of [1000, 100]) {
    progress(`revs_limit ${limit}: ${int(EDITS)} edits of one doc, Settee and PouchDB`);
    gc();
    const settee = await setteeRevsLimit(folders.path(`settee-limit-${limit}.sqlite`), body, EDITS, limit);
    const pouchdb = await pouchRevsLimit(folders.path(`pouch-limit-${limit}`), body, EDITS, limit);
    figures[limit] = { settee, pouchdb };
  }
  const section = `revs_limit: one doc after ${int(EDITS)} edits`;
  for (const limit of [1000, 100]) {
    const { settee, pouchdb } = figures[limit]!;
    report.add({
      section,
      operation: `revisions stored, revs_limit ${limit}`,
      unit: 'rows',
      settee: settee.storedRevs,
      ceiling: null,
      pouchdb: pouchdb.storedRevs,
    });
    report.add({
      section,
      operation: `revision bodies stored, revs_limit ${limit}`,
      unit: 'rows',
      settee: settee.storedBodies,
      ceiling: null,
      pouchdb: null,
    });
    report.add({
      section,
      operation: `_revisions.ids a bulkGet(revs) sends, revs_limit ${limit}`,
      unit: 'ids',
      settee: settee.sentIds,
      ceiling: null,
      pouchdb: pouchdb.sentIds,
    });
    report.add({
      section,
      operation: `on disk, revs_limit ${limit}`,
      unit: 'KB',
      settee: settee.bytes / 1024,
      ceiling: null,
      pouchdb: pouchdb.bytes / 1024,
    });
  }
  report.note(
    'revs_limit: Settee counts the rows of its revs table for the doc (read-only connection after close); ' +
      'PouchDB the _revs_info entries of the winner. Settee stems amortized: a tree may grow 10% past the ' +
      'limit before it is cut back, reads never show more than the limit. On disk: the SQLite file after ' +
      'close (WAL checkpointed), the leveldb folder for PouchDB (not compacted).',
  );
  report.meta.revsLimit = figures;
}

function targets(): void {
  const ratioOf = (operation: string) => {
    const row = report.find(operation);
    return row.settee! / row.ceiling!;
  };
  const pct = (r: number) => `${(r * 100).toFixed(0)}%`;
  const writes = ratioOf('bulkDocs new_edits=false');
  report.target(
    'bulkDocs new_edits=false ≥ 25% of the raw SQLite insert rate',
    writes >= 0.25,
    `${pct(writes)}`,
  );
  const changes = ratioOf('full changes read, include_docs');
  report.target(
    'full changes read ≥ 60% of the raw SQLite read+parse rate',
    changes >= 0.6,
    `${pct(changes)}`,
  );
  const allDocs = ratioOf('full allDocs read, include_docs');
  report.target(
    'full allDocs read ≥ 60% of the raw SQLite read+parse rate',
    allDocs >= 0.6,
    `${pct(allDocs)}`,
  );
  for (const name of ['changes', 'allDocs']) {
    const peak = (scan: number) => report.find(`${name} over ${SCANS[scan]!.label()}`).settee!;
    const change = (a: number, b: number) =>
      `${fmt(a)} MB → ${fmt(b)} MB (${b >= a ? '+' : ''}${(((b - a) / a) * 100).toFixed(1)}%)`;
    report.target(
      `peak RSS of a full ${name} read does not grow with the docs read (${int(SMALL_SCAN)} → ${int(N)} docs: ≤ +15%)`,
      peak(1) <= peak(0) * 1.15,
      change(peak(0), peak(1)),
    );
    report.target(
      `… nor when the ${int(N)} docs are read three times over in one process (${int(N)} → ${int(3 * N)} rows: ≤ +5%)`,
      peak(2) <= peak(1) * 1.05,
      change(peak(1), peak(2)),
    );
  }
  const hot = report.find('last ÷ first, revs_limit 1000');
  report.target(
    `the ${int(HOT)}th revision of a doc costs about what the 1st did (revs_limit 1000; checked as ≤ 1.5×)`,
    hot.settee! <= 1.5,
    `${fmt(hot.settee)}× (raw ceiling ${fmt(hot.ceiling)}×)`,
  );
}

// Last, so every module-level constant above is initialized when main runs.
try {
  await main();
} finally {
  folders.remove();
}
