/**
 * The conflict-resolution web page, end to end in a real headless Chromium: logging in, finding
 * conflicted documents, comparing their versions and saving a resolution, checked afterwards
 * through the server's HTTP API. Screenshots of each view go to test-artifacts/ui/.
 */
import fs from 'node:fs';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN, startServer, type TestServer } from '../server/harness.js';
import { conflictByReplication, getJson, launchChromium, quickConflicts, SHOTS } from './fixtures.js';

const TIMEOUT = 60_000;

let t: TestServer;
let browser: Browser;
const contexts: BrowserContext[] = [];
/** Uncaught errors and Content-Security-Policy refusals seen by any page: there must be none. */
const pageProblems: string[] = [];

beforeAll(async () => {
  fs.mkdirSync(SHOTS, { recursive: true });
  [t, browser] = await Promise.all([startServer(), launchChromium()]);
  await conflictByReplication(t, 'shop', [
    {
      id: 'order-17',
      base: { customer: 'Ada Lovelace', price: 10, colour: 'red', note: 'Deliver after 5pm', items: ['tea'] },
      a: { price: 12, colour: 'blue' },
      b: { colour: 'green', note: 'Leave at the door' },
    },
    {
      id: 'invoice-3',
      base: { customer: 'Grace Hopper', total: 100, paid: false },
      a: { paid: true },
      b: { total: 120 },
    },
    {
      id: 'memo',
      base: { text: 'hello' },
      a: { text: '<img src=x onerror="window.__xss = 1">' },
      b: { text: '<b>bold</b>' },
    },
  ]);
  const file = (text: string) => ({ content_type: 'text/plain', data: Buffer.from(text).toString('base64') });
  await conflictByReplication(t, 'files', [
    {
      id: 'photo',
      base: { title: 'Beach', _attachments: { 'note.txt': file('hello') } },
      a: { title: 'Beach at dawn' },
      b: { _attachments: { 'extra.txt': file('more') } },
    },
  ]);
  await quickConflicts(
    t,
    'many',
    Array.from({ length: 55 }, (_, i) => `item-${String(i).padStart(3, '0')}`),
  );
  expect((await t.fetch('/calm', { method: 'PUT' })).status).toBe(201);
  expect((await t.fetch('/calm/one', { method: 'PUT', body: '{"a":1}' })).status).toBe(201);
}, TIMEOUT);

afterEach(async () => {
  await Promise.all(contexts.splice(0).map((context) => context.close()));
  expect(pageProblems.splice(0)).toEqual([]);
});

afterAll(async () => {
  await browser?.close();
  await t?.stop();
}, TIMEOUT);

/** A fresh browser profile (no cookies) on the page. */
async function openPage(hash = ''): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  contexts.push(context);
  const page = await context.newPage();
  page.setDefaultTimeout(10_000);
  page.on('pageerror', (error) => pageProblems.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    if (/Content.Security.Policy/i.test(message.text())) pageProblems.push(`CSP: ${message.text()}`);
  });
  await page.goto(`${t.url}/_ui/${hash}`);
  return page;
}

async function logIn(page: Page, password = ADMIN.password): Promise<void> {
  await page.locator('#login-name').fill(ADMIN.name);
  await page.locator('#login-password').fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
}

async function loggedInPage(hash = ''): Promise<Page> {
  const page = await openPage(hash);
  await logIn(page);
  await page.getByText(`Logged in as ${ADMIN.name}`).waitFor();
  return page;
}

/** The whole page, scrolled to its end first so the sticky action bar sits in its place. */
async function shot(page: Page, name: string): Promise<void> {
  // A string: this project's TypeScript has no DOM types.
  await page.evaluate('window.scrollTo(0, document.documentElement.scrollHeight)');
  await page.screenshot({ path: `${SHOTS}${name}.png`, fullPage: true });
}
const text = async (page: Page, selector: string) => (await page.locator(selector).innerText()).trim();
const rowIds = (page: Page) =>
  page
    .locator('#conflict-list tbody tr')
    .evaluateAll((rows) => rows.map((row) => row.getAttribute('data-id')));

