/**
 * The replicator benchmark: Settee's replicator beside PouchDB's (Node, leveldb), both against
 * the same Settee server (a child process, so its CPU and RSS are its own), in one run, with the
 * local ceiling (bulkDocs new_edits=false of the same documents into a local Settee database,
 * no network, no replicator) measured alongside.
 *
 *   node --expose-gc --import tsx bench/replication/run.ts                 # 50k docs of ~1 KB
 *   node --expose-gc --import tsx bench/replication/run.ts --n 10000 --live-writes 20
 *   … --pouch-n 20000         # PouchDB on fewer documents (its figures are rates, so comparable)
 *   … --profile /tmp/prof     # CPU profiles of Settee's phases (client) and of the server
 *   … --skip-pouch --skip-live --memory-n 0
 *
 * Phases, each on fresh targets: seed a server database with N docs (HTTP `_bulk_docs`,
 * new_edits=false); a warm-up of both clients; the local ceiling (first round); pull the server
 * database into an empty local database (Settee at batch 100 and 500, PouchDB at its default 100);
 * push each pulled copy back into a fresh server database; add 1,000 docs to the server and pull
 * them incrementally (from the checkpoints); an untimed Settee pull and push of 100k docs that stop
 * at every tenth to read memory after a GC; the ceiling again (the better round counts: the machine's
 * load varies); then a two-way live sync A ⇄ server ⇄ B for each client. Prints the tables and
 * the targets; writes the same figures to bench-results/replication.json.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { Database } from '../../src/database/database.js';
import '../../src/storage/sqlite/open.js'; // Database.open on SQLite files, as the Node entry has it
import type { RemoteDatabase } from '../../src/remote/index.js';
import { Dataset, fmt, machine, progress, TempFolders, writeResults } from '../lib.js';
import type { LiveFigures } from '../server/live.js';
import { liveRun } from '../server/phases.js';
import { formatProfile, type HotFunction, topSelfTime } from '../server/profile.js';
import { CLOCK_TICKS, resolveSettee, runBenchmark, ServerProcess } from '../server/servers.js';
import { describe, RequestLog, measured, type PhaseFigures } from './measure.js';
import { type MemoryPoint, type MemoryProbe, memoryProbe } from './memory.js';
import {
  closeQuietly,
  type Pouch,
  pouchLocal,
  pouchRemote,
  pouchReplicate,
  RequestCounter,
} from './pouch.js';
import { ClientProfiler } from './profile.js';
import {
  type Line,
  type PairLine,
  pairTable,
  phaseTable,
  ratioOf,
  type Target,
  targetLines,
} from './report.js';
import { ceiling, openLocal, remote, seed, setteeLive, setteeReplicate } from './settee.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

const { values: args } = parseArgs({
  options: {
    n: { type: 'string', default: '50000' },
    'pouch-n': { type: 'string' },
    incremental: { type: 'string', default: '1000' },
    batches: { type: 'string', default: '100,500' },
    warmup: { type: 'string', default: '2000' },
    'memory-n': { type: 'string', default: '100000' },
    'live-writes': { type: 'string', default: '100' },
    'live-interval': { type: 'string', default: '200' },
    settee: { type: 'string', default: 'auto' },
    profile: { type: 'string' },
    'skip-pouch': { type: 'boolean', default: false },
    'skip-live': { type: 'boolean', default: false },
    out: { type: 'string', default: join(ROOT, 'bench-results', 'replication.json') },
  },
});
const N = Number(args.n);
const POUCH_N = Number(args['pouch-n'] ?? args.n);
const INCREMENTAL = Number(args.incremental);
const BATCHES = args.batches.split(',').map((s) => Number(s.trim()));
const WARMUP = Number(args.warmup);
/** Documents of the memory probe (0: none); more than N, so that caches are full by its second reading. */
const MEMORY_N = Number(args['memory-n']);
const LIVE = { writes: Number(args['live-writes']), interval: Number(args['live-interval']) };
const SETTEE_MODE = args.settee as 'auto' | 'dist' | 'src';
const SEED_BATCH = 500;
/**
 * Memory counts as flat when it grows by less than this share of the bytes of the documents
 * replicated (readings from the second tenth on: by then SQLite's page caches, 16 MB per
 * connection in better-sqlite3, are full). Keeping the documents would cost more than 100%;
 * keeping ~100 bytes per document, about 10%.
 */
