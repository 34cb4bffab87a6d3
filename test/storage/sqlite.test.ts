import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqliteStorage } from '../../src/storage/sqlite/sqlite-storage.js';
import type { Storage } from '../../src/storage/types.js';
import { newDoc } from './conformance/helpers.js';
import { runStorageTests } from './conformance.js';

/** A fresh temp folder and a file path in it; every storage opened is closed by `cleanup`. */
function tempPlace() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'settee-'));
  const file = path.join(dir, 'db.sqlite');
  const opened: Storage[] = [];
  const open = (): SqliteStorage => {
    const storage = new SqliteStorage(file);
    opened.push(storage);
    return storage;
  };
  const cleanup = async (): Promise<void> => {
    for (const storage of opened) await storage.close();
    fs.rmSync(dir, { recursive: true, force: true });
  };
  return { dir, file, open, cleanup };
}

runStorageTests('SqliteStorage', async () => {
  const place = tempPlace();
  return { storage: place.open(), reopen: async () => place.open(), cleanup: place.cleanup };
});

describe('SqliteStorage', () => {
  let place: ReturnType<typeof tempPlace>;
  beforeEach(() => {
    place = tempPlace();
  });
  afterEach(async () => {
    await place.cleanup();
  });

  // The second opener waits out better-sqlite3's 5 s busy timeout before it fails.
  it.each(['new', 'reopened'])('refuses a second opener of an open %s file', async (kind) => {
    if (kind === 'reopened') {
      const earlier = place.open();
      await earlier.writeDocs([newDoc('earlier')]);
      await earlier.close();
    }
    const owner = place.open();
    expect(() => place.open()).toThrow(expect.objectContaining({ code: 'SQLITE_BUSY' }));
    // The owner is unharmed and keeps writing.
    const [seq] = await owner.writeDocs([newDoc('owned')]);
    expect(await owner.stats()).toMatchObject({ updateSeq: seq });
    await owner.close();
    const next = place.open();
    expect((await next.getDocs(['owned']))[0]?.seq).toBe(seq);
  });

  it('writes through a WAL in memory-indexed exclusive mode, with incremental auto-vacuum', async () => {
    const storage = place.open();
    await storage.writeDocs([newDoc('a')]);
    expect(fs.existsSync(`${place.file}-wal`)).toBe(true);
    // Exclusive locking set before WAL keeps the WAL index in memory: no -shm for others to join.
    expect(fs.existsSync(`${place.file}-shm`)).toBe(false);
    await storage.close();
    const raw = new BetterSqlite3(place.file, { readonly: true });
    try {
      expect(raw.pragma('journal_mode', { simple: true })).toBe('wal');
      expect(raw.pragma('auto_vacuum', { simple: true })).toBe(2);
    } finally {
      raw.close();
    }
  });

  it('destroy deletes the file and its WAL', async () => {
    const storage = place.open();
    await storage.writeDocs([newDoc('a')]);
    await storage.destroy();
    expect(fs.readdirSync(place.dir)).toEqual([]);
  });

  it('reports its size on disk', async () => {
    const storage = place.open();
    await storage.writeDocs(
      Array.from({ length: 200 }, (_, i) => newDoc(`doc-${i}`, '1-a', { pad: 'x'.repeat(500) })),
    );
    const stats = await storage.stats();
    expect(stats.fileSize).toBeGreaterThan(100_000);
    expect(stats.activeSize).toBeGreaterThan(0);
    expect(stats.activeSize).toBeLessThanOrEqual(stats.fileSize);
  });
});
