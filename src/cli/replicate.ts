/**
 * `settee replicate` and `settee sync`: replication between any two databases named on the
 * command line (http(s) URLs, credentials allowed in them, or local database files), with a
 * progress bar on a terminal, plain lines otherwise, and a summary at the end.
 */
import cliProgress from 'cli-progress';
import type { Peer, Seq } from '../core/api.js';
import { describeError } from '../core/describe-error.js';
import { SetteeError } from '../core/errors.js';
import { RemoteDatabase } from '../remote/index.js';
import { databaseUrlProblem, displayLocation, isUrl, openFailureOf } from '../remote/location.js';
import { type ProgressTracker, trackedReplication } from '../replication/progress.js';
import type {
  Replication,
  ReplicationOptions,
  ReplicationProgress,
  ReplicationResult,
} from '../replication/replication.js';
import { CommandError, describeFailure } from './failures.js';
import { openLocalDatabase } from './local-database.js';
import { counted } from './words.js';

export interface ReplicateCommandOptions {
  continuous?: boolean;
  createTarget?: boolean;
  docIds?: string[];
  selector?: Record<string, unknown>;
  /** A design filter of the source (`ddoc/name` or `_view`), its view and query params. */
  filter?: string;
  view?: string;
  queryParams?: Record<string, unknown>;
  /** Only each document's winning revision: the target receives no conflicts. */
  winningRevsOnly?: boolean;
}

export interface SyncCommandOptions {
  continuous?: boolean;
  /** Both ways, only each document's winning revision. */
  winningRevsOnly?: boolean;
}

/** Where output goes; the tests and the real command differ only here. */
export interface CommandIo {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream;
  /** Resolves at SIGINT or SIGTERM (default: the process's signals). */
  interrupted?: Promise<string>;
}

/** Exit status of an interrupted one-shot replication (128 + SIGINT). */
const INTERRUPTED = 130;
const LINE_INTERVAL_MS = 1000;
const CREATE_TARGET_HINT = ' (use --create-target to create it)';

/** Replicates `source` into `target`; resolves with the exit status. */
export async function replicateCommand(
  source: string,
  target: string,
  options: ReplicateCommandOptions,
  io: CommandIo = processIo(),
): Promise<number> {
  const opened: OpenedPeer[] = [];
  try {
    const from = await openPeer(source, 'source', false);
    opened.push(from);
    const to = await openPeer(target, 'target', options.createTarget === true);
    opened.push(to);
    const replicationOptions: ReplicationOptions = {
      live: options.continuous === true,
      create_target: options.createTarget === true,
      ...(options.docIds ? { doc_ids: options.docIds } : {}),
      ...(options.selector ? { selector: options.selector } : {}),
      ...(options.filter !== undefined ? { filter: options.filter } : {}),
      ...(options.view !== undefined ? { view: options.view } : {}),
      ...(options.queryParams ? { query_params: options.queryParams } : {}),
      ...winningRevsOnly(options),
    };
    io.stdout.write(`replicating ${from.label} → ${to.label}${options.continuous ? ' (continuous)' : ''}\n`);
    const run = new Run(io, [{ name: 'replicate', from, to, options: replicationOptions }]);
    return await run.execute(options.continuous === true);
  } catch (error) {
    return fail(io, error);
  } finally {
    for (const peer of opened) await peer.close().catch(() => undefined);
  }
}

/** Syncs `a` and `b` both ways; resolves with the exit status. */
export async function syncCommand(
  a: string,
  b: string,
  options: SyncCommandOptions,
  io: CommandIo = processIo(),
): Promise<number> {
  const opened: OpenedPeer[] = [];
  try {
    const first = await openPeer(a, 'first database', false);
    opened.push(first);
    const second = await openPeer(b, 'second database', false);
    opened.push(second);
    const replicationOptions: ReplicationOptions = {
      live: options.continuous === true,
      ...winningRevsOnly(options),
    };
    io.stdout.write(`syncing ${first.label} ⇄ ${second.label}${options.continuous ? ' (continuous)' : ''}\n`);
    io.stdout.write(`push: ${first.label} → ${second.label}; pull: ${second.label} → ${first.label}\n`);
    const run = new Run(io, [
      { name: 'push', from: first, to: second, options: replicationOptions },
      { name: 'pull', from: second, to: first, options: replicationOptions },
    ]);
    return await run.execute(options.continuous === true);
  } catch (error) {
    return fail(io, error);
  } finally {
    for (const peer of opened) await peer.close().catch(() => undefined);
  }
}

