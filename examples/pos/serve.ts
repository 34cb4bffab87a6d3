/**
 * Serves the till app for a Settee server: builds it (build.ts), serves its files on a port of
 * its own, and prints the address to open and the `settee serve` line that lets the app's origin
 * call the server with its cookie session.
 *
 *   npx tsx examples/pos/serve.ts [--port 8080] [--server http://127.0.0.1:5984]
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { type AppFile, buildApp } from './build.js';

export interface ServedApp {
  /** The app's origin, e.g. `http://127.0.0.1:8080`. */
  url: string;
  close(): Promise<void>;
}

/** Builds the app for the Settee server at `server` and serves it on `host:port` (0: a free port). */
export async function serveApp(options: {
  server: string;
  port?: number;
  host?: string;
}): Promise<ServedApp> {
  const files = await buildApp(options.server);
  const site = http.createServer((request, response) => answer(files, request, response));
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    site.once('error', reject);
    site.listen(options.port ?? 8080, host, resolve);
  });
  const { port } = site.address() as AddressInfo;
  return {
    url: `http://${host}:${port}`,
    close: () =>
      new Promise((resolve) => {
        site.closeAllConnections();
        site.close(() => resolve());
      }),
  };
}

function answer(
  files: ReadonlyMap<string, AppFile>,
  request: http.IncomingMessage,
  response: http.ServerResponse,
) {
  const urlPath = new URL(request.url ?? '/', 'http://app').pathname;
  const file = files.get(urlPath === '/index.html' ? '/' : urlPath);
  if (!file || (request.method !== 'GET' && request.method !== 'HEAD')) {
    response.writeHead(404, { 'content-type': 'text/plain' }).end('Not found');
    return;
  }
  // Revalidated on every load, so an online till runs the newest build; the worker keeps a copy.
  response.writeHead(200, { 'content-type': file.type, 'cache-control': 'no-cache' });
  response.end(request.method === 'HEAD' ? undefined : file.body);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '8080' },
      server: { type: 'string', default: 'http://127.0.0.1:5984' },
    },
  });
  const app = await serveApp({ server: values.server, port: Number(values.port) });
  console.log(`The till app: ${app.url}`);
  console.log(`Its Settee server must allow that origin:\n  settee serve --cors-origin ${app.url}`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
