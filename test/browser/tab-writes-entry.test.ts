/**
 * Tabs of one origin share one IndexedDB database, each through its own `Database`: a write in
 * one must reach the others' live feeds and caches at once. Here two `Database`s share one
 * storage, as two tabs do, each through `shareWritesAcrossTabs` and a real BroadcastChannel
 * (Node's, the same API as the page's).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { shareWritesAcrossTabs } from '../../src/browser/tab-writes.js';
import { Database } from '../../src/database/database.js';
import { SqliteStorage } from '../../src/storage/sqlite/sqlite-storage.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** Two tabs' databases over one storage, and the channel name they share. */
async function twoTabs(): Promise<{ a: Database; b: Database }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'settee-tabs-'));
  const storage = new SqliteStorage(path.join(dir, 'shop.sqlite'));
  const channel = `settee-test:${path.basename(dir)}`;
  const a = await Database.fromStorage(shareWritesAcrossTabs(storage, channel), 'shop');
  const b = await Database.fromStorage(shareWritesAcrossTabs(storage, channel), 'shop');
  cleanups.push(async () => {
    await a.close();
    await b.close().catch(() => undefined); // the storage itself is closed once, with a
    fs.rmSync(dir, { recursive: true, force: true });
  });
  return { a, b };
}

describe('shareWritesAcrossTabs', () => {
  it("wakes another tab's live feed with a write made in this tab", async () => {
    const { a, b } = await twoTabs();
    const controller = new AbortController();
    const feed = b.changesFeed({ live: true, since: 'now', signal: controller.signal, include_docs: true });
    const next = feed[Symbol.asyncIterator]().next();

    const written = await a.put({ _id: 'sale-1', total: 12 });
    expect((await next).value).toMatchObject({ id: 'sale-1', doc: { _rev: written.rev, total: 12 } });
    controller.abort();
  });

  it("makes another tab forget a document's cached tree when this tab edits it", async () => {
    const { a, b } = await twoTabs();
    const first = await a.put({ _id: 'product-1', price: 3 });
    expect(await b.get('product-1')).toMatchObject({ _rev: first.rev, price: 3 }); // cached in b
    // b's live feed, past the first write: waiting for the next one.
    const controller = new AbortController();
    const rows = b.changesFeed({ live: true, since: 0, signal: controller.signal })[Symbol.asyncIterator]();
    expect((await rows.next()).value).toMatchObject({ id: 'product-1', changes: [{ rev: first.rev }] });

    const second = await a.put({ _id: 'product-1', _rev: first.rev, price: 4 });
    expect((await rows.next()).value).toMatchObject({ id: 'product-1', changes: [{ rev: second.rev }] });
    expect(await b.get('product-1')).toMatchObject({ _rev: second.rev, price: 4 });
    // …and b edits on top of a's revision, not on the one it had cached.
    const third = await b.put({ _id: 'product-1', _rev: second.rev, price: 5 });
    expect(third.rev).toMatch(/^3-/);
    controller.abort();
  });
});