/** `--winning-revs-only` as a replication option: absent unless given, so ids stay the plain ones. */
function winningRevsOnly(options: { winningRevsOnly?: boolean }): ReplicationOptions {
  return options.winningRevsOnly === true ? { winning_revs_only: true } : {};
}

function processIo(): CommandIo {
  // Output piped into a command that quit (`| head`): the replication still runs to its end.
  process.stdout.on('error', () => undefined);
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    interrupted: new Promise((resolve) => {
      process.once('SIGINT', () => resolve('SIGINT'));
      process.once('SIGTERM', () => resolve('SIGTERM'));
    }),
  };
}

function fail(io: CommandIo, error: unknown): number {
  io.stderr.write(`error: ${describeFailure(error)}\n`);
  return 1;
}

// --- peers ----------------------------------------------------------------------------------------

interface OpenedPeer {
  peer: Peer;
  /** For messages: a URL without its credentials, or the file's path. */
  label: string;
  close(): Promise<void>;
}

/** Opens one side: an http(s) URL, or the path of a local database file. */
async function openPeer(location: string, role: string, create: boolean): Promise<OpenedPeer> {
  if (isUrl(location)) return openRemote(location, role, create);
  const db = await openLocalDatabase(location, role, {
    create,
    ...(role === 'target' ? { hintWhenMissing: CREATE_TARGET_HINT } : {}),
  });
  return { peer: db, label: location, close: () => db.close() };
}

/** The messages of a URL that names no usable remote database, by what is wrong with it. */
const URL_PROBLEMS = {
  invalid_url: 'not a valid URL',
  unsupported_scheme: 'only http:// and https:// URLs are supported',
  no_database: 'the URL names no database',
};

async function openRemote(location: string, role: string, create: boolean): Promise<OpenedPeer> {
  const label = displayLocation(location);
  const problem = databaseUrlProblem(location);
  if (problem) throw new CommandError(`${role} ${label}: ${URL_PROBLEMS[problem]}`);
  let remote: RemoteDatabase;
  try {
    remote = new RemoteDatabase(location);
  } catch {
    // Its message would quote the URL as given, credentials included.
    throw new CommandError(`${role} ${label}: not a database URL`);
  }
  try {
    if (create) await remote.ensureExists();
    await remote.info();
  } catch (error) {
    throw new CommandError(`${role} ${label}: ${openFailure(error, role)}`);
  }
  return { peer: remote, label, close: async () => undefined };
}

/** Why a remote database could not be opened, in words. */
function openFailure(error: unknown, role: string): string {
  const reason = error instanceof SetteeError ? error.reason : '';
  switch (openFailureOf(error)) {
    case 'missing':
      return `could not open the database: it does not exist${role === 'target' ? CREATE_TARGET_HINT : ''}`;
    case 'unauthorized':
      return `unauthorized: ${reason} (check the credentials in the URL)`;
    case 'forbidden':
      return `forbidden: ${reason}`;
    case 'unreachable':
      return `cannot reach the server: ${(error as Error).message}`;
    default:
      return describeError(error);
  }
}

// --- running and reporting --------------------------------------------------------------------------

interface Direction {
  name: string;
  from: OpenedPeer;
  to: OpenedPeer;
  options: ReplicationOptions;
}

interface Running extends Direction {
  replication: Replication;
  tracker: ProgressTracker;
  bar?: cliProgress.SingleBar;
  lastLine: number;
  /** The highest tenth of the way (0–10) a printed line has shown. */
  lastDecile: number;
  idle: boolean;
}

