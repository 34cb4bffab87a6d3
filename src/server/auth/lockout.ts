/**
 * Lockout after repeated failed logins, as CouchDB 3.4's `[chttpd_auth_lockout]`: failures are
 * counted per (client address, user name), so an attacker locks a user out only from the
 * attacker's own address, and the real user elsewhere can still log in. `lockoutFor` applies
 * CouchDB's `mode`: a lock refuses (`enforce`), is only reported (`warn`), or nothing is counted
 * (`off`).
 */
import { SetteeError } from '../../core/errors.js';

export interface LockoutOptions {
  /** Failures within the window that lock the pair; 5 by default, as CouchDB. */
  threshold?: number;
  /** Length of the counting window and of a lock, in ms; 5 minutes by default, as CouchDB. */
  durationMs?: number;
  /** Most pairs remembered at once (counting or locked); 10 000 by default, as CouchDB. */
  maxEntries?: number;
  /** Clock in milliseconds (tests inject one); `Date.now` by default. */
  now?: () => number;
}

/** CouchDB's reason for a locked account. */
export const LOCKED_REASON = 'Account is temporarily locked due to multiple authentication failures';

/** The error a request for a locked pair is refused with (403, as CouchDB). */
export function lockedError(): SetteeError {
  return new SetteeError('forbidden', LOCKED_REASON);
}

export const DEFAULT_THRESHOLD = 5;
export const DEFAULT_DURATION_MS = 5 * 60 * 1000;
export const DEFAULT_MAX_ENTRIES = 10_000;

/**
 * CouchDB's `[chttpd_auth_lockout] mode` (src/couch/src/couch_auth_lockout.erl): `enforce`
 * refuses a locked pair; `warn` counts as `enforce` does but only logs where it would refuse (so
 * test suites and CDNs behind one address are not locked out); `off` counts nothing.
 */
export const LOCKOUT_MODES = ['enforce', 'warn', 'off'] as const;
export type LockoutMode = (typeof LOCKOUT_MODES)[number];

/** A pair that `warn` mode let through where `enforce` would have refused it. */
export interface LockoutWarning {
  address: string;
  /** The user name; undefined for bad JWTs, which count against the address as a whole. */
  user: string | undefined;
  /** When the lock `enforce` would apply ends (ms since the epoch). */
  until: number;
}

/** How the server locks out: the counting rule, the mode, and where `warn` mode reports. */
export interface LockoutSettings extends Omit<LockoutOptions, 'now'> {
  /** `enforce` by default, as CouchDB. */
  mode?: LockoutMode;
  /** Called once per pair per lock in `warn` mode. */
  onWarning?: (warning: LockoutWarning) => void;
}

interface Failures {
  count: number;
  /** When the counting window opened (its first failure). */
  since: number;
}

/**
 * An unambiguous key for the pair, whatever characters the name holds; JSON, so it is also plain
 * text for storage (a U+0000 in the name is escaped).
 */
export const pairKey = (address: string, user: string): string => JSON.stringify([address, user]);

/**
 * Where failed logins are counted: this process (`Lockout`), or PostgreSQL for all the servers
 * sharing it (`SharedLockout`). `isLocked` is asked before every password check, so it answers
 * from memory; the outcome is then reported with `recordFailure` or `recordSuccess`.
 */
export interface LockoutLedger {
  isLocked(address: string, user: string): boolean;
  /** When the pair's lock in force ends (ms since the epoch); undefined when it is not locked. */
  lockedUntil(address: string, user: string): number | undefined;
  recordFailure(address: string, user: string): void | Promise<void>;
  recordSuccess(address: string, user: string): void | Promise<void>;
}

/**
 * Failed-login bookkeeping. The server asks `isLocked` before checking a password (and refuses
 * with `lockedError()` without hashing), then reports the outcome with `recordFailure` or
 * `recordSuccess`.
 *
 * The window is fixed from its first failure: `threshold` failures within `durationMs` of it lock
 * the pair for `durationMs` from the failure that reached the threshold.
 *
 * @example
 * if (lockout.isLocked(ip, name)) throw lockedError();
 * try { await checkPassword(name, password); lockout.recordSuccess(ip, name); }
 * catch (err) { lockout.recordFailure(ip, name); throw err; }
 */
export class Lockout implements LockoutLedger {
  readonly threshold: number;
  readonly durationMs: number;
  readonly maxEntries: number;
  readonly #now: () => number;
  /** Pairs still below the threshold, in window order (so expired ones are at the front). */
  readonly #failures = new Map<string, Failures>();
  /** Locked pairs → when the lock ends, in lock order (so expired ones are at the front). */
  readonly #locks = new Map<string, number>();

  constructor(options: LockoutOptions = {}) {
    this.threshold = positiveInteger('threshold', options.threshold ?? DEFAULT_THRESHOLD);
    this.durationMs = options.durationMs ?? DEFAULT_DURATION_MS;
    if (!Number.isFinite(this.durationMs) || this.durationMs <= 0) {
      throw new RangeError(`durationMs must be a positive number, got ${this.durationMs}`);
    }
    this.maxEntries = positiveInteger('maxEntries', options.maxEntries ?? DEFAULT_MAX_ENTRIES);
    this.#now = options.now ?? Date.now;
  }

  /** Pairs remembered (counting or locked); never more than `maxEntries`. */
  get size(): number {
    return this.#failures.size + this.#locks.size;
  }