const FLAT_SHARE = 0.1;
for (const [name, n] of Object.entries({ N, POUCH_N, INCREMENTAL, WARMUP, ...LIVE })) {
  if (!Number.isInteger(n) || n <= 0) throw new Error(`bad ${name}: ${n}`);
}
if (!Number.isInteger(MEMORY_N) || MEMORY_N < 0) throw new Error(`bad --memory-n ${args['memory-n']}`);
if (POUCH_N > N) throw new Error('--pouch-n cannot exceed --n');
if (BATCHES.some((b) => !Number.isInteger(b) || b <= 0)) throw new Error(`bad --batches ${args.batches}`);
if (!['auto', 'dist', 'src'].includes(SETTEE_MODE)) throw new Error('--settee is auto, dist or src');

/** What was measured; null where a phase did not run (skipped, or the run failed before it). */
interface Results {
  seedDocsPerSec: number | null;
  pull: (PhaseFigures | null)[];
  push: (PhaseFigures | null)[];
  incremental: (PhaseFigures | null)[];
  pouchPull: PhaseFigures | null;
  pouchPush: PhaseFigures | null;
  pouchIncremental: PhaseFigures | null;
  /** The best of the ceiling's rounds, per batch size. */
  ceiling: (number | null)[];
  /** Every round of the ceiling (one early, one late: the machine's load varies), per batch size. */
  ceilingRounds: number[][];
  memory: MemoryProbe[];
  live: LiveFigures | null;
  pouchLive: LiveFigures | null;
  server: { peakMB: number; rssMB: number } | null;
  serverProfile: { file: string; busyMs: number; top: HotFunction[] } | null;
}

const results: Results = {
  seedDocsPerSec: null,
  pull: BATCHES.map(() => null),
  push: BATCHES.map(() => null),
  incremental: BATCHES.map(() => null),
  pouchPull: null,
  pouchPush: null,
  pouchIncremental: null,
  ceiling: BATCHES.map(() => null),
  ceilingRounds: BATCHES.map(() => []),
  memory: [],
  live: null,
  pouchLive: null,
  server: null,
  serverProfile: null,
};

const SOURCES = sourceState();
const folders = new TempFolders();
const began = performance.now();
const profiler = new ClientProfiler(args.profile, ROOT);

const cleanUp = {
  // The profiles end with the run, however it ends.
  remove(): void {
    profiler.close();
    folders.remove();
  },
};
await runBenchmark(cleanUp, main);

async function main(): Promise<void> {
  const settee = resolveSettee(ROOT, SETTEE_MODE);
  if (args.profile) mkdirSync(args.profile, { recursive: true });
  progress(
    `N ${N} (PouchDB ${POUCH_N}), incremental ${INCREMENTAL}, Settee batches ${BATCHES.join(', ')}; ` +
      `server from ${settee.description}; ${cpus().length} CPUs, CLK_TCK ${CLOCK_TICKS}`,
  );
  const before = args.profile ? new Set(readdirSync(args.profile)) : undefined;
  const server = await ServerProcess.start('settee', {
    root: ROOT,
    dir: folders.path('server'),
    settee,
    ...(args.profile ? { profileDir: args.profile } : {}),
  });
  progress(`Settee server pid ${server.pid} on ${server.url}`);
  let failure: unknown;
  try {
    await runAll(server);
  } catch (error) {
    // Report what was measured before the failure, then fail.
    failure = error;
    progress(
      `the run failed: ${(error as Error).stack ?? String(error)}\nserver's last lines:\n${server.lastLines()}`,
    );
  } finally {
    try {
      results.server = server.memory();
    } catch {
      // already gone
    }
    await server.stop();
  }
  if (args.profile && before) {
    const file = readdirSync(args.profile).find((name) => !before.has(name) && name.startsWith('CPU.'));
    if (file) {
      const path = join(args.profile, file);
      const { totalMs, idleMs, top } = topSelfTime(path, ROOT, 25);
      results.serverProfile = { file: path, busyMs: totalMs - idleMs, top };
      console.error(`server profile (whole server life):\n${formatProfile(path, ROOT, 25)}`);
    } else progress('no server CPU profile was written (did it exit gracefully?)');
  }
  const totalSeconds = (performance.now() - began) / 1000;
  const output = render(totalSeconds, settee.description, failure);
  console.log(output.text);
  writeResults(args.out, output.json);
  progress(`wrote ${args.out} (${totalSeconds.toFixed(0)} s in all)`);
  if (failure) throw failure;
}

