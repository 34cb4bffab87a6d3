/**
 * The servers under test, each in its own child process so that its CPU time and peak RSS are
 * its own: read from /proc/PID/stat (utime + stime) and /proc/PID/status (VmHWM, VmRSS).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import {
  createWriteStream,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { progress } from '../lib.js';
import { endpointOf } from './requests.js';
import { sleep, withTimeout } from './util.js';

export type ServerKind = 'settee' | 'pouchdb-server';
export const SERVER_KINDS: readonly ServerKind[] = ['settee', 'pouchdb-server'];
export const LABEL: Record<ServerKind, string> = { settee: 'Settee', 'pouchdb-server': 'pouchdb-server' };

export const ADMIN = { username: 'admin', password: 'secret' };

const READY_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 10_000;

/** Clock ticks per second of /proc/PID/stat's utime and stime. */
export const CLOCK_TICKS = (() => {
  try {
    const ticks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    return Number.isFinite(ticks) && ticks > 0 ? ticks : 100;
  } catch {
    return 100;
  }
})();

/**
 * Field `n` (numbered from 1, as proc(5) numbers them) of /proc/PID/stat, read as a number, for
 * each of `fields`.
 */
export function statFields(pid: number, fields: readonly number[]): number[] {
  return statFieldsAt(`/proc/${pid}/stat`, fields);
}

/** The same of a stat file given by its path: a thread's (/proc/PID/task/TID/stat), for one. */
export function statFieldsAt(path: string, fields: readonly number[]): number[] {
  const stat = readFileSync(path, 'utf8');
  // The command name (field 2) may hold spaces and parentheses: count fields after its last ')'.
  const after = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return fields.map((n) => Number(after[n - 3]));
}

/** Clock ticks of /proc/PID/stat as milliseconds. */
export function ticksToMs(ticks: number): number {
  return (ticks * 1000) / CLOCK_TICKS;
}

/** User and system CPU milliseconds a process has used so far (utime, stime of /proc/PID/stat). */
export function cpuOf(pid: number): { userMs: number; systemMs: number } {
  const [utime, stime] = statFields(pid, [14, 15]);
  return { userMs: ticksToMs(utime!), systemMs: ticksToMs(stime!) };
}

/** User + system CPU milliseconds a process has used so far. */
export function cpuMsOf(pid: number): number {
  const { userMs, systemMs } = cpuOf(pid);
  return userMs + systemMs;
}

