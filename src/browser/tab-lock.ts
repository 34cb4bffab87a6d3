/**
 * One tab of an origin does a job for all its tabs (runs the sync), chosen by a Web Lock: the
 * tab holding the lock `name` leads; the others queue for it, and when the leader's tab closes
 * or lets go, the browser hands the lock to the next one. No heartbeat or election of our own.
 */
import { SetteeError } from '../core/errors.js';

/** The part of `navigator.locks` (the Web Locks API) the lock uses. */
export interface LockManagerLike {
  request(
    name: string,
    options: { mode: 'exclusive'; signal: AbortSignal },
    callback: () => Promise<void>,
  ): Promise<unknown>;
}

/** A place in the queue for a Web Lock: `release()` gives it up, held or still waiting. */
export interface TabLock {
  release(): void;
}

/**
 * Queues for the exclusive Web Lock `name`; once granted calls `onAcquired` and holds the lock
 * until `release()`. A lock manager that refuses for another reason than the release is reported
 * to `onError`.
 */
export function holdTabLock(
  locks: LockManagerLike | undefined,
  name: string,
  onAcquired: () => void,
  onError: (error: Error) => void,
): TabLock {
  if (!locks) {
    throw new SetteeError(
      'not_implemented',
      'This browser has no Web Locks (navigator.locks): one tab cannot be chosen to sync for all',
    );
  }
  const released = new AbortController();
  const letGo = new Promise<void>((resolve) => released.signal.addEventListener('abort', () => resolve()));
  locks
    .request(name, { mode: 'exclusive', signal: released.signal }, async () => {
      if (released.signal.aborted) return;
      onAcquired();
      await letGo;
    })
    .catch((error: unknown) => {
      // Released while still queued: the manager rejects with the signal's AbortError.
      if (!released.signal.aborted) onError(error instanceof Error ? error : new Error(String(error)));
    });
  return { release: () => released.abort() };
}
