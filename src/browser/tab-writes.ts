/**
 * Every tab of an origin opens its own `Database` over the same IndexedDB database, and a write
 * in one tab — the syncing tab pulling from the server, or the app saving a sale — must wake the
 * live feeds and forget the cached trees of all the others at once. The Storage interface already
 * has the hook for writes another process committed (`onExternalWrite`, which several servers on
 * one PostgreSQL use); here a BroadcastChannel carries each tab's writes to that hook in the
 * other tabs.
 */
import type { ExternalWrite, Storage } from '../storage/types.js';
import { pageGlobals } from './page.js';

/** The part of a BroadcastChannel used here (the page's, or Node's in tests). */
export interface TabChannel {
  postMessage(message: unknown): void;
  addEventListener(type: 'message', listener: (event: { data: unknown }) => void): void;
  close(): void;
}

export type OpenTabChannel = (name: string) => TabChannel;

const openBroadcastChannel: OpenTabChannel = (name) => new (pageGlobals().BroadcastChannel)(name);

/**
 * `storage` as before, but each committed `writeDocs` is announced on the BroadcastChannel
 * `channelName`, and what other tabs announce there reaches `onExternalWrite` listeners (along
 * with any external writes `storage` reports itself). Closing the storage closes the channel.
 */
export function shareWritesAcrossTabs(
  storage: Storage,
  channelName: string,
  openChannel: OpenTabChannel = openBroadcastChannel,
): Storage {
  const channel = openChannel(channelName);
  const listeners = new Set<(write: ExternalWrite) => void>();
  channel.addEventListener('message', ({ data }) => {
    if (isExternalWrite(data)) for (const listener of listeners) listener(data);
  });
  const overrides: Partial<Storage> = {
    async writeDocs(writes, blobs, history) {
      const seqs = await storage.writeDocs(writes, blobs, history);
      if (seqs.length > 0) {
        const announced: ExternalWrite = { seq: Math.max(...seqs), ids: writes.map((w) => w.record.id) };
        channel.postMessage(announced);
      }
      return seqs;
    },
    onExternalWrite(listener) {
      listeners.add(listener);
      const stopInner = storage.onExternalWrite?.(listener);
      return () => {
        listeners.delete(listener);
        stopInner?.();
      };
    },
    async close() {
      channel.close();
      await storage.close();
    },
    async destroy() {
      channel.close();
      await storage.destroy();
    },
  };
  return withOverrides(storage, overrides);
}

/** `target` with some methods replaced; every other member read from `target` itself. */
function withOverrides<T extends object>(target: T, overrides: Partial<T>): T {
  return new Proxy(target, {
    get(inner, key) {
      if (Object.hasOwn(overrides, key)) return overrides[key as keyof T];
      const value: unknown = Reflect.get(inner, key, inner);
      return typeof value === 'function' ? value.bind(inner) : value;
    },
  });
}

function isExternalWrite(data: unknown): data is ExternalWrite {
  if (typeof data !== 'object' || data === null) return false;
  const { seq, ids } = data as Record<string, unknown>;
  return (
    typeof seq === 'number' &&
    (ids === undefined || (Array.isArray(ids) && ids.every((id) => typeof id === 'string')))
  );
}
