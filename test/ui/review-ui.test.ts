/**
 * The web page's review of conflicts, in a real headless Chromium: nested fields compared one by
 * one, deleted versions among the versions, each version's clock stamp as a time and an origin,
 * the history of resolutions, search by id, and resolving many documents at once — each checked
 * afterwards through the server's HTTP API.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN, startServer, type TestServer } from '../server/harness.js';
import { freshPage, getJson, launchChromium, logInAs, quickConflicts } from './fixtures.js';

const TIMEOUT = 60_000;
/** HLC stamps (src/conflicts/hlc.ts): 15 digits of wall ms, 4 of counter, then the node id. */
const TABLET = '001700000000000-0000-tablet'; // 2023-11-14T22:13:20Z
const PHONE = '001700000060000-0003-phone'; // a minute later
const LAPTOP = '001700000120000-0000-laptop'; // a minute later still

let t: TestServer;
let browser: Browser;
const problems: string[] = [];
const pages: Page[] = [];

type Body = Record<string, unknown>;
const rev = (gen: number, digit: string) => `${gen}-${digit.repeat(32)}`;

/** Revisions as a replicator writes them (new_edits=false), each with its history. */
async function writeRevisions(db: string, docs: { id: string; path: string[]; body: Body }[]) {
  const payload = docs.map(({ id, path, body }) => ({
    _id: id,
    _rev: path[0],
    _revisions: { start: Number(path[0]!.split('-')[0]), ids: path.map((r) => r.split('-')[1]) },
    ...body,
  }));
  const res = await t.fetch(`/${db}/_bulk_docs`, {
    method: 'POST',
    body: JSON.stringify({ docs: payload, new_edits: false }),
  });
  if (res.status !== 201) throw new Error(`_bulk_docs: ${res.status}`);
}

/**
 * `id`: the original 1-o, then three replicas — one changed the zip code inside the address
 * (stamped on the tablet, version A: the winner), one changed the name without a clock (B), and
 * one deleted the document (stamped on the phone, C).
 */
async function splitThreeWays(db: string, id: string): Promise<void> {
  const address = { street: '1 Main St', zip: '10001', city: 'New York' };
  await writeRevisions(db, [{ id, path: [rev(1, 'o')], body: { name: 'Ada', address } }]);
  await writeRevisions(db, [
    {
      id,
      path: [rev(2, 'b'), rev(1, 'o')],
      body: { name: 'Ada', address: { ...address, zip: '10002' }, settee_hlc: TABLET },
    },
    { id, path: [rev(2, 'a'), rev(1, 'o')], body: { name: 'Ada Byron', address } },
    { id, path: [rev(2, 'd'), rev(1, 'o')], body: { _deleted: true, settee_hlc: PHONE } },
  ]);
}

async function createDb(name: string): Promise<void> {
  expect((await t.fetch(`/${name}`, { method: 'PUT' })).status).toBe(201);
}

beforeAll(async () => {
  [t, browser] = await Promise.all([startServer(), launchChromium()]);
  await createDb('people');
  await splitThreeWays('people', 'ada');
  await splitThreeWays('people', 'bob');
  await splitThreeWays('people', 'cy');
  await quickConflicts(t, 'fruit', ['apple-1', 'apple-2', 'apricot', 'banana-1', 'banana-2']);
  await createDb('stamped');
  for (const id of ['s-1', 's-2', 's-3', 'x-1', 'x-2']) {
    await writeRevisions('stamped', [
      { id, path: [rev(1, 'a')], body: { v: 'later', settee_hlc: LAPTOP } },
      { id, path: [rev(1, 'b')], body: { v: 'earlier', settee_hlc: TABLET } },
    ]);
  }
  // 23 resolutions by hand: two pages of history.
  const ids = Array.from({ length: 23 }, (_, i) => `h-${String(i).padStart(2, '0')}`);
  await quickConflicts(t, 'history', ids);
  for (const id of ids) {
    const res = await t.fetch(`/history/_resolve/${id}`, { method: 'POST', body: '{}' });
    expect(res.status).toBe(201);
  }
}, TIMEOUT);

