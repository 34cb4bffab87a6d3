/**
 * What the web page's browser tests stand on: a headless Chromium, and conflicts made the way
 * they happen for real — two replicas edit the same document and both replicate to the server.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type Browser, type BrowserContextOptions, chromium, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, expect } from 'vitest';
import { Database } from '../../src/database/database.js';
import { RemoteDatabase } from '../../src/remote/index.js';
import { replicate } from '../../src/replication/index.js';
import { ADMIN, startServer, type TestServer } from '../server/harness.js';

export const CHROMIUM = '/usr/bin/chromium';

/** Chromium from the system (Debian's package); a missing one fails the tests, never skips them. */
export async function launchChromium(): Promise<Browser> {
  if (!fs.existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: install it with apt-get install -y chromium (see .ci/run)`);
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    timeout: 20_000,
  });
}

type Body = Record<string, unknown>;

/** One document as first written, then as each of two replicas edited it offline. */
export interface ConflictSpec {
  id: string;
  base: Body;
  a: Body;
  b: Body;
}

/**
 * Writes each `base` to the server's database, pulls it into two local replicas, edits it
 * differently in each, and pushes both back: the server then holds both edits as a conflict,
 * with `base` as their common ancestor.
 */
export async function conflictByReplication(t: TestServer, db: string, specs: ConflictSpec[]): Promise<void> {
  const remote = new RemoteDatabase(`${t.url}/${encodeURIComponent(db)}`, {
    auth: { username: ADMIN.name, password: ADMIN.password },
  });
  const created = await t.fetch(`/${encodeURIComponent(db)}`, { method: 'PUT' });
  if (created.status !== 201 && created.status !== 412) throw new Error(`PUT /${db}: ${created.status}`);
  const bulk = await t.fetch(`/${encodeURIComponent(db)}/_bulk_docs`, {
    method: 'POST',
    body: JSON.stringify({ docs: specs.map((spec) => ({ _id: spec.id, ...spec.base })) }),
  });
  if (bulk.status !== 201) throw new Error(`_bulk_docs: ${bulk.status}`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'settee-ui-replicas-'));
  const replicas: Database[] = [];
  try {
    // Both pull before either pushes: each edits the same revision, unaware of the other.
    for (const side of ['a', 'b']) {
      const replica = await Database.open(path.join(dir, `${side}.sqlite`), { durability: 'normal' });
      replicas.push(replica);
      await replicate(remote, replica).done;
    }
    for (const [i, replica] of replicas.entries()) {
      for (const spec of specs) {
        const doc = await replica.get(spec.id);
        await replica.put({ ...doc, ...(i === 0 ? spec.a : spec.b) });
      }
      await replicate(replica, remote).done;
    }
  } finally {
    await Promise.all(replicas.map((replica) => replica.close()));
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Conflicts written directly as replicated revisions (`new_edits: false`): quick, for the many
 * documents a paging test needs.
 */
export async function quickConflicts(t: TestServer, db: string, ids: string[]): Promise<void> {
  const created = await t.fetch(`/${encodeURIComponent(db)}`, { method: 'PUT' });
  if (created.status !== 201) throw new Error(`PUT /${db}: ${created.status}`);
  const docs = ids.flatMap((id) => [
    { _id: id, _rev: `1-${'a'.repeat(32)}`, side: 'a' },
    { _id: id, _rev: `1-${'b'.repeat(32)}`, side: 'b' },
  ]);
  const res = await t.fetch(`/${encodeURIComponent(db)}/_bulk_docs`, {
    method: 'POST',
    body: JSON.stringify({ docs, new_edits: false }),
  });
  if (res.status !== 201) throw new Error(`_bulk_docs new_edits=false: ${res.status}`);
}

/** A JSON answer of the server, as the admin. */
export async function getJson<T = Record<string, unknown>>(t: TestServer, urlPath: string): Promise<T> {
  const res = await t.fetch(urlPath);
  if (!res.ok) throw new Error(`GET ${urlPath}: ${res.status}`);
  return (await res.json()) as T;
}

/** A phone's window, to check the page needs no sideways scrolling there. */
export const PHONE = { width: 390, height: 844 };

/**
 * A page of a fresh browser profile (no cookies) at `url`. Uncaught errors and refusals by the
 * Content Security Policy are pushed to `problems`: a test expects none.
 */
export async function freshPage(
  browser: Browser,
  url: string,
  problems: string[],
  viewport = { width: 1280, height: 860 },
  options: BrowserContextOptions = {},
): Promise<Page> {
  const context = await browser.newContext({ viewport, ...options });
  const page = await context.newPage();
  page.setDefaultTimeout(10_000);
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    if (/Content.Security.Policy/i.test(message.text())) problems.push(`CSP: ${message.text()}`);
  });
  await page.goto(url);
  return page;
}

/** Fills and sends the login form, then waits until the page says who is logged in. */
export async function logInAs(page: Page, name: string, password: string): Promise<void> {
  await page.locator('#login-name').fill(name);
  await page.locator('#login-password').fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByText(`Logged in as ${name}`).waitFor();
}

/** Creates a user through `_users` as the admin. */
export async function createUser(t: TestServer, name: string, password: string, roles: string[] = []) {
  const id = `org.couchdb.user:${name}`;
  const res = await t.fetch(`/_users/${encodeURIComponent(id)}`, {
    method: 'PUT',
    body: JSON.stringify({ _id: id, name, type: 'user', roles, password }),
  });
  if (res.status !== 201) throw new Error(`creating user ${name}: ${res.status} ${await res.text()}`);
}

/** Where the page tests leave their screenshots. */
export const SHOTS = path.resolve(import.meta.dirname, '../../test-artifacts/ui') + path.sep;

/** A test file's server, browser and the admin's logged-in page (see `useAdminPage`). */
export interface AdminPage {
  t: TestServer;
  browser: Browser;
  page: Page;
}

/**
 * One server and one Chromium for a whole test file, and a page of the web console logged in as
 * the admin: `seed` fills the server first, `ready` receives them. Every test must leave the page
 * without uncaught errors or Content Security Policy refusals; all is stopped after the file.
 */
export function useAdminPage(
  seed: (t: TestServer) => Promise<void>,
  ready: (ui: AdminPage) => void,
  timeout = 60_000,
): void {
  let ui: Partial<AdminPage> = {};
  const problems: string[] = [];
  beforeAll(async () => {
    fs.mkdirSync(SHOTS, { recursive: true });
    const [t, browser] = await Promise.all([startServer(), launchChromium()]);
    ui = { t, browser };
    await seed(t);
    const page = await freshPage(browser, `${t.url}/_ui/`, problems);
    await logInAs(page, ADMIN.name, ADMIN.password);
    ready({ t, browser, page });
    ui.page = page;
  }, timeout);
  afterEach(() => {
    expect(problems.splice(0)).toEqual([]);
  });
  afterAll(async () => {
    await ui.page?.context().close();
    await ui.browser?.close();
    await ui.t?.stop();
  }, timeout);
}
