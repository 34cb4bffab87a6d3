import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** What the fake server does with one request; `n` counts requests from 0. */
export type Behavior = (req: IncomingMessage, res: ServerResponse, n: number) => void;

export interface FakeServer {
  url: string;
  /** `METHOD path?query` of every request received, in order. */
  requests: string[];
  close(): Promise<void>;
}

/** A tiny misbehaving HTTP server on 127.0.0.1, for the failures a real server rarely shows. */
export async function startFakeServer(behave: Behavior): Promise<FakeServer> {
  const requests: string[] = [];
  const server = http.createServer((req, res) => {
    const n = requests.push(`${req.method} ${req.url}`) - 1;
    req.resume();
    req.on('end', () => behave(req, res, n));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export const json =
  (body: unknown, status = 200, headers: Record<string, string> = {}): Behavior =>
  (_req, res) => {
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify(body));
  };

export const fail503: Behavior = json({ error: 'service_unavailable', reason: 'try later' }, 503);

/** Drops the connection without a response (ECONNRESET / "other side closed" for the client). */
export const reset: Behavior = (req) => req.socket.destroy();

/** Never answers. */
export const stall: Behavior = () => {};

/** Sends headers and the beginning of a body, then goes silent. */
export const stallMidBody: Behavior = (_req, res) => {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.write('{"results":[');
};

/** A close-delimited body cut in the middle of its JSON (no length, no chunking: nothing to notice). */
export const truncated: Behavior = (req) => {
  req.socket.end('HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n{"ok":tr');
};

/** The first `n` requests behave one way, the rest another. */
export const firstThen =
  (n: number, first: Behavior, then: Behavior): Behavior =>
  (req, res, i) =>
    (i < n ? first : then)(req, res, i);