afterEach(async () => {
  await Promise.all(pages.splice(0).map((page) => page.context().close()));
  expect(problems.splice(0)).toEqual([]);
});

afterAll(async () => {
  await browser?.close();
  await t?.stop();
}, TIMEOUT);

/** Logged in as the admin, in English as written in Britain, on UTC: times read the same anywhere. */
async function open(hash: string): Promise<Page> {
  const page = await freshPage(browser, `${t.url}/_ui/${hash}`, problems, undefined, {
    locale: 'en-GB',
    timezoneId: 'UTC',
  });
  pages.push(page);
  await logInAs(page, ADMIN.name, ADMIN.password);
  return page;
}

const text = async (page: Page, selector: string) => (await page.locator(selector).innerText()).trim();
const fieldRows = (page: Page) =>
  page.locator('#compare tbody tr').evaluateAll((rows) => rows.map((row) => row.getAttribute('data-field')));
const listed = (page: Page) =>
  page
    .locator('#conflict-list tbody tr')
    .evaluateAll((rows) => rows.map((row) => row.getAttribute('data-id')));

describe('reviewing a conflict', () => {
  it(
    'compares fields inside objects one by one and merges a nested choice',
    { timeout: TIMEOUT },
    async () => {
      const page = await open('#/db/people/doc/ada');
      await page.locator('#compare').waitFor();
      expect(await fieldRows(page)).toEqual(['name', 'address.street', 'address.zip', 'address.city']);
      const zip = page.locator('#compare tr[data-field="address.zip"]');
      expect(await zip.getAttribute('class')).toContain('differs');
      expect(await page.locator('#compare tr[data-field="address.street"]').getAttribute('class')).toContain(
        'same',
      );
      expect(await text(page, '#summary')).toMatch(/They differ in 2 fields: name, address\.zip\.$/);
      // Each one-sided change is in the merge already; take the original zip back from B.
      expect(await text(page, '#compare tr[data-field="address.zip"] td.col-merged .value')).toBe('10002');
      await zip
        .locator('td.col-version[data-version="B"]')
        .getByRole('button', { name: 'Use this value' })
        .click();
      expect(await text(page, '#compare tr[data-field="address.zip"] td.col-merged .value')).toBe('10001');
      await page.locator('#save').click();
      await page.locator('#conflict-list').waitFor();
      const doc = await getJson(t, '/people/ada?conflicts=true');
      expect(doc).toMatchObject({
        name: 'Ada Byron',
        address: { street: '1 Main St', zip: '10001', city: 'New York' },
      });
      expect(doc._conflicts).toBeUndefined();
    },
  );

  it('shows each version’s time and origin from its clock stamp', { timeout: TIMEOUT }, async () => {
    const page = await open('#/db/people/doc/cy');
    await page.locator('#compare').waitFor();
    const header = (label: string) => page.locator(`#compare thead th[data-version="${label}"]`);
    expect(await header('A').locator('time').getAttribute('datetime')).toBe('2023-11-14T22:13:20.000Z');
    expect(await header('A').locator('.stamp').innerText()).toMatch(
      /14 Nov 2023.*22:13:20[\s\S]*from tablet/,
    );
    expect(await header('B').locator('.stamp').innerText()).toBe('unstamped');
    expect(await header('C').locator('time').getAttribute('datetime')).toBe('2023-11-14T22:14:20.000Z');
    expect(await header('C').locator('.stamp').innerText()).toMatch(/22:14:20[\s\S]*from phone/);
  });

  it('lists a deleted version, and keeping it keeps the document deleted', { timeout: TIMEOUT }, async () => {
    const page = await open('#/db/people/doc/bob');
    await page.locator('#compare').waitFor();
    expect(await text(page, '#summary')).toMatch(
      /^2 versions of this document disagree\. One version deleted it\./,
    );
    const deleted = page.locator('#compare thead th.col-deleted[data-version="C"]');
    expect(await deleted.innerText()).toContain('deleted the document');
    expect(await text(page, '#compare tr[data-field="name"] td.col-deleted')).toBe('(deleted)');
    await deleted.getByRole('button', { name: 'Keep deleted' }).click();
    expect(await text(page, '#choice')).toBe(
      'You are keeping the document deleted, as version C left it. Version A and version B will be removed (the server keeps them in its history).',
    );
    await page.locator('#save').click();
    await page.locator('#conflict-list').waitFor();
    expect(await text(page, '#notice')).toBe('Saved. “bob” is deleted now.');
    expect((await t.fetch('/people/bob')).status).toBe(404);
    const leaves = await getJson<{ leaves: unknown[] }>(t, '/people/_resolve/bob');
    expect(leaves.leaves).toEqual([]);
  });

  it(
    'hides the tombstones an earlier resolution left, and still lists a real deletion',
    { timeout: TIMEOUT },
    async () => {
      // Resolved once (2-b kept, 2-a retired with a tombstone), then split again: two replicas
      // edited 2-b, a plain client deleted it (no stamp, no body, as CouchDB's DELETE writes).
      await createDb('resolved');
      await writeRevisions('resolved', [{ id: 'dee', path: [rev(1, 'o')], body: { name: 'Dee' } }]);
      await writeRevisions('resolved', [
        { id: 'dee', path: [rev(2, 'a'), rev(1, 'o')], body: { name: 'Dee A' } },
        { id: 'dee', path: [rev(2, 'b'), rev(1, 'o')], body: { name: 'Dee B' } },
      ]);
      const res = await t.fetch('/resolved/_resolve/dee', { method: 'POST', body: '{}' });
      expect(await res.json()).toMatchObject({ rev: rev(2, 'b'), deleted: [rev(2, 'a')] });
      await writeRevisions('resolved', [
        { id: 'dee', path: [rev(3, 'p'), rev(2, 'b'), rev(1, 'o')], body: { name: 'Dee P' } },
        { id: 'dee', path: [rev(3, 'q'), rev(2, 'b'), rev(1, 'o')], body: { name: 'Dee Q' } },
        { id: 'dee', path: [rev(3, 'd'), rev(2, 'b'), rev(1, 'o')], body: { _deleted: true } },
      ]);
      const page = await open('#/db/resolved/doc/dee');
      await page.locator('#compare').waitFor();
      expect(await text(page, '#summary')).toMatch(
        /^2 versions of this document disagree\. One version deleted it\./,
      );
      const deleted = page.locator('#compare thead th.col-deleted');
      expect(await deleted.count()).toBe(1);
      expect(await deleted.getAttribute('data-version')).toBe('C');
      expect(await deleted.locator('.rev').innerText()).toBe(`3-${'d'.repeat(8)}…`);
      expect(await page.locator('#compare tr[data-field="name"] td.col-deleted').count()).toBe(1);
    },
  );
});

