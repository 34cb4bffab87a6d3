/**
 * `requestPersistentStorage` in a real page (headless Chromium). Chromium grants persistence on
 * its own heuristics (site engagement, bookmarks, an installed app) and never prompts, so what is
 * deterministic is tested: a fresh profile is refused without a prompt, and whatever Chromium
 * decides — set here through DevTools' permission override for `durableStorage`, granted or
 * denied — is what the app is told, by the function and by `syncInBrowser`'s `persisted` event,
 * and matches `navigator.storage.persisted()` afterwards.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from '../ui/fixtures.js';
import { BROWSER_ENTRY, bundleForBrowser, servePage } from './browser-bundle.js';

type Settee = typeof import('../../src/browser.js');

let pages: Awaited<ReturnType<typeof servePage>>;
let browser: Browser;

beforeAll(async () => {
  pages = await servePage((await bundleForBrowser(BROWSER_ENTRY, 'Settee')).code);
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await pages?.close();
});

/** A page of a fresh profile, with Chromium's durable-storage permission set first when given. */
async function pageWith(permission?: 'granted' | 'denied'): Promise<Page> {
  const context = await browser.newContext();
  const page = await context.newPage();
  if (permission) {
    const devtools = await context.newCDPSession(page);
    const { targetInfo } = await devtools.send('Target.getTargetInfo');
    await devtools.send('Browser.setPermission', {
      permission: { name: 'persistent-storage' },
      setting: permission,
      origin: pages.origin,
      browserContextId: targetInfo.browserContextId,
    });
  }
  await page.goto(pages.origin);
  return page;
}

/** What the app is told by the function and by a browser sync, and what the browser reports after. */
function answers(page: Page) {
  return page.evaluate(async () => {
    const { Settee } = globalThis as unknown as { Settee: Settee };
    const nav = (globalThis as unknown as { navigator: { storage: { persisted(): Promise<boolean> } } })
      .navigator;
    const told = await Settee.requestPersistentStorage();
    const [a, b] = [await Settee.Database.open('persist-a'), await Settee.Database.open('persist-b')];
    const handle = Settee.syncInBrowser(a, b, { persist: true, lock: 'persist' });
    const event = await new Promise<boolean>((resolve) =>
      handle.on('persisted', (e) => resolve(e.persisted)),
    );
    await handle.stop();
    await Promise.all([a.destroy(), b.destroy()]);
    return { told, event, persisted: await nav.storage.persisted() };
  });
}

describe('requestPersistentStorage in Chromium', () => {
  it('tells a fresh profile no, without a prompt, and the browser agrees', async () => {
    const page = await pageWith();
    expect(await answers(page)).toEqual({ told: false, event: false, persisted: false });
    await page.context().close();
  });

  it('tells the app yes where the browser grants persistence', async () => {
    const page = await pageWith('granted');
    expect(await answers(page)).toEqual({ told: true, event: true, persisted: true });
    await page.context().close();
  });

  it('tells the app no where the browser denies it', async () => {
    const page = await pageWith('denied');
    expect(await answers(page)).toEqual({ told: false, event: false, persisted: false });
    await page.context().close();
  });

  it('answers false where the page has no StorageManager persist()', async () => {
    const page = await pageWith();
    const told = await page.evaluate(() =>
      (globalThis as unknown as { Settee: Settee }).Settee.requestPersistentStorage({}),
    );
    expect(told).toBe(false);
    await page.context().close();
  });
});
