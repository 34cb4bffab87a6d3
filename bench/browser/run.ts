/**
 * The browser benchmark (issue 15): Settee beside PouchDB in one headless Chromium, both on
 * IndexedDB, both pulling from the same Settee server (a child process, `settee serve` with the
 * page's origin allowed by CORS).
 *
 *   node --expose-gc --import tsx bench/browser/run.ts                  # 10k docs of ~1 KB, 3 rounds
 *   node --expose-gc --import tsx bench/browser/run.ts --n 2000 --rounds 1 --contenders settee,pouchdb-idb
 *   … --profile /tmp/prof    # CPU profiles of the page during Settee's steps of the last round
 *
 * Each round ends with the ceiling of local writes: the same documents put into IndexedDB with no
 * database above it (`rawWrites`), with relaxed durability (Chromium's default, what PouchDB's
 * transactions get) and with strict (what Settee asks for); and the floor of Settee's own layout:
 * the same documents written through its IndexedDB storage alone, revisions computed beforehand
 * (`storageWrites`) — what no work of the database layer above it can beat.
 *
 * What a step costs in requests and CPU (IndexedDB transactions and requests, HTTP requests, CPU
 * of the server and of each Chromium process, per batch): `bench/browser/census.ts`.
 *
 * Each round, for every contender (in an order that rotates between rounds, so no one always goes
 * first), on fresh IndexedDB databases: pull the server's N documents (Settee's `replicate`, or
 * `PouchDB.replicate`, both at their defaults: PouchDB's batches of 100, Settee's growing from 100
 * to 500), then write N new documents locally
 * with `bulkDocs` in batches of 100. A warm-up pull and write of a few documents per contender
 * comes first, untimed. The figures are the medians of the rounds; the longest main-thread task is
 * the worst of any round. Prints the table and the goals; writes them to bench-results/browser.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { Page } from 'playwright-core';
import { Dataset, machine, median, perSecond, progress, TempFolders } from '../lib.js';
import { RequestLog } from '../replication/measure.js';
import { remote, seed } from '../replication/settee.js';
import { grid, ratioOf, ratioText, type Target, targetLines, value } from '../server/report.js';
import { ADMIN, resolveSettee, runBenchmark, ServerProcess } from '../server/servers.js';
import { withTimeout } from '../server/util.js';
import type { CeilingWay, Contender, Span } from './page.js';
import { profiled } from './profile.js';
import { launchChromium, localBatches, servePage } from './setup.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CONTENDERS: readonly Contender[] = ['settee', 'pouchdb-idb', 'pouchdb-indexeddb'];
const LABEL: Record<Contender, string> = {
  settee: 'Settee',
  'pouchdb-idb': 'PouchDB idb',
  'pouchdb-indexeddb': 'PouchDB indexeddb',
};

const { values: args } = parseArgs({
  options: {
    n: { type: 'string', default: '10000' },
    rounds: { type: 'string', default: '3' },
    warmup: { type: 'string', default: '500' },
    contenders: { type: 'string', default: CONTENDERS.join(',') },
    settee: { type: 'string', default: 'auto' },
    profile: { type: 'string' },
    out: { type: 'string', default: join(ROOT, 'bench-results', 'browser.json') },
  },
});
const N = Number(args.n);
const ROUNDS = Number(args.rounds);
const WARMUP = Number(args.warmup);
const BATCH = 100;
const SEED_BATCH = 500;
/** The issue's goals. */
const GOAL = { pull: 3, writes: 2, longestTaskMs: 100 };
const RUNNING = args.contenders.split(',').map((name) => name.trim()) as Contender[];
for (const [name, n] of Object.entries({ N, ROUNDS, WARMUP })) {
  if (!Number.isInteger(n) || n <= 0) throw new Error(`bad --${name.toLowerCase()}: ${n}`);
}
if (RUNNING.some((name) => !CONTENDERS.includes(name)) || !RUNNING.includes('settee')) {
  throw new Error(`--contenders: settee and any of ${CONTENDERS.join(', ')}`);
}

/** One contender's timed steps, a figure per round. */
interface Figures {
  pullMs: number[];
  writeMs: number[];
  /** Per round: the long tasks (ms) seen while pulling, longest first. */
  pullTasks: number[][];
  writeTasks: number[][];
}

