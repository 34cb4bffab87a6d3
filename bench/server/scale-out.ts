/**
 * The scale-out benchmark: Settee servers on PostgreSQL beside one on SQLite, in one run, under
 * the same load (bench/server/spread.ts: C clients at once, PouchDB and Settee's replicator
 * pushing and pulling N ~1 KB documents, spread over the servers), and the cost of the write
 * notifications (bench/server/notify-cost.ts). PostgreSQL is a throwaway cluster started here.
 *
 *   node --expose-gc --import tsx bench/server/scale-out.ts                  # 10k docs, 3 clients
 *   node --expose-gc --import tsx bench/server/scale-out.ts --docs 3000 --notify-writes 100
 *   … --skip-notify        # the deployments only
 *   … --one-at-a-time      # the clients in turn, not at once (the servers do not compete for cores)
 *   … --deployments pg-1,pg-3   # some of the deployments only (sqlite-1, pg-1, pg-3)
 *   … --rounds 3 --warm-up 4000 # timed rounds per deployment; warm-up documents per server
 *   … --count-statements   # PostgreSQL's statements and plans per phase (pg_stat_statements)
 *   … --settee src         # the sources through tsx (or dist, or a built cli/main.js: see servers.ts)
 *
 * Deployments, each fresh (a PostgreSQL database of its own): one server on SQLite files, one
 * server on PostgreSQL, three servers on one PostgreSQL with client i on server i mod 3. They run
 * side by side and take turns, round after round, so that the shared machine's load weighs on
 * each alike. CPU per document is every Settee server's plus every PostgreSQL process's
 * (/proc/PID/stat), with a breakdown per kind of process (cpu-probe.ts). Prints the table, the
 * ratios and the targets; writes the same figures to bench-results/scale-out.json.
 */
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Dataset, fmt, machine, positiveOption, progress, TempFolders, writeResults } from '../lib.js';
import { medianRun, type StartedDeployment, startDeployment } from './deployments.js';
import { NOTIFY_MODES, type NotifyFigures, notifyCost } from './notify-cost.js';
import { type BenchPostgres, type Footprint, startBenchPostgres } from './postgres.js';
import { grid, notesAndTargets, ratioOf, ratioText, type Target, wholeRun } from './report.js';
import { killAllStarted, type SetteeEntry, setteeAsStarted } from './servers.js';
import { type SpreadFigures, type SpreadRun, spreadPhases } from './spread.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

const { values: args } = parseArgs({
  options: {
    docs: { type: 'string', default: '10000' },
    clients: { type: 'string', default: '3' },
    'warm-up': { type: 'string', default: '4000' },
    rounds: { type: 'string', default: '3' },
    'notify-writers': { type: 'string', default: '8' },
    'notify-writes': { type: 'string', default: '200' },
    'notify-rounds': { type: 'string', default: '2' },
    'skip-notify': { type: 'boolean', default: false },
    'one-at-a-time': { type: 'boolean', default: false },
    'count-statements': { type: 'boolean', default: false },
    deployments: { type: 'string', default: 'sqlite-1,pg-1,pg-3' },
    settee: { type: 'string', default: 'auto' },
    'server-logs': { type: 'string' },
    out: { type: 'string', default: join(ROOT, 'bench-results', 'scale-out.json') },
  },
});
const N = positiveOption(args, 'docs');
const CLIENTS = positiveOption(args, 'clients');
const WARM_UP = Math.min(N, positiveOption(args, 'warm-up'));
const ROUNDS = positiveOption(args, 'rounds');
const LOAD = { clients: CLIENTS, oneAtATime: args['one-at-a-time'] };
const NOTIFY = {
  writers: positiveOption(args, 'notify-writers'),
  writes: positiveOption(args, 'notify-writes'),
  rounds: positiveOption(args, 'notify-rounds'),
};

