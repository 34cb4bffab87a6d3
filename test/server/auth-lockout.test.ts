import { describe, expect, it } from 'vitest';
import { SetteeError } from '../../src/core/errors.js';
import {
  LOCKED_REASON,
  Lockout,
  type LockoutOptions,
  type LockoutWarning,
  lockedError,
  lockoutFor,
} from '../../src/server/auth/lockout.js';

const MINUTE = 60_000;

/** A Lockout on a clock the test moves by hand. */
function lockout(options: LockoutOptions = {}) {
  let now = 1_700_000_000_000;
  const lock = new Lockout({ now: () => now, ...options });
  return {
    lock,
    advance(ms: number) {
      now += ms;
    },
    fail(address: string, user: string, times = 1) {
      for (let i = 0; i < times; i++) lock.recordFailure(address, user);
    },
  };
}

describe('Lockout', () => {
  it('has CouchDB 3.4 defaults', () => {
    const { threshold, durationMs, maxEntries } = new Lockout();
    expect({ threshold, durationMs, maxEntries }).toEqual({
      threshold: 5,
      durationMs: 5 * MINUTE,
      maxEntries: 10_000,
    });
  });

  it('refuses nonsensical options', () => {
    expect(() => new Lockout({ threshold: 0 })).toThrow(RangeError);
    expect(() => new Lockout({ threshold: 1.5 })).toThrow(RangeError);
    expect(() => new Lockout({ durationMs: 0 })).toThrow(RangeError);
    expect(() => new Lockout({ maxEntries: -1 })).toThrow(RangeError);
  });

  it('locks at the threshold, not before', () => {
    const { lock, fail } = lockout();
    fail('10.0.0.1', 'admin', 4);
    expect(lock.isLocked('10.0.0.1', 'admin')).toBe(false);
    fail('10.0.0.1', 'admin');
    expect(lock.isLocked('10.0.0.1', 'admin')).toBe(true);
  });

  it('unlocks when the duration has passed since the locking failure', () => {
    const { lock, fail, advance } = lockout();
    fail('10.0.0.1', 'admin', 4);
    advance(MINUTE);
    fail('10.0.0.1', 'admin'); // locks now, until 5 minutes from here
    advance(5 * MINUTE - 1);
    expect(lock.isLocked('10.0.0.1', 'admin')).toBe(true);
    advance(1);
    expect(lock.isLocked('10.0.0.1', 'admin')).toBe(false);
    // A fresh start: one more failure does not lock again.
    fail('10.0.0.1', 'admin');
    expect(lock.isLocked('10.0.0.1', 'admin')).toBe(false);
  });

  it('does not extend a lock with failures during it', () => {
    const { lock, fail, advance } = lockout();
    fail('10.0.0.1', 'admin', 5);
    advance(4 * MINUTE);
    fail('10.0.0.1', 'admin', 10);
    advance(MINUTE);
    expect(lock.isLocked('10.0.0.1', 'admin')).toBe(false);
  });

  it('counts failures within one window only', () => {
    const { lock, fail, advance } = lockout();
    fail('10.0.0.1', 'admin', 4);
    advance(5 * MINUTE); // the window of the first failure has closed
    fail('10.0.0.1', 'admin', 4);
    expect(lock.isLocked('10.0.0.1', 'admin')).toBe(false);
    fail('10.0.0.1', 'admin');
    expect(lock.isLocked('10.0.0.1', 'admin')).toBe(true);
  });

  it('locks a user from one address only, and no other user', () => {
    const { lock, fail } = lockout();
    fail('10.0.0.66', 'admin', 5);
    expect(lock.isLocked('10.0.0.66', 'admin')).toBe(true);
    expect(lock.isLocked('10.0.0.1', 'admin')).toBe(false);
    expect(lock.isLocked('10.0.0.66', 'bob')).toBe(false);
    // Counts are per pair too: four failures each for two users from one address lock neither.
    fail('10.0.0.7', 'carol', 4);
    fail('10.0.0.7', 'dave', 4);
    fail('10.0.0.8', 'carol', 4);
    expect(['carol', 'dave'].some((user) => lock.isLocked('10.0.0.7', user))).toBe(false);
    expect(lock.isLocked('10.0.0.8', 'carol')).toBe(false);
  });

  it('keeps pairs apart whatever characters the names hold', () => {
    const { lock, fail } = lockout({ threshold: 1 });
    fail('a', 'b:c');
    expect(lock.isLocked('a:b', 'c')).toBe(false);
    expect(lock.isLocked('a', 'b:c')).toBe(true);
  });

  it('clears the count on success, but not a lock in force', () => {
    const { lock, fail } = lockout();
    fail('10.0.0.1', 'admin', 4);
    lock.recordSuccess('10.0.0.1', 'admin');
    fail('10.0.0.1', 'admin', 4);
    expect(lock.isLocked('10.0.0.1', 'admin')).toBe(false);
    fail('10.0.0.1', 'admin');
    lock.recordSuccess('10.0.0.1', 'admin');
    expect(lock.isLocked('10.0.0.1', 'admin')).toBe(true);
  });

  it('stays within maxEntries, evicting the oldest counts before any lock', () => {
    const { lock, fail } = lockout({ maxEntries: 100 });
    fail('10.0.0.66', 'admin', 5);
    for (let i = 0; i < 1000; i++) {
      fail('10.0.0.66', `spray-${i}`);
      expect(lock.size).toBeLessThanOrEqual(100);
    }
    // The flood of one-failure pairs did not push the lock out.
    expect(lock.isLocked('10.0.0.66', 'admin')).toBe(true);
    // The oldest counts went first: the newest are still counted.
    fail('10.0.0.66', 'spray-999', 4);
    expect(lock.isLocked('10.0.0.66', 'spray-999')).toBe(true);
    fail('10.0.0.66', 'spray-0', 4);
    expect(lock.isLocked('10.0.0.66', 'spray-0')).toBe(false);
  });

  it('evicts the oldest locks once locks alone overflow', () => {
    const { lock, fail } = lockout({ maxEntries: 3, threshold: 1 });
    for (const user of ['a', 'b', 'c', 'd']) fail('10.0.0.1', user);
    expect(lock.size).toBe(3);
    expect(['a', 'b', 'c', 'd'].map((user) => lock.isLocked('10.0.0.1', user))).toEqual([
      false,
      true,
      true,
      true,
    ]);
  });

  it('forgets expired entries as time moves on', () => {
    const { lock, fail, advance } = lockout();
    for (let i = 0; i < 50; i++) fail('10.0.0.1', `user-${i}`, i % 2 === 0 ? 5 : 1);
    expect(lock.size).toBe(50);
    advance(5 * MINUTE);
    fail('10.0.0.2', 'someone');
    expect(lock.size).toBe(1);
  });

  it('builds the 403 CouchDB answers for a locked account', () => {
    const err = lockedError();
    expect(err).toBeInstanceOf(SetteeError);
    expect(err.toJSON()).toEqual({ error: 'forbidden', reason: LOCKED_REASON });
    expect(err.status).toBe(403);
  });
});

