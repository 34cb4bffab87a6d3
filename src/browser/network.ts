/**
 * The browser's own word on connectivity: the window's `online` and `offline` events. A sync
 * that only learns of the network from failed requests keeps retrying into a dead link and
 * resumes only when its backoff next fires; these events say at once.
 */

/** What the network watch needs of a window: its events and `navigator.onLine`. */
export interface NetworkWindow {
  addEventListener(type: 'online' | 'offline', listener: () => void): void;
  removeEventListener(type: 'online' | 'offline', listener: () => void): void;
  readonly navigator: { readonly onLine: boolean };
}

/**
 * Calls `onChange(true)` when the window goes online and `onChange(false)` when it goes offline;
 * returns whether it is online now and the call that stops watching.
 */
export function watchNetwork(
  window: NetworkWindow,
  onChange: (online: boolean) => void,
): { online: boolean; stop: () => void } {
  const online = () => onChange(true);
  const offline = () => onChange(false);
  window.addEventListener('online', online);
  window.addEventListener('offline', offline);
  return {
    online: window.navigator.onLine,
    stop: () => {
      window.removeEventListener('online', online);
      window.removeEventListener('offline', offline);
    },
  };
}
