/**
 * The console's databases, end to end in a real headless Chromium: a list paged by name with each
 * database's documents, size, update sequence and conflicts; creating one; deleting one only once
 * its name is typed — by keyboard alone; and the list on a phone. Outcomes are checked again
 * through the server's HTTP API. Screenshots go to test-artifacts/ui/.
 */
import fs from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN, startServer, type TestServer } from '../server/harness.js';
import {
  createUser,
  freshPage,
  getJson,
  launchChromium,
  logInAs,
  PHONE,
  quickConflicts,
  SHOTS,
} from './fixtures.js';

const TIMEOUT = 60_000;
/** More databases than one page of the list (20) holds. */
const NAMES = Array.from({ length: 24 }, (_, i) => `shop-${String(i).padStart(2, '0')}`);

let t: TestServer;
let browser: Browser;
const pages: Page[] = [];
const pageProblems: string[] = [];

beforeAll(async () => {
  fs.mkdirSync(SHOTS, { recursive: true });
  [t, browser] = await Promise.all([startServer(), launchChromium()]);
  for (const name of NAMES) expect((await t.fetch(`/${name}`, { method: 'PUT' })).status).toBe(201);
  const docs = [{ _id: 'a' }, { _id: 'b' }, { _id: 'c' }];
  const bulk = await t.fetch('/shop-01/_bulk_docs', { method: 'POST', body: JSON.stringify({ docs }) });
  expect(bulk.status).toBe(201);
  await quickConflicts(t, 'attention', ['x', 'y']);
}, TIMEOUT);

afterEach(async () => {
  await Promise.all(pages.splice(0).map((page) => page.context().close()));
  expect(pageProblems.splice(0)).toEqual([]);
});

afterAll(async () => {
  await browser?.close();
  await t?.stop();
}, TIMEOUT);

async function pageAs(name: string, password: string, hash = '', viewport?: typeof PHONE): Promise<Page> {
  const page = await freshPage(browser, `${t.url}/_ui/${hash}`, pageProblems, viewport);
  pages.push(page);
  await logInAs(page, name, password);
  return page;
}

const rowNames = (page: Page) =>
  page
    .locator('#databases tbody tr[data-db-row]')
    .evaluateAll((rows) => rows.map((row) => row.getAttribute('data-db-row')));
const cell = (page: Page, db: string, label: string) =>
  page.locator(`tr[data-db-row="${db}"] td[data-label="${label}"]`).innerText();
/** The id, or failing that the text, of the focused element. */
const focused = (page: Page) =>
  page.evaluate('document.activeElement.id || document.activeElement.textContent.trim()') as Promise<string>;
const scrollsSideways = (page: Page) =>
  page.evaluate('document.documentElement.scrollWidth > window.innerWidth') as Promise<boolean>;

/** Presses Tab until the focused element matches `selector`: it is reachable by keyboard, in order. */
async function tabTo(page: Page, selector: string, most = 80): Promise<void> {
  for (let i = 0; i < most; i++) {
    await page.keyboard.press('Tab');
    if (await page.evaluate(`document.activeElement?.matches(${JSON.stringify(selector)})`)) return;
  }
  throw new Error(`${selector} was not reached in ${most} presses of Tab`);
}

