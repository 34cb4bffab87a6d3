/**
 * The lockout of servers sharing one PostgreSQL: the same rule as `Lockout` (threshold failures
 * of one user from one address within the window lock that pair for the duration), counted for
 * all the servers together, so that failures spread over them lock as they would on one.
 *
 * No request pays a PostgreSQL round trip for it unless it failed: `isLocked` answers from the
 * locks in memory, which every server loads at start and again when another announces a lock; a
 * failure is counted by one atomic upsert that returns the count; a success clears the count
 * only when this server counted one of its failures (so a success through another server leaves
 * it to expire, as CouchDB 3.4 lets every count expire).
 */
import type pg from 'pg';
import { inTransaction, rowsOf, run } from '../../storage/postgres/sql.js';
import { Lockout, type LockoutLedger, type LockoutOptions, pairKey } from './lockout.js';

// The window as `Lockout.recordFailure` keeps it: a count older than the window starts again at 1.
const COUNT_FAILURE = `
  INSERT INTO settee.auth_failures AS f (pair, count, since) VALUES ($1, 1, $2)
  ON CONFLICT (pair) DO UPDATE SET
    count = CASE WHEN f.since <= $2 - $3 THEN 1 ELSE f.count + 1 END,
    since = CASE WHEN f.since <= $2 - $3 THEN $2 ELSE f.since END
  RETURNING count`;
// A lock in force is not extended (it ends on time, as `Lockout`'s); an expired one is replaced.
const LOCK = `
  INSERT INTO settee.auth_locks AS l (pair, until) VALUES ($1, $2) ON CONFLICT (pair)
  DO UPDATE SET until = excluded.until WHERE l.until <= $3`;
const CLEAR_FAILURES = 'DELETE FROM settee.auth_failures WHERE pair = $1';
/** Failures counted between two sweeps of expired rows (pairs that never reached a lock). */
const SWEEP_EVERY = 100;

export class SharedLockout implements LockoutLedger {
  /** The locks in force, as all the servers know them. */
  readonly #locks: Lockout;
  /** The pairs this server counted a failure of, while their window is open. */
  readonly #countedHere: Lockout;
  readonly #now: () => number;
  #failuresSinceSweep = 0;

  /** `announceLock` sends, in the locking transaction, the notice that makes the others `reload`. */
  constructor(
    private readonly pool: pg.Pool,
    options: LockoutOptions,
    private readonly announceLock: (client: pg.PoolClient) => Promise<void>,
  ) {
    this.#locks = new Lockout(options);
    this.#countedHere = new Lockout({ ...options, threshold: Number.MAX_SAFE_INTEGER });
    this.#now = options.now ?? Date.now;
  }

  isLocked(address: string, user: string): boolean {
    return this.#locks.isLocked(address, user);
  }

  lockedUntil(address: string, user: string): number | undefined {
    return this.#locks.lockedUntil(address, user);
  }

  async recordFailure(address: string, user: string): Promise<void> {
    // A failure of a request that began before the lock does not count, as in `Lockout`.
    if (this.#locks.isLocked(address, user)) return;
    const now = this.#now();
    const pair = pairKey(address, user);
    this.#countedHere.recordFailure(address, user);
    const [row] = await rowsOf<{ count: number }>(this.pool, COUNT_FAILURE, [
      pair,
      now,
      this.#locks.durationMs,
    ]);
    if (row!.count >= this.#locks.threshold) await this.#lock(address, user, now);
    if (++this.#failuresSinceSweep >= SWEEP_EVERY) await this.sweep();
  }

  async recordSuccess(address: string, user: string): Promise<void> {
    if (!this.#countedHere.hasFailures(address, user)) return;
    this.#countedHere.recordSuccess(address, user);
    await run(this.pool, CLEAR_FAILURES, [pairKey(address, user)]);
  }

  /** Takes in the locks in force now: at start, when another server announced one, after a missed notice. */
  async reload(): Promise<void> {
    const now = this.#now();
    const rows = await rowsOf<{ pair: string; until: number }>(
      this.pool,
      'SELECT pair, until FROM settee.auth_locks WHERE until > $1',
      [now],
    );
    for (const { pair, until } of rows) {
      const [address, user] = JSON.parse(pair) as [string, string];
      this.#locks.lock(address, user, until);
    }
  }

  /** Deletes the counts whose window closed and the locks that ended. */
  async sweep(): Promise<void> {
    this.#failuresSinceSweep = 0;
    const now = this.#now();
    await run(this.pool, 'DELETE FROM settee.auth_failures WHERE since <= $1', [
      now - this.#locks.durationMs,
    ]);
    await run(this.pool, 'DELETE FROM settee.auth_locks WHERE until <= $1', [now]);
  }

  /** Locks the pair here at once (the next request is refused), then for every server. */
  async #lock(address: string, user: string, now: number): Promise<void> {
    const pair = pairKey(address, user);
    const until = now + this.#locks.durationMs;
    this.#locks.lock(address, user, until);
    this.#countedHere.recordSuccess(address, user);
    await inTransaction(this.pool, async (client) => {
      await run(client, CLEAR_FAILURES, [pair]);
      await run(client, LOCK, [pair, until, now]);
      await this.announceLock(client);
    });
  }
}