/** The deployments, in the order they run; `servers` on `postgres` (a fresh database) or SQLite. */
const SETUPS = [
  { key: 'sqlite-1', label: 'SQLite, 1 server', servers: 1, postgres: false },
  { key: 'pg-1', label: 'PostgreSQL, 1 server', servers: 1, postgres: true },
  { key: 'pg-3', label: 'PostgreSQL, 3 servers', servers: 3, postgres: true },
] as const;
type SetupKey = (typeof SETUPS)[number]['key'];
const CHOSEN = new Set(args.deployments.split(','));
for (const key of CHOSEN) {
  if (!SETUPS.some((setup) => setup.key === key)) throw new Error(`bad --deployments: no ${key}`);
}

interface SetupRun {
  key: SetupKey;
  /** Each figure's median over the rounds. */
  figures: SpreadRun;
  rounds: SpreadRun[];
  /** The untimed warm-up's figures: what each server's start-up costs beyond the timed run's. */
  warmUp: SpreadRun;
  /** PostgreSQL deployments: what their tables hold per document at the end. */
  footprint?: Footprint;
  /** 1-minute load average as each of the deployment's rounds began (the machine is shared). */
  load: number[];
}

const folders = new TempFolders();
let postgres: BenchPostgres | undefined;
const runs: SetupRun[] = [];
let notifications: NotifyFigures[] = [];
const began = performance.now();

function cleanUpNow(): void {
  killAllStarted();
  postgres?.kill();
  folders.remove();
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    progress(`${signal}: stopping the servers and PostgreSQL, removing temporary folders`);
    cleanUpNow();
    process.exit(130);
  });
}

/**
 * Documents of a deployment's untimed warm-up: `WARM_UP` per server. Client i talks to server
 * i mod S, so a warm-up of n documents gives each of S servers about n/S of them to take in and
 * n·C/S to serve: with n = WARM_UP × S, each of three servers is warmed as much as one server is
 * (its code compiled by V8's optimizing tiers, its pool's connections opened and their statements
 * prepared). A warm-up of WARM_UP for every deployment left each of three servers a third as warm
 * as one, and the timed run paid the rest of their start-up. A server's CPU per document keeps
 * falling for its first few thousand documents (docs/scale-out.md), hence 4,000 by default.
 */
const warmUpOf = (servers: number) => WARM_UP * servers;

async function runDeployments(settee: SetteeEntry, pg: BenchPostgres): Promise<void> {
  const data = new Dataset(Math.max(N, ...SETUPS.map((setup) => warmUpOf(setup.servers))));
  const context = {
    root: ROOT,
    settee,
    pg,
    folders,
    ...(args['server-logs'] ? { logs: args['server-logs'] } : {}),
  };
  const started: StartedDeployment<SetupKey>[] = [];
  try {
    for (const setup of SETUPS.filter(({ key }) => CHOSEN.has(key))) {
      started.push(await startDeployment(setup, context));
    }
    // Untimed, on other databases: every server's JIT and every pool's connections warmed up.
    const warmUps = new Map<SetupKey, SpreadRun>();
    for (const { setup, deployment } of started) {
      const load = { ...LOAD, prefix: 'warm-up-' };
      warmUps.set(setup.key, await spreadPhases(deployment, data, warmUpOf(setup.servers), load, folders));
    }
    const rounds = new Map<SetupKey, SpreadRun[]>(started.map(({ setup }) => [setup.key, []]));
    const loads = new Map<SetupKey, number[]>(started.map(({ setup }) => [setup.key, []]));
    for (let round = 1; round <= ROUNDS; round++) {
      // The deployments take turns, in an order that alternates: a load of the shared machine
      // that rises or falls during the run weighs on each of them alike.
      const order = round % 2 === 1 ? started : [...started].reverse();
      for (const { setup, deployment } of order) {
        progress(`round ${round} of ${ROUNDS}: ${setup.label}`);
        loads.get(setup.key)!.push(loadavg()[0]!);
        const load = { ...LOAD, prefix: `round-${round}-` };
        rounds.get(setup.key)!.push(await spreadPhases(deployment, data, N, load, folders));
      }
    }
    for (const { setup, url } of started) {
      const footprint = url ? await pg.footprint(url) : undefined;
      runs.push({
        key: setup.key,
        figures: medianRun(rounds.get(setup.key)!),
        rounds: rounds.get(setup.key)!,
        warmUp: warmUps.get(setup.key)!,
        ...(footprint ? { footprint } : {}),
        load: loads.get(setup.key)!,
      });
    }
  } catch (error) {
    for (const { setup, deployment } of started) {
      for (const server of deployment.servers) {
        progress(`${setup.label}, server ${server.pid}:\n${server.lastLines()}`);
      }
    }
    throw error;
  } finally {
    for (const { deployment } of started) for (const server of deployment.servers) await server.stop();
  }
}