describe('the databases of the console', () => {
  it(
    'pages through the databases in name order with documents, size, update seq and conflicts',
    { timeout: TIMEOUT },
    async () => {
      const page = await pageAs(ADMIN.name, ADMIN.password);
      await page.locator('#databases').waitFor();
      // `_replicator`, `_users` and `attention` sort first; a page holds 20.
      const first = ['_replicator', '_users', 'attention', ...NAMES.slice(0, 17)];
      expect(await rowNames(page)).toEqual(first);
      expect(await page.locator('.pager .muted').innerText()).toBe('Showing 1–20');
      const info = await getJson<{ doc_count: number; update_seq: number; sizes: { file: number } }>(
        t,
        '/shop-01',
      );
      expect(await cell(page, 'shop-01', 'Documents')).toBe('3');
      expect(await cell(page, 'shop-01', 'Update seq')).toBe(String(info.update_seq));
      expect(await cell(page, 'shop-01', 'Size')).toMatch(/^\d+(\.\d)? (B|KB|MB)$/);
      expect(await cell(page, 'attention', 'Conflicts')).toBe('2 documents with conflicts');
      expect(await cell(page, 'shop-00', 'Conflicts')).toBe('No conflicts');
      expect(await page.locator('#db-summary').innerText()).toBe(
        '1 database has documents whose versions disagree on this page. Choose one to review them.',
      );
      await page.screenshot({ path: `${SHOTS}30-console-databases.png`, fullPage: true });

      await page.getByRole('button', { name: 'Next →' }).click();
      await page.getByText('Showing 21–27').waitFor();
      expect(await rowNames(page)).toEqual(NAMES.slice(17));
      expect(await page.getByRole('button', { name: 'Next →' }).isDisabled()).toBe(true);
      await page.getByRole('button', { name: '← Previous' }).click();
      await page.getByText('Showing 1–20').waitFor();
      expect(await rowNames(page)).toEqual(first);

      // A database's name opens its documents; its conflicts badge, the conflicts to review.
      await page.locator('tr[data-db-row="shop-01"] .db-name').click();
      await page.locator('#doc-list').waitFor();
      expect(await page.locator('#doc-list tbody tr').count()).toBe(3);
    },
  );

  it('creates a database, and deletes one only once its name is typed', { timeout: TIMEOUT }, async () => {
    const page = await pageAs(ADMIN.name, ADMIN.password);
    await page.getByLabel('New database name').fill('Bad Name');
    await page.getByRole('button', { name: 'Create database' }).click();
    await page.locator('#create-db .form-error').waitFor();
    expect(await page.locator('#create-db .form-error').innerText()).toContain('Only lowercase characters');
    await page.getByLabel('New database name').fill('aardvark');
    await page.getByLabel('New database name').press('Enter');
    await page.getByText('Created the database “aardvark”.').waitFor();
    await page.locator('#docs-summary').waitFor();
    expect(await page.locator('#docs-summary').innerText()).toBe('“aardvark” has no documents yet.');
    expect((await t.fetch('/aardvark')).status).toBe(200);

    await page.goto(`${t.url}/_ui/#/`);
    await page.getByRole('button', { name: 'Delete database aardvark' }).click();
    const confirm = page.getByRole('button', { name: 'Delete aardvark' });
    // Focus goes to the box the name is typed in; a near miss does not arm the button.
    await expect.poll(() => focused(page)).toBe('confirm-db-name');
    await page.keyboard.type('aardvar');
    expect(await confirm.isDisabled()).toBe(true);
    await page.keyboard.press('Enter');
    expect((await t.fetch('/aardvark')).status).toBe(200);
    await page.keyboard.type('k');
    expect(await confirm.isDisabled()).toBe(false);
    await page.keyboard.press('Enter');
    await page.getByText('Deleted the database “aardvark”.').waitFor();
    expect((await t.fetch('/aardvark')).status).toBe(404);
    await expect.poll(() => page.locator('tr[data-db-row="aardvark"]').count()).toBe(0);
  });

  it(
    'deletes a database by keyboard alone; Escape backs out and gives focus back',
    { timeout: TIMEOUT },
    async () => {
      expect((await t.fetch('/abacus', { method: 'PUT' })).status).toBe(201);
      const page = await pageAs(ADMIN.name, ADMIN.password);
      await page.locator('#databases').waitFor();
      await tabTo(page, '[aria-label="Delete database abacus"]');
      // The focused control is visibly marked.
      const outline = await page.evaluate('getComputedStyle(document.activeElement).outlineStyle');
      expect(outline).not.toBe('none');
      await page.keyboard.press('Enter');
      await expect.poll(() => focused(page)).toBe('confirm-db-name');
      await page.keyboard.press('Escape');
      await expect.poll(() => page.locator('#confirm-db-name').count()).toBe(0);
      expect(await page.evaluate('document.activeElement.getAttribute("aria-label")')).toBe(
        'Delete database abacus',
      );

      await page.keyboard.press('Enter');
      await expect.poll(() => focused(page)).toBe('confirm-db-name');
      await page.keyboard.type('abacus');
      await page.keyboard.press('Enter');
      await page.getByText('Deleted the database “abacus”.').waitFor();
      expect((await t.fetch('/abacus')).status).toBe(404);
    },
  );

  it(
    'shows a user only the databases they may read, without create or delete',
    { timeout: TIMEOUT },
    async () => {
      await createUser(t, 'mia', 'mia-pw');
      const security = { admins: { names: [], roles: [] }, members: { names: ['mia'], roles: [] } };
      const put = await t.fetch('/shop-03/_security', { method: 'PUT', body: JSON.stringify(security) });
      expect(put.status).toBe(200);
      const page = await pageAs('mia', 'mia-pw');
      await page.locator('#databases').waitFor();
      expect(await rowNames(page)).toEqual(['shop-03']);
      expect(await cell(page, 'shop-03', 'Documents')).toBe('0');
      expect(await page.locator('#create-db, [aria-label^="Delete database"]').count()).toBe(0);
      expect(await page.locator('#replication-link').isHidden()).toBe(true);
    },
  );

  it(
    'fits a phone: the list and the delete confirmation need no sideways scrolling',
    { timeout: TIMEOUT },
    async () => {
      const page = await pageAs(ADMIN.name, ADMIN.password, '', PHONE);
      await page.locator('#databases').waitFor();
      expect(await scrollsSideways(page)).toBe(false);
      await page.getByRole('button', { name: 'Delete database shop-00' }).click();
      await page.locator('#confirm-db-name').waitFor();
      expect(await scrollsSideways(page)).toBe(false);
      await page.screenshot({ path: `${SHOTS}31-console-databases-phone.png`, fullPage: true });
      await page.goto(`${t.url}/_ui/#/db/shop-01/docs/a`);
      await page.locator('#doc-json').waitFor();
      expect(await scrollsSideways(page)).toBe(false);
      await page.goto(`${t.url}/_ui/#/replication`);
      await page.locator('#start-replication').waitFor();
      expect(await scrollsSideways(page)).toBe(false);
      await page.screenshot({ path: `${SHOTS}32-console-replication-phone.png`, fullPage: true });
    },
  );
});