/** One or two replications, their progress shown, their outcome turned into an exit status. */
class Run {
  private readonly started = Date.now();
  private readonly running: Running[];
  private readonly bars: cliProgress.MultiBar | undefined;
  private denied = 0;

  constructor(
    private readonly io: CommandIo,
    directions: Direction[],
  ) {
    const tty = io.stdout.isTTY === true;
    this.bars = tty
      ? new cliProgress.MultiBar({
          stream: io.stdout,
          format: '{name} [{bar}] {percentage}% | {rate} | written {written} | pending {pending}',
          hideCursor: true,
          clearOnComplete: false,
          barsize: 16,
          fps: 5,
          gracefulExit: false,
          // A message logged above the bars moves them down a line: every bar must be drawn
          // again, or one left unchanged keeps its old place and is overwritten.
          forceRedraw: true,
        })
      : undefined;
    this.running = directions.map((direction) => {
      const { replication, tracker } = trackedReplication(
        direction.from.peer,
        direction.to.peer,
        direction.options,
      );
      const run: Running = { ...direction, replication, tracker, lastLine: 0, lastDecile: 0, idle: false };
      run.bar = this.bars?.create(1, 0, this.payload(run));
      this.follow(run);
      void tracker.started.then((seq) => {
        if (seq !== 0 && seq !== '0')
          this.log(`${run.name}: resuming from checkpoint at seq ${seqLabel(seq)}\n`);
      });
      return run;
    });
  }

  /** Waits for the end (or, when continuous, for a signal); returns the exit status. */
  async execute(continuous: boolean): Promise<number> {
    let signal: string | undefined;
    void this.io.interrupted?.then((name) => {
      signal = name;
      for (const run of this.running) run.replication.cancel();
    });
    // An idle live replication between local files waits on promises and unref'd timers only:
    // without a handle of its own, Node would end the process (status 13) instead of waiting.
    const keepAlive = continuous ? setInterval(() => undefined, 1 << 30) : undefined;
    const outcomes = await Promise.allSettled(this.running.map((run) => run.replication.done));
    clearInterval(keepAlive);
    // A failed direction of a sync ends the other one too.
    if (outcomes.some((outcome) => outcome.status === 'rejected')) {
      for (const run of this.running) run.replication.cancel();
      await Promise.allSettled(this.running.map((run) => run.replication.done));
    }
    for (const run of this.running) this.finalRender(run);
    this.stopBars();
    const seconds = (Date.now() - this.started) / 1000;
    let status = 0;
    outcomes.forEach((outcome, i) => {
      const run = this.running[i]!;
      if (outcome.status === 'rejected') {
        this.io.stderr.write(`error: ${run.name}: ${describeError(outcome.reason)}\n`);
        status = 1;
      } else if (outcome.value.status !== 'complete' && !(continuous && signal)) {
        status = status || INTERRUPTED;
      }
      const result = outcome.status === 'fulfilled' ? outcome.value : undefined;
      this.io.stdout.write(`${this.summary(run, result, seconds)}\n`);
    });
    if (this.denied > 0) this.io.stdout.write(`${counted(this.denied, 'document')} refused by the target\n`);
    return status;
  }

  private follow(run: Running): void {
    const { replication } = run;
    replication.on('change', ({ docs }) => {
      // A sync's other direction writes changes here that hold nothing new for this one:
      // those leave it up to date, without a new "up to date" line for each.
      if (docs.length > 0) run.idle = false;
      this.render(run, false);
    });
    replication.on('paused', ({ error }) => {
      if (error) {
        this.log(`${run.name}: ${describeError(error)}; retrying\n`, true);
      } else if (run.options.live && !run.idle) {
        run.idle = true;
        if (run.tracker.changesDone > 0) this.render(run, true);
        this.log(`${run.name}: up to date, waiting for changes\n`);
      }
    });
    replication.on('denied', ({ id, error, reason }) => {
      if (++this.denied <= 10) this.log(`${run.name}: ${id} not written: ${error}: ${reason}\n`, true);
    });
  }

