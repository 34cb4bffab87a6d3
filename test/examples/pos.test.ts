/**
 * The point-of-sale example (examples/pos) end to end, as a shop runs it: the setup script on a
 * real Settee server, the app built and served by its own serve.ts, two tills in two Chromium
 * contexts, each logged in as its own user. Both tills go offline, sell the same product, edit
 * it (the same field and different ones), reload the page with the network off and the app's
 * own server gone; the Settee server restarts meanwhile; then both come back online and every
 * replica must hold the same ledger, exact stock and the same merged product, with no conflict
 * left open.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveApp, type ServedApp } from '../../examples/pos/serve.js';
import { setUpShop } from '../../examples/pos/setup.js';
import { SetteeServer } from '../../src/server/app.js';
import { freePort } from '../docs/run-example.js';
import { ADMIN } from '../server/harness.js';
import { launchChromium, logInAs } from '../ui/fixtures.js';

const PASSWORD = 'till-secret';
const TILLS = ['till-1', 'till-2'];
const COFFEE = 'product:coffee';

let dataDir: string;
let server: SetteeServer;
let serverUrl: string;
let app: ServedApp;
let browser: Browser;
const problems: string[] = [];

/** A Settee server as `settee serve --cors-origin ORIGIN` runs it, on `port` (0: any free one). */
async function startSettee(port: number, origin: string): Promise<void> {
  server = await SetteeServer.create({
    dataDir,
    port,
    host: '127.0.0.1',
    admin: `${ADMIN.name}:${ADMIN.password}`,
    passwordIterations: 1000,
    corsOrigins: [origin],
  });
  serverUrl = await server.listen();
}

beforeAll(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'settee-pos-'));
  const appPort = await freePort();
  await startSettee(0, `http://127.0.0.1:${appPort}`);
  app = await serveApp({ server: serverUrl, port: appPort });
  await setUpShop({
    server: serverUrl,
    admin: ADMIN,
    tills: TILLS.map((name) => ({ name, password: PASSWORD })),
  });
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await app?.close();
  await server?.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

/** A JSON request to the Settee server, as `who` (Basic auth). */
async function call(
  urlPath: string,
  init: RequestInit = {},
  who = { name: ADMIN.name, password: ADMIN.password },
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${serverUrl}${urlPath}`, {
    ...init,
    headers: {
      authorization: `Basic ${Buffer.from(`${who.name}:${who.password}`).toString('base64')}`,
      'content-type': 'application/json',
    },
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/** A till: a browser profile of its own, logged in as its user, the app ready offline. */
interface OpenTill {
  name: string;
  context: BrowserContext;
  page: Page;
}

async function openTill(name: string): Promise<OpenTill> {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  page.on('pageerror', (error) => problems.push(`${name}: ${error.message}`));
  await page.goto(app.url);
  await logInAs(page, name, PASSWORD);
  await page.getByText('Works offline').waitFor();
  await page.locator(`[data-product="${COFFEE}"] .stock`).waitFor();
  return { name, context, page };
}

/** Waits until the Sell tab shows coffee's stock as `count`. */
async function stockShown(page: Page, count: number): Promise<void> {
  await page
    .locator(`[data-product="${COFFEE}"] .stock`)
    .filter({ hasText: new RegExp(`^${count} in stock$`) })
    .waitFor();
}

const tab = (page: Page, name: string) => page.getByRole('tab', { name }).click();

/** Sells `qty` coffees in one sale; returns the sale's id. */
async function sellCoffee(page: Page, qty: number): Promise<string> {
  await tab(page, 'Sell');
  const before = await page.locator('#last-sale').getAttribute('data-sale');
  for (let i = 0; i < qty; i++) await page.locator(`[data-product="${COFFEE}"]`).click();
  await page.locator('#charge').click();
  const recorded = page.locator(`#last-sale[data-sale]:not([data-sale="${before ?? ''}"])`);
  await recorded.waitFor();
  return (await recorded.getAttribute('data-sale'))!;
}

/** Sells coffee in one sale per quantity, one after the other; returns the sales' ids. */
async function sellEach(page: Page, quantities: number[]): Promise<string[]> {
  const ids: string[] = [];
  for (const qty of quantities) ids.push(await sellCoffee(page, qty));
  return ids;
}