/** The live versions as the server has them: which body is version A (the winner), which B. */
async function versionsOf(db: string, id: string) {
  return getJson<{ winner: string; leaves: { rev: string; doc: Record<string, unknown> }[] }>(
    t,
    `/${db}/_resolve/${id}`,
  );
}

async function docWithConflicts(db: string, id: string): Promise<Record<string, unknown>> {
  return getJson(t, `/${db}/${id}?conflicts=true`);
}

describe('the web page at /_ui/', () => {
  it(
    'asks for a login, says when the password is wrong, and logs in and out',
    { timeout: TIMEOUT },
    async () => {
      const page = await openPage();
      expect(new URL(page.url()).pathname).toBe('/_ui/');
      await page.locator('#login-name').waitFor();
      expect(await page.title()).toBe('Settee');
      await shot(page, '01-login');

      await logIn(page, 'not the password');
      await page.locator('#login-error').waitFor();
      expect(await text(page, '#login-error')).toBe(
        'That user name and password do not match. Please try again.',
      );
      expect(await page.locator('body').innerText()).not.toMatch(/401|unauthorized/i);
      await shot(page, '02-login-wrong-password');

      await logIn(page);
      await page.getByText('Logged in as admin').waitFor();
      await page.locator('.db-item').first().waitFor();
      const cookies = await page.context().cookies();
      expect(cookies.map((cookie) => cookie.name)).toContain('AuthSession');

      await page.getByRole('button', { name: 'Log out' }).click();
      await page.locator('#login-name').waitFor();
      expect(await text(page, '#notice')).toBe('You are logged out.');
      const session = (await page.evaluate(() => fetch('/_session').then((r) => r.json()))) as {
        userCtx: { name: string | null };
      };
      expect(session.userCtx.name).toBeNull();
    },
  );

  it(
    'lists the databases with their conflicts, then a database’s conflicted documents',
    { timeout: TIMEOUT },
    async () => {
      const page = await loggedInPage();
      await page.locator('.db-item[data-db="shop"]').waitFor();
      expect(await text(page, '.db-item[data-db="shop"] .badge')).toBe('3 documents with conflicts');
      expect(await text(page, '.db-item[data-db="many"] .badge')).toBe('55 documents with conflicts');
      expect(await text(page, '.db-item[data-db="calm"] .badge')).toBe('No conflicts');
      expect(await text(page, '.lead')).toBe(
        '3 databases have documents whose versions disagree. Choose one to review them.',
      );
      await shot(page, '03-databases');

      await page.locator('.db-item[data-db="shop"]').click();
      await page.locator('#conflict-list').waitFor();
      expect(await text(page, 'h1')).toBe('shop');
      expect(await text(page, '.lead')).toBe(
        '3 documents have versions that disagree. Open one to decide what to keep.',
      );
      expect(await rowIds(page)).toEqual(['invoice-3', 'memo', 'order-17']);
      expect(await text(page, '#conflict-list tbody tr[data-id="order-17"] td.cell-versions')).toBe(
        '2 versions',
      );
      await shot(page, '04-conflict-list');
    },
  );

  it('pages through a long list of conflicted documents', { timeout: TIMEOUT }, async () => {
    const page = await loggedInPage('#/db/many');
    await page.locator('#conflict-list').waitFor();
    expect(await rowIds(page)).toHaveLength(50);
    expect(await text(page, '.pager .muted')).toBe('Showing 1–50 of 55');
    expect(await page.getByRole('button', { name: '← Previous' }).isDisabled()).toBe(true);

    await page.getByRole('button', { name: 'Next →' }).click();
    await page.getByText('Showing 51–55 of 55').waitFor();
    expect(await rowIds(page)).toEqual(['item-050', 'item-051', 'item-052', 'item-053', 'item-054']);
    expect(await page.getByRole('button', { name: 'Next →' }).isDisabled()).toBe(true);

    await page.getByRole('button', { name: '← Previous' }).click();
    await page.getByText('Showing 1–50 of 55').waitFor();
    expect((await rowIds(page))[0]).toBe('item-000');
  });

  it(
    'compares the versions field by field against the original, and saves a merge',
    { timeout: TIMEOUT },
    async () => {
      const before = await versionsOf('shop', 'order-17');
      const winnerColour = before.leaves[0]!.doc.colour;
      const otherColour = before.leaves[1]!.doc.colour;
      const page = await loggedInPage('#/db/shop');
      await page.locator('a.doc-link', { hasText: 'order-17' }).click();
      await page.locator('#compare').waitFor();

      expect(await text(page, '#summary')).toBe(
        '2 versions of this document disagree. They differ in 3 fields: price, colour, note.',
      );
      const row = (field: string) => page.locator(`#compare tr[data-field="${field}"]`);
      expect(await row('price').getAttribute('class')).toContain('differs');
      expect(await row('customer').getAttribute('class')).toContain('same');
      expect(await row('customer').getAttribute('class')).not.toContain('differs');
      expect(await row('colour').getAttribute('class')).toContain('contested');
      // The three-way view: the original's values, and which version changed what since.
      expect(await page.locator('#compare thead th.col-original').innerText()).toContain('Original');
      expect(await text(page, '#compare tr[data-field="price"] td.col-original')).toBe('10');
      expect(await text(page, '#compare tr[data-field="note"] td.col-original')).toBe('Deliver after 5pm');
      const priceChanged = await row('price').locator('td.col-version .tag-changed').count();
      expect(priceChanged).toBe(1);
      // The merge starts from each one-sided change; the contested colour is the winner's.
      expect(await text(page, '#compare tr[data-field="price"] td.col-merged .value')).toBe('12');
      expect(await text(page, '#compare tr[data-field="note"] td.col-merged .value')).toBe(
        'Leave at the door',
      );
      expect(await text(page, '#compare tr[data-field="colour"] td.col-merged .value')).toBe(winnerColour);
      expect(await text(page, '#choice')).toMatch(/^Nothing chosen yet/);
      expect(await page.locator('#save').isDisabled()).toBe(true);
      await shot(page, '05-document');

      // "Use this value" on the other version's colour.
      await row('colour')
        .locator('td.col-version[data-version="B"]')
        .getByRole('button', { name: 'Use this value' })
        .click();
      expect(await text(page, '#compare tr[data-field="colour"] td.col-merged .value')).toBe(otherColour);
      expect(await text(page, '#compare tr[data-field="colour"] td.col-merged .source')).toMatch(
        /^from version B/,
      );
      expect(await text(page, '#choice')).toBe(
        'You are saving the merged result. It replaces version A and version B (the server keeps the old versions in its history).',
      );

      // The advanced editor: add a field by typing JSON.
      await page.getByText('Advanced: edit the merged result as JSON').click();
      // The editor is filled as it opens.
      await expect.poll(() => page.locator('#json-editor').inputValue()).not.toBe('');
      const typed = JSON.parse(await page.locator('#json-editor').inputValue());
      expect(typed).toEqual({
        customer: 'Ada Lovelace',
        price: 12,
        colour: otherColour,
        note: 'Leave at the door',
        items: ['tea'],
      });
      await page.locator('#json-editor').fill('{ not json');
      await page.locator('#apply-json').click();
      await page.getByText(/^This is not valid JSON/).waitFor();
      await page.locator('#json-editor').fill(JSON.stringify({ ...typed, checked: true }, null, 2));
      await page.locator('#apply-json').click();
      await row('checked').waitFor();
      expect(await text(page, '#compare tr[data-field="checked"] td.col-merged .source')).toBe(
        'typed by you',
      );
      await shot(page, '06-merge');

      await page.locator('#save').click();
      await page.locator('#conflict-list').waitFor();
      expect(await text(page, '#notice')).toBe('Saved. “order-17” has a single version again.');
      expect(await rowIds(page)).toEqual(['invoice-3', 'memo']);
      await shot(page, '07-after-save');

      const { _id, _rev, ...body } = await docWithConflicts('shop', 'order-17');
      expect(_id).toBe('order-17');
      expect(_rev).toMatch(/^3-/);
      expect(body).toEqual({
        customer: 'Ada Lovelace',
        price: 12,
        colour: otherColour,
        note: 'Leave at the door',
        items: ['tea'],
        checked: true,
      });
    },
  );

  it('keeps one version as it is', { timeout: TIMEOUT }, async () => {
    const before = await versionsOf('shop', 'invoice-3');
    const chosen = before.leaves[1]!;
    const page = await loggedInPage('#/db/shop/doc/invoice-3');
    await page.locator('#compare').waitFor();
    await page
      .locator('#compare thead th[data-version="B"]')
      .getByRole('button', { name: 'Keep this version' })
      .click();
    expect(await text(page, '#choice')).toBe(
      'You are keeping version B as it is. Version A will be removed (the server keeps it in its history).',
    );
    expect(await page.locator('#compare thead th[data-version="B"]').getAttribute('class')).toContain(
      'chosen',
    );
    await shot(page, '09-keep-a-version');
    await page.locator('#save').click();
    await page.locator('#conflict-list').waitFor();
    expect(await text(page, '#notice')).toBe('Saved. “invoice-3” has a single version again.');
    expect(await rowIds(page)).not.toContain('invoice-3');

    expect(await docWithConflicts('shop', 'invoice-3')).toEqual(chosen.doc);
  });

  it(
    'hides clock stamps from people and carries them into the merge, which the server stamps anew',
    { timeout: TIMEOUT },
    async () => {
      // Stamps from the past: a stamp far in the future is not adopted by the server's clock.
      const stampA = '001700000000000-0000-tablet';
      const stampB = '001700000060000-0000-laptop';
      expect((await t.fetch('/clocks', { method: 'PUT' })).status).toBe(201);
      const resolver = await t.fetch('/clocks/_resolver', {
        method: 'PUT',
        body: JSON.stringify({ strategy: 'couchdb', stamping: { field: 'settee_hlc' } }),
      });
      expect(resolver.status).toBe(200);
      const leaves = [
        { _id: 'note', _rev: `1-${'a'.repeat(32)}`, text: 'from the tablet', settee_hlc: stampA },
        { _id: 'note', _rev: `1-${'b'.repeat(32)}`, text: 'from the laptop', settee_hlc: stampB },
      ];
      const written = await t.fetch('/clocks/_bulk_docs', {
        method: 'POST',
        body: JSON.stringify({ docs: leaves, new_edits: false }),
      });
      expect(written.status).toBe(201);
      const versions = await getJson<{ stamp_fields: string[] }>(t, '/clocks/_resolve/note');
      expect(versions.stamp_fields).toContain('settee_hlc');

      const page = await loggedInPage('#/db/clocks/doc/note');
      await page.locator('#compare').waitFor();
      expect(await text(page, '#summary')).toBe(
        '2 versions of this document disagree. They differ in 1 field: text.',
      );
      expect(await page.locator('#compare tr[data-field="settee_hlc"]').count()).toBe(0);
      await page.getByText('Advanced: edit the merged result as JSON').click();
      // The editor is filled as it opens.
      await expect.poll(() => page.locator('#json-editor').inputValue()).not.toBe('');
      const typed = JSON.parse(await page.locator('#json-editor').inputValue());
      expect(typed).not.toHaveProperty('settee_hlc');
      await page.locator('#json-editor').fill(JSON.stringify({ ...typed, text: 'both' }));
      await page.locator('#apply-json').click();
      await page.locator('#save').click();
      await page.getByText('Saved. “note” has a single version again.').waitFor();

      const doc = await docWithConflicts('clocks', 'note');
      expect(doc.text).toBe('both');
      expect(doc._conflicts).toBeUndefined();
      // The kept version's stamp went in with the merge, and the server stamped it later still.
      expect(typeof doc.settee_hlc).toBe('string');
      expect((doc.settee_hlc as string) > stampB).toBe(true);
    },
  );

  it('merges with the attached files of the version they are taken from', { timeout: TIMEOUT }, async () => {
    const page = await loggedInPage('#/db/files/doc/photo');
    await page.locator('#compare').waitFor();
    expect(await text(page, '#summary')).toBe(
      '2 versions of this document disagree. They differ in 1 field: title, and in their attached files.',
    );
    const files = page.locator('#compare tr[data-field="_attachments"]');
    expect(await files.getAttribute('class')).toContain('differs');
    const winnerFiles = await files.locator('td.col-version[data-version="A"]').innerText();
    const otherFiles = await files.locator('td.col-version[data-version="B"]').innerText();
    expect([winnerFiles, otherFiles].join('\n')).toMatch(/extra\.txt/);
    // Whichever version won, take the title from one and the files from the other.
    await files
      .locator('td.col-version[data-version="B"]')
      .getByRole('button', { name: 'Use these files' })
      .click();
    const title = page.locator('#compare tr[data-field="title"]');
    if ((await text(page, '#compare tr[data-field="title"] td.col-merged .value')) !== 'Beach at dawn') {
      await title
        .locator('td.col-version', { hasText: 'Beach at dawn' })
        .getByRole('button', { name: 'Use this value' })
        .click();
    }
    const b = (await versionsOf('files', 'photo')).leaves[1]!;
    await shot(page, '10-merge-with-files');
    await page.locator('#save').click();
    await page.getByText('Saved. “photo” has a single version again.').waitFor();

    const doc = await docWithConflicts('files', 'photo');
    expect(doc._conflicts).toBeUndefined();
    expect(doc.title).toBe('Beach at dawn');
    expect(Object.keys(doc._attachments as object)).toEqual(Object.keys(b.doc._attachments as object));
    expect(doc._rev).toMatch(/^3-/);
  });

  it(
    'shows untrusted values as text, and says so when the document changed meanwhile',
    { timeout: TIMEOUT },
    async () => {
      const page = await loggedInPage('#/db/shop/doc/memo');
      await page.locator('#compare').waitFor();
      const cells = await page.locator('#compare tr[data-field="text"] td.col-version').allInnerTexts();
      expect(cells.join('\n')).toContain('<img src=x onerror="window.__xss = 1">');
      expect(cells.join('\n')).toContain('<b>bold</b>');
      expect(await page.locator('#compare img, #compare b').count()).toBe(0);
      expect(await page.evaluate(() => (globalThis as { __xss?: number }).__xss)).toBeUndefined();

      // A third version arrives (a replication) while the page is open.
      const third = await t.fetch('/shop/_bulk_docs', {
        method: 'POST',
        body: JSON.stringify({
          docs: [{ _id: 'memo', _rev: `1-${'f'.repeat(32)}`, text: 'third' }],
          new_edits: false,
        }),
      });
      expect(third.status).toBe(201);
      await page
        .locator('#compare thead th[data-version="A"]')
        .getByRole('button', { name: 'Keep this version' })
        .click();
      await page.locator('#save').click();
      await page.locator('#save-error').waitFor();
      expect(await text(page, '#save-error')).toMatch(/^This document changed while you were looking at it/);
      expect(await page.locator('#save').isDisabled()).toBe(true);
      await shot(page, '08-changed-meanwhile');

      await page.getByRole('button', { name: 'Reload the latest versions' }).click();
      await page.getByText('3 versions of this document disagree.', { exact: false }).waitFor();
      expect(await page.locator('#compare thead th.col-version').count()).toBe(3);
      await page
        .locator('#compare thead th[data-version="A"]')
        .getByRole('button', { name: 'Keep this version' })
        .click();
      await page.locator('#save').click();
      await page.getByText('No conflicts here', { exact: false }).waitFor();
      expect(await text(page, '#notice')).toBe('Saved. “memo” has a single version again.');
      expect((await docWithConflicts('shop', 'memo'))._conflicts).toBeUndefined();
    },
  );
});
