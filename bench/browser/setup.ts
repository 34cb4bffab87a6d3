/**
 * What the browser benchmarks share: a page at `/` that loads PouchDB's two IndexedDB builds and
 * the bench bundle (`bench/browser/page.ts`), and a headless Chromium to open it in.
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, chromium } from 'playwright-core';
import type { Dataset } from '../lib.js';
import { pageBundle } from './profile.js';

/** Serves the page; `minify` false keeps function names readable in profiles. */
export async function servePage(
  root: string,
  minify: boolean,
): Promise<{ server: http.Server; origin: string }> {
  const entry = fileURLToPath(new URL('./page.ts', import.meta.url));
  const code = await pageBundle(root, entry, 'SetteeBench', minify);
  const dist = join(root, 'node_modules/pouchdb/dist');
  const scripts: Record<string, string> = {
    '/pouchdb.min.js': readFileSync(join(dist, 'pouchdb.min.js'), 'utf8'),
    '/pouchdb.indexeddb.min.js': readFileSync(join(dist, 'pouchdb.indexeddb.min.js'), 'utf8'),
    '/bench.js': code,
  };
  const html = `<!doctype html>${Object.keys(scripts)
    .map((src) => `<script src="${src}"></script>`)
    .join('')}`;
  const server = http.createServer((request, response) => {
    const script = scripts[request.url ?? ''];
    if (script !== undefined) response.writeHead(200, { 'content-type': 'text/javascript' }).end(script);
    else response.writeHead(200, { 'content-type': 'text/html' }).end(html);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

/** Debian's Chromium, headless. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--no-first-run',
      '--disable-background-networking',
    ],
  });
}

/** `size` new documents (ids `local-…`) in batches of `batch`, built before the timed steps. */
export function localBatches(data: Dataset, size: number, batch: number): object[][] {
  const batches: object[][] = [];
  for (let start = 0; start < size; start += batch) {
    const end = Math.min(size, start + batch);
    batches.push(
      Array.from({ length: end - start }, (_, k) => ({
        _id: `local-${data.ids[start + k]}`,
        ...data.body(start + k),
      })),
    );
  }
  return batches;
}
