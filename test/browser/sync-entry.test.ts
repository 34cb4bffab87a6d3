/**
 * `syncInBrowser` in headless Chromium, from the browser entry as esbuild bundles it: the sync
 * stops on the window's `offline` event and resumes from its checkpoints on `online`, and of the
 * tabs of an origin exactly one syncs (a Web Lock), the next taking over when it closes.
 * Both ends are databases of a real Settee server, so the page's network is all that changes.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { ADMIN, startServer, type TestServer } from '../server/harness.js';
import { launchChromium } from '../ui/fixtures.js';
import { BROWSER_ENTRY, bundleForBrowser } from './browser-bundle.js';

let t: TestServer;
let pages: http.Server;
let origin: string;
let browser: Browser;

beforeAll(async () => {
  const { code } = await bundleForBrowser(BROWSER_ENTRY, 'Settee');
  pages = http.createServer((request, response) => {
    if (request.url === '/settee.js')
      return response.writeHead(200, { 'content-type': 'text/javascript' }).end(code);
    response
      .writeHead(200, { 'content-type': 'text/html' })
      .end('<!doctype html><script src="/settee.js"></script>');
  });
  await new Promise<void>((resolve) => pages.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(pages.address() as AddressInfo).port}`;
  t = await startServer({ corsOrigins: [origin] });
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await t?.stop();
  await new Promise((resolve) => pages?.close(resolve));
});

/** Creates the server databases `a` and `b`, fresh for each test. */
async function twoDatabases(prefix: string): Promise<{ a: string; b: string }> {
  const names = { a: `${prefix}-a`, b: `${prefix}-b` };
  for (const name of Object.values(names))
    expect((await t.fetch(`/${name}`, { method: 'PUT' })).status).toBe(201);
  return names;
}

async function openPage(context: BrowserContext): Promise<Page> {
  const page = await context.newPage();
  await page.goto(origin);
  return page;
}

/** In `page`: `window.handle`, a browser sync of the server's `a` and `b` under the Web Lock `lock`. */
async function startSync(page: Page, dbs: { a: string; b: string }, lock: string): Promise<void> {
  await page.evaluate(
    ({ url, dbs, lock, auth }) => {
      const w = globalThis as unknown as { Settee: typeof import('../../src/browser.js'); handle: unknown };
      w.handle = w.Settee.syncInBrowser(`${url}/${dbs.a}`, `${url}/${dbs.b}`, { auth, lock });
    },
    { url: t.url, dbs, lock, auth: { username: ADMIN.name, password: ADMIN.password } },
  );
}

type Handle = import('../../src/browser.js').BrowserSync;

/** Runs `fn` on the page's sync handle. */
function onHandle<R, A>(page: Page, fn: (handle: Handle, arg: A) => R | Promise<R>, arg: A): Promise<R> {
  return page.evaluate(
    ({ source, arg }) => {
      const handle = (globalThis as unknown as { handle: Handle }).handle;
      return (new Function(`return (${source})`)() as typeof fn)(handle, arg as A);
    },
    { source: fn.toString(), arg },
  );
}

const stateOf = (page: Page) => onHandle(page, (handle) => handle.state, null);
const when = (page: Page, state: string) =>
  onHandle(page, (handle, s) => handle.when(s as Handle['state']), state);

/** Writes a document to the server database `db`. */
async function write(db: string, id: string): Promise<void> {
  expect((await t.fetch(`/${db}/${id}`, { method: 'PUT', body: '{}' })).status).toBe(201);
}

/** Waits, on the server's longpoll feed, until `db` holds the document `id`. */
async function arrival(db: string, id: string): Promise<void> {
  let since: unknown = 0;
  for (;;) {
    const response = await t.fetch(`/${db}/_changes?feed=longpoll&timeout=10000&since=${since}`);
    const feed = (await response.json()) as { results: { id: string }[]; last_seq: unknown };
    if (feed.results.some((row) => row.id === id)) return;
    since = feed.last_seq;
  }
}

describe('syncInBrowser in Chromium', () => {
  it("stops on the window's offline event and resumes on online", async () => {
    const dbs = await twoDatabases('network');
    const context = await browser.newContext();
    const page = await openPage(context);
    await startSync(page, dbs, 'network');
    await when(page, 'syncing');
    await write(dbs.a, 'before');
    await arrival(dbs.b, 'before');

    await onHandle(
      page,
      (handle) => ((globalThis as unknown as { previous: unknown }).previous = handle.sync),
      null,
    );
    await context.setOffline(true);
    await when(page, 'offline');
    // The sync was cancelled because of the event — a failed request would only back it off.
    const ended = await onHandle(
      page,
      async (handle) => {
        const previous = (globalThis as unknown as { previous: NonNullable<Handle['sync']> }).previous;
        const { push, pull } = await previous.done;
        return { running: handle.sync !== undefined, push: push.status, pull: pull.status };
      },
      null,
    );
    expect(ended).toEqual({ running: false, push: 'cancelled', pull: 'cancelled' });

    await write(dbs.a, 'while-offline');
    await context.setOffline(false);
    await when(page, 'syncing');
    await arrival(dbs.b, 'while-offline');
    await context.close();
  });

  it('syncs in one tab of the origin, and in the next one when that tab closes', async () => {
    const dbs = await twoDatabases('tabs');
    const context = await browser.newContext();
    const [first, second] = [await openPage(context), await openPage(context)];
    await startSync(first, dbs, 'tabs');
    await when(first, 'syncing');
    await startSync(second, dbs, 'tabs');
    expect(await stateOf(second)).toBe('following');

    await first.close();
    await when(second, 'syncing');
    await write(dbs.a, 'after-handover');
    await arrival(dbs.b, 'after-handover');
    await context.close();
  });
});