/** Per round, IndexedDB's own time (ms) to store the local writes' documents (see `rawWrites`). */
const CEILING_WAYS: readonly CeilingWay[] = [
  'objects, relaxed',
  'objects, strict',
  'JSON text, relaxed',
  "Settee's storage",
];
const ceiling = new Map<CeilingWay, number[]>(CEILING_WAYS.map((way) => [way, []]));

const figures = new Map<Contender, Figures>(
  RUNNING.map((name) => [name, { pullMs: [], writeMs: [], pullTasks: [], writeTasks: [] }]),
);

/** The bench's page calls, as the bundle exposes them (`window.SetteeBench`). */
type Bench = typeof import('./page.js');

const folders = new TempFolders();
await runBenchmark(folders, main);

async function main(): Promise<void> {
  const began = performance.now();
  const loadAtStart = loadavg()[0]!;
  const data = new Dataset(Math.max(N, WARMUP));
  const pages = await servePage(ROOT, args.profile === undefined);
  const settee = resolveSettee(ROOT, args.settee as 'auto' | 'dist' | 'src');
  const server = await ServerProcess.start('settee', {
    root: ROOT,
    dir: folders.path('server'),
    settee,
    corsOrigins: [pages.origin],
  });
  const browser = await launchChromium();
  try {
    progress(`server (${settee.description}) on ${server.url}; seeding ${N} documents`);
    const log = new RequestLog();
    await seed(remote(server, 'source', log), data, 0, N, SEED_BATCH);
    await seed(remote(server, 'warmup', log), data, 0, WARMUP, SEED_BATCH);
    const page = await browser.newPage();
    page.on('pageerror', (error) => progress(`page error: ${error.message}`));
    await page.goto(pages.origin);
    progress(`warm-up: every contender pulls and writes ${WARMUP} documents (untimed)`);
    for (const contender of RUNNING)
      await round(page, server.url, contender, 'warmup', WARMUP, localBatches(data, WARMUP, BATCH));
    const batches = localBatches(data, N, BATCH);
    for (let r = 0; r < ROUNDS; r++) {
      for (const contender of rotated(RUNNING, r)) {
        const f = figures.get(contender)!;
        const profile = r === ROUNDS - 1 && contender === 'settee' ? args.profile : undefined;
        const { pull, write } = await round(page, server.url, contender, 'source', N, batches, profile);
        f.pullMs.push(pull.ms);
        f.pullTasks.push(pull.tasks);
        f.writeMs.push(write.ms);
        f.writeTasks.push(write.tasks);
        progress(
          `round ${r + 1}, ${LABEL[contender]}: pull ${rate(pull.ms)} docs/s (longest task ${pull.tasks[0] ?? 0} ms), ` +
            `writes ${rate(write.ms)} docs/s (longest task ${write.tasks[0] ?? 0} ms)`,
        );
      }
      for (const way of CEILING_WAYS) {
        const raw = await step(page, `IndexedDB alone, ${way}`, (bench, a) => bench.rawWrites(...a), [
          `raw-${crypto.randomUUID()}`,
          way,
        ] as const);
        ceiling.get(way)!.push(raw.ms);
        progress(`round ${r + 1}, IndexedDB alone (${way}): ${rate(raw.ms)} docs/s`);
      }
    }
  } finally {
    await browser.close();
    await server.stop();
    await new Promise((resolve) => pages.server.close(resolve));
  }
  report((performance.now() - began) / 1000, settee.description, loadAtStart);
}

/** One contender's pull of `db` and local writes of `batches`, each on a fresh IndexedDB database. */
async function round(
  page: Page,
  serverUrl: string,
  contender: Contender,
  db: string,
  expected: number,
  batches: object[][],
  profileDir?: string,
): Promise<{ pull: Step; write: Step }> {
  const name = `${contender}-${crypto.randomUUID()}`;
  const pull = await step(
    page,
    `${LABEL[contender]} pull`,
    (bench, a) => bench.pull(...a),
    [contender, `${serverUrl}/${db}`, ADMIN, `pull-${name}`, expected] as const,
    profileDir,
  );
  await page.evaluate((b) => (globalThis as unknown as { SetteeBench: Bench }).SetteeBench.stage(b), batches);
  const write = await step(
    page,
    `${LABEL[contender]} writes`,
    (bench, a) => bench.writeLocally(...a),
    [contender, `write-${name}`] as const,
    profileDir,
  );
  return { pull, write };
}

