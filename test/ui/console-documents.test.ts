/**
 * The console's documents, end to end in a real headless Chromium: `_all_docs` a page at a time
 * and by the start of an id; one document with its revisions, conflicts and attachments; editing
 * it, meeting a 409 because someone else saved first, and settling that; creating and deleting
 * documents; and a `_find` query paged by its bookmark. Every outcome is checked again through
 * the server's HTTP API.
 */
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import type { TestServer } from '../server/harness.js';
import { getJson, SHOTS, useAdminPage } from './fixtures.js';

const TIMEOUT = 60_000;

let t: TestServer;
let page: Page;

async function post(path: string, body: unknown): Promise<void> {
  const res = await t.fetch(path, { method: 'POST', body: JSON.stringify(body) });
  if (!res.ok) throw new Error(`POST ${path}: ${res.status} ${await res.text()}`);
}

useAdminPage(
  async (server) => {
    t = server;
    expect((await t.fetch('/stock', { method: 'PUT' })).status).toBe(201);
    const items = Array.from({ length: 60 }, (_, i) => ({ _id: `item-${String(i).padStart(3, '0')}`, n: i }));
    const fruit = ['apple', 'banana', 'cherry', 'damson', 'elder'].map((name, i) => ({
      _id: `fruit-${name}`,
      type: 'fruit',
      name,
      price: 5 - i,
    }));
    await post('/stock/_bulk_docs', { docs: [...items, ...fruit] });
    await post('/stock/_index', { index: { fields: ['price'] }, name: 'by-price' });
    const file = { content_type: 'text/plain', data: Buffer.from('hello').toString('base64') };
    expect(
      (
        await t.fetch('/stock/photo', {
          method: 'PUT',
          body: JSON.stringify({ title: 'Beach', _attachments: { 'note.txt': file } }),
        })
      ).status,
    ).toBe(201);
    // Two versions of `split`, as two replicas would leave them.
    await post('/stock/_bulk_docs', {
      new_edits: false,
      docs: [
        { _id: 'split', _rev: `1-${'a'.repeat(32)}`, side: 'a' },
        { _id: 'split', _rev: `1-${'b'.repeat(32)}`, side: 'b' },
      ],
    });
  },
  (ui) => ({ t, page } = ui),
);

async function open(hash: string): Promise<void> {
  await page.goto('about:blank');
  await page.goto(`${t.url}/_ui/${hash}`);
}
const ids = (selector: string) =>
  page.locator(`${selector} tbody tr`).evaluateAll((rows) => rows.map((row) => row.getAttribute('data-id')));
const text = async (selector: string) => (await page.locator(selector).innerText()).trim();
const item = (i: number) => `item-${String(i).padStart(3, '0')}`;

async function docOf(id: string): Promise<Record<string, unknown>> {
  return getJson(t, `/stock/${encodeURIComponent(id)}`);
}