/** Edits coffee in the Products tab, then waits until the table shows the edit. */
async function editCoffee(page: Page, fields: { name?: string; price?: string; category?: string }) {
  await tab(page, 'Products');
  await page.locator(`tr[data-product="${COFFEE}"]`).getByRole('button', { name: 'Edit' }).click();
  for (const [field, value] of Object.entries(fields)) await page.locator(`#edit-${field}`).fill(value);
  await page.getByRole('button', { name: 'Save' }).click();
  const [field, value] = Object.entries(fields)[0]!;
  await page
    .locator(`tr[data-product="${COFFEE}"] td[data-field="${field}"]`)
    .filter({ hasText: value })
    .waitFor();
}

/** The ids of the sales the till shows in the Sales tab, once it shows `count` of them. */
async function salesShown(page: Page, count: number): Promise<string[]> {
  await tab(page, 'Sales');
  await page
    .locator('#sales-summary')
    .filter({ hasText: `${count} sales,` })
    .waitFor();
  const ids = await Promise.all(
    (await page.locator('tr[data-id]').all()).map((row) => row.getAttribute('data-id')),
  );
  return ids.map(String).sort();
}

/** Waits until the till's Products tab shows coffee at revision `rev`; answers its cells. */
async function productShown(page: Page, rev: string): Promise<Record<string, string>> {
  await tab(page, 'Products');
  const row = page.locator(`tr[data-product="${COFFEE}"][data-rev="${rev}"]`);
  await row.waitFor();
  const cells = ['name', 'price', 'category', 'stock'].map(async (field) => [
    field,
    await row.locator(`td[data-field="${field}"]`).textContent(),
  ]);
  return Object.fromEntries(await Promise.all(cells)) as Record<string, string>;
}

/**
 * Waits until `done(await read())` holds, bounded by `limitMs`: each round waits on the server's
 * changes feed (longpoll) for its next change, or a second at most, for what the tills show.
 */
async function settles<T>(read: () => Promise<T>, done: (value: T) => boolean, limitMs = 20_000) {
  const deadline = Date.now() + limitMs;
  let since: unknown = 0;
  for (let value = await read(); !done(value); value = await read()) {
    if (Date.now() > deadline) throw new Error(`the replicas did not settle: ${JSON.stringify(value)}`);
    const feed = `/shop/_changes?feed=longpoll&timeout=1000&since=${encodeURIComponent(String(since))}`;
    since = (await call(feed)).body.last_seq;
  }
}

