/**
 * Persistent storage: without it a browser may evict an origin's IndexedDB under storage
 * pressure — for an offline-first app, the sales not yet synced. Browsers grant it on their own
 * terms (Chromium by engagement, Firefox by asking the user), so it is asked only when the app
 * says so, and the answer is reported rather than assumed.
 */
import { pageGlobals } from './page.js';

/** The part of `navigator.storage` used here. */
export interface StorageManagerLike {
  persist?(): Promise<boolean>;
  persisted?(): Promise<boolean>;
}

/**
 * Asks the browser to keep this origin's storage under pressure (`navigator.storage.persist()`);
 * resolves whether it is persistent now (false where the API is missing).
 *
 * @example
 * if (!(await requestPersistentStorage())) showBanner('Sync often: this browser may clear offline data');
 */
export async function requestPersistentStorage(
  storage: StorageManagerLike | undefined = pageGlobals().navigator?.storage,
): Promise<boolean> {
  if (!storage?.persist) return false;
  if (storage.persisted && (await storage.persisted())) return true;
  return storage.persist();
}
