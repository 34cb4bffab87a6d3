import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Database } from '../../src/database/database.js';
import '../../src/storage/sqlite/open.js';
import { sqliteFilesSize, writeGenerations } from './generations.js';

/**
 * Compaction that gives the space back. CouchDB's `sizes` (src/couch/src/couch_db.erl,
 * `get_size_info`): `file` is the bytes on disk, `active` the bytes of live data; compaction
 * (src/couch/src/couch_bt_engine_compactor.erl) copies only the live data, so the file shrinks to it.
 */
describe('Database.compact', () => {
  let dir: string;
  let file: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'settee-compaction-'));
    file = path.join(dir, 'shop.sqlite');
  });
  afterEach(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** The smallest file that holds the same data: a VACUUMed copy, made once the file is closed. */
  function vacuumedSize(): number {
    const copy = path.join(dir, 'vacuumed.copy');
    const raw = new BetterSqlite3(file);
    try {
      raw.prepare('VACUUM INTO ?').run(copy);
    } finally {
      raw.close();
    }
    const size = fs.statSync(copy).size;
    fs.rmSync(copy);
    return size;
  }

  it('shrinks the files on disk to close to the live data, which sizes.active reports', async () => {
    const db = await Database.open(file, { durability: 'normal' });
    const revs = await writeGenerations(db, { docs: 1000, generations: 20, bodyBytes: 1000 });
    const before = (await db.info()).sizes;
    expect(before.file).toBe(sqliteFilesSize(file));
    // Nineteen bodies of twenty are history: active shows there is much to reclaim.
    expect(before.active).toBeLessThan(before.file / 2.5);

    await db.compact();
    const after = (await db.info()).sizes;
    expect(after.file).toBe(sqliteFilesSize(file));
    expect(fs.statSync(`${file}-wal`, { throwIfNoEntry: false })?.size ?? 0).toBe(0);
    expect(after.active).toBeLessThanOrEqual(after.file);
    expect(after.file).toBeLessThanOrEqual(2 * after.active + 64 * 1024);
    expect(after.file).toBeLessThan(before.file / 4);
    // Nothing live was lost.
    expect(await db.get('d999')).toMatchObject({ _rev: revs[999], generation: 20 });
    expect((await db.info()).doc_count).toBe(1000);
    await db.close();

    const ideal = vacuumedSize();
    expect(after.active).toBeLessThanOrEqual(1.2 * ideal);
    expect(after.file).toBeLessThanOrEqual(1.25 * ideal);
  });

  it('runs in steps: writes between them are kept, and a second call joins the first', async () => {
    const db = await Database.open(file, { durability: 'normal' });
    const revs = await writeGenerations(db, { docs: 1000, generations: 5, bodyBytes: 1000 });
    const seen: number[] = [];
    let edits = 0;
    const first = db.compact({
      onProgress: (progress) => {
        seen.push(progress);
        // A write between two steps: the edit of the next document.
        const id = `d${edits}`;
        void db
          .put({ _id: id, _rev: revs[edits], generation: 6 })
          .then(({ rev }) => (revs[Number(id.slice(1))] = rev));
        edits++;
      },
    });
    expect((await db.info()).compact_running).toBe(true);
    expect(db.compactionStatus()).toMatchObject({ progress: 0 });
    const second = db.compact();
    await Promise.all([first, second]);
    expect((await db.info()).compact_running).toBe(false);
    expect(db.compactionStatus()).toBeUndefined();
    expect(seen.length).toBeGreaterThan(3);
    expect(seen).toEqual([...seen].sort((a, b) => a - b));
    expect(seen.at(-1)).toBe(100);
    // The writes queued in the last step's callback land after it.
    await db.put({ _id: 'last', value: 1 });
    for (let i = 0; i < edits; i++)
      expect(await db.get(`d${i}`)).toMatchObject({ _rev: revs[i], generation: 6 });
    await db.close();
  });

  it('stops between two steps when its signal aborts, and can run again', async () => {
    const db = await Database.open(file, { durability: 'normal' });
    await writeGenerations(db, { docs: 1000, generations: 5, bodyBytes: 1000 });
    const controller = new AbortController();
    const stopped = db.compact({
      signal: controller.signal,
      onProgress: () => controller.abort(new Error('enough')),
    });
    await expect(stopped).rejects.toThrow('enough');
    expect((await db.info()).compact_running).toBe(false);
    const partly = (await db.info()).sizes;
    await db.compact();
    expect((await db.info()).sizes.file).toBeLessThan(partly.file / 2);
    await db.close();
  });

  it('ends quietly when the database is closed meanwhile, and the file opens again', async () => {
    const db = await Database.open(file, { durability: 'normal' });
    await writeGenerations(db, { docs: 500, generations: 4, bodyBytes: 1000 });
    let closing: Promise<void> | undefined;
    const compaction = db.compact({ onProgress: () => (closing ??= db.close()) });
    await compaction;
    await closing;
    const reopened = await Database.open(file);
    expect((await reopened.info()).doc_count).toBe(500);
    await reopened.compact();
    expect((await reopened.get('d499')).generation).toBe(4);
    await reopened.close();
  });

  it('does not start when the database is closed or deleted before its code has loaded', async () => {
    for (const end of ['close', 'destroy'] as const) {
      const db = await Database.open(path.join(dir, `${end}.sqlite`), { durability: 'normal' });
      await writeGenerations(db, { docs: 20, generations: 2, bodyBytes: 100 });
      // Its code is imported on first use: asked now, the compaction is seen running at once.
      const compaction = db.compact();
      expect((await db.info()).compact_running).toBe(true);
      await db[end]();
      await expect(compaction).resolves.toBeUndefined();
      expect(db.compactionStatus()).toBeUndefined();
    }
  });
});