describe('the history tab', () => {
  it(
    'pages through the resolutions, newest first, with who, when and what was discarded',
    { timeout: TIMEOUT },
    async () => {
      const page = await open('#/db/history');
      await page.locator('.tabs a[data-tab="history"]').click();
      await page.locator('#history').waitFor();
      expect(await text(page, '#history-summary')).toBe(
        '23 conflicts in this database resolved, the latest first.',
      );
      const entries = page.locator('#history .history-entry');
      expect(await entries.count()).toBe(20);
      const first = entries.first();
      expect(await first.getAttribute('data-id')).toBe('h-22');
      expect(await first.locator('.history-by').innerText()).toBe('admin');
      const api = await getJson<{ rows: { at: string }[] }>(t, '/history/_resolutions?doc=h-22');
      expect(await first.locator('time').getAttribute('datetime')).toBe(api.rows[0]!.at);
      await first.getByText('1 discarded version').click();
      expect(await first.locator('.history-loser').innerText()).toContain('side');
      expect(await text(page, '.pager .muted')).toBe('Showing 1–20 of 23');

      await page.getByRole('button', { name: 'Older →' }).click();
      await page.getByText('Showing 21–23 of 23').waitFor();
      expect(await entries.evaluateAll((rows) => rows.map((row) => row.getAttribute('data-id')))).toEqual([
        'h-02',
        'h-01',
        'h-00',
      ]);
      await page.getByRole('button', { name: '← Newer' }).click();
      await page.getByText('Showing 1–20 of 23').waitFor();

      // One document's history, from its entry.
      await first.locator('a.doc-link').click();
      await page.getByText('1 conflict of this document resolved, the latest first.').waitFor();
      expect(await entries.count()).toBe(1);
    },
  );
});