async function runAll(server: ServerProcess): Promise<void> {
  const data = new Dataset(Math.max(N + INCREMENTAL, MEMORY_N));
  const counter = new RequestLog();
  const pouchCounter = new RequestCounter();
  const local: Database[] = [];
  const pouches: Pouch[] = [];
  const open = async (name: string) => {
    const db = await openLocal(folders, name);
    local.push(db);
    return db;
  };
  const pouch = (name: string, db?: Pouch) => {
    const handle = db ?? pouchLocal(folders, name);
    pouches.push(handle);
    return handle;
  };
  const pouchOn = (name: string) => pouch(name, pouchRemote(server, name, pouchCounter));
  try {
    // --- seeding (the seeding time is the HTTP write path without a replicator) -----------------
    const source = remote(server, 'source', counter);
    progress(`seeding ${N} documents into the server (_bulk_docs new_edits=false, batch ${SEED_BATCH})`);
    const seedMs = await seed(source, data, 0, N, SEED_BATCH);
    results.seedDocsPerSec = (N * 1000) / seedMs;
    progress(`seeded at ${Math.round(results.seedDocsPerSec)} docs/s`);
    const pouchSourceName = POUCH_N === N ? 'source' : `source-${POUCH_N}`;
    if (!args['skip-pouch'] && POUCH_N !== N) {
      await seed(remote(server, pouchSourceName, counter), data, 0, POUCH_N, SEED_BATCH);
    }

    // --- warm-up: both clients through every code path once, untimed -----------------------------
    const warm = remote(server, 'warmup', counter);
    await seed(warm, data, 0, WARMUP, SEED_BATCH);
    progress(`warm-up: both replicators pull and push ${WARMUP} documents (untimed)`);
    const warmLocal = await open('warmup');
    await setteeReplicate(warm, warmLocal, WARMUP, BATCHES[0]!, 'warm-up pull');
    const warmTarget = remote(server, 'warmup-settee', counter);
    await warmTarget.ensureExists();
    await setteeReplicate(warmLocal, warmTarget, WARMUP, BATCHES[0]!, 'warm-up push');
    if (!args['skip-pouch']) {
      const warmPouch = pouch('warmup');
      await pouchReplicate(pouchOn('warmup'), warmPouch, WARMUP, 'PouchDB warm-up pull');
      const warmPouchTarget = pouchOn('warmup-pouchdb');
      await warmPouchTarget.info();
      await pouchReplicate(warmPouch, warmPouchTarget, WARMUP, 'PouchDB warm-up push');
    }

    // --- the local ceiling, first round (the best of both rounds counts) -----------------------------
    await ceilingRound(data);

    // --- pull: server → empty local ---------------------------------------------------------------
    const pulled: Database[] = [];
    let pouchPulled: Pouch | undefined;
    for (const [i, batch] of BATCHES.entries()) {
      const target = await open(`pull-${batch}`);
      pulled.push(target);
      const what = `Settee pull, batch ${batch}`;
      results.pull[i] = await profiler.around(`pull-${batch}`, () =>
        measured(server, counter, N, async () => {
          await setteeReplicate(source, target, N, batch, what);
        }),
      );
      progress(describe(what, results.pull[i]!));
      if (i === 0 && !args['skip-pouch']) {
        // Between Settee's runs, so neither client always goes first.
        pouchPulled = pouch('pull');
        const pouchSource = pouchOn(pouchSourceName);
        results.pouchPull = await measured(server, pouchCounter, POUCH_N, () =>
          pouchReplicate(pouchSource, pouchPulled!, POUCH_N, 'PouchDB pull'),
        );
        progress(describe('PouchDB pull', results.pouchPull));
      }
    }

    // --- push: the pulled copies → fresh server databases -----------------------------------------
    for (const [i, batch] of BATCHES.entries()) {
      const target = remote(server, `push-settee-${batch}`, counter);
      await target.ensureExists(); // not part of the timed push
      const what = `Settee push, batch ${batch}`;
      results.push[i] = await profiler.around(`push-${batch}`, () =>
        measured(server, counter, N, async () => {
          await setteeReplicate(pulled[i]!, target, N, batch, what);
        }),
      );
      await expectCount(target, N, what);
      progress(describe(what, results.push[i]!));
      if (i === 0 && pouchPulled) {
        const pouchTarget = pouchOn('push-pouchdb');
        await pouchTarget.info(); // creates it
        results.pouchPush = await measured(server, pouchCounter, POUCH_N, () =>
          pouchReplicate(pouchPulled!, pouchTarget, POUCH_N, 'PouchDB push'),
        );
        const info = await pouchTarget.info();
        if (info.doc_count !== POUCH_N) throw new Error(`PouchDB push: ${info.doc_count} of ${POUCH_N} docs`);
        progress(describe('PouchDB push', results.pouchPush));
      }
    }

    // --- incremental pull: INCREMENTAL new docs on the server, pulled from the checkpoints --------
    progress(`adding ${INCREMENTAL} documents to the server's source database(s)`);
    await seed(source, data, N, N + INCREMENTAL, SEED_BATCH);
    if (pouchPulled && pouchSourceName !== 'source') {
      await seed(remote(server, pouchSourceName, counter), data, N, N + INCREMENTAL, SEED_BATCH);
    }
    for (const [i, batch] of BATCHES.entries()) {
      const what = `Settee incremental pull, batch ${batch}`;
      results.incremental[i] = await measured(server, counter, INCREMENTAL, async () => {
        await setteeReplicate(source, pulled[i]!, INCREMENTAL, batch, what);
      });
      progress(describe(what, results.incremental[i]!));
      if (i === 0 && pouchPulled) {
        const pouchSource = pouchOn(pouchSourceName);
        results.pouchIncremental = await measured(server, pouchCounter, INCREMENTAL, () =>
          pouchReplicate(pouchSource, pouchPulled!, INCREMENTAL, 'PouchDB incremental pull'),
        );
        progress(describe('PouchDB incremental pull', results.pouchIncremental));
      }
    }

    // --- memory: an untimed pull and push at the first batch size, stopping every tenth to look --------
    if (MEMORY_N > 0) {
      const batch = BATCHES[0]!;
      const docBytes = data.averageJsonBytes();
      const memorySource = remote(server, 'memory-source', counter);
      progress(`memory: seeding ${MEMORY_N} documents, then an untimed pull and push of them`);
      await seed(memorySource, data, 0, MEMORY_N, SEED_BATCH);
      const target = await open('memory-pull');
      const probes = [await memoryProbe(server, 'pull', memorySource, target, MEMORY_N, batch, docBytes)];
      const pushTarget = remote(server, 'memory-push', counter);
      await pushTarget.ensureExists();
      probes.push(await memoryProbe(server, 'push', target, pushTarget, MEMORY_N, batch, docBytes));
      for (const probe of probes) {
        results.memory.push(probe);
        progress(
          `memory, ${probe.phase} batch ${batch}: ` +
            probe.points
              .map(
                (p) =>
                  `${p.docs} docs: heap ${p.heapMB.toFixed(1)}, external ${p.externalMB.toFixed(1)}, RSS ${p.rssMB.toFixed(0)}, server RSS ${p.serverRssMB.toFixed(0)} MB`,
              )
              .join('; '),
        );
      }
    }

    // --- the local ceiling, second round ------------------------------------------------------------
    await ceilingRound(data);

    // --- live two-way sync ----------------------------------------------------------------------------
    if (!args['skip-live']) {
      progress(`live sync: ${LIVE.writes} writes ${LIVE.interval} ms apart, Settee`);
      results.live = await setteeLive(server, data, folders, LIVE.writes, LIVE.interval);
      if (!args['skip-pouch']) {
        progress(`live sync: ${LIVE.writes} writes ${LIVE.interval} ms apart, PouchDB`);
        results.pouchLive = await liveRun(server, data, folders, LIVE.writes, LIVE.interval);
      }
    }
  } finally {
    for (const db of local) await db.close().catch(() => undefined);
    for (const db of pouches) await closeQuietly(db);
  }
}

