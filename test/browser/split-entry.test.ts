/**
 * The browser entry split into chunks, as a page loads it in headless Chromium: the page
 * fetches the entry and the chunks it imports, and nothing else until a call needs more — the
 * first `find` with a `$regex` fetches the query engine and the `$regex` engine, and answers.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { launchChromium } from '../ui/fixtures.js';
import { BROWSER_ENTRY, type BrowserBundle, bundleForBrowser } from './browser-bundle.js';

let bundle: BrowserBundle;
let pages: http.Server;
let origin: string;
let browser: Browser;

beforeAll(async () => {
  bundle = await bundleForBrowser(BROWSER_ENTRY);
  const files = new Map(bundle.chunks.map((chunk) => [`/${path.basename(chunk.file)}`, chunk.contents]));
  pages = http.createServer((request, response) => {
    const file = files.get(request.url ?? '');
    if (file) return response.writeHead(200, { 'content-type': 'text/javascript' }).end(file);
    response
      .writeHead(200, { 'content-type': 'text/html' })
      .end('<!doctype html><script type="module">window.Settee = await import("/browser.js")</script>');
  });
  await new Promise<void>((resolve) => pages.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(pages.address() as AddressInfo).port}`;
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await new Promise((resolve) => pages?.close(resolve));
});

/** The file name of the chunk that bundles `input` (a source file, or a package's folder). */
function chunkHolding(input: string): string | undefined {
  const chunk = bundle.chunks.find((found) => found.inputs.some((file) => file.startsWith(input)));
  return chunk && path.basename(chunk.file);
}

describe('the split browser entry in Chromium', () => {
  it('fetches what a call needs when it is first made', async () => {
    const page = await browser.newPage();
    const fetched: string[] = [];
    page.on('request', (request) => fetched.push(new URL(request.url()).pathname.slice(1)));
    await page.goto(origin);
    await page.waitForFunction(() => 'Settee' in globalThis);
    const upFront = bundle.upFront.map((chunk) => path.basename(chunk.file));
    expect(fetched.filter((file) => file.endsWith('.js')).sort()).toEqual([...upFront].sort());

    const found = await page.evaluate(async () => {
      const { Database } = (globalThis as unknown as { Settee: typeof import('../../src/browser.js') })
        .Settee;
      const db = await Database.open('split-entry');
      await db.bulkDocs(['anna', 'bob', 'alice'].map((name) => ({ _id: name, name })));
      const { docs } = await db.find({ selector: { name: { $regex: '^a' } }, fields: ['_id'] });
      return docs.map((doc) => doc._id).sort();
    });
    expect(found).toEqual(['alice', 'anna']);
    const later = fetched.filter((file) => file.endsWith('.js') && !upFront.includes(file));
    expect(later).toContain(chunkHolding('src/database/queries/engine.ts'));
    expect(later).toContain(chunkHolding('node_modules/re2js/'));
    await page.close();
  });
});
