/**
 * How the HTTP client puts a request on the wire, behind one small interface:
 *
 * - `fetchTransport`: any `fetch` — a browser's, or one a caller wraps to watch or alter traffic.
 * - `undiciTransport` (`undici-transport.ts`, the default in Node): undici's `request` over a
 *   keep-alive pool, about half the client CPU per request of Node's `fetch`.
 *
 * Which one a client without a `fetch` of its own uses is installed by the platform's entry, as
 * `Database.open`'s storage is (`storage/platform.ts`): this module imports nothing of Node, so
 * the HTTP client runs unchanged in browsers. Nothing installed: the global `fetch`.
 */

export interface TransportRequest {
  method: string;
  headers: Record<string, string>;
  body?: string;
  signal: AbortSignal;
}

export interface TransportResponse {
  readonly status: number;
  /** A response header by its lowercase name (repeated headers joined with `, `). */
  header(name: string): string | undefined;
  /** Every `Set-Cookie` line, unjoined. */
  setCookies(): string[];
  /** The body's bytes as they arrive. Read it once, or `discard` it. */
  body(): AsyncIterable<Uint8Array>;
  /** Lets go of an unread body, so the connection can serve the next request. */
  discard(): Promise<void>;
}

export type Transport = (url: string, request: TransportRequest) => Promise<TransportResponse>;

export function fetchTransport(fetchImpl: typeof fetch): Transport {
  return async (url, { method, headers, body, signal }) => {
    const raw = await fetchImpl(url, { method, headers, body, signal });
    return {
      status: raw.status,
      header: (name) => raw.headers.get(name) ?? undefined,
      setCookies: () => raw.headers.getSetCookie(),
      body: () => webStreamChunks(raw.body),
      discard: async () => {
        if (raw.body && !raw.body.locked) await raw.body.cancel().catch(() => {});
      },
    };
  };
}

async function* webStreamChunks(stream: ReadableStream<Uint8Array> | null): AsyncGenerator<Uint8Array> {
  const reader = stream?.getReader();
  if (!reader) return;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      yield value;
    }
  } finally {
    reader.releaseLock();
  }
}

let installedDefault: (() => Transport) | undefined;

/**
 * Makes `make` the transport of HTTP clients given no `fetch` (the Node entry installs undici's;
 * the browser entry leaves the page's `fetch`). The last installed wins.
 */
export function installDefaultTransport(make: () => Transport): void {
  installedDefault = make;
}

/** The transport of a client given no `fetch`: the installed one, else the global `fetch`. */
export function defaultTransport(): Transport {
  return installedDefault ? installedDefault() : fetchTransport((...args) => globalThis.fetch(...args));
}
