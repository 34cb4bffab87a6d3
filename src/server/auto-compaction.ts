/**
 * Automatic compaction, after CouchDB's smoosh: a database whose files hold much more than its
 * live data is compacted in the background, one database at a time. Databases are looked at a
 * while after they are written to, never on a clock: an idle server does nothing at all.
 */
import { setTimeout as delay } from 'node:timers/promises';
import type { Database } from '../database/database.js';
import { type Leases, LocalLeases } from './leases/leases.js';
import type { DatabaseRegistry } from './registry.js';

/** When and how soon databases are compacted without being asked to. */
export interface AutoCompactionOptions {
  /**
   * Compact once the files are at least this many times the live data (default 2, as the
   * `min_priority` of smoosh's ratio channels).
   */
  ratio?: number;
  /** …and at least this many bytes would be freed (default 16 MiB), so small files are left alone. */
  minSlackBytes?: number;
  /** How long after a write a database is looked at (default 5 s); writes meanwhile share the look. */
  delayMs?: number;
}

/** The thresholds that decide (see `needsCompaction`). */
export interface CompactionThresholds {
  ratio: number;
  minSlackBytes: number;
}

/** A database's sizes as `info().sizes` reports them: its files on disk and its live data. */
export interface StoredSizes {
  file: number;
  active: number;
}

/** Where the compactor tells what it does (the server's pino logger fits). */
export interface CompactionLog {
  info(message: string): void;
  debug(message: string): void;
  warn(message: string): void;
}

const SILENT: CompactionLog = { info: () => undefined, debug: () => undefined, warn: () => undefined };

export const DEFAULT_AUTO_COMPACTION: Required<AutoCompactionOptions> = {
  ratio: 2,
  minSlackBytes: 16 * 1024 * 1024,
  delayMs: 5000,
};

/**
 * Whether compacting would pay: the files hold at least `ratio` times the live data and at least
 * `minSlackBytes` more than it. Unlike smoosh, whose ratio and slack are separate channels (either
 * one enqueues), both must hold here: a small database is not compacted for its ratio alone, and a
 * large one not for a slack that is a small part of it.
 *
 * @example
 * needsCompaction({ file: 100e6, active: 20e6 }, { ratio: 2, minSlackBytes: 16e6 }); // true
 */
export function needsCompaction(sizes: StoredSizes, thresholds: CompactionThresholds): boolean {
  const slack = sizes.file - sizes.active;
  if (slack <= 0 || slack < thresholds.minSlackBytes) return false;
  return sizes.file >= thresholds.ratio * sizes.active;
}

/**
 * Follows the server's open databases and compacts the ones that need it, one at a time.
 * Created by `startAutoCompaction`; `stop()` ends it.
 *
 * Servers sharing one PostgreSQL all follow the same databases: each compaction runs under the
 * database's lease, so one server compacts it and the others, finding the lease taken, leave it.
 * (Two compactions at once would do no harm — each step takes the counter row lock and lowers
 * the counters by what it removed itself, see `storage/postgres/compaction.ts` — only work twice.)
 */
export class AutoCompactor {
  private readonly stopping = new AbortController();
  /** What ends the following of each followed database, by name. */
  private readonly followed = new Map<string, AbortController>();
  /** Databases found worth compacting, in the order found; one entry per database. */
  private readonly queue = new Map<string, Database>();
  private running: Promise<void> | undefined;

  constructor(
    private readonly thresholds: CompactionThresholds,
    private readonly delayMs: number,
    private readonly log: CompactionLog = SILENT,
    private readonly leases: Leases = new LocalLeases(),
  ) {}

  /** Starts following a database's writes (a database re-opened under the same name replaces it). */
  follow(db: Database): void {
    if (this.stopping.signal.aborted) return;
    this.unfollow(db.name);
    const ended = new AbortController();
    this.followed.set(db.name, ended);
    void this.watch(db, AbortSignal.any([this.stopping.signal, ended.signal]));
  }