interface Step {
  ms: number;
  tasks: number[];
}

/** Runs `call` in the page (bounded), then asks it for the long tasks of the step's span. */
async function step<A>(
  page: Page,
  what: string,
  call: (bench: Bench, args: A) => Promise<Span>,
  callArgs: A,
  profileDir?: string,
): Promise<Step> {
  const run = () =>
    page.evaluate(
      ({ source, callArgs }) => {
        const bench = (globalThis as unknown as { SetteeBench: Bench }).SetteeBench;
        return (new Function(`return (${source})`)() as typeof call)(bench, callArgs as A);
      },
      { source: call.toString(), callArgs },
    );
  let span: Span;
  if (profileDir === undefined) span = await withTimeout(run(), 300_000, what);
  else {
    mkdirSync(profileDir, { recursive: true });
    const name = what.toLowerCase().replace(/\W+/g, '-');
    const { result, summary } = await profiled(page, ROOT, profileDir, name, run);
    progress(`${what}:\n${summary}`);
    span = result;
  }
  // A second call: the task that ended the step has finished by now, and its entry is reported.
  const tasks = await page.evaluate(
    (s) => (globalThis as unknown as { SetteeBench: Bench }).SetteeBench.longTasks(s),
    span,
  );
  return { ms: span.end - span.start, tasks: tasks.map(Math.round) };
}

function rotated<T>(list: readonly T[], by: number): T[] {
  return list.map((_, i) => list[(i + by) % list.length]!);
}

function rate(ms: number): string {
  return Math.round(perSecond(N, ms)).toLocaleString('en-US');
}

// ---------------------------------------------------------------------------------------------
// Report

function docsPerSec(values: readonly number[]): number | null {
  return values.length === 0 ? null : perSecond(N, median(values));
}

function longest(rounds: readonly number[][]): number | null {
  return rounds.length === 0 ? null : Math.max(0, ...rounds.map((tasks) => tasks[0] ?? 0));
}

/** The best PouchDB adapter's figure for `get` (the strictest comparison), and which adapter. */
function bestPouch(get: (f: Figures) => number | null): { figure: number | null; label: string } {
  let best: { figure: number | null; label: string } = { figure: null, label: '—' };
  for (const contender of RUNNING.filter((name) => name !== 'settee')) {
    const figure = get(figures.get(contender)!);
    if (figure !== null && (best.figure === null || figure > best.figure))
      best = { figure, label: LABEL[contender] };
  }
  return best;
}

