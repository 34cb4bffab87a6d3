/**
 * The sync server benchmark: PouchDB (Node, leveldb) replicating ~1 KB documents with Settee and
 * with pouchdb-server (npm) in the same run, each server in its own child process so its CPU
 * (/proc/PID/stat) and peak RSS (VmHWM) are its own; a fresh server per N.
 *
 *   node --expose-gc --import tsx bench/server/run.ts                       # 10k and 50k
 *   node --expose-gc --import tsx bench/server/run.ts --sizes 2000 --live-writes 20 --loaded-writes 100
 *   node --expose-gc --import tsx bench/server/run.ts --profile /tmp/settee-prof   # + Settee CPU profile
 *   … --server-logs /tmp/logs       # keep what each server printed (Settee: a JSON line per request)
 *   … --servers settee --skip-live  # one server only; bulk phases only
 *   … --settee-node-flags=''        # Settee without the node flags of `npm start` (or other flags)
 *   … --settee /elsewhere/dist/cli/main.js   # another build of Settee, to compare
 *
 * Per server and N: push N docs to an empty remote db, pull them into an empty PouchDB, push
 * 1,000 more (incremental); then live sync A → server → B with writes 200 ms apart and 10 ms
 * apart. Prints a table per N and the targets; writes the same figures to bench-results/server.json.
 */
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Dataset, machine, progress, TempFolders, writeResults } from '../lib.js';
import type { LiveFigures } from './live.js';
import { type BulkFigures, bulkPhases, liveRun } from './phases.js';
import { formatProfile, topSelfTime } from './profile.js';
import { type Metric, notesAndTargets, ratioOf, ratioText, type Target, table, wholeRun } from './report.js';
import {
  CLOCK_TICKS,
  runBenchmark,
  LABEL,
  SERVER_KINDS,
  type ServerKind,
  ServerProcess,
  type SetteeEntry,
  setteeAsStarted,
} from './servers.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

const { values: args } = parseArgs({
  options: {
    sizes: { type: 'string', default: '10000,50000' },
    incremental: { type: 'string', default: '1000' },
    'live-writes': { type: 'string', default: '100' },
    'live-interval': { type: 'string', default: '200' },
    'loaded-writes': { type: 'string', default: '500' },
    'loaded-interval': { type: 'string', default: '10' },
    servers: { type: 'string', default: SERVER_KINDS.join(',') },
    settee: { type: 'string', default: 'auto' },
    // Node flags of the Settee server: those of `npm start` unless given ('' for none).
    'settee-node-flags': { type: 'string' },
    profile: { type: 'string' },
    'server-logs': { type: 'string' },
    'skip-live': { type: 'boolean', default: false },
    out: { type: 'string', default: join(ROOT, 'bench-results', 'server.json') },
  },
});
const SIZES = args.sizes.split(',').map((s) => Number(s.trim()));
const INCREMENTAL = Number(args.incremental);
const LIVE = { writes: Number(args['live-writes']), interval: Number(args['live-interval']) };
const LOADED = { writes: Number(args['loaded-writes']), interval: Number(args['loaded-interval']) };
const KINDS = args.servers.split(',').map((s) => s.trim()) as ServerKind[];
if (SIZES.some((n) => !Number.isInteger(n) || n <= 0)) throw new Error(`bad --sizes ${args.sizes}`);
if (KINDS.some((kind) => !SERVER_KINDS.includes(kind))) throw new Error(`bad --servers ${args.servers}`);

interface ServerRun {
  kind: ServerKind;
  n: number;
  bulk: BulkFigures;
  live: LiveFigures | null;
  loaded: LiveFigures | null;
  /** VmHWM / VmRSS at the end of the run (after live sync). */
  memory: { peakMB: number; rssMB: number };
  wallSeconds: number;
  /** 1-minute load average of the machine when the run started and ended (shared machines are noisy). */
  load: [number, number];
  profile?: string;
}

const folders = new TempFolders();
const runs: ServerRun[] = [];
const began = performance.now();

await runBenchmark(folders, main);