// ---------------------------------------------------------------------------------------------
// Report

const PHASES = [
  ['PouchDB push', (run: SpreadRun) => run.pouchPush],
  ['PouchDB pull', (run: SpreadRun) => run.pouchPull],
  ["Settee's replicator push", (run: SpreadRun) => run.setteePush],
  ["Settee's replicator pull", (run: SpreadRun) => run.setteePull],
] as const;

const METRICS = [
  ['docs/s', 'docs/s', (f: SpreadFigures) => f.docsPerSec],
  ['server CPU (Settee + PostgreSQL)', 'ms/doc', (f: SpreadFigures) => f.cpuMsPerDoc],
  ['  of it Settee', 'ms/doc', (f: SpreadFigures) => f.setteeCpuMsPerDoc],
  ['  of it PostgreSQL', 'ms/doc', (f: SpreadFigures) => f.postgresCpuMsPerDoc],
] as const;

function figureOf(
  key: SetupKey,
  phase: (run: SpreadRun) => SpreadFigures,
  part: 'figures' | 'warmUp' = 'figures',
): SpreadFigures | undefined {
  const run = runs.find((r) => r.key === key);
  return run ? phase(run[part]) : undefined;
}

/** The table's cells of one metric: each deployment's value and the two ratios. */
function metricCells(values: (number | null)[]): string[] {
  const [sqlite, pg1, pg3] = values;
  return [
    ...values.map((value) => fmt(value ?? null)),
    ratioText(ratioOf(pg1 ?? null, sqlite ?? null)),
    ratioText(ratioOf(pg3 ?? null, pg1 ?? null)),
  ];
}

function deploymentsTable(): string {
  const lines: string[][] = [];
  for (const [phase, get] of PHASES) {
    for (const [metric, unit, value] of METRICS) {
      const values = SETUPS.map(({ key }) => {
        const figures = figureOf(key, get);
        return figures ? value(figures) : null;
      });
      lines.push([`${phase}: ${metric}`, unit, ...metricCells(values)]);
    }
    const warmUp = SETUPS.map(({ key }) => figureOf(key, get, 'warmUp')?.setteeCpuMsPerDoc ?? null);
    lines.push([`${phase}: Settee CPU in the warm-up`, 'ms/doc', ...metricCells(warmUp)]);
  }
  const header = ['phase: metric', 'unit', ...SETUPS.map((s) => s.label), 'PG 1 / SQLite 1', 'PG 3 / PG 1'];
  return grid(`${N.toLocaleString('en-US')} documents, ${CLIENTS} clients at once`, header, lines);
}

function notifyTable(): string {
  const base = notifications.find((f) => f.mode === 'in transaction');
  const lines = notifications.map((f) => [
    f.mode,
    `${f.writers} × ${f.writes / f.writers}`,
    fmt(f.writesPerSec),
    ratioText(ratioOf(f.writesPerSec, base?.writesPerSec ?? null)),
    fmt(f.postgresCpuMsPerWrite),
    fmt(f.setteeCpuMsPerWrite),
  ]);
  const header = [
    'NOTIFY sent',
    'writers × writes',
    'writes/s',
    '÷ in transaction',
    'PostgreSQL ms CPU/write',
    'Settee ms CPU/write',
  ];
  return grid(
    'Writes to different databases through one server on PostgreSQL (one document per write)',
    header,
    lines,
  );
}