function report(totalSeconds: number, setteeFrom: string, loadAtStart: number): void {
  const pouches = RUNNING.filter((name) => name !== 'settee');
  const settee = figures.get('settee')!;
  const metrics: [string, string, (f: Figures) => number | null][] = [
    [`pull from the server`, 'docs/s', (f) => docsPerSec(f.pullMs)],
    [`local writes, bulkDocs of ${BATCH}`, 'docs/s', (f) => docsPerSec(f.writeMs)],
    ['longest main-thread task while pulling', 'ms', (f) => longest(f.pullTasks)],
    ['longest main-thread task while writing', 'ms', (f) => longest(f.writeTasks)],
    ['long tasks (> 50 ms) while pulling', 'per round', (f) => median(f.pullTasks.map((t) => t.length))],
  ];
  const header = [
    'metric',
    'unit',
    ...RUNNING.map((name) => LABEL[name]),
    ...pouches.map((p) => `Settee/${LABEL[p]}`),
  ];
  const lines = metrics.map(([metric, unit, get]) => [
    `  ${metric}`,
    unit,
    ...RUNNING.map((name) => value(get(figures.get(name)!))),
    ...pouches.map((p) => (unit === 'docs/s' ? ratioText(ratioOf(get(settee), get(figures.get(p)!))) : '')),
  ]);
  const pouchWrites = bestPouch((f) => docsPerSec(f.writeMs));
  const ceilingLines = CEILING_WAYS.map((way) => {
    const alone = docsPerSec(ceiling.get(way)!);
    return (
      `${way}: ${value(alone)} docs/s — Settee's writes ${ratioText(ratioOf(docsPerSec(settee.writeMs), alone))} ` +
      `of it, ${pouchWrites.label}'s ${ratioText(ratioOf(pouchWrites.figure, alone))}`
    );
  });
  const targets = goals(settee);
  const busiest = Math.max(loadAtStart, loadavg()[0]!);
  const notes = [
    `Every round's docs/s — ${RUNNING.map(
      (name) =>
        `${LABEL[name]}: pull ${figures.get(name)!.pullMs.map(rate).join(', ')}; writes ` +
        figures.get(name)!.writeMs.map(rate).join(', '),
    ).join('; ')}.`,
    'PouchDB 9 from its browser builds: pouchdb.min.js (the `idb` adapter) and pouchdb.indexeddb.min.js ' +
      '(the newer `indexeddb` adapter); each goal is judged against the faster of the two.',
    `The server is \`settee serve\` (${setteeFrom}) in a child process with the page's origin allowed by CORS; ` +
      'both clients send Basic auth (so the same CORS preflights) and replicate at their defaults ' +
      "(PouchDB's batches of 100; Settee's grow from 100 to 500 while the source has more, CouchDB's batch size).",
    'A long task is a main-thread task over 50 ms (PerformanceObserver "longtask"), counted when it overlaps a step.',
    busiest > cpus().length
      ? `The machine was busy (1-minute load average up to ${busiest.toFixed(1)} on ${cpus().length} CPUs): ` +
        'absolute figures are depressed and noisy; the ratios, measured side by side, hold better.'
      : `1-minute load average ${loadAtStart.toFixed(1)} → ${loadavg()[0]!.toFixed(1)} on ${cpus().length} CPUs: ` +
        'timings on a shared machine vary from run to run; the ratios, measured side by side, hold better.',
  ];
  const title =
    `Browser: ${N.toLocaleString('en-US')} documents of ~${new Dataset(Math.min(N, 1000)).averageJsonBytes()} bytes into IndexedDB, ` +
    `headless Chromium, ${ROUNDS} round(s) (medians), ${totalSeconds.toFixed(0)} s in all`;
  console.log(
    [
      grid(title, header, lines),
      '',
      'Notes:',
      ...notes.map((n) => `  - ${n}`),
      '',
      `The ceilings of local writes: IndexedDB alone (the same documents, a transaction per ${BATCH}, no ` +
        "indexes), and Settee's storage alone (its records and indexes, revisions computed beforehand):",
      ...ceilingLines.map((line) => `  - ${line}`),
      '',
      'Goals (issue 15):',
      targetLines(targets),
    ].join('\n'),
  );
  const json = {
    meta: { ...machine(), n: N, rounds: ROUNDS, batch: BATCH, settee: setteeFrom, totalSeconds },
    figures: Object.fromEntries(figures),
    ceiling: Object.fromEntries(ceiling),
    targets,
    notes,
  };
  mkdirSync(dirname(args.out), { recursive: true });
  writeFileSync(args.out, `${JSON.stringify(json, null, 2)}\n`);
  progress(`wrote ${args.out}`);
}

function goals(settee: Figures): Target[] {
  const list: Target[] = [];
  for (const [name, times, get] of [
    ['pull', GOAL.pull, (f: Figures) => docsPerSec(f.pullMs)],
    ['local writes', GOAL.writes, (f: Figures) => docsPerSec(f.writeMs)],
  ] as const) {
    const mine = get(settee);
    const pouch = bestPouch(get);
    const ratio = ratioOf(mine, pouch.figure);
    list.push({
      name: `${name} ≥ ${times}× PouchDB's docs/s`,
      pass: ratio !== null && ratio >= times,
      detail: `${value(mine)} vs ${value(pouch.figure)} (${pouch.label}) docs/s = ${ratioText(ratio)}`,
    });
  }
  const worst = longest(settee.pullTasks);
  list.push({
    name: `no main-thread task over ${GOAL.longestTaskMs} ms while Settee pulls`,
    pass: worst !== null && worst <= GOAL.longestTaskMs,
    detail: `longest ${value(worst)} ms over ${ROUNDS} round(s)`,
  });
  return list;
}
