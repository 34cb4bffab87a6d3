/**
 * The console's replication and server views, end to end in a real headless Chromium: starting
 * a continuous replication from the form (its credentials never shown back), watching it copy,
 * seeing it among the server's active tasks, and cancelling it; a transient `_replicate` job
 * cancelled from the page; a job that fails, with its error. Every outcome is checked again
 * through the server's HTTP API; the page refreshes itself, and the tests wait on what it shows.
 */
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { ADMIN, type TestServer } from '../server/harness.js';
import { getJson, SHOTS, useAdminPage } from './fixtures.js';

const TIMEOUT = 60_000;
/** Long enough for a replication to copy and for the page's next refresh (every 2 s) to show it. */
const EVENTUALLY = { timeout: 10_000 };

let t: TestServer;
let page: Page;

useAdminPage(
  async (server) => {
    t = server;
    for (const name of ['src', 'dst', 'other'])
      expect((await t.fetch(`/${name}`, { method: 'PUT' })).status).toBe(201);
    expect((await t.fetch('/src/first', { method: 'PUT', body: '{"n":1}' })).status).toBe(201);
  },
  (ui) => ({ t, page } = ui),
);

/** The `_replicator` documents that are jobs (not design documents). */
async function jobDocs(): Promise<string[]> {
  const all = await getJson<{ rows: { id: string }[] }>(t, '/_replicator/_all_docs');
  return all.rows.map((row) => row.id).filter((id) => !id.startsWith('_design/'));
}

async function hasDoc(db: string, id: string): Promise<boolean> {
  return (await t.fetch(`/${db}/${id}`)).status === 200;
}

const jobRows = (table: string) => page.locator(`#${table} tbody tr`);

describe('replication in the console', () => {
  it(
    'starts a continuous replication from the form, shows it running and among active tasks, and cancels it',
    { timeout: TIMEOUT },
    async () => {
      // The Server view first: nothing runs yet, and the view refreshes itself.
      await page.getByRole('link', { name: 'Server', exact: true }).click();
      await page.locator('#no-tasks').waitFor();
      // Its metrics are console-server.test.ts's.
      await page.locator('#chart-requests').waitFor();

      await page.getByRole('link', { name: 'Replication', exact: true }).click();
      await page.locator('#no-doc-jobs').waitFor();
      await page.getByLabel('Source: database name or URL').fill('src');
      // The target by URL, with credentials typed into the form: they must never show again.
      await page.getByLabel('Target: database name or URL').fill(`${t.url}/dst`);
      await page.getByLabel('Target user name (optional)').fill(ADMIN.name);
      await page.getByLabel('Target password (optional)').fill(ADMIN.password);
      await page.getByLabel('Continuous: keep copying new changes until cancelled').check();
      await page.getByRole('button', { name: 'Start replication' }).click();
      await page.getByText(`Started replicating src to ${t.url}/dst.`).waitFor();
      expect(await page.getByLabel('Target password (optional)').inputValue()).toBe('');

      const row = jobRows('doc-jobs').first();
      await row.locator('.state-running').waitFor();
      expect(await row.locator('td[data-label="From → to"]').innerText()).toBe(`src → ${t.url}/dst`);
      await expect.poll(() => hasDoc('dst', 'first'), EVENTUALLY).toBe(true);
      // Continuous: a later write is copied too, and the progress shown follows.
      expect((await t.fetch('/src/second', { method: 'PUT', body: '{"n":2}' })).status).toBe(201);
      await expect.poll(() => hasDoc('dst', 'second'), EVENTUALLY).toBe(true);
      await expect
        .poll(() => row.locator('td[data-label="Progress"]').innerText(), EVENTUALLY)
        .toMatch(/^2 written of 2 read/);
      expect(await page.locator('body').innerText()).not.toContain(ADMIN.password);
      await page.screenshot({ path: `${SHOTS}35-console-replication.png`, fullPage: true });

      // It is an active task of the server: the Server view shows it without being reloaded.
      await page.getByRole('link', { name: 'Server', exact: true }).click();
      const task = page.locator('#task-list tr[data-type="replication"]');
      await task.waitFor();
      expect(await task.locator('td[data-label="On"]').innerText()).toBe(`src → ${t.url}/dst (continuous)`);
      await page.screenshot({ path: `${SHOTS}36-console-server.png`, fullPage: true });

      await page.getByRole('link', { name: 'Replication', exact: true }).click();
      const [docId] = await jobDocs();
      await page.getByRole('button', { name: `Cancel ${docId}` }).click();
      await page.getByText(`Cancelled the job “${docId}”: its _replicator document is deleted.`).waitFor();
      await page.locator('#no-doc-jobs').waitFor();
      expect(await jobDocs()).toEqual([]);
      await expect
        .poll(async () => (await getJson<{ jobs: unknown[] }>(t, '/_scheduler/jobs')).jobs, EVENTUALLY)
        .toEqual([]);
    },
  );

  it('cancels a continuous replication started by POST /_replicate', { timeout: TIMEOUT }, async () => {
    // Shown before the replication starts: the Server view picks it up by refreshing itself.
    await page.goto(`${t.url}/_ui/#/server`);
    await page.locator('#no-tasks').waitFor();
    const started = await t.fetch('/_replicate', {
      method: 'POST',
      body: JSON.stringify({ source: 'src', target: 'other', continuous: true }),
    });
    expect(started.status).toBe(202);
    const { _local_id: id } = (await started.json()) as { _local_id: string };
    await page.locator('#task-list tr[data-type="replication"]').waitFor();
    expect(await page.locator('#task-list td[data-label="On"]').innerText()).toBe('src → other (continuous)');
    await page.goto(`${t.url}/_ui/#/replication`);
    const row = page.locator(`#transient-jobs tr[data-job="${id}"]`);
    await row.locator('.state-running').waitFor();
    await row.getByRole('button', { name: /^Cancel / }).click();
    await page.getByText('Cancelled the replication.').waitFor();
    await page.locator('#no-transient-jobs').waitFor();
    expect((await getJson<{ jobs: unknown[] }>(t, '/_scheduler/jobs')).jobs).toEqual([]);
  });

  it(
    'shows jobs that crash or fail with their last error, and removes them',
    { timeout: TIMEOUT },
    async () => {
      await page.goto(`${t.url}/_ui/#/replication`);
      // A missing source: the job crashes and is retried, as CouchDB's scheduler retries it.
      await page.getByLabel('Source: database name or URL').fill('missing');
      await page.getByLabel('Target: database name or URL').fill('dst');
      await page.getByLabel('Source: database name or URL').press('Enter');
      const row = jobRows('doc-jobs').first();
      await row.locator('.state-crashing').waitFor();
      expect(await row.locator('td[data-label="Last error"]').innerText()).toMatch(/missing/);
      await row.getByRole('button', { name: /^Cancel / }).click();
      await page.locator('#no-doc-jobs').waitFor();

      // A name no database may have: the job fails for good, its reason shown; it is only removed.
      await page.getByLabel('Source: database name or URL').fill('Not A Name');
      await page.getByLabel('Target: database name or URL').fill('dst');
      await page.getByRole('button', { name: 'Start replication' }).click();
      await row.locator('.state-failed').waitFor();
      expect(await row.locator('td[data-label="Last error"]').innerText()).toMatch(/Not A Name/);
      await row.getByRole('button', { name: /^Remove / }).click();
      await page.locator('#no-doc-jobs').waitFor();
      expect(await jobDocs()).toEqual([]);
    },
  );
});