/** The ratio of `a` to `b` in each round, lowest to highest: how far one round is from another. */
function roundRatios(
  a: SetupKey,
  b: SetupKey,
  get: (run: SpreadRun) => SpreadFigures,
  value: (f: SpreadFigures) => number,
): string {
  const [x, y] = [runs.find((run) => run.key === a), runs.find((run) => run.key === b)];
  if (!x || !y) return '—';
  const each = x.rounds.map((round, i) => ratioOf(value(get(round)), value(get(y.rounds[i]!))) ?? NaN);
  const sorted = each.filter(Number.isFinite).sort((p, q) => p - q);
  return sorted.map((r) => ratioText(r)).join(', ');
}

function targets(): Target[] {
  const list: Target[] = [];
  const ratios = (a: SetupKey, b: SetupKey, value: (f: SpreadFigures) => number) =>
    PHASES.flatMap(([phase, get]) => {
      const [x, y] = [figureOf(a, get), figureOf(b, get)];
      const r = x && y ? ratioOf(value(x), value(y)) : null;
      return r === null ? [] : [{ phase, r, range: roundRatios(a, b, get, value) }];
    });
  const speed = ratios('pg-1', 'sqlite-1', (f) => f.docsPerSec);
  if (speed.length > 0) {
    list.push({
      name: 'one server on PostgreSQL ≥ 0.5 × the docs/s of one on SQLite',
      pass: speed.every(({ r }) => r >= 0.5),
      detail: speed.map(({ phase, r }) => `${phase} ${ratioText(r)}`).join('; '),
    });
  }
  const cpu = ratios('pg-3', 'pg-1', (f) => f.cpuMsPerDoc);
  if (cpu.length > 0) {
    list.push({
      name: 'CPU per document of 3 servers ≤ 1.1 × that of 1 server (both on PostgreSQL)',
      pass: cpu.every(({ r }) => r <= 1.1),
      detail: cpu.map(({ phase, r, range }) => `${phase} ${ratioText(r)} (rounds ${range})`).join('; '),
    });
  }
  const three = runs.find((run) => run.key === 'pg-3');
  list.push({
    name: '3 servers: every target equals its sources (count + SHA-256, read through each server)',
    pass: three !== undefined,
    detail: three
      ? PHASES.map(
          ([phase, get]) =>
            `${phase} ${get(three.figures).digest.count} docs ${get(three.figures).digest.sha256.slice(0, 12)}`,
        ).join('; ')
      : 'not run',
  });
  return list;
}

/** What PostgreSQL holds per document once a deployment's run is over (warm-up databases included). */
function footprintNotes(): string[] {
  return runs.flatMap(({ key, footprint }) => {
    if (!footprint) return [];
    const total = Object.values(footprint.bytesPerDoc).reduce((sum, bytes) => sum + bytes, 0);
    const tables = Object.entries(footprint.bytesPerDoc)
      .filter(([, bytes]) => bytes >= total / 100) // the tables that hold something
      .map(([table, bytes]) => `${table} ${fmt(bytes)}`)
      .join(', ');
    return [
      `${key}: PostgreSQL holds ${fmt(total)} bytes per document (${footprint.docs} docs, one revision each; ` +
        `tables with their indexes: ${tables}), ${fmt(footprint.revRowsPerDoc)} settee.revs rows per document.`,
    ];
  });
}

