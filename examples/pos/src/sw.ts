/**
 * The service worker: keeps the app shell (the page, its script chunks, its style) in a cache
 * named after the build, so the till opens with the network off. Requests to other origins —
 * the Settee server — are left alone: the sync has its own offline handling.
 *
 * `SHELL` and `VERSION` are written in by the build (examples/pos/build.ts).
 */
declare const SHELL: readonly string[];
declare const VERSION: string;

/** The members of a service worker's scope and events used here (the DOM library lacks them). */
interface ExtendableEvent extends Event {
  waitUntil(work: Promise<unknown>): void;
}
interface FetchEvent extends ExtendableEvent {
  readonly request: Request;
  respondWith(response: Promise<Response>): void;
}
interface WorkerScope {
  addEventListener(type: 'install' | 'activate', listener: (event: ExtendableEvent) => void): void;
  addEventListener(type: 'fetch', listener: (event: FetchEvent) => void): void;
  skipWaiting(): Promise<void>;
  readonly clients: { claim(): Promise<void> };
  readonly location: Location;
}

const scope = self as unknown as WorkerScope;
const CACHE = `pos-shell-${VERSION}`;

scope.addEventListener('install', (event) => {
  event.waitUntil(
    caches
      .open(CACHE)
      .then((cache) => cache.addAll([...SHELL]))
      .then(() => scope.skipWaiting()),
  );
});

// A new build's worker drops the caches of the builds before it.
scope.addEventListener('activate', (event) => {
  const stale = async () => {
    for (const name of await caches.keys())
      if (name.startsWith('pos-shell-') && name !== CACHE) await caches.delete(name);
  };
  event.waitUntil(stale().then(() => scope.clients.claim()));
});

scope.addEventListener('fetch', (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== 'GET' || url.origin !== scope.location.origin) return;
  event.respondWith(fromShell(event.request));
});

/**
 * The network first, so a till online always runs the newest build; the cached shell when the
 * network fails. A navigation gets the page itself (any path of the app opens it).
 */
async function fromShell(request: Request): Promise<Response> {
  try {
    return await fetch(request);
  } catch (error) {
    const cache = await caches.open(CACHE);
    const cached = await cache.match(request.mode === 'navigate' ? './' : request, { ignoreSearch: true });
    if (cached) return cached;
    throw error;
  }
}