  /** Whether `user` is locked out from `address` right now. */
  isLocked(address: string, user: string): boolean {
    return this.lockedUntil(address, user) !== undefined;
  }

  lockedUntil(address: string, user: string): number | undefined {
    const key = pairKey(address, user);
    const until = this.#locks.get(key);
    if (until === undefined) return undefined;
    if (this.#now() < until) return until;
    this.#locks.delete(key);
    return undefined;
  }

  /** Counts a failed login; the one that reaches `threshold` locks the pair. */
  recordFailure(address: string, user: string): void {
    const now = this.#now();
    this.#dropExpired(now);
    // A lock is not extended by failures during it, so it always ends on time.
    if (this.isLocked(address, user)) return;
    const key = pairKey(address, user);
    let entry = this.#failures.get(key);
    if (entry === undefined || now >= entry.since + this.durationMs) {
      this.#failures.delete(key); // re-inserted at the back: the map stays in window order
      entry = { count: 0, since: now };
      this.#failures.set(key, entry);
    }
    entry.count++;
    if (entry.count >= this.threshold) {
      this.#failures.delete(key);
      this.#locks.set(key, now + this.durationMs);
    }
    this.#evictOverflow();
  }

  /**
   * Locks the pair until `until` (ms), as decided elsewhere (another server); a lock that ends
   * later stays. Locks are kept in the order they end, so the map is re-sorted when needed.
   */
  lock(address: string, user: string, until: number): void {
    const key = pairKey(address, user);
    if ((this.#locks.get(key) ?? -Infinity) >= until) return;
    this.#failures.delete(key);
    this.#locks.delete(key);
    const later = [...this.#locks].filter(([, end]) => end > until);
    for (const [laterKey] of later) this.#locks.delete(laterKey);
    this.#locks.set(key, until);
    for (const [laterKey, end] of later) this.#locks.set(laterKey, end);
    this.#evictOverflow();
  }

  /** Whether failures of the pair are being counted (its window is open). */
  hasFailures(address: string, user: string): boolean {
    const entry = this.#failures.get(pairKey(address, user));
    return entry !== undefined && this.#now() < entry.since + this.durationMs;
  }

  /** A successful login clears the pair's failure count; a lock in force still runs its course. */
  recordSuccess(address: string, user: string): void {
    this.#failures.delete(pairKey(address, user));
  }

  #dropExpired(now: number): void {
    for (const [key, entry] of this.#failures) {
      if (now < entry.since + this.durationMs) break;
      this.#failures.delete(key);
    }
    for (const [key, until] of this.#locks) {
      if (now < until) break;
      this.#locks.delete(key);
    }
  }

  /**
   * Oldest counting entries go first; locks only once no counting entry is left. A lock costs
   * `threshold` failures, so a flood of one-failure entries cannot push locks out.
   */
  #evictOverflow(): void {
    while (this.size > this.maxEntries) {
      const map = this.#failures.size > 0 ? this.#failures : this.#locks;
      const oldest = map.keys().next().value;
      if (oldest === undefined) return;
      map.delete(oldest);
    }
  }
}

function positiveInteger(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new RangeError(`${name} must be a positive integer, got ${value}`);
  }
  return value;
}

/** `off` mode: nothing counted, nothing kept, nobody locked. */
const NO_LOCKOUT: LockoutLedger = {
  isLocked: () => false,
  lockedUntil: () => undefined,
  recordFailure: () => undefined,
  recordSuccess: () => undefined,
};

/**
 * `warn` mode: the ledger counts and locks as in `enforce`, but a locked pair is let through;
 * the first request of each lock is reported (not every one, so a client retrying in a loop
 * cannot flood the log).
 */
class WarningLockout implements LockoutLedger {
  /** The pairs already reported, until the end of the lock they were reported for. */
  readonly #reported: Lockout;

  constructor(
    private readonly ledger: LockoutLedger,
    private readonly onWarning: (warning: LockoutWarning) => void,
    options: LockoutOptions,
  ) {
    this.#reported = new Lockout(options);
  }

  isLocked(address: string, user: string): boolean {
    const until = this.ledger.lockedUntil(address, user);
    if (until !== undefined && !this.#reported.isLocked(address, user)) {
      this.#reported.lock(address, user, until);
      this.onWarning({ address, user, until });
    }
    return false;
  }

  lockedUntil(): undefined {
    return undefined;
  }

  recordFailure(address: string, user: string): void | Promise<void> {
    return this.ledger.recordFailure(address, user);
  }

  recordSuccess(address: string, user: string): void | Promise<void> {
    return this.ledger.recordSuccess(address, user);
  }
}

/**
 * The ledger for `settings.mode`: `open` (this process's `Lockout`, or the one shared over
 * PostgreSQL) is not even called in `off` mode, so nothing is kept or written anywhere.
 */
export async function lockoutFor(
  settings: LockoutSettings,
  now: () => number,
  open: (options: LockoutOptions) => Promise<LockoutLedger>,
): Promise<LockoutLedger> {
  const { mode = 'enforce', onWarning = () => undefined, ...counting } = settings;
  if (!LOCKOUT_MODES.includes(mode)) {
    throw new RangeError(`lockout mode must be one of ${LOCKOUT_MODES.join(', ')}, got ${String(mode)}`);
  }
  if (mode === 'off') return NO_LOCKOUT;
  const ledger = await open({ ...counting, now });
  return mode === 'warn' ? new WarningLockout(ledger, onWarning, { ...counting, now }) : ledger;
}
