/**
 * The console's Server view, end to end in a real headless Chromium: live charts of the server's
 * metrics (`_stats`, `_system`) whose values move as requests reach the server, each value in the
 * page as text and its drawing hidden from screen readers; the log's recent errors listed newest
 * first after a request that logs one; and all of it readable on a phone. The page samples every
 * 2 s by itself: the tests wait on what it shows, never on a clock.
 */
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import type { TestServer } from '../server/harness.js';
import { PHONE, SHOTS, useAdminPage } from './fixtures.js';

const TIMEOUT = 60_000;
/** A few of the page's 2-second samples. */
const EVENTUALLY = { timeout: 15_000, interval: 100 };
const CHART_IDS = [
  'requests',
  'request-time',
  'open-databases',
  'live-feeds',
  'documents',
  'replication',
  'memory',
  'event-loop',
];

let t: TestServer;
let page: Page;

useAdminPage(
  async (server) => {
    t = server;
    expect((await t.fetch('/shop', { method: 'PUT' })).status).toBe(201);
  },
  (ui) => ({ t, page } = ui),
);

/** The number a chart shows as text for one of its lines (`12.5/s` → 12.5); NaN for `—`. */
async function shown(chart: string, line: string): Promise<number> {
  return Number.parseFloat(await page.locator(`#chart-${chart} dd[data-line="${line}"]`).innerText());
}

async function send(method: string, path: string, body?: unknown): Promise<number> {
  const response = await t.fetch(path, {
    method,
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  await response.arrayBuffer();
  return response.status;
}

describe('the Server view', () => {
  it('charts the metrics live: the values move after requests are made', { timeout: TIMEOUT }, async () => {
    await page.getByRole('link', { name: 'Server', exact: true }).click();
    // Rates need two samples: once one shows, the page is sampling.
    await expect.poll(() => shown('requests', '2xx'), EVENTUALLY).toBeGreaterThan(0);
    for (const id of CHART_IDS) {
      const chart = page.locator(`#chart-${id}`);
      expect(await chart.locator('svg').getAttribute('aria-hidden')).toBe('true');
      expect(await chart.locator('dd').count()).toBeGreaterThan(0);
    }
    expect(await shown('open-databases', 'open')).toBeGreaterThanOrEqual(1);
    expect(await shown('memory', 'rss')).toBeGreaterThan(0);
    // The page's own requests all succeed: 4xx stays at zero until someone asks for what is not there.
    expect(await shown('requests', '4xx')).toBe(0);
    expect(await shown('documents', 'written')).toBe(0);

    for (let i = 0; i < 20; i++) expect(await send('GET', `/shop/missing-${i}`)).toBe(404);
    const docs = Array.from({ length: 50 }, (_, i) => ({ _id: `doc-${i}` }));
    expect(await send('POST', '/shop/_bulk_docs', { docs })).toBe(201);
    await expect.poll(() => shown('requests', '4xx'), EVENTUALLY).toBeGreaterThan(0);
    await expect.poll(() => shown('documents', 'written'), EVENTUALLY).toBeGreaterThan(0);
    // The request time of the requests answered between two samples.
    expect(await shown('request-time', 'median')).toBeGreaterThan(0);
    // Each line is drawn once there are two samples of it.
    expect(await page.locator('#chart-requests path.series-1').getAttribute('d')).toMatch(/^M[\d.,]+L/);
    await page.screenshot({ path: `${SHOTS}37-console-server-metrics.png`, fullPage: true });
  });

  it(
    'lists the recent errors of the log, newest first, after a request that logs one',
    { timeout: TIMEOUT },
    async () => {
      await page.getByRole('link', { name: 'Server', exact: true }).click();
      await page.locator('#chart-requests').waitFor();
      // CouchDB's purge is one of the endpoints Settee answers with 501: a server error, logged.
      expect(await send('POST', '/shop/_purge?token=tok3n', {})).toBe(501);
      const rows = page.locator('#error-list tbody tr');
      await rows.first().waitFor(EVENTUALLY);
      await expect
        .poll(() => rows.first().locator('td[data-label="Request"]').innerText(), EVENTUALLY)
        .toBe('POST /shop/_purge?token=*** → 501');
      expect(await rows.first().getAttribute('data-level')).toBe('warn');
      const failed = rows.nth(1);
      expect(await failed.getAttribute('data-level')).toBe('error');
      expect(await failed.locator('td[data-label="Message"]').innerText()).toMatch(/^request failed: /);
      expect(await page.locator('body').innerText()).not.toContain('tok3n');
    },
  );

  it('fits a phone: nothing needs sideways scrolling', { timeout: TIMEOUT }, async () => {
    await page.setViewportSize(PHONE);
    try {
      await page.getByRole('link', { name: 'Server', exact: true }).click();
      await page.locator('#error-list').waitFor();
      await expect.poll(() => shown('requests', '2xx'), EVENTUALLY).toBeGreaterThan(0);
      expect(await page.evaluate('document.documentElement.scrollWidth > window.innerWidth')).toBe(false);
      // One chart a row: each as wide as the page's content.
      const box = await page.locator('#chart-requests').boundingBox();
      expect(box!.width).toBeGreaterThan(PHONE.width * 0.8);
      await page.screenshot({ path: `${SHOTS}38-console-server-phone.png`, fullPage: true });
    } finally {
      await page.setViewportSize({ width: 1280, height: 860 });
    }
  });
});