describe('the list of conflicted documents', () => {
  it('finds documents by the start of their id', { timeout: TIMEOUT }, async () => {
    const page = await open('#/db/fruit');
    await page.locator('#conflict-list').waitFor();
    await page.locator('#search').fill('ap');
    await page.getByRole('button', { name: 'Find' }).click();
    await page.getByText('Showing those whose id starts with “ap”.', { exact: false }).waitFor();
    expect(await listed(page)).toEqual(['apple-1', 'apple-2', 'apricot']);
    await page.locator('#search').fill('cherry');
    await page.getByRole('button', { name: 'Find' }).click();
    await page.getByText('No conflicted document’s id starts with “cherry”.').waitFor();
    expect(await page.locator('#conflict-list').count()).toBe(0);
    await page.getByRole('button', { name: 'Show all' }).click();
    await page.locator('#conflict-list').waitFor();
    expect(await listed(page)).toHaveLength(5);
  });

  it(
    'resolves the documents ticked, then all those matching, with the strategy chosen',
    { timeout: TIMEOUT },
    async () => {
      const page = await open('#/db/stamped');
      await page.locator('#bulk').waitFor();
      const choices = await page.locator('#strategy option').allInnerTexts();
      expect(choices).toEqual(['couchdb', 'last-writer-wins', 'field-merge', 'crdt']);
      expect(await page.locator('#resolve-many').isDisabled()).toBe(true);
      await page.locator('input.select-doc[data-id="s-1"]').check();
      await page.locator('input.select-doc[data-id="s-2"]').check();
      await page.locator('#strategy').selectOption('last-writer-wins');
      expect(await text(page, '#resolve-many')).toBe('Resolve 2 documents');
      await page.locator('#resolve-many').click();
      await page.getByText('Resolved 2 documents with last-writer-wins.').waitFor();
      await expect.poll(() => listed(page)).toEqual(['s-3', 'x-1', 'x-2']);
      for (const id of ['s-1', 's-2']) {
        expect(await getJson(t, `/stamped/${id}?conflicts=true`)).toEqual({
          _id: id,
          _rev: rev(1, 'a'),
          v: 'later',
          settee_hlc: LAPTOP,
        });
      }
      const history = await getJson<{ rows: { by: string }[] }>(t, '/stamped/_resolutions?doc=s-1');
      expect(history.rows.map((row) => row.by)).toEqual(['resolver:last-writer-wins by user:admin']);

      // Every match of a search, whether shown or not.
      await page.locator('#search').fill('x-');
      await page.getByRole('button', { name: 'Find' }).click();
      await expect.poll(() => listed(page)).toEqual(['x-1', 'x-2']);
      await page.locator('#strategy').selectOption('couchdb');
      await page.locator('#all-matching').check();
      await page.locator('#resolve-many').click();
      await page.getByText('Resolved 2 documents with couchdb.').waitFor();
      expect(await getJson(t, '/stamped/x-1?conflicts=true')).toMatchObject({
        _rev: rev(1, 'b'),
        v: 'earlier',
      });
      expect((await getJson<{ total_rows: number }>(t, '/stamped/_conflicts')).total_rows).toBe(1);

      // Options that are not JSON are refused before anything is sent.
      await page.locator('#search').fill('');
      await page.getByRole('button', { name: 'Find' }).click();
      await page.locator('input.select-doc[data-id="s-3"]').check();
      await page.locator('#strategy-options').fill('{ nope');
      await page.locator('#resolve-many').click();
      await page.getByText('The options must be a JSON object, written between { and }.').waitFor();
      expect((await getJson<{ total_rows: number }>(t, '/stamped/_conflicts')).total_rows).toBe(1);
    },
  );
});
