/**
 * The page's globals as the browser helpers use them. Typed here with the few members read,
 * because Settee compiles against Node's types (no DOM library), and so that each helper takes
 * a stand-in where a test or a worker context needs one.
 */
import type { NetworkWindow } from './network.js';
import type { StorageManagerLike } from './persist.js';
import type { LockManagerLike } from './tab-lock.js';
import type { TabChannel } from './tab-writes.js';

export interface PageNavigator {
  readonly onLine: boolean;
  readonly locks?: LockManagerLike;
  readonly storage?: StorageManagerLike;
}

/** A window (or a worker's global scope, which has the same members). */
export interface PageGlobals extends NetworkWindow {
  readonly navigator: PageNavigator;
  readonly BroadcastChannel: new (name: string) => TabChannel;
}

/** This realm's globals: in a page, the window. */
export function pageGlobals(): PageGlobals {
  return globalThis as unknown as PageGlobals;
}
