/**
 * The compaction benchmark: how close to its live data a database's files come after compaction
 * (beside the same documents in a raw SQLite table, the ceiling), and how long reads and writes
 * wait while a large database is being compacted (beside the same load without compaction).
 *
 *   npm run bench                                        # part of the whole run (100 MB)
 *   node --expose-gc --import tsx bench/storage/compaction.ts --size-mb 1024   # the 1 GB
 *
 * The database holds `--docs` documents (~1 KB each) rewritten generation after generation until
 * its files reach `--size-mb`. Prints a table; writes the figures to bench-results/compaction.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Database } from '../../src/database/database.js';
import '../../src/storage/sqlite/open.js'; // Database.open on SQLite files, as the Node entry has it
import { openRaw, rawBatches, rawInsert } from '../embedded/raw.js';
import { Dataset, fmt, prng, progress, Report, sizeOnDisk, TempFolders } from '../lib.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const RESULTS = join(ROOT, 'bench-results', 'compaction.json');
const MB = 1024 * 1024;

const { values: args } = parseArgs({
  options: {
    'size-mb': { type: 'string', default: '100' },
    docs: { type: 'string', default: '8000' },
    /** Reads and writes of the load without compaction (the load during compaction lasts as long as it). */
    ops: { type: 'string', default: '4000' },
  },
});
const SIZE = Number(args['size-mb']) * MB;
const DOCS = Number(args.docs);
const OPS = Number(args.ops);
const BATCH = 1000;

const report = new Report();
const folders = new TempFolders();

/** The database's files on disk, the write-ahead log included (what a user's disk holds). */
function filesOf(path: string): number {
  return ['', '-wal', '-shm'].reduce((total, suffix) => total + sizeOnDisk(path + suffix), 0);
}

/** Rewrites every document generation after generation until the files reach `SIZE`. */
async function buildGenerations(db: Database, path: string, data: Dataset): Promise<number> {
  const revs: (string | undefined)[] = [];
  let generation = 0;
  while (generation === 0 || filesOf(path) < SIZE) {
    for (let start = 0; start < DOCS; start += BATCH) {
      const docs = [];
      for (let i = start; i < Math.min(DOCS, start + BATCH); i++) {
        docs.push({ _id: data.ids[i]!, ...(revs[i] ? { _rev: revs[i] } : {}), ...data.body(i), generation });
      }
      const results = await db.bulkDocs(docs);
      results.forEach((r, k) => (revs[start + k] = 'ok' in r ? r.rev : undefined));
    }
    generation++;
    if (generation % 10 === 0) progress(`${generation} generations, ${fmt(filesOf(path) / MB)} MB`);
  }
  return generation;
}

interface Latencies {
  reads: number[];
  writes: number[];
}

/**
 * Reads and writes one after the other, as clients of a server would (each yields to the event
 * loop, as a request does), until `done()`; each operation's time is kept, in milliseconds.
 */
async function load(
  db: Database,
  data: Dataset,
  label: string,
  done: (ops: number) => boolean,
): Promise<Latencies> {
  const random = prng(11);
  const latencies: Latencies = { reads: [], writes: [] };
  for (let op = 0; !done(op); op++) {
    const start = performance.now();
    if (op % 2 === 0) {
      await db.get(data.ids[Math.floor(random() * DOCS)]!);
      latencies.reads.push(performance.now() - start);
    } else {
      await db.put({ _id: `${label}-${op}`, n: op });
      latencies.writes.push(performance.now() - start);
    }
    await new Promise(setImmediate);
  }
  return latencies;
}

function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function sizes(db: Database, path: string, data: Dataset): Promise<void> {
  const before = filesOf(path);
  const activeBefore = (await db.info()).sizes.active;
  progress(`compacting ${fmt(before / MB)} MB without load`);
  const started = performance.now();
  await db.compact();
  const compactMs = performance.now() - started;
  const after = filesOf(path);
  const info = await db.info();
  const rawPath = folders.path('raw.sqlite');
  const raw = openRaw(rawPath);
  rawInsert(raw, rawBatches(data, BATCH));
  raw.pragma('wal_checkpoint(TRUNCATE)');
  const ceiling = filesOf(rawPath);
  raw.close();
  const section = `Size: ${DOCS.toLocaleString('en-US')} documents, files of ${fmt(before / MB)} MB`;
  const row = (operation: string, settee: number, rawCeiling: number | null = null) =>
    report.add({ section, operation, unit: 'MB', settee, ceiling: rawCeiling, pouchdb: null });
  row('files before compaction', before / MB);
  row('sizes.active before compaction', activeBefore / MB);
  row('files after compaction', after / MB, ceiling / MB);
  row('sizes.active after compaction', info.sizes.active / MB);
  row('live documents (sizes.external)', info.sizes.external / MB);
  report.add({
    section,
    operation: 'compaction alone',
    unit: 'ms',
    settee: compactMs,
    ceiling: null,
    pouchdb: null,
  });
  report.target(
    'files after compaction within 2× of the same documents in a raw table',
    after <= 2 * ceiling,
    `${fmt(after / MB)} MB beside ${fmt(ceiling / MB)} MB`,
  );
}

