/**
 * How the HTTP client puts a request on the wire. Two ways behind one small interface:
 *
 * - `undiciTransport` (the default in Node): undici's `request` over a shared keep-alive pool.
 *   A replication is a long run of requests with bodies of a few hundred KB; `fetch` builds a
 *   WHATWG Request, Headers and byte streams around each, and sends a string body as a stream
 *   (headers and body in two socket writes). `request` writes them together and hands the body
 *   over as plain chunks: about half the client CPU per request.
 * - `fetchTransport`: any `fetch` — a browser's, or one a caller wraps to watch or alter traffic.
 */
import { Agent, request as undiciRequest } from 'undici';

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

/**
 * One pool for every client of this process, as `fetch`'s global one is. Its own timeouts are
 * off: the HTTP client aborts a request that stops making progress (a longpoll may rightly wait
 * for minutes between heartbeats, a stalled body must not wait for undici's five).
 */
let sharedAgent: Agent | undefined;

export function undiciTransport(): Transport {
  return async (url, { method, headers, body, signal }) => {
    sharedAgent ??= new Agent({ headersTimeout: 0, bodyTimeout: 0 });
    const raw = await undiciRequest(url, {
      method: method as 'GET',
      headers,
      body,
      signal,
      dispatcher: sharedAgent,
    });
    return {
      status: raw.statusCode,
      header: (name) => {
        const value = raw.headers[name];
        return Array.isArray(value) ? value.join(', ') : value;
      },
      setCookies: () => {
        const value = raw.headers['set-cookie'];
        return value === undefined ? [] : Array.isArray(value) ? value : [value];
      },
      body: () => raw.body,
      discard: async () => {
        // dump() reads a short remainder to keep the connection, and destroys it otherwise.
        if (!raw.body.readableEnded) await raw.body.dump().catch(() => {});
      },
    };
  };
}