async function ceilingRound(data: Dataset): Promise<void> {
  for (const [i, batch] of BATCHES.entries()) {
    const rate = await ceiling(data, N, batch, folders);
    results.ceilingRounds[i]!.push(rate);
    results.ceiling[i] = Math.max(...results.ceilingRounds[i]!);
    progress(`ceiling, batch ${batch}: ${Math.round(rate)} docs/s`);
  }
}

async function expectCount(db: RemoteDatabase, n: number, what: string): Promise<void> {
  const info = await db.info();
  if (info.doc_count !== n) throw new Error(`${what}: the target holds ${info.doc_count} of ${n} docs`);
}

// ---------------------------------------------------------------------------------------------
// Report

type Get = (f: PhaseFigures) => number;

function phaseLines(
  settee: (PhaseFigures | null)[],
  pouch: PhaseFigures | null,
  withCeiling: boolean,
  memory: boolean,
): Line[] {
  const line = (metric: string, unit: string, lowerIsBetter: boolean, get: Get, ceil = false): Line => ({
    metric,
    unit,
    lowerIsBetter,
    settee: settee.map((f) => (f ? get(f) : null)),
    pouchdb: pouch ? get(pouch) : null,
    ceiling: ceil ? results.ceiling : BATCHES.map(() => null),
  });
  const lines = [
    line('end to end', 'docs/s', false, (f) => f.docsPerSec, withCeiling),
    line('server CPU', 'ms/doc', true, (f) => f.serverCpuMsPerDoc),
    line('server CPU, system part', 'ms/doc', true, (f) => f.serverSysMsPerDoc),
    line('client CPU (this process)', 'ms/doc', true, (f) => f.clientCpuMsPerDoc),
    line('HTTP requests', 'per doc', true, (f) => f.requestsPerDoc),
  ];
  if (memory) {
    lines.push(
      line('client RSS peak (this process)', 'MB', true, (f) => f.client.peakMB),
      line('server RSS peak', 'MB', true, (f) => f.server.peakMB),
    );
  }
  return lines;
}