async function latencies(data: Dataset): Promise<void> {
  const path = folders.path('settee-load.sqlite');
  const db = await Database.open(path);
  progress(`building a second database of ${fmt(SIZE / MB)} MB for the latencies`);
  await buildGenerations(db, path, data);
  const quiet = await load(db, data, 'quiet', (op) => op >= OPS);
  progress('the same load during a compaction');
  let compacting = true;
  const started = performance.now();
  const compaction = db.compact().finally(() => (compacting = false));
  const busy = await load(db, data, 'busy', () => !compacting);
  await compaction;
  const compactMs = performance.now() - started;
  await db.close();
  const section = `Latency: reads and writes one at a time, during a compaction of ${fmt(SIZE / MB)} MB`;
  for (const [kind, quietTimes, busyTimes] of [
    ['read', quiet.reads, busy.reads],
    ['write', quiet.writes, busy.writes],
  ] as const) {
    for (const p of [50, 99]) {
      const row = (operation: string, times: number[]) =>
        report.add({
          section,
          operation,
          unit: 'ms',
          settee: percentile(times, p),
          ceiling: null,
          pouchdb: null,
        });
      const without = row(`${kind} p${p} without compaction`, quietTimes);
      const during = row(`${kind} p${p} during compaction`, busyTimes);
      report.add({
        section,
        operation: `${kind} p${p}: during ÷ without`,
        unit: '×',
        settee: during.settee! / without.settee!,
        ceiling: null,
        pouchdb: null,
      });
    }
  }
  report.add({
    section,
    operation: 'compaction under load',
    unit: 'ms',
    settee: compactMs,
    ceiling: null,
    pouchdb: null,
  });
  report.note(
    `During compaction: ${busy.reads.length} reads and ${busy.writes.length} writes were answered.`,
  );
  const p99 = Math.max(percentile(busy.reads, 99), percentile(busy.writes, 99));
  report.target('p99 of reads and writes during compaction below 250 ms', p99 < 250, `${fmt(p99)} ms`);
}

async function main(): Promise<void> {
  const began = performance.now();
  const data = new Dataset(DOCS);
  Object.assign(report.meta, {
    date: new Date().toISOString(),
    node: process.version,
    cpus: `${cpus().length} × ${cpus()[0]?.model ?? '?'}`,
    sizeMB: SIZE / MB,
    documents: DOCS,
    averageDocumentBytes: data.averageJsonBytes(),
    loadAverageAtStart: loadavg()[0],
  });
  const path = folders.path('settee.sqlite');
  const db = await Database.open(path);
  progress(`writing generations of ${DOCS} documents up to ${fmt(SIZE / MB)} MB`);
  const generations = await buildGenerations(db, path, data);
  report.note(
    `${generations} generations of ${DOCS} documents of ~${data.averageJsonBytes()} bytes of JSON.`,
  );
  report.note(
    'The raw SQLite ceiling holds the same live documents in a table (id, rev, body), nothing else.',
  );
  await sizes(db, path, data);
  await db.close();
  await latencies(data);
  report.meta.totalSeconds = Math.round((performance.now() - began) / 1000);
  report.meta.loadAverageAtEnd = loadavg()[0];
  console.log(
    `\nSettee compaction benchmark — ${report.meta.date}, ${report.meta.cpus}, ${report.meta.totalSeconds} s\n`,
  );
  console.log(report.print());
  mkdirSync(dirname(RESULTS), { recursive: true });
  writeFileSync(RESULTS, `${JSON.stringify(report.toJSON(), null, 2)}\n`);
  console.log(`\nFigures written to ${RESULTS}`);
}

try {
  await main();
} finally {
  folders.remove();
}
