/**
 * A fair, bounded queue for slow password hashing.
 *
 * PBKDF2 at 600 000 iterations takes ~0.3 s of a libuv threadpool thread. Handed straight to
 * `crypto.pbkdf2`, 64 bad logins from one attacker queued ahead of the real admin in libuv's FIFO
 * and delayed the admin's login from 20 ms to 21 s. Here at most `concurrency` hashes run at once
 * and the waiting ones are taken across sources (client addresses) in turn, so a flood from one
 * source costs a newcomer about one job's time, not the flood's.
 */
import os from 'node:os';
import { SetteeError } from '../../core/errors.js';

export interface HashSchedulerOptions {
  /**
   * Jobs run at once. By default the cores available, but at most one less than libuv's threadpool
   * (`UV_THREADPOOL_SIZE`, 4 by default), and at least 1.
   */
  concurrency?: number;
  /** Jobs one source may have waiting; a job beyond it is refused at once. 8 by default. */
  maxQueuedPerSource?: number;
}

export interface HashSchedulerStats {
  /** Jobs running now. */
  running: number;
  /** Jobs waiting for a slot. */
  queued: number;
}

export const DEFAULT_MAX_QUEUED_PER_SOURCE = 8;

/** The reason a job over the per-source cap is refused with. */
export const BUSY_REASON = 'Too many password checks are pending for this client; try again later';

/**
 * The default concurrency. Hashes beyond libuv's pool size gain nothing (they wait in libuv's own
 * FIFO, out of our fair queue), and filling the whole pool would stall file I/O and `dns.lookup`,
 * which share it; so one thread is left for them.
 */
export function defaultConcurrency(): number {
  const pool = Number.parseInt(process.env.UV_THREADPOOL_SIZE ?? '', 10);
  const poolSize = Number.isSafeInteger(pool) && pool > 0 ? pool : 4;
  return Math.max(1, Math.min(os.availableParallelism(), poolSize - 1));
}

/** A source (client address) with jobs running or waiting; forgotten when it has neither. */
interface Source {
  waiting: (() => void)[];
  running: number;
  /** Virtual time of its next turn: one tick per job it started (start-time fair queuing). */
  pass: number;
}

/**
 * Runs jobs with at most `concurrency` at once, taking waiting jobs fairly across sources.
 *
 * Each source has a virtual clock that ticks once per job it starts; the next job goes to the
 * waiting source whose clock is furthest behind (then the one with fewer jobs running, then the one
 * that became ready first). A source that arrives, or comes back after going idle, starts at the
 * current time, with no credit and no debt. So floods take turns, and a newcomer is never more
 * than one turn behind anyone: behind a single flood it gets the very next free slot.
 *
 * @example
 * const hashes = new HashScheduler();
 * const ok = await hashes.run(request.ip, () => verifyPassword(password, hash));
 */
export class HashScheduler {
  readonly concurrency: number;
  readonly maxQueuedPerSource: number;
  readonly #sources = new Map<string, Source>();
  /** Sources with jobs waiting, in the order they became ready (the last tie-break). */
  readonly #ready = new Set<string>();
  /** The pass of the job started last; never goes back. */
  #clock = 0;
  #running = 0;
  #queued = 0;

  constructor(options: HashSchedulerOptions = {}) {
    this.concurrency = options.concurrency ?? defaultConcurrency();
    if (!Number.isSafeInteger(this.concurrency) || this.concurrency < 1) {
      throw new RangeError(`concurrency must be a positive integer, got ${this.concurrency}`);
    }
    this.maxQueuedPerSource = options.maxQueuedPerSource ?? DEFAULT_MAX_QUEUED_PER_SOURCE;
    const cap = this.maxQueuedPerSource;
    if (!(Number.isSafeInteger(cap) || cap === Infinity) || cap < 0) {
      throw new RangeError(`maxQueuedPerSource must be a non-negative integer, got ${cap}`);
    }
  }

  /** Jobs running and waiting now. */
  get stats(): HashSchedulerStats {
    return { running: this.#running, queued: this.#queued };
  }

  /**
   * Runs `job` when a slot is free and its source's turn comes, and settles as it does. A job that
   * can start now starts synchronously. When `source` already has `maxQueuedPerSource` jobs
   * waiting, the result rejects at once with `SetteeError('unavailable')` (503) and `job` never runs.
   */
  run<T>(source: string, job: () => Promise<T>): Promise<T> {
    // (A free slot with jobs waiting exists only mid-dispatch, when a starting job submits another.)
    if (this.#running < this.concurrency && this.#queued === 0) return this.#start(source, job);
    const state = this.#sources.get(source);
    if ((state?.waiting.length ?? 0) >= this.maxQueuedPerSource) {
      return Promise.reject(new SetteeError('unavailable', BUSY_REASON));
    }
    return new Promise<T>((resolve, reject) => {
      this.#enqueue(source, () => void this.#start(source, job).then(resolve, reject));
    });
  }

  #enqueue(name: string, start: () => void): void {
    const source = this.#source(name);
    source.waiting.push(start);
    this.#queued++;
    if (source.waiting.length === 1) {
      this.#ready.add(name);
      source.pass = Math.max(source.pass, this.#clock); // idle time earns no credit
    }
  }

  #source(name: string): Source {
    let source = this.#sources.get(name);
    if (!source) {
      source = { waiting: [], running: 0, pass: this.#clock };
      this.#sources.set(name, source);
    }
    return source;
  }

  #start<T>(name: string, job: () => Promise<T>): Promise<T> {
    const source = this.#source(name);
    this.#clock = Math.max(this.#clock, source.pass);
    source.pass = this.#clock + 1;
    source.running++;
    this.#running++;
    let result: Promise<T>;
    try {
      result = Promise.resolve(job());
    } catch (err) {
      result = Promise.reject(err); // a job that throws before its first await frees its slot too
    }
    return result.finally(() => this.#release(name, source));
  }

  #release(name: string, source: Source): void {
    source.running--;
    this.#running--;
    if (source.running === 0 && source.waiting.length === 0) this.#sources.delete(name);
    this.#dispatch();
  }

  #dispatch(): void {
    while (this.#running < this.concurrency) {
      const name = this.#next();
      const source = name === undefined ? undefined : this.#sources.get(name);
      const start = source?.waiting.shift();
      if (name === undefined || source === undefined || start === undefined) return;
      if (source.waiting.length === 0) this.#ready.delete(name);
      this.#queued--;
      start();
    }
  }

  /**
   * The ready source furthest behind, then with the fewest jobs running, then ready first. Every
   * ready pass is at least the clock, so a source at the clock with nothing running ends the scan.
   */
  #next(): string | undefined {
    let best: string | undefined;
    let bestPass = Infinity;
    let bestRunning = Infinity;
    for (const name of this.#ready) {
      const { pass, running } = this.#sources.get(name) ?? { pass: Infinity, running: Infinity };
      if (pass < bestPass || (pass === bestPass && running < bestRunning)) {
        [best, bestPass, bestRunning] = [name, pass, running];
        if (pass <= this.#clock && running === 0) break;
      }
    }
    return best;
  }
}
