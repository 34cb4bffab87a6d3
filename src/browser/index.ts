/** What a web app needs around sync: one syncing tab, offline pauses, shared writes, persistence. */
export { type CredentialsMode, logIn, logOut, pageFetch } from './fetch.js';
export { type NetworkWindow, watchNetwork } from './network.js';
export type { PageGlobals, PageNavigator } from './page.js';
export { requestPersistentStorage, type StorageManagerLike } from './persist.js';
export {
  BrowserSync,
  type BrowserSyncEvents,
  type BrowserSyncOptions,
  type BrowserSyncState,
  DEFAULT_SYNC_LOCK,
  syncInBrowser,
} from './sync-in-browser.js';
export { holdTabLock, type LockManagerLike, type TabLock } from './tab-lock.js';
export { type OpenTabChannel, shareWritesAcrossTabs, type TabChannel } from './tab-writes.js';