/** Peak (VmHWM) and current (VmRSS) resident memory of a process, in MB. */
export function memoryOf(pid: number): { peakMB: number; rssMB: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+)\\s+kB`, 'm').exec(status)?.[1] ?? NaN);
  return { peakMB: kb('VmHWM') / 1024, rssMB: kb('VmRSS') / 1024 };
}

/** A port nobody listens on right now (the OS picks it; the server binds it just after). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.unref();
    probe.on('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      probe.close(() => (port ? resolve(port) : reject(new Error('no free port'))));
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Which Settee to run

export interface SetteeEntry {
  /** Node arguments before `serve …`. */
  args: string[];
  description: string;
}

/**
 * The node flags `npm start` gives Settee's server (`node --flag … dist/cli/main.js serve` in
 * package.json), so the benchmark runs the server as it is started in production.
 */
export function startScriptNodeFlags(root: string): string[] {
  const { scripts } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
    scripts?: Record<string, string>;
  };
  const words = (scripts?.start ?? '').split(/\s+/).filter(Boolean);
  const node = words.indexOf('node');
  if (node < 0) return [];
  const flags: string[] = [];
  for (const word of words.slice(node + 1)) {
    if (!word.startsWith('--')) break;
    flags.push(word);
  }
  return flags;
}

/** `--settee`: auto, dist, src (see `resolveSettee`) or the path of a built cli/main.js (another version). */
export function setteeEntryOf(root: string, mode: string): SetteeEntry {
  if (mode.endsWith('.js')) return { args: [mode], description: mode };
  if (mode !== 'auto' && mode !== 'dist' && mode !== 'src') {
    throw new Error('--settee is auto, dist, src or the path of a built cli/main.js');
  }
  return resolveSettee(root, mode);
}

/** `entry` run with these node flags before its own arguments (none: unchanged). */
export function withNodeFlags(entry: SetteeEntry, flags: readonly string[]): SetteeEntry {
  if (flags.length === 0) return entry;
  return { args: [...flags, ...entry.args], description: `${entry.description}, node ${flags.join(' ')}` };
}

/**
 * The Settee that `--settee` names (see `setteeEntryOf`), run as `npm start` runs it: with the
 * node flags of its start script, or with `flags` when given ([] for none).
 */
export function setteeAsStarted(
  root: string,
  mode: string,
  flags: readonly string[] = startScriptNodeFlags(root),
): SetteeEntry {
  return withNodeFlags(setteeEntryOf(root, mode), flags);
}

/** Newest modification time of the .ts files under a folder. */
function newestSource(folder: string): number {
  let newest = 0;
  for (const name of readdirSync(folder, { withFileTypes: true })) {
    const path = join(folder, name.name);
    if (name.isDirectory()) newest = Math.max(newest, newestSource(path));
    else if (name.name.endsWith('.ts')) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

/**
 * `dist`: the built CLI (built first with tsconfig.build.json when missing); `src`: the sources
 * through tsx; `auto`: the built CLI when it is newer than every source, else a private build of
 * the current sources (so a stale dist/ is not measured and the shared dist/ is not rewritten).
 */
export function resolveSettee(root: string, mode: 'auto' | 'dist' | 'src'): SetteeEntry {
  const dist = join(root, 'dist', 'cli', 'main.js');
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  if (mode === 'src') {
    // Resolved here: the server runs in a temporary folder, where `--import tsx` finds no tsx.
    const tsx = import.meta.resolve('tsx');
    return { args: ['--import', tsx, join(root, 'src', 'cli', 'main.ts')], description: 'src via tsx' };
  }
  if (mode === 'dist') {
    if (!existsSync(dist)) {
      progress('dist/cli/main.js is missing: building (tsc -p tsconfig.build.json)');
      execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' });
    }
    return { args: [dist], description: 'dist/cli/main.js' };
  }
  const sourcesAt = newestSource(join(root, 'src'));
  if (existsSync(dist) && oldestBuilt(join(root, 'dist')) >= sourcesAt) {
    return { args: [dist], description: 'dist/cli/main.js (up to date)' };
  }
  // ESM output outside the package: a package.json of its own says "type": "module"; the
  // dependencies resolve from the project's node_modules above it.
  const out = join(root, 'node_modules', '.cache', 'settee-bench-server');
  progress(`dist/ is missing or older than src/: building the current sources into ${out}`);
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'package.json'), '{ "type": "module" }\n');
  try {
    execFileSync(
      process.execPath,
      [tsc, '-p', 'tsconfig.build.json', '--outDir', join(out, 'dist'), '--declaration', 'false'],
      { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] },
    );
  } catch (error) {
    // tsc still emits on type errors; only a missing output is fatal.
    const output = (error as { stdout?: Buffer }).stdout?.toString() ?? '';
    progress(`tsc reported errors (output emitted anyway):\n${output.slice(0, 2000)}`);
  }
  const built = join(out, 'dist', 'cli', 'main.js');
  if (!existsSync(built)) throw new Error(`the private build produced no ${built}`);
  return { args: [built], description: 'a private build of the current src/ (dist/ was stale)' };
}

/** Oldest modification time of the .js files under a folder. */
function oldestBuilt(folder: string): number {
  // The oldest .js of dist/ is what matters: one stale file is enough to measure old code.
  let oldest = Number.POSITIVE_INFINITY;
  const walk = (path: string) => {
    for (const name of readdirSync(path, { withFileTypes: true })) {
      const child = join(path, name.name);
      if (name.isDirectory()) walk(child);
      else if (name.name.endsWith('.js')) oldest = Math.min(oldest, statSync(child).mtimeMs);
    }
  };
  walk(folder);
  return oldest;
}

// ---------------------------------------------------------------------------------------------
// A running server

export interface StartOptions {
  root: string;
  /** The server's data folder (created) and working folder (pouchdb-server writes config and log there). */
  dir: string;
  settee: SetteeEntry;
  /** Write a V8 CPU profile of Settee into this folder (on its graceful exit). */
  profileDir?: string;
  /** Copy everything the server prints into this file. */
  logFile?: string;
  /** Settee only: keep the databases in this PostgreSQL (`--postgres`) rather than SQLite files. */
  postgres?: string;
  /** Settee only: web origins allowed to call it with credentials (`--cors-origin`), for pages. */
  corsOrigins?: readonly string[];
}

const RUNNING = new Set<ServerProcess>();

/** Kills every server still running (last-resort cleanup: on a signal or at exit). */
export function killAllStarted(): void {
  for (const server of RUNNING) server.kill();
}

/**
 * Runs a benchmark's `main`: the servers it started are stopped and its temporary folders
 * removed however it ends — returning, throwing, or interrupted (Ctrl-C, SIGTERM).
 */
export async function runBenchmark(folders: { remove(): void }, main: () => Promise<void>): Promise<void> {
  const interrupted = (signal: string) => {
    progress(`${signal}: stopping the servers and removing temporary folders`);
    killAllStarted();
    folders.remove();
    process.exit(130);
  };
  process.once('SIGINT', () => interrupted('SIGINT'));
  process.once('SIGTERM', () => interrupted('SIGTERM'));
  process.on('exit', killAllStarted);
  try {
    await main();
  } finally {
    killAllStarted();
    folders.remove();
  }
}

export class ServerProcess {
  /** Request lines the server has logged (Settee: pino JSON lines; pouchdb-server: `GET /x 200`). */
  requestLines = 0;
  /** Settee only: each request's endpoint and the milliseconds it logged (its own time, to the response end). */
  readonly timings: { key: string; ms: number }[] = [];
  private readonly tail: string[] = [];
  private exited = false;
  private readonly exitPromise: Promise<void>;

  private constructor(
    readonly kind: ServerKind,
    readonly child: ChildProcess,
    readonly url: string,
    logFile: string | undefined,
  ) {
    const log = logFile ? createWriteStream(logFile) : undefined;
    this.exitPromise = new Promise((resolve) => {
      child.once('exit', () => {
        this.exited = true;
        log?.end();
        RUNNING.delete(this);
        resolve();
      });
    });
    const isRequest =
      kind === 'settee'
        ? (line: string) => line.includes('"msg":"request"')
        : (line: string) => /\b(GET|HEAD|POST|PUT|DELETE|COPY|OPTIONS) \S+ \d{3}\b/.test(line);
    for (const stream of [child.stdout, child.stderr]) {
      if (!stream) continue;
      createInterface({ input: stream }).on('line', (line) => {
        if (isRequest(line)) {
          this.requestLines++;
          if (kind === 'settee') this.recordTiming(line);
        }
        log?.write(`${line}\n`);
        this.tail.push(line);
        if (this.tail.length > 40) this.tail.shift();
      });
    }
  }

  private recordTiming(line: string): void {
    try {
      const entry = JSON.parse(line) as { method?: string; url?: string; ms?: number };
      if (entry.url !== undefined && typeof entry.ms === 'number') {
        this.timings.push({ key: `${entry.method} ${endpointOf(entry.url)}`, ms: entry.ms });
      }
    } catch {
      // not a JSON line
    }
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** Basic credentials the clients need (Settee only; pouchdb-server runs without auth). */
  get auth(): typeof ADMIN | undefined {
    return this.kind === 'settee' ? ADMIN : undefined;
  }

  static async start(kind: ServerKind, options: StartOptions): Promise<ServerProcess> {
    const port = await freePort();
    const data = join(options.dir, 'data');
    mkdirSync(data, { recursive: true });
    const args =
      kind === 'settee'
        ? [
            ...(options.profileDir ? ['--cpu-prof', `--cpu-prof-dir=${options.profileDir}`] : []),
            ...options.settee.args,
            'serve',
            '--port',
            String(port),
            '--data',
            data,
            '--admin',
            `${ADMIN.username}:${ADMIN.password}`,
            ...(options.postgres ? ['--postgres', options.postgres] : []),
            ...(options.corsOrigins ?? []).flatMap((origin) => ['--cors-origin', origin]),
          ]
        : [
            join(options.root, 'node_modules', 'pouchdb-server', 'bin', 'pouchdb-server'),
            '--port',
            String(port),
            '--dir',
            data,
            '--no-color',
          ];
    const child = spawn(process.execPath, args, { cwd: options.dir, stdio: ['ignore', 'pipe', 'pipe'] });
    if (child.pid === undefined) throw new Error(`could not start ${kind}`);
    const server = new ServerProcess(kind, child, `http://127.0.0.1:${port}`, options.logFile);
    RUNNING.add(server);
    try {
      await server.ready();
    } catch (error) {
      await server.stop();
      throw new Error(`${kind} did not come up: ${(error as Error).message}\n${server.tail.join('\n')}`);
    }
    return server;
  }

  /** Polls `GET /` until it answers 200 (bounded), failing early if the process exits. */
  private async ready(): Promise<void> {
    const deadline = performance.now() + READY_TIMEOUT_MS;
    while (performance.now() < deadline) {
      if (this.exited) throw new Error(`it exited (code ${this.child.exitCode})`);
      try {
        const response = await fetch(`${this.url}/`, { signal: AbortSignal.timeout(2000) });
        await response.arrayBuffer();
        if (response.ok) return;
      } catch {
        // not listening yet
      }
      await sleep(100);
    }
    throw new Error(`no answer on ${this.url}/ within ${READY_TIMEOUT_MS / 1000} s`);
  }

  cpuMs(): number {
    return cpuMsOf(this.pid);
  }

  cpu(): { userMs: number; systemMs: number } {
    return cpuOf(this.pid);
  }

  memory(): { peakMB: number; rssMB: number } {
    return memoryOf(this.pid);
  }

  /** The last lines the server printed (for error reports). */
  lastLines(): string {
    return this.tail.join('\n');
  }

  /** SIGTERM (Settee finishes in-flight work and writes its CPU profile), SIGKILL if it lingers. */
  async stop(): Promise<void> {
    if (this.exited) return;
    this.child.kill('SIGTERM');
    try {
      await withTimeout(this.exitPromise, STOP_TIMEOUT_MS, `${this.kind} shutdown`);
    } catch {
      progress(`${this.kind} (pid ${this.pid}) ignored SIGTERM: killing it`);
      this.kill();
      await withTimeout(this.exitPromise, 5000, `${this.kind} kill`).catch(() => undefined);
    }
  }

  /** SIGKILL by pid, synchronously (safe in an exit handler). */
  kill(): void {
    if (this.exited) return;
    try {
      process.kill(this.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}