describe('the documents of the console', () => {
  it(
    'pages through _all_docs by key and finds documents by the start of their id',
    { timeout: TIMEOUT },
    async () => {
      // The database's own name leads to its documents, 50 at a time.
      await open('#/');
      await page.locator('tr[data-db-row="stock"] .db-name').click();
      await page.locator('#doc-list').waitFor();
      const total = 1 + 5 + 60 + 2; // the index's design document, fruit, items, photo and split
      expect(await text('#docs-summary')).toBe(
        `${total} documents, in id order. Open one to read or edit it.`,
      );
      const first = await ids('#doc-list');
      expect(first).toHaveLength(50);
      expect(first[0]).toMatch(/^_design\//);
      expect(first.slice(1, 7)).toEqual([
        'fruit-apple',
        'fruit-banana',
        'fruit-cherry',
        'fruit-damson',
        'fruit-elder',
        item(0),
      ]);
      expect(await text('.pager .muted')).toBe(`Showing 1–50 of ${total}`);

      await page.getByRole('button', { name: 'Next →' }).click();
      await page.getByText(`Showing 51–${total} of ${total}`).waitFor();
      expect(await ids('#doc-list')).toEqual([
        ...Array.from({ length: 16 }, (_, i) => item(44 + i)),
        'photo',
        'split',
      ]);
      await page.getByRole('button', { name: '← Previous' }).click();
      await page.getByText(`Showing 1–50 of ${total}`).waitFor();
      expect(await ids('#doc-list')).toEqual(first);

      await page.getByLabel('Find documents whose id starts with').fill('item-05');
      await page.getByLabel('Find documents whose id starts with').press('Enter');
      await page.getByText('Documents whose id starts with “item-05”.').waitFor();
      expect(await ids('#doc-list')).toEqual(Array.from({ length: 10 }, (_, i) => item(50 + i)));
      expect(await page.locator('.pager').count()).toBe(0);
      await page.getByLabel('Find documents whose id starts with').fill('nothing-');
      await page.getByRole('button', { name: 'Find', exact: true }).click();
      await page.getByText('No document’s id starts with “nothing-”.').waitFor();
    },
  );

  it('opens a document with its revisions, attachments and conflicts', { timeout: TIMEOUT }, async () => {
    await open('#/db/stock/docs/photo');
    await page.locator('#doc-json').waitFor();
    const stored = await docOf('photo');
    expect(JSON.parse(await page.locator('#doc-json').inputValue())).toEqual({ title: 'Beach' });
    expect(await text('#doc-rev')).toBe(`Revision ${String(stored._rev)}`);
    expect(await page.locator('#doc-revisions .entry').allInnerTexts()).toEqual([
      expect.stringContaining(String(stored._rev)),
    ]);
    const attachment = page.locator('#doc-attachments a', { hasText: 'note.txt' });
    expect(await attachment.getAttribute('href')).toBe('/stock/photo/note.txt');
    expect(await text('#doc-attachments .entry .muted')).toBe('text/plain, 5 bytes');
    expect(await page.locator('#doc-conflicts').count()).toBe(0);

    await open('#/db/stock/docs/split');
    await page.locator('#doc-conflicts').waitFor();
    expect(await text('#doc-conflicts')).toContain('2 versions of this document disagree.');
    await page.getByRole('link', { name: 'Compare and resolve them' }).click();
    await page.locator('#compare').waitFor();
  });

  it(
    'saves an edit, meets a 409 when someone saved first, and settles it by reloading',
    { timeout: TIMEOUT },
    async () => {
      await open('#/db/stock/docs/photo');
      await page.locator('#doc-json').waitFor();
      const editor = page.locator('#doc-json');
      await editor.fill(JSON.stringify({ title: 'Beach at dawn' }));
      await page.locator('#save-doc').click();
      await page.getByText('Saved “photo”.').waitFor();
      const saved = await docOf('photo');
      expect(saved).toMatchObject({ title: 'Beach at dawn', _attachments: { 'note.txt': { length: 5 } } });
      await expect.poll(() => page.locator('#doc-revisions .entry').count()).toBe(2);

      // Someone else saves while the page shows the old revision.
      const other = await t.fetch('/stock/photo', {
        method: 'PUT',
        body: JSON.stringify({ ...saved, title: 'Beach at noon' }),
      });
      expect(other.status).toBe(201);
      await editor.fill(JSON.stringify({ title: 'Beach at dusk' }));
      await page.locator('#save-doc').click();
      await page.locator('#save-error').waitFor();
      expect(await text('#save-error p')).toBe(
        'This document changed while you were looking at it, so nothing was saved. ' +
          'Reload to see its latest version; what you typed stays in the box until then, to copy.',
      );
      expect(await page.locator('#save-doc').isDisabled()).toBe(true);
      expect(JSON.parse(await editor.inputValue())).toEqual({ title: 'Beach at dusk' });
      expect((await docOf('photo')).title).toBe('Beach at noon');
      await page.screenshot({ path: `${SHOTS}33-console-doc-409.png`, fullPage: true });

      await page.getByRole('button', { name: 'Reload the latest version' }).click();
      await expect
        .poll(async () => JSON.parse(await editor.inputValue()))
        .toEqual({ title: 'Beach at noon' });
      await editor.fill(JSON.stringify({ title: 'Beach at dusk' }));
      await editor.press('Control+Enter');
      await page.getByText('Saved “photo”.').waitFor();
      expect(await docOf('photo')).toMatchObject({
        title: 'Beach at dusk',
        _attachments: { 'note.txt': { length: 5 } },
      });

      // What is not a JSON object is refused in the page, and nothing is sent.
      const rev = (await docOf('photo'))._rev;
      await editor.fill('[1, 2]');
      await page.locator('#save-doc').click();
      expect(await text('#doc-json-error')).toBe(
        'The document must be a JSON object, written between { and }.',
      );
      expect((await docOf('photo'))._rev).toBe(rev);
    },
  );

  it('creates a document, then deletes it once the deletion is confirmed', { timeout: TIMEOUT }, async () => {
    await open('#/db/stock/docs');
    await page.getByRole('link', { name: 'New document' }).click();
    await page.getByLabel('Document id').fill('note-1');
    await page.getByLabel('Fields as JSON').fill('{"text": "hello"}');
    await page.getByRole('button', { name: 'Create document' }).click();
    await page.getByText('Created “note-1”.').waitFor();
    await page.locator('#doc-rev').waitFor();
    expect(await docOf('note-1')).toMatchObject({ text: 'hello' });

    await open('#/db/stock/new');
    await page.getByLabel('Document id').fill('note-1');
    await page.getByRole('button', { name: 'Create document' }).click();
    await page.getByText('A document with the id “note-1” already exists.').waitFor();

    await open('#/db/stock/docs/note-1');
    await page.locator('#delete-doc').click();
    // Cancel has focus first; Escape backs out.
    await expect.poll(() => page.evaluate('document.activeElement.id')).toBe('cancel-delete-doc');
    await page.keyboard.press('Escape');
    await expect.poll(() => page.locator('#confirm-delete-doc').count()).toBe(0);
    expect((await t.fetch('/stock/note-1')).status).toBe(200);
    await page.locator('#delete-doc').click();
    await page.getByRole('button', { name: 'Delete note-1' }).click();
    await page.getByText('Deleted “note-1”.').waitFor();
    await page.locator('#doc-list').waitFor();
    expect((await t.fetch('/stock/note-1')).status).toBe(404);
  });

  it(
    'runs a _find query with fields and a sort, its results paged by bookmark',
    { timeout: TIMEOUT },
    async () => {
      await open('#/db/stock/docs');
      await page.getByRole('link', { name: 'Find', exact: true }).click();
      await page.getByLabel('Selector (JSON)').fill('{"type": "fruit", "price": {"$gt": 0}}');
      await page.getByLabel('Fields').fill('_id, name');
      await page.getByLabel('Sort (JSON)').fill('[{"price": "asc"}]');
      await page.getByLabel('Results per page').fill('2');
      await page.getByRole('button', { name: 'Run query' }).click();
      await page.locator('#find-list').waitFor();
      // Cheapest first: elder (1), damson (2), cherry (3), banana (4), apple (5).
      expect(await ids('#find-list')).toEqual(['fruit-elder', 'fruit-damson']);
      expect(await page.locator('#find-list .json-inline').allInnerTexts()).toEqual([
        '{"name":"elder"}',
        '{"name":"damson"}',
      ]);
      await page.screenshot({ path: `${SHOTS}34-console-find.png`, fullPage: true });
      await page.getByRole('button', { name: 'Next →' }).click();
      await expect.poll(() => ids('#find-list')).toEqual(['fruit-cherry', 'fruit-banana']);
      await page.getByRole('button', { name: 'Next →' }).click();
      await expect.poll(() => ids('#find-list')).toEqual(['fruit-apple']);
      expect(await page.getByRole('button', { name: 'Next →' }).isDisabled()).toBe(true);
      await page.getByRole('button', { name: '← Previous' }).click();
      await expect.poll(() => ids('#find-list')).toEqual(['fruit-cherry', 'fruit-banana']);

      // A selector that is not JSON never leaves the page; one the server refuses says why.
      await page.getByLabel('Selector (JSON)').fill('{"type": ');
      await page.getByRole('button', { name: 'Run query' }).click();
      await expect.poll(() => text('#find-error')).toMatch(/^This is not valid JSON/);
      await page.getByLabel('Selector (JSON)').fill('{"type": "fruit"}');
      await page.getByLabel('Sort (JSON)').fill('[{"name": "asc"}]');
      await page.getByRole('button', { name: 'Run query' }).click();
      await expect.poll(() => text('#find-error')).toMatch(/^Something went wrong: .*index/i);
    },
  );
});