async function main(): Promise<void> {
  const flags = args['settee-node-flags']?.split(/\s+/).filter(Boolean);
  const settee = KINDS.includes('settee')
    ? setteeAsStarted(ROOT, args.settee, flags)
    : { args: [], description: '' };
  const profileDir = args.profile;
  if (profileDir) mkdirSync(profileDir, { recursive: true });
  if (args['server-logs']) mkdirSync(args['server-logs'], { recursive: true });
  progress(
    `sizes ${SIZES.join(', ')}; servers ${KINDS.join(', ')}; Settee from ${settee.description || '—'}; ` +
      `${cpus().length} CPUs, CLK_TCK ${CLOCK_TICKS}`,
  );

  let failure: unknown;
  try {
    await runAll(settee, profileDir);
  } catch (error) {
    // Report what was measured before the failure, then fail.
    failure = error;
    progress(`the run failed: ${(error as Error).stack ?? String(error)}`);
  }
  const totalSeconds = (performance.now() - began) / 1000;
  const output = render(totalSeconds, settee.description, failure);
  console.log(output.text);
  writeResults(args.out, output.json);
  progress(`wrote ${args.out}`);
  if (failure) throw failure;
}

async function runAll(settee: SetteeEntry, profileDir: string | undefined): Promise<void> {
  for (const [index, n] of SIZES.entries()) {
    const data = new Dataset(n + INCREMENTAL);
    // Alternate which server goes first, so warm caches and page cache favour neither.
    const order = index % 2 === 0 ? KINDS : [...KINDS].reverse();
    for (const kind of order) {
      const started = performance.now();
      const loadAtStart = loadavg()[0]!;
      const dir = folders.path(`${kind}-${n}`);
      const before = profileDir ? new Set(readdirSync(profileDir)) : undefined;
      progress(`${kind} ${n}: starting a fresh server`);
      const server = await ServerProcess.start(kind, {
        root: ROOT,
        dir,
        settee,
        ...(profileDir && kind === 'settee' ? { profileDir } : {}),
        ...(args['server-logs'] ? { logFile: join(args['server-logs'], `${kind}-${n}.log`) } : {}),
      });
      let run: ServerRun;
      try {
        const bulk = await bulkPhases(server, data, n, INCREMENTAL, folders);
        const live = args['skip-live']
          ? null
          : await liveRun(server, data, folders, LIVE.writes, LIVE.interval);
        const loaded = args['skip-live']
          ? null
          : await liveRun(server, data, folders, LOADED.writes, LOADED.interval);
        const memory = server.memory();
        progress(`${kind} ${n}: peak RSS ${memory.peakMB.toFixed(0)} MB (now ${memory.rssMB.toFixed(0)} MB)`);
        run = { kind, n, bulk, live, loaded, memory, wallSeconds: 0, load: [loadAtStart, loadavg()[0]!] };
      } catch (error) {
        progress(`${kind} ${n} failed; the server's last lines:\n${server.lastLines()}`);
        throw error;
      } finally {
        await server.stop();
        rmSync(dir, { recursive: true, force: true });
      }
      run.wallSeconds = (performance.now() - started) / 1000;
      if (profileDir && kind === 'settee' && before) {
        const file = readdirSync(profileDir).find(
          (name) => !before.has(name) && name.endsWith('.cpuprofile'),
        );
        if (file) {
          run.profile = join(profileDir, file);
          console.error(formatProfile(run.profile, ROOT, 30));
        } else progress('no CPU profile was written (did Settee exit gracefully?)');
      }
      runs.push(run);
      progress(`${kind} ${n}: done in ${run.wallSeconds.toFixed(0)} s`);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Report

function runOf(kind: ServerKind, n: number): ServerRun | undefined {
  return runs.find((run) => run.kind === kind && run.n === n);
}

function metricsFor(n: number): Metric[] {
  const s = runOf('settee', n);
  const p = runOf('pouchdb-server', n);
  const metrics: Metric[] = [];
  const add = (
    metric: string,
    unit: string,
    lowerIsBetter: boolean,
    get: (run: ServerRun) => number | null,
  ) => metrics.push({ metric, unit, lowerIsBetter, settee: s ? get(s) : null, pouchdb: p ? get(p) : null });
  const phases = [
    ['push', (run: ServerRun) => run.bulk.push],
    ['pull', (run: ServerRun) => run.bulk.pull],
    [`incremental push (${INCREMENTAL})`, (run: ServerRun) => run.bulk.incremental],
  ] as const;
  for (const [name, phase] of phases) add(`${name}: end to end`, 'docs/s', false, (r) => phase(r).docsPerSec);
  for (const [name, phase] of phases) {
    add(`${name}: server CPU`, 'ms/doc', true, (r) => phase(r).serverCpuMsPerDoc);
  }
  for (const [name, phase] of phases) {
    add(`${name}: server CPU, system part`, 'ms/doc', true, (r) => phase(r).serverSysMsPerDoc);
  }
  for (const [name, phase] of phases) {
    add(`${name}: client CPU (this process)`, 'ms/doc', true, (r) => phase(r).clientCpuMsPerDoc);
  }
  for (const [name, phase] of phases) {
    add(`${name}: HTTP requests`, 'requests', true, (r) => phase(r).requests);
  }
  const lives = [
    [`live, ${LIVE.interval} ms apart`, (run: ServerRun) => run.live],
    [`live loaded, ${LOADED.interval} ms apart`, (run: ServerRun) => run.loaded],
  ] as const;
  for (const [name, live] of lives) {
    add(`${name}: latency p50`, 'ms', true, (r) => live(r)?.p50 ?? null);
    add(`${name}: latency p95`, 'ms', true, (r) => live(r)?.p95 ?? null);
    add(`${name}: latency max`, 'ms', true, (r) => live(r)?.max ?? null);
    add(`${name}: HTTP requests per write`, 'requests', true, (r) => live(r)?.requestsPerWrite ?? null);
    add(`${name}: server CPU per write`, 'ms', true, (r) => live(r)?.serverCpuMsPerWrite ?? null);
  }
  add('server RSS peak after push/pull', 'MB', true, (r) => r.bulk.afterBulk.peakMB);
  add('server RSS peak (whole run, VmHWM)', 'MB', true, (r) => r.memory.peakMB);
  add('server RSS at the end', 'MB', true, (r) => r.memory.rssMB);
  add('wall time of the run', 's', true, (r) => r.wallSeconds);
  return metrics.filter((m) => m.settee !== null || m.pouchdb !== null);
}

function f3(v: number): string {
  return v.toFixed(3);
}

/** 10000 → 10k. */
function k(n: number): string {
  return n >= 1000 && n % 1000 === 0 ? `${n / 1000}k` : String(n);
}

function targets(): Target[] {
  const both = SIZES.filter((n) => runOf('settee', n) && runOf('pouchdb-server', n));
  if (both.length === 0) return [];
  const pairs = both.map((n) => ({ n, s: runOf('settee', n)!, p: runOf('pouchdb-server', n)! }));
  const list: Target[] = [];
  const phases = [
    ['push', (run: ServerRun) => run.bulk.push],
    ['pull', (run: ServerRun) => run.bulk.pull],
    ['incremental push', (run: ServerRun) => run.bulk.incremental],
  ] as const;
  for (const [name, phase] of phases) {
    const ratios = pairs.map(({ n, s, p }) => {
      const r = phase(s).serverCpuMsPerDoc / phase(p).serverCpuMsPerDoc;
      return {
        r,
        text: `${k(n)}: ${f3(phase(s).serverCpuMsPerDoc)} vs ${f3(phase(p).serverCpuMsPerDoc)} ms (${ratioText(r)})`,
      };
    });
    list.push({
      name: `server CPU per document ≤ 1/5 of pouchdb-server's (${name})`,
      pass: ratios.every(({ r }) => r <= 0.2),
      detail: ratios.map(({ text }) => text).join('; '),
    });
  }
  for (const [name, phase] of phases.slice(0, 2)) {
    const ratios = pairs.map(({ n, s, p }) => {
      const r = phase(s).docsPerSec / phase(p).docsPerSec;
      return {
        r,
        text: `${k(n)}: ${Math.round(phase(s).docsPerSec)} vs ${Math.round(phase(p).docsPerSec)} docs/s (${ratioText(r)})`,
      };
    });
    list.push({
      name: `${name} ≥ 1.5× pouchdb-server's docs/s`,
      pass: ratios.every(({ r }) => r >= 1.5),
      detail: ratios.map(({ text }) => text).join('; '),
    });
  }
  const settees = SIZES.map((n) => runOf('settee', n)).filter((run): run is ServerRun => !!run);
  const withLive = settees.filter((run) => run.live);
  if (withLive.length > 0) {
    list.push({
      name: `unloaded live p95 ≤ 20 ms (writes ${LIVE.interval} ms apart)`,
      pass: withLive.every((run) => run.live!.p95 <= 20 && run.live!.delivered === run.live!.writes),
      detail: withLive
        .map((run) => {
          const p = runOf('pouchdb-server', run.n)?.live;
          const lost = run.live!.writes - run.live!.delivered;
          return (
            `${k(run.n)}: p95 ${run.live!.p95.toFixed(1)} ms${p ? ` (pouchdb-server ${p.p95.toFixed(1)} ms)` : ''}` +
            (lost > 0 ? `, ${lost} writes never arrived` : '')
          );
        })
        .join('; '),
    });
  }
  const rss = pairs.map(({ n, s, p }) => ({
    n,
    r: s.memory.peakMB / p.memory.peakMB,
    text: `${k(n)}: ${s.memory.peakMB.toFixed(0)} vs ${p.memory.peakMB.toFixed(0)} MB (${ratioText(s.memory.peakMB / p.memory.peakMB)})`,
  }));
  list.push({
    name: "server peak RSS < 1/3 of pouchdb-server's",
    pass: rss.every(({ r }) => r < 1 / 3),
    detail: rss.map(({ text }) => text).join('; '),
  });
  if (settees.length >= 2) {
    const first = settees[0]!;
    const last = settees[settees.length - 1]!;
    const growth = last.memory.peakMB / first.memory.peakMB;
    list.push({
      name: 'Settee peak RSS flat as N grows (largest N ≤ 1.25× smallest N)',
      pass: growth <= 1.25,
      detail: `${settees.map((run) => `${k(run.n)}: ${run.memory.peakMB.toFixed(0)} MB`).join(', ')} (${ratioText(growth)})`,
    });
  }
  return list;
}

/** How this run's pouchdb-server compares with the issue's measurements of it. */
function referenceNotes(): string[] {
  const notes: string[] = [];
  const p = SIZES.map((n) => runOf('pouchdb-server', n)).filter((run): run is ServerRun => !!run);
  if (p.length === 0) return notes;
  const cpu = p.flatMap((run) => [run.bulk.push.serverCpuMsPerDoc, run.bulk.pull.serverCpuMsPerDoc]);
  const rates = p.flatMap((run) => [run.bulk.push.docsPerSec, run.bulk.pull.docsPerSec]);
  const clients = SIZES.flatMap((n) => {
    const run = runOf('settee', n) ?? runOf('pouchdb-server', n);
    return run ? [run.bulk.push.clientCpuMsPerDoc, run.bulk.pull.clientCpuMsPerDoc] : [];
  });
  const range = (values: number[], digits: number) =>
    values.length === 0
      ? '—'
      : `${Math.min(...values).toFixed(digits)}–${Math.max(...values).toFixed(digits)}`;
  notes.push(
    `pouchdb-server here: ${range(cpu, 2)} ms server CPU/doc (issue: 0.23–0.49), ` +
      `${range(rates, 0)} docs/s push/pull (issue: ~2,000–2,800), ` +
      `live p95 ${range(
        p.flatMap((run) => (run.live ? [run.live.p95] : [])),
        0,
      )} ms (issue: 49–60), peak RSS ${range(
        p.map((run) => run.memory.peakMB),
        0,
      )} MB (issue: 330–570 at 50k).`,
  );
  notes.push(
    `The PouchDB client (this process, both local leveldb and HTTP side) used ${range(clients, 2)} ms CPU/doc ` +
      'in push/pull (issue: 0.2–0.36), which bounds the end-to-end docs/s any server can reach.',
  );
  return notes;
}

/** PouchDB cuts a push into smaller batches when the server answers fast: say so when it did. */
function batchNotes(): string[] {
  const notes: string[] = [];
  for (const n of SIZES) {
    const s = runOf('settee', n)?.bulk.push.endpoints['POST _bulk_docs'];
    const p = runOf('pouchdb-server', n)?.bulk.push.endpoints['POST _bulk_docs'];
    if (s === undefined || p === undefined || s === p) continue;
    notes.push(
      `push ${k(n)}: PouchDB sent ${s} _bulk_docs batches to Settee and ${p} to pouchdb-server. Its ` +
        'replicator sends whatever changes it has read as soon as the previous batch is done ' +
        '(startNextBatch → processPendingBatch(true)), so a server that answers sooner gets smaller ' +
        'batches, and the per-batch requests (_revs_diff, checkpoint GET + PUT _local) weigh more.',
    );
  }
  return notes;
}

/** Settee's own share of the live path, from its request log. */
function liveNotes(): string[] {
  return SIZES.flatMap((n) => {
    const live = runOf('settee', n)?.live;
    const bulkDocs = live?.serverMs?.['POST _bulk_docs'];
    const local = live?.serverMs?.['PUT _local'];
    const bulkGet = live?.serverMs?.['POST _bulk_get'];
    if (!live || !bulkDocs) return [];
    const fmtMs = (t: { p50: number; p95: number; max: number } | undefined) =>
      t ? `p50 ${t.p50}, p95 ${t.p95}, max ${t.max} ms` : '—';
    return [
      `live ${k(n)}, Settee's own time per request (its log, to the response end): _bulk_docs ${fmtMs(bulkDocs)}; ` +
        `_bulk_get ${fmtMs(bulkGet)}; checkpoint PUT _local ${fmtMs(local)}. The rest of the latency is ` +
        'the two PouchDB clients (local changes feed, leveldb writes, checkpoints) and the longpoll round trips.',
    ];
  });
}

function render(totalSeconds: number, setteeFrom: string, failure: unknown): { text: string; json: unknown } {
  const sections = SIZES.map((n) => ({ n, metrics: metricsFor(n) }));
  const list = targets();
  const notes = [
    `Settee ran from ${setteeFrom || '—'}, with Basic auth (admin) and its one-line-per-request log on; ` +
      'pouchdb-server 4.2.0 (leveldb) without auth, with its request log on. Each server is a child ' +
      'process of its own, fresh per N; CPU is utime+stime from /proc/PID/stat, RSS is VmHWM/VmRSS.',
    'PouchDB 9 replication defaults (batch_size 100, batches_limit 10); ~1 KB documents; HTTP requests ' +
      'are counted by a wrapped fetch in both clients (the live phase counts from the first write until ' +
      `the last arrival + 250 ms, warm-up excluded).`,
    ...referenceNotes(),
    ...batchNotes(),
    ...liveNotes(),
    `${wholeRun(totalSeconds)}; ` +
      `1-min load average at the start/end of each server run: ${runs
        .map((run) => `${LABEL[run.kind]} ${k(run.n)} ${run.load[0].toFixed(1)}/${run.load[1].toFixed(1)}`)
        .join(', ')}${
        runs.some((run) => Math.max(...run.load) > cpus().length)
          ? ` — above ${cpus().length}: other work shared the machine, so timings (docs/s, latency) are noisy; CPU per document is the steadier figure`
          : ''
      }.`,
    ...(failure ? [`THE RUN FAILED (figures above are partial): ${String(failure)}`] : []),
  ];
  const text = [
    ...sections.map(({ n, metrics }) => `${table(`N = ${n.toLocaleString('en-US')} documents`, metrics)}\n`),
    'Ratios are Settee ÷ pouchdb-server; ↓ marks metrics where lower is better (a ratio below 1 favours Settee).',
    '',
    ...notesAndTargets(notes, list),
  ].join('\n');
  const json = {
    meta: {
      ...machine(),
      clockTicks: CLOCK_TICKS,
      settee: setteeFrom,
      sizes: SIZES,
      incremental: INCREMENTAL,
      live: LIVE,
      loaded: LOADED,
      totalSeconds,
    },
    tables: sections.map(({ n, metrics }) => ({
      n,
      rows: metrics.map((m) => ({ ...m, settee_over_pouchdb: ratioOf(m.settee, m.pouchdb) })),
    })),
    runs: runs.map((run) => ({
      ...run,
      ...(run.profile ? { profileTop: topSelfTime(run.profile, ROOT, 30) } : {}),
    })),
    targets: list,
    notes,
  };
  return { text, json };
}
