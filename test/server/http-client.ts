/**
 * Raw HTTP helpers for the server tests: `node:http` requests that send the path exactly as
 * given (no URL normalisation), and streaming reads of live responses (continuous feeds).
 */
import http from 'node:http';
import { BASIC, type TestServer } from './harness.js';

/**
 * A JSON request to a test server as `authorization` (null: anonymous), its body sent as JSON
 * when given: the answer's status and parsed body.
 */
export async function callJson(
  base: string,
  authorization: string | null,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(base + path, {
    method,
    headers: {
      ...(authorization === null ? {} : { authorization }),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  text: string;
  /** The body parsed as JSON; undefined when it is not JSON. */
  json: unknown;
}

export interface RawOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** Send Basic auth as the admin (default true). */
  auth?: boolean;
}

function requestOptions(base: string, path: string, options: RawOptions): http.RequestOptions {
  const { hostname, port } = new URL(base);
  const headers: Record<string, string> = { ...(options.auth === false ? {} : { authorization: BASIC }) };
  // A body always goes with its length (Node sends none for GET/DELETE otherwise).
  if (options.body !== undefined) headers['content-length'] = String(Buffer.byteLength(options.body));
  Object.assign(headers, options.headers ?? {});
  return { hostname, port, path, method: options.method ?? 'GET', headers, agent: false };
}

/** One request with the path sent byte for byte; the whole response collected. */
export function raw(base: string, path: string, options: RawOptions = {}): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const request = http.request(requestOptions(base, path, options), (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        const text = body.toString('utf8');
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, text, json });
      });
    });
    request.on('error', reject);
    request.end(options.body);
  });
}

/** A response being read as it arrives: everything received so far, and waits for more. */
export interface LiveResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** All text received so far. */
  readonly received: string;
  /** Resolves once the received text satisfies `test` (rejects after `ms`). */
  until(test: (received: string) => boolean, ms?: number): Promise<string>;
  /** Resolves when the server ends the response, with all text received. */
  ended: Promise<string>;
  /** Drops the connection from the client side. */
  destroy(): void;
}

/** Opens a streaming request and resolves once the response headers are in. */
export function openLive(base: string, path: string, options: RawOptions = {}): Promise<LiveResponse> {
  return new Promise((resolve, reject) => {
    const request = http.request(requestOptions(base, path, options), (res) => {
      let received = '';
      const waiters = new Set<() => void>();
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        received += chunk;
        for (const wake of waiters) wake();
      });
      const ended = new Promise<string>((done, fail) => {
        res.on('end', () => done(received));
        res.on('error', fail);
        res.on('close', () => done(received));
      });
      ended.catch(() => undefined);
      resolve({
        status: res.statusCode ?? 0,
        headers: res.headers,
        get received() {
          return received;
        },
        until(test, ms = 5000) {
          return new Promise((done, fail) => {
            const check = () => {
              if (!test(received)) return;
              clearTimeout(timer);
              waiters.delete(check);
              done(received);
            };
            const timer = setTimeout(() => {
              waiters.delete(check);
              fail(new Error(`timed out waiting; received so far: ${JSON.stringify(received)}`));
            }, ms);
            waiters.add(check);
            check();
          });
        },
        ended,
        destroy: () => request.destroy(),
      });
    });
    request.on('error', reject);
    request.end(options.body);
  });
}

/** The JSON lines of a continuous feed (heartbeat blank lines dropped). */
export function jsonLines(text: string): unknown[] {
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line));
}

/**
 * Waits until the server's own timers have run for at least `beats` heartbeats of `everyMs`: a
 * control feed on `db` with that heartbeat sends them. A test proving that a timer did not fire,
 * or did not fire too often, compares against this fact instead of sleeping for a guess.
 */
export async function heartbeatsSent(base: string, db: string, beats: number, everyMs = 10): Promise<void> {
  const control = await openLive(base, `/${db}/_changes?feed=continuous&since=now&heartbeat=${everyMs}`);
  try {
    await control.until((text) => newlines(text) >= beats);
  } finally {
    control.destroy();
  }
}

/** How many newlines a feed has sent (heartbeats, or rows of a continuous feed). */
export const newlines = (text: string) => (text.match(/\n/g) ?? []).length;

/**
 * How many live readers (changes feeds, replications) wait on `db`'s next write right now: the
 * fact that a longpoll or continuous feed has found nothing new and is parked. It reads the
 * database's write notifier, which no API shows.
 */
export async function writeWaiters(t: TestServer, db: string): Promise<number> {
  const database = await t.server.services.registry.get(db);
  return (database as unknown as { notifier: { waiters: unknown[] } }).notifier.waiters.length;
}

/** The server's live `_changes` feeds open now (`clients_requesting_changes` in `_stats`). */
export async function openFeeds(t: TestServer): Promise<number> {
  const response = await t.fetch('/_node/_local/_stats/couchdb/httpd/clients_requesting_changes');
  return ((await response.json()) as { value: number }).value;
}
