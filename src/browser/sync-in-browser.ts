/**
 * Live sync as a web app needs it: one tab of the origin syncs for all of them (a Web Lock
 * chooses it; the others follow and see its writes through `shareWritesAcrossTabs`), and the
 * sync stops when the window goes offline and starts again, from its checkpoints, when the
 * window comes back online — at once, not when a failed request's backoff next fires.
 */
import type { Peer } from '../core/api.js';
import { type Endpoint, type EndpointOptions, peerOf } from '../replication/endpoints.js';
import { TypedEmitter } from '../replication/emitter.js';
import { Sync, type SyncEvents } from '../replication/sync.js';
import type { ReplicationOptions } from '../replication/types.js';
import { type CredentialsMode, pageFetch } from './fetch.js';
import { watchNetwork } from './network.js';
import { type PageGlobals, pageGlobals } from './page.js';
import { requestPersistentStorage } from './persist.js';
import { holdTabLock, type TabLock } from './tab-lock.js';

/**
 * Where a browser sync is: `following` (another tab of the origin syncs), `offline` (this tab
 * would sync, but the window is offline), `syncing` (a live sync runs), `stopped` (`stop()` was
 * called, or the sync failed for good: see the `error` event).
 */
export type BrowserSyncState = 'following' | 'offline' | 'syncing' | 'stopped';

export interface BrowserSyncEvents extends Record<string, unknown> {
  state: { state: BrowserSyncState; previous: BrowserSyncState };
  /** A batch of the running sync, as `Sync`'s `change`. */
  change: SyncEvents['change'];
  /** The sync failed for good (a refused login, a missing database…); the handle is stopped. */
  error: { error: Error };
  /** The answer to `persist: true`: whether the browser keeps this origin's storage. */
  persisted: { persisted: boolean };
}

export interface BrowserSyncOptions extends ReplicationOptions, EndpointOptions {
  /**
   * The Web Lock the syncing tab holds (default `settee-sync`): tabs that name the same lock
   * share one sync. Give each distinct sync of an app its own name.
   */
  lock?: string;
  /** fetch's credentials mode for URL endpoints: `include` sends the browser's cookie session. */
  credentials?: CredentialsMode;
  /** Ask the browser to keep this origin's storage (`navigator.storage.persist()`). */
  persist?: boolean;
  /** The window whose events and APIs are used (default: this realm's globals). */
  window?: PageGlobals;
}

export const DEFAULT_SYNC_LOCK = 'settee-sync';

/**
 * A browser sync's handle: its state, the running `Sync` when this tab syncs, and `stop()`.
 * Resuming relies on the sync's checkpoints, so a sync stopped by going offline loses nothing.
 */
export class BrowserSync extends TypedEmitter<BrowserSyncEvents> {
  private leading = false;
  private online: boolean;
  private stopped = false;
  private current: Sync | undefined;
  /** The previous sync winding down: the next one starts only after it ended (no two writers). */
  private winding: Promise<unknown> = Promise.resolve();
  private readonly stopWatching: () => void;
  private readonly lock: TabLock;
  private reported: BrowserSyncState;

  constructor(
    private readonly startSync: () => Sync,
    window: PageGlobals,
    lockName: string,
    persist: boolean,
  ) {
    super();
    if (persist) {
      void requestPersistentStorage(window.navigator.storage).then((persisted) =>
        this.emit('persisted', { persisted }),
      );
    }
    const network = watchNetwork(window, (online) => this.update(() => (this.online = online)));
    this.online = network.online;
    this.stopWatching = network.stop;
    this.reported = this.state;
    this.lock = holdTabLock(
      window.navigator.locks,
      lockName,
      () => this.update(() => (this.leading = true)),
      (error) => this.fail(error),
    );
  }

  get state(): BrowserSyncState {
    if (this.stopped) return 'stopped';
    if (!this.leading) return 'following';
    return this.online ? 'syncing' : 'offline';
  }

  /** The live sync this tab runs now, if any (its `idle()`, progress and events). */
  get sync(): Sync | undefined {
    return this.current;
  }

  /** Stops syncing in this tab and leaves the lock to the next tab that asks for it. */
  async stop(): Promise<void> {
    this.update(() => (this.stopped = true));
    this.stopWatching();
    this.lock.release();
    await this.winding;
  }

  /** Resolves the next time this tab is in `state` (at once when it is). */
  when(state: BrowserSyncState): Promise<void> {
    return new Promise((resolve) => {
      if (this.state === state) return resolve();
      const listener = (event: BrowserSyncEvents['state']) => {
        if (event.state !== state) return;
        this.off('state', listener);
        resolve();
      };
      this.on('state', listener);
    });
  }

  /** Applies a change of the facts, then starts or stops the sync to match the new state. */
  private update(change: () => void): void {
    change();
    const state = this.state;
    if (state === 'syncing' && !this.current) this.begin();
    if (state !== 'syncing' && this.current) this.end();
    if (state === this.reported) return;
    const previous = this.reported;
    this.reported = state;
    this.emit('state', { state, previous });
  }

  private begin(): void {
    const sync = this.startSync();
    this.current = sync;
    sync.on('change', (change) => this.emit('change', change));
    sync.on('error', ({ error }) => this.fail(error));
  }

  private end(): void {
    const sync = this.current!;
    this.current = undefined;
    sync.cancel();
    const previous = this.winding;
    this.winding = Promise.all([previous, sync.done.catch(() => undefined)]);
  }

  private fail(error: Error): void {
    if (this.stopped) return;
    this.emit('error', { error });
    void this.stop();
  }
}

/**
 * Starts a live two-way sync between `local` and `remote` in a web page, run by one tab of the
 * origin at a time, paused while the window is offline.
 *
 * @example
 * const db = await Database.open('shop');
 * const handle = syncInBrowser(db, 'https://sync.example.com/shop', { credentials: 'include', persist: true });
 * handle.on('state', ({ state }) => (statusBadge.textContent = state));
 */
export function syncInBrowser(
  local: Endpoint,
  remote: Endpoint,
  options: BrowserSyncOptions = {},
): BrowserSync {
  const { lock, credentials, persist, window = pageGlobals(), ...syncOptions } = options;
  const endpointOptions: EndpointOptions =
    credentials === undefined
      ? syncOptions
      : { ...syncOptions, fetch: pageFetch(credentials, syncOptions.fetch) };
  const peers: [Peer, Peer] = [peerOf(local, endpointOptions), peerOf(remote, endpointOptions)];
  return new BrowserSync(
    () => new Sync(peers[0], peers[1], { ...syncOptions, live: true, retry: true }),
    window,
    lock ?? DEFAULT_SYNC_LOCK,
    persist === true,
  );
}