describe('examples/pos: two tills offline, then in sync', () => {
  it('holds every sale once, exact stock and one merged product everywhere, no conflict open', async () => {
    const [one, two] = await Promise.all([openTill('till-1'), openTill('till-2')]);
    await Promise.all([stockShown(one.page, 40), stockShown(two.page, 40)]);
    const both = <R>(act: (till: OpenTill) => Promise<R>) => Promise.all([act(one), act(two)]);
    await both(async (till) => {
      await till.context.setOffline(true);
      await till.page.getByText('Offline: sales are kept on this till').waitFor();
    });

    const [soldByOne, soldByTwo] = await both((till) =>
      sellEach(till.page, till === one ? [1, 1, 2] : [1, 1, 2, 1]),
    );
    const sales = [...soldByOne, ...soldByTwo];
    const givenBack = soldByTwo.at(-1)!;
    // A correction is a new document naming the sale; the sale itself stays as it was.
    await tab(two.page, 'Sales');
    await two.page.locator(`tr[data-id="${givenBack}"]`).getByRole('button', { name: 'Give back' }).click();
    await two.page.locator(`tr[data-id="${givenBack}"]`).getByText('Given back by till-2').waitFor();
    // The same field (price) in both, a different one in each (name; category), till-2's last.
    await editCoffee(one.page, { name: 'Coffee (large)', price: '2.60' });
    await editCoffee(two.page, { category: 'Hot drinks', price: '2.70' });

    // The page opens again with the network off and the app's own server gone: the worker's cache.
    await app.close();
    await both(async (till) => {
      await till.page.reload();
      await till.page.getByText(`Logged in as ${till.name}`).waitFor();
    });
    sales.push(await sellCoffee(one.page, 1));
    await stockShown(one.page, 35);
    await stockShown(two.page, 36);
    app = await serveApp({ server: serverUrl, port: Number(new URL(app.url).port) });

    // The server restarts, on the same data and port, while the tills are away.
    const port = Number(new URL(serverUrl).port);
    await server.close();
    await startSettee(port, app.url);

    await both((till) => till.context.setOffline(false));
    const sold = 1 + 1 + 2 + 1 + 1 + 2 + 1 - 1 + 1; // given back: the last sale of till-2
    const expectedStock = 40 - sold;

    const counted = (stock: { p: Record<string, number>; n: Record<string, number> }) => {
      const total = (side: Record<string, number>) => Object.values(side).reduce((a, b) => a + b, 0);
      return total(stock.p) - total(stock.n);
    };
    // Settled when the server holds every sale's stock move with no conflict open, and both
    // tills show the revision the server has. (A replica that meets another's resolution while
    // still holding its own version deletes that version and keeps the resolution's revision:
    // test/database/auto-resolve.test.ts.)
    await both((till) => tab(till.page, 'Products'));
    const shownRev = (till: OpenTill) =>
      till.page.locator(`tr[data-product="${COFFEE}"]`).getAttribute('data-rev');
    await settles(
      async () => ({
        coffee: (await call(`/shop/${encodeURIComponent(COFFEE)}?conflicts=true`)).body,
        shown: await both(shownRev),
      }),
      ({ coffee, shown }) =>
        counted(coffee.stock as never) === expectedStock &&
        coffee._conflicts === undefined &&
        shown.every((rev) => rev === coffee._rev),
    );

    // On the server: every sale once, the correction beside the sale it names, one product.
    expect(await idsFrom('sale:')).toEqual([...sales].sort());
    const corrections = await idsFrom('correction:');
    expect(corrections).toHaveLength(1);
    const { body: correction } = await call(`/shop/${encodeURIComponent(corrections[0]!)}`);
    expect(correction).toMatchObject({ type: 'correction', till: 'till-2', sale: givenBack });
    const { body: coffee } = await call(`/shop/${encodeURIComponent(COFFEE)}`);
    // Field by field, the later stamp: till-1's name, till-2's category, till-2's price (the later edit).
    expect(coffee).toMatchObject({
      name: { value: 'Coffee (large)' },
      price: { value: 270 },
      category: { value: 'Hot drinks' },
    });
    expect((await call('/shop/_conflicts')).body.total_rows).toBe(0);

    // In both tills: the same revision of the product, the same ledger, no conflict open.
    const decisions: string[][] = [];
    for (const till of [one, two]) {
      expect(await productShown(till.page, coffee._rev as string)).toEqual({
        name: 'Coffee (large)',
        price: '2.70',
        category: 'Hot drinks',
        stock: String(expectedStock),
      });
      expect(await salesShown(till.page, sales.length)).toEqual([...sales].sort());
      await till.page.locator(`tr[data-id="${givenBack}"]`).getByText('Given back by till-2').waitFor();
      decisions.push(await resolutionsShown(till.page));
    }
    // The resolution is recorded where it was written (the server, or the till that met the
    // conflict first), and each till shows the server's history and its own.
    const shown = decisions.flat();
    expect(shown.length).toBeGreaterThan(0);
    for (const text of shown) {
      expect(text).toContain('Now: name Coffee (large), price 2.70, category Hot drinks');
    }
    expect(shown.some((text) => text.includes('price 2.60'))).toBe(true);
    expect(problems).toEqual([]);
    await one.context.close();
    await two.context.close();
  }, 60_000);

  it('keeps the ledger append-only on the server, each till writing its own sales', async () => {
    // Run again, the setup updates what exists and fails on nothing.
    await setUpShop({
      server: serverUrl,
      admin: ADMIN,
      tills: TILLS.map((name) => ({ name, password: PASSWORD })),
    });
    const till = { name: 'till-1', password: PASSWORD };
    const put = (doc: Record<string, unknown>) =>
      call(
        `/shop/${encodeURIComponent(String(doc._id))}`,
        { method: 'PUT', body: JSON.stringify(doc) },
        till,
      );
    const sale = {
      _id: 'sale:by-hand',
      type: 'sale',
      till: 'till-1',
      at: new Date().toISOString(),
      lines: [{ product: COFFEE, name: 'Coffee', price: 250, qty: 2 }],
      total: 500,
    };
    const created = await put(sale);
    expect(created.status).toBe(201);
    const rev = created.body.rev as string;

    // CouchDB answers a validation function's `throw {forbidden: reason}` with 403
    // {"error": "forbidden", "reason": reason} (src/chttpd/src/chttpd.erl, error_info({forbidden, Msg})).
    const refused = [
      await put({ ...sale, _rev: rev, total: 0 }),
      await call(`/shop/${encodeURIComponent(sale._id)}?rev=${rev}`, { method: 'DELETE' }, till),
      await put({ ...sale, _id: 'sale:for-another', till: 'till-2' }),
      await put({ ...sale, _id: 'sale:bad-total', total: 499 }),
      await put({
        _id: 'correction:nameless',
        type: 'correction',
        till: 'till-1',
        lines: sale.lines,
        total: 500,
      }),
    ];
    expect(refused.map(({ status, body }) => [status, body.error])).toEqual(
      refused.map(() => [403, 'forbidden']),
    );
    expect(refused[0]!.body.reason).toBe(
      'sale:by-hand is in the ledger: record a correction instead of changing it',
    );
    expect(refused[2]!.body.reason).toBe('A till records its own sales: till must be till-1');

    // Nor can an edit come in by replication: a new revision pushed as a replicator pushes it.
    const pushed = await call(
      '/shop/_bulk_docs',
      {
        method: 'POST',
        body: JSON.stringify({
          new_edits: false,
          docs: [
            {
              ...sale,
              total: 0,
              _rev: `2-${'e'.repeat(32)}`,
              _revisions: { start: 2, ids: ['e'.repeat(32), rev.slice(2)] },
            },
          ],
        }),
      },
      till,
    );
    expect(pushed.body).toMatchObject([{ id: sale._id, error: 'forbidden' }]);

    // Nothing of it was written.
    expect((await call(`/shop/${encodeURIComponent(sale._id)}`)).body).toMatchObject({
      _rev: rev,
      total: 500,
    });
    for (const id of ['sale:for-another', 'sale:bad-total', 'correction:nameless'])
      expect((await call(`/shop/${encodeURIComponent(id)}`)).status).toBe(404);
  });

  it('asks for the password again when the session ends, and syncs again once given', async () => {
    const till = await openTill('till-1');
    // Logging out ends every session of the user, as a session that expired would end.
    const loggedOut = await call('/_session', { method: 'DELETE' }, { name: 'till-1', password: PASSWORD });
    expect(loggedOut.status).toBe(200);
    // A change on the server ends the sync's long poll; its next request is refused.
    const { body: tea } = await call('/shop/product%3Atea');
    const stock = tea.stock as { p: Record<string, number>; n: Record<string, number> };
    const restocked = { ...tea, stock: { ...stock, p: { ...stock.p, stockroom: 50 } } };
    expect(
      (await call('/shop/product%3Atea', { method: 'PUT', body: JSON.stringify(restocked) })).status,
    ).toBe(201);
    await till.page.getByText('Log in again to sync').waitFor();

    await till.page.locator('#login-password').fill(PASSWORD);
    await till.page.getByRole('button', { name: 'Log in' }).click();
    await till.page
      .locator('[data-product="product:tea"] .stock')
      .filter({ hasText: /^50 in stock$/ })
      .waitFor();
    expect(problems).toEqual([]);
    await till.context.close();
  });
});

/** The ids of the server's documents whose id starts with `prefix`. */
async function idsFrom(prefix: string): Promise<string[]> {
  const range = `startkey=${encodeURIComponent(JSON.stringify(prefix))}&endkey=${encodeURIComponent(JSON.stringify(`${prefix}\ufff0`))}`;
  const { body } = await call(`/shop/_all_docs?${range}`);
  return (body.rows as { id: string }[]).map((row) => row.id);
}

/** The Resolved tab, once loaded: no conflict open, and the texts of coffee's resolutions. */
async function resolutionsShown(page: Page): Promise<string[]> {
  await tab(page, 'Resolved');
  await page
    .locator('section[aria-busy="false"] #open-conflicts')
    .getByText('No conflict is open on this till.')
    .waitFor();
  return page.locator(`article.resolution[data-doc="${COFFEE}"]`).allTextContents();
}