function liveLines(): PairLine[] {
  const s = results.live;
  const p = results.pouchLive;
  const line = (metric: string, unit: string, get: (f: LiveFigures) => number): PairLine => ({
    metric,
    unit,
    lowerIsBetter: true,
    settee: s ? get(s) : null,
    pouchdb: p ? get(p) : null,
  });
  return [
    line('write on A → in B: p50', 'ms', (f) => f.p50),
    line('write on A → in B: p95', 'ms', (f) => f.p95),
    line('write on A → in B: max', 'ms', (f) => f.max),
    line('HTTP requests per write', 'requests', (f) => f.requestsPerWrite),
    line('server CPU per write', 'ms', (f) => f.serverCpuMsPerWrite),
  ];
}

function targets(): Target[] {
  const list: Target[] = [];
  const r = (v: number | null) => (v === null ? '—' : `${v.toFixed(2)}×`);
  for (const [phase, settee, pouch] of [
    ['pull', results.pull, results.pouchPull],
    ['push', results.push, results.pouchPush],
  ] as const) {
    for (const [i, batch] of BATCHES.entries()) {
      const f = settee[i];
      if (!f) continue;
      if (pouch) {
        const ratio = ratioOf(f.docsPerSec, pouch.docsPerSec);
        list.push({
          name: `${phase} (Settee batch ${batch}) ≥ 5× PouchDB's docs/s`,
          pass: ratio !== null && ratio >= 5,
          detail: `${fmt(f.docsPerSec)} vs ${fmt(pouch.docsPerSec)} docs/s = ${r(ratio)}`,
        });
      }
      const ceil = results.ceiling[i] ?? null;
      if (ceil !== null) {
        const share = f.docsPerSec / ceil;
        list.push({
          name: `${phase} (batch ${batch}) ≥ 40% of the local ceiling at that batch`,
          pass: share >= 0.4,
          detail: `${fmt(f.docsPerSec)} vs ${fmt(ceil)} docs/s = ${(share * 100).toFixed(0)}%`,
        });
      }
    }
  }
  if (results.live && results.pouchLive) {
    const s = results.live.requestsPerWrite;
    const p = results.pouchLive.requestsPerWrite;
    list.push({
      name: "two-way live sync ≤ ⅓ of PouchDB's HTTP requests per written document",
      pass: s <= p / 3,
      detail: `${s.toFixed(2)} vs ${p.toFixed(2)} requests/write = ${r(s / p)} (target ≤ 0.33×)`,
    });
  }
  if (results.memory.length > 0) {
    list.push({
      name:
        'client memory flat in the number of documents (what JS holds after a GC, heap + external, grows by ' +
        `less than ${FLAT_SHARE * 100}% of the bytes of the documents replicated: robust slope over the readings)`,
      pass: results.memory.every((m) => m.slopes.js < FLAT_SHARE * m.docsPer10kMB),
      detail:
        results.memory
          .map(
            (m) =>
              `${m.phase}: ${signed(m.slopes.js, 2)} MB per 10k documents (RSS ${signed(m.slopes.rss, 2)})`,
          )
          .join('; ') + ` — the documents are ${results.memory[0]!.docsPer10kMB.toFixed(1)} MB per 10k`,
    });
  }
  return list;
}