  /**
   * Updates a bar, or prints a line: each time the percentage crosses a tenth, or, while the
   * source does not say how much is left, at most once a second (`force`: now).
   */
  private render(run: Running, force: boolean): void {
    if (run.bar) {
      const done = run.tracker.changesDone;
      const total = done + (run.replication.progress.pending ?? 0);
      const complete = run.tracker.percent(run.replication.progress) === 100;
      run.bar.setTotal(Math.max(1, total));
      run.bar.update(complete ? Math.max(1, total) : done, this.payload(run));
      return;
    }
    const percent = run.tracker.percent(run.replication.progress);
    const now = Date.now();
    const due =
      force ||
      (percent === undefined ? now - run.lastLine >= LINE_INTERVAL_MS : decileOf(percent) > run.lastDecile);
    if (!due) return;
    run.lastLine = now;
    if (percent !== undefined) run.lastDecile = Math.max(run.lastDecile, decileOf(percent));
    this.io.stdout.write(`${this.line(run)}\n`);
  }

  /** The bar at its final value, or the 100% line of a completed run that has not shown it yet. */
  private finalRender(run: Running): void {
    const complete = run.tracker.percent(run.replication.progress) === 100;
    if (run.bar || (complete && run.lastDecile < 10)) this.render(run, true);
  }

  private payload(run: Running) {
    const progress = run.replication.progress;
    return {
      name: run.name,
      rate: rateOf(run.tracker.docsPerSecond()),
      written: progress.docs_written,
      pending: progress.pending ?? '?',
    };
  }

  private line(run: Running): string {
    const progress: ReplicationProgress = run.replication.progress;
    const percent = run.tracker.percent(progress);
    return (
      `${run.name}: read ${progress.docs_read}, written ${progress.docs_written}, ` +
      `failures ${progress.doc_write_failures}, pending ${progress.pending ?? '?'}, ` +
      `${rateOf(run.tracker.docsPerSecond())}${percent === undefined ? '' : ` (${percent}%)`}`
    );
  }

  private summary(run: Running, result: ReplicationResult | undefined, seconds: number): string {
    const progress = result ?? run.replication.progress;
    const outcome = !result ? 'failed' : result.status === 'complete' ? 'complete' : 'stopped';
    const rate = rateOf(seconds > 0 ? progress.docs_written / seconds : 0);
    return (
      `${run.name}: replication ${outcome}: ${counted(progress.docs_read, 'doc')} read, ` +
      `${progress.docs_written} written, ${counted(progress.doc_write_failures, 'failure')} ` +
      `in ${seconds.toFixed(1)} s (${rate})`
    );
  }

  /**
   * A message above the bars, or a line of its own. Above the bars, it is drawn with them (the
   * bars' own log, so lines and bars do not overwrite each other), at once.
   */
  private log(text: string, error = false): void {
    if (!this.bars) {
      (error ? this.io.stderr : this.io.stdout).write(text);
      return;
    }
    this.bars.log(text);
    if (this.bars.isActive) this.bars.update();
  }

  /** Stops the bars, writing out what was logged since they were last drawn (cli-progress drops it). */
  private stopBars(): void {
    if (!this.bars) return;
    this.bars.update();
    this.bars.stop();
  }
}

/** Documents per second, in words: "1 doc/s", "250 docs/s". */
function rateOf(docsPerSecond: number): string {
  return `${counted(Math.round(docsPerSecond), 'doc')}/s`;
}

/** 0–10: how many tenths of the way `percent` is. */
function decileOf(percent: number): number {
  return Math.floor(percent / 10);
}

/** A sequence as people read it: CouchDB's opaque `N-g1AAA…` by its number. */
function seqLabel(seq: Seq): string {
  return typeof seq === 'string' ? (/^(\d+)-/.exec(seq)?.[1] ?? seq) : String(seq);
}