describe('lockoutFor, the modes of CouchDB 3.4', () => {
  it('warn: counts as enforce, refuses nobody, and reports each lock once', async () => {
    let now = 1_700_000_000_000;
    const warnings: LockoutWarning[] = [];
    let counting: Lockout | undefined;
    const ledger = await lockoutFor(
      { mode: 'warn', onWarning: (warning) => warnings.push(warning) },
      () => now,
      (options) => Promise.resolve((counting = new Lockout(options))),
    );
    for (let i = 0; i < 5; i++) await ledger.recordFailure('10.0.0.1', 'admin');
    expect(counting!.isLocked('10.0.0.1', 'admin')).toBe(true); // what enforce would refuse
    expect([ledger.isLocked('10.0.0.1', 'admin'), ledger.isLocked('10.0.0.1', 'admin')]).toEqual([
      false,
      false,
    ]);
    expect(warnings).toEqual([{ address: '10.0.0.1', user: 'admin', until: now + 5 * MINUTE }]);
    // The lock ends; five more failures make a new lock, reported again.
    now += 5 * MINUTE;
    expect(ledger.isLocked('10.0.0.1', 'admin')).toBe(false);
    for (let i = 0; i < 5; i++) await ledger.recordFailure('10.0.0.1', 'admin');
    expect(ledger.isLocked('10.0.0.1', 'admin')).toBe(false);
    expect(warnings.map(({ until }) => until)).toEqual([now, now + 5 * MINUTE]);
  });

  it('enforce is the ledger itself; an unknown mode is refused', async () => {
    const own = new Lockout();
    expect(await lockoutFor({}, Date.now, () => Promise.resolve(own))).toBe(own);
    await expect(
      lockoutFor({ mode: 'strict' as never }, Date.now, () => Promise.resolve(own)),
    ).rejects.toThrow(RangeError);
  });
});