/** The commit measured, and whether src/ had uncommitted changes then (others work alongside). */
function sourceState(): string {
  try {
    const git = (...argv: string[]) => execFileSync('git', argv, { cwd: ROOT, encoding: 'utf8' }).trim();
    const dirty = git('status', '--porcelain', '--', 'src');
    return `${git('rev-parse', '--short', 'HEAD')}${dirty ? ` + uncommitted changes in ${dirty.split('\n').length} src/ files` : ''}`;
  } catch {
    return 'unknown (no git)';
  }
}

function signed(mb: number, digits = 1): string {
  return `${mb >= 0 ? '+' : ''}${mb.toFixed(digits)}`;
}

function memoryTable(): string {
  const probes = results.memory;
  const columns = probes[0]!.points.map((p) =>
    p.docs >= 10_000 ? `${Math.round(p.docs / 1000)}k` : `${(p.docs / 1000).toFixed(1)}k`,
  );
  const header = ['phase', 'reading (MB)', ...columns, 'slope, MB/10k docs'];
  const rows: string[][] = [];
  const readings = [
    ['client heap + external', (p: MemoryPoint) => p.heapMB + p.externalMB, (m: MemoryProbe) => m.slopes.js],
    ['client RSS', (p: MemoryPoint) => p.rssMB, (m: MemoryProbe) => m.slopes.rss],
    ['server RSS (no GC)', (p: MemoryPoint) => p.serverRssMB, (m: MemoryProbe) => m.slopes.serverRss],
  ] as const;
  for (const probe of probes) {
    for (const [name, get, slope] of readings) {
      rows.push([
        `  ${probe.phase}, b=${probe.batch}`,
        name,
        ...columns.map((_, i) => {
          const p = probe.points[i];
          return p ? get(p).toFixed(0) : '—';
        }),
        signed(slope(probe), 2),
      ]);
    }
  }
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((row) => row[c]!.length)));
  const line = (cells: string[]) =>
    cells.map((cell, c) => (c < 2 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join(' | ');
  return [
    `Memory: an untimed Settee pull and push of ${MEMORY_N.toLocaleString('en-US')} documents, read at every ` +
      'tenth of them (this process garbage-collected first; the server cannot be). Slopes are Theil–Sen ' +
      `from the second reading on; the documents themselves are ${probes[0]!.docsPer10kMB.toFixed(1)} MB per 10k.`,
    line(header),
    widths.map((w) => '-'.repeat(w)).join('-|-'),
    ...rows.map(line),
  ].join('\n');
}

function render(totalSeconds: number, setteeFrom: string, failure: unknown): { text: string; json: unknown } {
  const notes: string[] = [];
  const out: string[] = [];
  const k = (n: number) => (n % 1000 === 0 ? `${n / 1000}k` : String(n));
  out.push(
    `Replication: ${k(N)} documents of ~${new Dataset(Math.min(N, 1000)).averageJsonBytes()} bytes, Settee server ` +
      `(${setteeFrom}) in a child process, ${cpus().length} CPUs, ${Math.round(totalmem() / 2 ** 30)} GB, ` +
      `load ${loadavg()[0]!.toFixed(2)}, ${totalSeconds.toFixed(0)} s in all; sources ${SOURCES}.`,
  );
  if (POUCH_N !== N) {
    notes.push(
      `PouchDB replicated ${k(POUCH_N)} documents (not ${k(N)}) to keep the run short; its figures are per-document ` +
        'rates, compared as such.',
    );
  }
  if (args['skip-pouch']) notes.push('PouchDB was skipped (--skip-pouch).');
  out.push('');
  out.push(
    phaseTable(
      `Pull: server → empty local database (${k(N)} docs)`,
      BATCHES,
      phaseLines(results.pull, results.pouchPull, true, true),
    ),
  );
  out.push('');
  out.push(
    phaseTable(
      `Push: the pulled local database → a fresh server database (${k(N)} docs)`,
      BATCHES,
      phaseLines(results.push, results.pouchPush, true, true),
    ),
  );
  out.push('');
  out.push(
    phaseTable(
      `Incremental pull: ${k(INCREMENTAL)} new docs on the server, from the checkpoints`,
      BATCHES,
      phaseLines(results.incremental, results.pouchIncremental, false, false),
    ),
  );
  if (results.memory.length > 0) {
    out.push('');
    out.push(memoryTable());
  }
  if (results.live || results.pouchLive) {
    out.push('');
    out.push(
      pairTable(
        `Live two-way sync: A ⇄ server ⇄ B (four live replications), ${LIVE.writes} writes on A ` +
          `${LIVE.interval} ms apart`,
        liveLines(),
      ),
    );
  }
  out.push('');
  out.push(
    `The ceiling is bulkDocs(new_edits=false) of the same documents (with _revisions, as replicated) ` +
      `straight into an empty local Settee database, at each batch size: ` +
      BATCHES.map(
        (b, i) =>
          `batch ${b} ${fmt(results.ceiling[i] ?? null)} docs/s ` +
          `(best of ${results.ceilingRounds[i]!.map((r) => fmt(r)).join(' and ')}, before and after the replications)`,
      ).join(', ') +
      '. For comparison, seeding the server with HTTP _bulk_docs (new_edits=false, batch ' +
      `${SEED_BATCH}, no replicator) ran at ${fmt(results.seedDocsPerSec)} docs/s.`,
  );
  out.push(
    'Ratios are Settee ÷ other (one per Settee batch size); ↓ marks metrics where lower is better. PouchDB runs ' +
      'at its default batch_size 100 and batches_limit 10. Server CPU is the Settee server process' +
      "'s utime+stime from /proc during the phase; client CPU is this process (the replicator and the local database).",
  );
  if (results.server) {
    out.push(
      `Server RSS at the end: ${results.server.rssMB.toFixed(0)} MB (peak ${results.server.peakMB.toFixed(0)} MB).`,
    );
  }
  if (results.live) {
    notes.push(
      "Live latency: Settee's is timed when B's pull replication has written the document into B (its change " +
        "event); PouchDB's when B's live changes feed reports it. Live replications coalesce checkpoints (Settee: at most every 5 s).",
    );
  }
  for (const [label, f] of [
    ['Settee live', results.live],
    ['PouchDB live', results.pouchLive],
  ] as const) {
    if (f && f.errors.length > 0) notes.push(`${label} errors: ${f.errors.slice(0, 5).join('; ')}`);
  }
  for (const [phase, pouch] of [
    ['pull', results.pouchPull],
    ['push', results.pouchPush],
  ] as const) {
    if (!pouch) continue;
    const goal = 5 * pouch.docsPerSec;
    const shares = BATCHES.map((b, i) => {
      const ceil = results.ceiling[i];
      return ceil ? `${((goal / ceil) * 100).toFixed(0)}% of the ceiling at batch ${b}` : null;
    }).filter((text) => text !== null);
    if (shares.length > 0) {
      notes.push(`5× PouchDB's ${phase} is ${fmt(goal)} docs/s: ${shares.join(', ')}.`);
    }
  }
  if (results.memory.length > 0) {
    notes.push(
      'Server memory is not judged: it cannot be made to collect its garbage before a reading, so its RSS ' +
        'slope is an upper bound (' +
        results.memory.map((m) => `${m.phase} ${signed(m.slopes.serverRss, 2)} MB per 10k docs`).join(', ') +
        (results.server
          ? `; ${results.server.rssMB.toFixed(0)} MB at the end of the run, peak ${results.server.peakMB.toFixed(0)} MB).`
          : ').') +
        " Nor is the client's RSS: the allocator keeps what was freed, and each SQLite connection's page cache " +
        'fills up to 16 MB.',
    );
  }
  if (failure) notes.push(`THE RUN FAILED: ${(failure as Error).message ?? String(failure)}`);
  if (notes.length > 0) {
    out.push('');
    out.push('Notes:');
    for (const note of notes) out.push(`  - ${note}`);
  }
  const list = targets();
  out.push('');
  out.push('Targets (issue 4):');
  out.push(targetLines(list));
  const json = {
    meta: {
      ...machine(),
      clockTicks: CLOCK_TICKS,
      settee: setteeFrom,
      sources: SOURCES,
      n: N,
      pouchN: POUCH_N,
      incremental: INCREMENTAL,
      memoryN: MEMORY_N,
      batches: BATCHES,
      live: LIVE,
      totalSeconds,
      failed: failure ? String(failure) : undefined,
    },
    seedDocsPerSec: results.seedDocsPerSec,
    ceilingDocsPerSec: Object.fromEntries(BATCHES.map((b, i) => [b, results.ceiling[i]])),
    ceilingRounds: Object.fromEntries(BATCHES.map((b, i) => [b, results.ceilingRounds[i]])),
    settee: Object.fromEntries(
      BATCHES.map((b, i) => [
        b,
        { pull: results.pull[i], push: results.push[i], incrementalPull: results.incremental[i] },
      ]),
    ),
    pouchdb: { pull: results.pouchPull, push: results.pouchPush, incrementalPull: results.pouchIncremental },
    memory: results.memory,
    live: { settee: results.live, pouchdb: results.pouchLive },
    server: results.server,
    targets: list,
    notes,
    profiles: { client: profiler.summaries, server: results.serverProfile },
  };
  return { text: out.join('\n'), json };
}