function render(totalSeconds: number): { text: string; json: unknown } {
  const list = targets();
  const notes = [
    `Client i of ${CLIENTS} replicates with server i mod S, ${LOAD.oneAtATime ? 'one client after another' : 'all at once'}, from this process (PouchDB 9 on ` +
      "leveldb; Settee's replicator on SQLite files, batch 100): pushes of N/C documents each into one " +
      'database, then pulls of the whole database each (docs counted: N × C). After each phase every ' +
      'target was read back (through every server, for the server database) and compared with its sources. ' +
      `Before them, the same phases ran untimed with ${WARM_UP} documents per server on other databases ` +
      "(JIT and pools warm: each of S servers as warm as one; the warm-up rows show what a server's start-up costs). " +
      `The deployments ran side by side and took turns, ${ROUNDS} rounds in alternating order, on fresh databases; ` +
      "each figure is the median of its rounds, and the CPU target gives each round's ratio too.",
    "CPU is utime + stime from /proc/PID/stat: every Settee server, and PostgreSQL's postmaster with its " +
      'live children and the ones it reaped (cutime + cstime). Before each phase PostgreSQL was brought to ' +
      'rest (VACUUM ANALYZE, CHECKPOINT); after it, the VACUUM and CHECKPOINT its own writes called for ' +
      'ran and were counted in its CPU, not its time. The client (this process) shares the same ' +
      `${cpus().length} CPUs, so docs/s is bounded by it as much as by the servers; CPU per document is the steadier figure.`,
    'PostgreSQL: a throwaway cluster (initdb, fsync on, default settings, Unix socket), a fresh database ' +
      'per deployment; each Settee server keeps its default pool of 10 connections.',
    ...(args['count-statements']
      ? ['Statements counted by pg_stat_statements (it costs each one a little).']
      : []),
    ...footprintNotes(),
    ...(notifications.length > 0
      ? [
          `Notifications: ${NOTIFY.writers} writers at once, each putting ${NOTIFY.writes} documents one by one into a ` +
            'database of its own, through one pool (one server); the best of ' +
            `${NOTIFY.rounds} rounds per mode. "after commit" is a prototype in bench/server/notify-cost.ts only.`,
        ]
      : []),
    `${wholeRun(totalSeconds)}; ` +
      `1-min load average as each round began: ${runs
        .map((run) => `${run.key} ${run.load.map((load) => load.toFixed(1)).join('/')}`)
        .join(', ')}.`,
    ...(failure ? [`THE RUN FAILED (figures above are partial): ${String(failure)}`] : []),
  ];
  const text = [
    deploymentsTable(),
    '',
    ...(notifications.length > 0 ? [notifyTable(), ''] : []),
    ...notesAndTargets(notes, list),
  ].join('\n');
  const json = {
    meta: { ...machine(), docs: N, clients: CLIENTS, notify: NOTIFY, totalSeconds, modes: NOTIFY_MODES },
    runs,
    notifications,
    targets: list,
    notes,
  };
  return { text, json };
}

// ---------------------------------------------------------------------------------------------
// The run (last: it uses every declaration above)

let failure: unknown;
try {
  const settee = setteeAsStarted(ROOT, args.settee);
  progress(`${N} docs, ${CLIENTS} clients; Settee from ${settee.description}; ${cpus().length} CPUs`);
  postgres = await startBenchPostgres({ countStatements: args['count-statements'] });
  await runDeployments(settee, postgres);
  if (!args['skip-notify']) {
    notifications = await notifyCost(
      postgres,
      new Dataset(NOTIFY.writes),
      NOTIFY.writers,
      NOTIFY.writes,
      NOTIFY.rounds,
    );
  }
} catch (error) {
  // Report what was measured before the failure, then fail.
  failure = error;
  progress(`the run failed: ${(error as Error).stack ?? String(error)}`);
} finally {
  killAllStarted();
  await postgres?.stop().catch(() => postgres?.kill());
  folders.remove();
}
const output = render((performance.now() - began) / 1000);
console.log(output.text);
writeResults(args.out, output.json);
progress(`wrote ${args.out}`);
if (failure) process.exitCode = 1;
