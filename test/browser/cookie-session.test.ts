/**
 * Cookie sessions in a real page (headless Chromium), against a real Settee server on another
 * origin that allows the page's with credentials: a till logs in once (`logIn`), then replicates
 * and syncs through `credentials: 'include'` with no password kept anywhere in the page; logging
 * out (`logOut`, DELETE /_session) makes the next request fail with a 401 the app can act on.
 *
 * CouchDB's facts checked here (apache/couchdb): a database whose `_security` names members
 * refuses a request without a user as `unauthorized` — src/couch/src/couch_db.erl,
 * check_is_member → throw_security_error(#user_ctx{name = null}) ("You are not authorized to
 * access this db."), a known non-member getting `forbidden` instead; and DELETE /_session answers
 * with a cleared AuthSession cookie — src/couch/src/couch_httpd_auth.erl,
 * handle_session_req(#httpd{method = 'DELETE'}) → clear_auth_cookie.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { startServer, type TestServer } from '../server/harness.js';
import { createUser, launchChromium } from '../ui/fixtures.js';
import { BROWSER_ENTRY, bundleForBrowser, servePage } from './browser-bundle.js';

type Settee = typeof import('../../src/browser.js');
type PageGlobals = { Settee: Settee; handle?: import('../../src/browser.js').BrowserSync };

const TILL = { username: 'till-1', password: 'till-1-secret' };
let t: TestServer;
let pages: Awaited<ReturnType<typeof servePage>>;
let browser: Browser;

beforeAll(async () => {
  pages = await servePage((await bundleForBrowser(BROWSER_ENTRY, 'Settee')).code);
  t = await startServer({ corsOrigins: [pages.origin] });
  browser = await launchChromium();
  await createUser(t, TILL.username, TILL.password);
});

afterAll(async () => {
  await browser?.close();
  await t?.stop();
  await pages?.close();
});

/** A server database only `TILL` (and the admin) may use, holding the document `product-1`. */
async function tillDatabase(name: string): Promise<string> {
  expect((await t.fetch(`/${name}`, { method: 'PUT' })).status).toBe(201);
  const security = { admins: { names: [], roles: [] }, members: { names: [TILL.username], roles: [] } };
  expect(
    (await t.fetch(`/${name}/_security`, { method: 'PUT', body: JSON.stringify(security) })).status,
  ).toBe(200);
  expect((await t.fetch(`/${name}/product-1`, { method: 'PUT', body: '{"price":3}' })).status).toBe(201);
  return `${t.url}/${name}`;
}

async function freshPage(): Promise<Page> {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(pages.origin);
  return page;
}

/** What a failed call told the page: the fields an app branches on. */
interface Refusal {
  name: string;
  status: number | undefined;
  error: string | undefined;
}

describe('a cookie session in a page', () => {
  it('logs in once, then pulls and pushes with the cookie alone; logging out makes the next pull fail 401', async () => {
    const db = await tillDatabase('shop-replicate');
    const page = await freshPage();
    const outcome = await page.evaluate(
      async ({ server, db, till }) => {
        const { Settee } = globalThis as unknown as PageGlobals;
        const refusal = (error: unknown) => {
          const e = error as { name: string; status?: number; error?: string };
          return { name: e.name, status: e.status, error: e.error };
        };
        // Without a session the database refuses the page, so what works below is the cookie.
        const remote = new Settee.RemoteDatabase(db, { fetch: Settee.pageFetch('include'), retries: 0 });
        const before = await remote.info().then(() => undefined, refusal);
        await Settee.logIn(server, till);
        const local = await Settee.Database.open('till-replicate');
        const pulled = await Settee.replicate(remote, local).done;
        await local.put({ _id: 'sale-1', total: 3 });
        const pushed = await Settee.replicate(local, remote).done;
        // Cookies stay with the browser: a fetch that omits them is a stranger.
        const omitting = new Settee.RemoteDatabase(db, { fetch: Settee.pageFetch('omit'), retries: 0 });
        const withoutCookie = await omitting.info().then(() => undefined, refusal);
        await Settee.logOut(server);
        const afterLogOut = await Settee.replicate(remote, local).done.then(() => undefined, refusal);
        const product = await local.get('product-1');
        await local.destroy();
        return {
          before,
          pulled: pulled.docs_written,
          pushed: pushed.docs_written,
          withoutCookie,
          afterLogOut,
          product,
        };
      },
      { server: t.url, db, till: TILL },
    );
    const unauthorized: Refusal = { name: 'unauthorized', status: 401, error: 'unauthorized' };
    expect(outcome).toMatchObject({
      before: unauthorized,
      pulled: 1,
      pushed: 1,
      withoutCookie: unauthorized,
      afterLogOut: unauthorized,
      product: { _id: 'product-1', price: 3 },
    });
    const sale = await t.fetch(`/shop-replicate/sale-1`);
    expect(await sale.json()).toMatchObject({ _id: 'sale-1', total: 3 });
    await page.context().close();
  });

  it("syncInBrowser with credentials 'include' syncs on the session, and stops with the 401 once logged out", async () => {
    const db = await tillDatabase('shop-sync');
    const page = await freshPage();
    await page.evaluate(
      async ({ server, db, till }) => {
        const w = globalThis as unknown as PageGlobals & { failure?: Promise<unknown> };
        await w.Settee.logIn(server, till);
        const local = await w.Settee.Database.open('till-sync');
        await local.put({ _id: 'sale-2', total: 5 });
        w.handle = w.Settee.syncInBrowser(local, db, { credentials: 'include', lock: 'cookie-sync' });
        w.failure = new Promise((resolve) => w.handle!.on('error', ({ error }) => resolve(error)));
        await w.handle.when('syncing');
        await w.handle.sync!.idle();
      },
      { server: t.url, db, till: TILL },
    );
    expect(await (await t.fetch('/shop-sync/sale-2')).json()).toMatchObject({ total: 5 });

    await page.evaluate((server) => (globalThis as unknown as PageGlobals).Settee.logOut(server), t.url);
    // The live pull waits on the server's feed: a write there makes it ask again, now without a session.
    expect((await t.fetch('/shop-sync/product-2', { method: 'PUT', body: '{}' })).status).toBe(201);
    const refusal = await page.evaluate(async () => {
      const w = globalThis as unknown as PageGlobals & { failure: Promise<unknown> };
      const error = (await w.failure) as { name: string; status?: number; error?: string };
      await w.handle!.when('stopped');
      return { name: error.name, status: error.status, error: error.error, state: w.handle!.state };
    });
    expect(refusal).toEqual({ name: 'unauthorized', status: 401, error: 'unauthorized', state: 'stopped' });
    await page.context().close();
  });
});