  /** Stops following a database (it was deleted). */
  unfollow(name: string): void {
    this.followed.get(name)?.abort();
    this.followed.delete(name);
    this.queue.delete(name);
  }

  /** Stops following and queueing, and the compaction under way; resolves once it has stopped. */
  async stop(): Promise<void> {
    this.stopping.abort();
    this.followed.clear();
    this.queue.clear();
    await this.running;
  }

  /** After a write, waits `delayMs` (the writes meanwhile need no look of their own), then looks. */
  private async watch(db: Database, signal: AbortSignal): Promise<void> {
    try {
      for (;;) {
        await db.nextChange(signal);
        await delay(this.delayMs, undefined, { signal });
        await this.consider(db);
      }
    } catch (error) {
      if (!signal.aborted)
        this.log.warn(`automatic compaction stopped following ${db.name}: ${String(error)}`);
    }
  }

  private async consider(db: Database): Promise<void> {
    if (this.queue.has(db.name) || !(await this.isDue(db))) return;
    this.queue.set(db.name, db);
    this.runNext();
  }

  /** Compacts the first queued database unless one is being compacted; then the next. */
  private runNext(): void {
    if (this.running || this.stopping.signal.aborted) return;
    const next = this.queue.entries().next();
    if (next.done) return;
    const [name, db] = next.value;
    this.queue.delete(name);
    this.running = this.compactIfDue(db)
      .catch((error: unknown) => {
        if (!this.stopping.signal.aborted)
          this.log.warn(`automatic compaction of ${name} failed: ${String(error)}`);
      })
      .finally(() => {
        this.running = undefined;
        this.runNext();
      });
  }

  private async compactIfDue(db: Database): Promise<void> {
    if (!(await this.leases.acquire('compaction', db.name))) {
      this.log.debug(`${db.name} is being compacted by another server`);
      return;
    }
    try {
      // Asked again: it may have been compacted (by `_compact`, or another server) meanwhile.
      if (!(await this.isDue(db))) return;
      this.log.info(`compacting ${db.name} automatically`);
      // Stopping the server stops it between two steps: what was done stays done.
      await db.compact({ signal: this.stopping.signal });
      const { file, active } = (await db.info()).sizes;
      this.log.info(`compacted ${db.name} automatically: ${file} bytes on disk, ${active} live`);
    } finally {
      await this.leases.release('compaction', db.name);
    }
  }

  private async isDue(db: Database): Promise<boolean> {
    const info = await db.info();
    if (info.compact_running) return false;
    const { file, active } = info.sizes;
    const due = needsCompaction(info.sizes, this.thresholds);
    if (!due) this.log.debug(`${db.name} needs no compaction: ${file} bytes on disk, ${active} live`);
    return due;
  }
}

/**
 * Follows every database the registry opens from now on, and the `opened` ones it opened before
 * (the server's own, at start); a deleted database is let go. Returns undefined when automatic
 * compaction is off (`options === false`). `leases`: which server compacts a shared database.
 */
export function startAutoCompaction(
  registry: DatabaseRegistry,
  options: AutoCompactionOptions | false | undefined,
  opened: readonly string[],
  log?: CompactionLog,
  leases?: Leases,
): AutoCompactor | undefined {
  if (options === false) return undefined;
  const { ratio, minSlackBytes, delayMs } = { ...DEFAULT_AUTO_COMPACTION, ...options };
  const compactor = new AutoCompactor({ ratio, minSlackBytes }, delayMs, log, leases);
  const prepare = registry.prepare;
  registry.prepare = (db) => {
    prepare?.(db);
    compactor.follow(db);
  };
  for (const name of opened) {
    void registry
      .exists(name)
      .then(async (exists) => exists && compactor.follow(await registry.get(name)))
      .catch(() => undefined);
  }
  // The registry tells of a deletion only through this event (a deleted database no longer exists).
  registry.onSecurityChange((name) => {
    void registry.exists(name).then(
      (exists) => exists || compactor.unfollow(name),
      () => undefined,
    );
  });
  return compactor;
}
