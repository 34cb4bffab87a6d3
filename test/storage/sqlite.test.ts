import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readLocal } from '../../src/storage/derived.js';
import { SCHEMA_VERSION } from '../../src/storage/sqlite/schema.js';
import { SqliteStorage } from '../../src/storage/sqlite/sqlite-storage.js';
import type { Storage } from '../../src/storage/types.js';
import {
  attMeta,
  collect,
  compactFully,
  content,
  docWrite,
  leaf,
  newDoc,
  node,
  stored,
} from './conformance/helpers.js';
import { runStorageTests } from './conformance.js';

/** A closed file's layout version and the names of `table`'s indexes, in order. */
function layoutOf(file: string, table: string): { version: number; indexes: string[] } {
  const raw = new BetterSqlite3(file, { readonly: true });
  try {
    const indexes = raw
      .prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ? ORDER BY name")
      .pluck()
      .all(table) as string[];
    return { version: raw.pragma('user_version', { simple: true }) as number, indexes };
  } finally {
    raw.close();
  }
}

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

  it('gives each database the page cache it is asked for (16 MB by default), and refuses a bad size', async () => {
    const cacheOf = (storage: SqliteStorage) =>
      (storage as unknown as { db: BetterSqlite3.Database }).db.pragma('cache_size', { simple: true });
    const embedded = new SqliteStorage(place.file);
    expect(cacheOf(embedded)).toBe(-16_000); // negative: KiB, as SQLite's pragma reads
    await embedded.close();
    const small = new SqliteStorage(place.file, { pageCacheKiB: 4000 });
    expect(cacheOf(small)).toBe(-4000);
    await small.close();
    expect(() => new SqliteStorage(place.file, { pageCacheKiB: 0 })).toThrow(RangeError);
  });

  // `sizes.active` is the pages in use less this count: it must be what a scan would find, after
  // edits (ancestors keep content), a dethroned winner (a leaf still), a pruned ancestor, and
  // compaction (nothing left).
  it('keeps count of the content compaction would reclaim, as a scan finds it', async () => {
    const big = { pad: 'é'.repeat(500) };
    const storage = place.open();
    await storage.writeDocs([newDoc('a', '1-a', big), newDoc('b', '1-b', big)]);
    await storage.writeDocs([
      docWrite('a', [leaf('2-a')], {
        added: [node('2-a', '1-a', { body: big })],
        changed: [{ ...stored(node('1-a', null)), leaf: false }],
      }),
      docWrite('b', [leaf('2-x'), leaf('1-b')], {
        added: [node('1-x', null, { body: big, leaf: false }), node('2-x', '1-x', { body: big })],
      }),
    ]);
    await storage.writeDocs([
      docWrite('a', [leaf('3-a')], {
        added: [node('3-a', '2-a', { body: big })],
        changed: [{ ...stored(node('2-a', null)), leaf: false }],
        removed: ['1-a'],
      }),
    ]);
    const scanned = () => {
      const raw = new BetterSqlite3(place.file, { readonly: true });
      try {
        const kept = raw.prepare("SELECT value FROM meta WHERE key = 'garbage_bytes'").pluck().get();
        const counted = raw
          .prepare(
            `SELECT COALESCE(SUM(octet_length(body) + COALESCE(octet_length(atts), 0)), 0) FROM revs
             WHERE leaf = 0 AND body IS NOT NULL`,
          )
          .pluck()
          .get();
        return { kept: Number(kept), counted };
      } finally {
        raw.close();
      }
    };
    await storage.close();
    const before = scanned();
    // 2-a and 1-x: two bodies of 1,000 bytes and their braces.
    expect(before).toEqual({ kept: before.counted, counted: 2 * (JSON.stringify(big).length + 500) });
    const reopened = place.open();
    await compactFully(reopened);
    await reopened.close();
    expect(scanned()).toEqual({ kept: 0, counted: 0 });
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

  describe('schema upgrade', () => {
    // The layout of schema version 2, as Settee created it before the conflicts index (it left
    // user_version at 0).
    const VERSION_2 = `
      CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
      CREATE TABLE docs (
        seq INTEGER PRIMARY KEY, doc INTEGER NOT NULL UNIQUE, id TEXT NOT NULL UNIQUE,
        winner TEXT NOT NULL, deleted INTEGER NOT NULL, leaves TEXT, body TEXT, atts TEXT);
      CREATE TABLE revs (
        doc INTEGER NOT NULL, rev TEXT NOT NULL, parent TEXT, deleted INTEGER NOT NULL,
        leaf INTEGER NOT NULL, body TEXT, atts TEXT, UNIQUE (doc, rev));
      CREATE TABLE local_docs (id TEXT PRIMARY KEY, rev INTEGER NOT NULL, body TEXT NOT NULL) WITHOUT ROWID;
      CREATE TABLE attachments (digest TEXT PRIMARY KEY, data BLOB NOT NULL);`;

    /** A version-2 file holding documents given as [id, winner, deleted, leaves JSON or null]. */
    function writeVersion2(rows: [string, string, number, string | null][]): void {
      const raw = new BetterSqlite3(place.file);
      raw.pragma('journal_mode = WAL');
      raw.exec(VERSION_2);
      const insertDoc = raw.prepare(
        'INSERT INTO docs (seq, doc, id, winner, deleted, leaves, body) VALUES (?, ?, ?, ?, ?, ?, ?)',
      );
      const insertRev = raw.prepare(
        'INSERT INTO revs (doc, rev, parent, deleted, leaf, body) VALUES (?, ?, NULL, ?, 1, ?)',
      );
      rows.forEach(([id, winner, deleted, leaves], i) => {
        insertDoc.run(i + 1, i + 1, id, winner, deleted, leaves, '{}');
        const all: [string, number][] = leaves === null ? [[winner, deleted]] : JSON.parse(leaves);
        for (const [rev, dead] of all)
          insertRev.run(i + 1, rev, dead, rev === winner ? null : '{"loser":true}');
      });
      raw.prepare("INSERT INTO meta (key, value) VALUES ('doc_count', ?)").run(String(rows.length));
      raw.close();
    }

    it('adds and backfills the conflicted flag in a file of schema version 2', async () => {
      writeVersion2([
        ['plain', '1-a', 0, null],
        ['conflicted', '1-y', 0, '[["1-y",0],["1-x",0]]'],
        ['resolved', '1-y', 0, '[["1-y",0],["1-x",1]]'],
        ['deleted', '1-y', 1, '[["1-y",1],["1-x",1]]'],
        ['three', '2-c', 0, '[["2-c",0],["1-b",1],["1-a",0]]'],
      ]);
      const storage = place.open();
      expect((await collect(storage.conflicts({}))).map((doc) => doc.id)).toEqual(['conflicted', 'three']);
      expect(await storage.countConflicts()).toBe(2);
      // The rest of the file reads as before, and writes keep the index.
      expect((await storage.getDocs(['three']))[0]).toMatchObject({ winner: '2-c', seq: 5 });
      expect(await storage.getRevisions('three', ['1-a'])).toEqual([
        { body: '{"loser":true}', attachments: undefined },
      ]);
      await storage.writeDocs([
        {
          record: {
            id: 'plain',
            winner: '1-a',
            deleted: false,
            leaves: [
              { rev: '1-a', deleted: false },
              { rev: '1-0', deleted: false },
            ],
          },
          added: [
            {
              rev: '1-0',
              gen: 1,
              hash: '0',
              parent: null,
              deleted: false,
              leaf: true,
              hasBody: true,
              content: { body: '{}', attachments: undefined },
            },
          ],
          removed: [],
          changed: [],
        },
      ]);
      expect((await collect(storage.conflicts({}))).map((doc) => doc.id)).toEqual([
        'conflicted',
        'plain',
        'three',
      ]);
      await storage.close();

      const layout = layoutOf(place.file, 'docs');
      expect(layout.version).toBe(SCHEMA_VERSION);
      expect(layout.indexes).toContain('docs_conflicted');
      const reopened = place.open();
      expect(await reopened.countConflicts()).toBe(3);
    });

    it('upgrades an empty file of schema version 2', async () => {
      writeVersion2([]);
      const storage = place.open();
      expect(await storage.countConflicts()).toBe(0);
      await storage.writeDocs([newDoc('a')]);
      expect(await storage.stats()).toMatchObject({ updateSeq: 1 });
    });

    // The layout of schema version 3, as Settee created it before the history of resolutions.
    const VERSION_3 = `
      CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
      CREATE TABLE docs (
        seq INTEGER PRIMARY KEY, doc INTEGER NOT NULL UNIQUE, id TEXT NOT NULL UNIQUE,
        winner TEXT NOT NULL, deleted INTEGER NOT NULL, leaves TEXT, body TEXT, atts TEXT,
        conflicted INTEGER NOT NULL DEFAULT 0);
      CREATE INDEX docs_conflicted ON docs (id) WHERE conflicted = 1;
      CREATE TABLE revs (
        doc INTEGER NOT NULL, rev TEXT NOT NULL, parent TEXT, deleted INTEGER NOT NULL,
        leaf INTEGER NOT NULL, body TEXT, atts TEXT, UNIQUE (doc, rev));
      CREATE TABLE local_docs (id TEXT PRIMARY KEY, rev INTEGER NOT NULL, body TEXT NOT NULL) WITHOUT ROWID;
      CREATE TABLE attachments (digest TEXT PRIMARY KEY, data BLOB NOT NULL);
      PRAGMA user_version = 3;`;

    it('adds the history of resolutions to a file of schema version 3, keeping its data', async () => {
      const raw = new BetterSqlite3(place.file);
      raw.pragma('journal_mode = WAL');
      raw.exec(VERSION_3);
      const atts = JSON.stringify({ 'f.bin': attMeta('md5-f', 2) });
      raw.exec(`
        INSERT INTO meta VALUES ('doc_count', '2'), ('doc_del_count', '0'), ('uuid', 'u-3');
        INSERT INTO docs VALUES (1, 1, 'plain', '1-a', 0, NULL, '{"v":1}', NULL, 0);
        INSERT INTO docs VALUES (3, 2, 'conflicted', '1-y', 0, '[["1-y",0],["1-x",0]]', '{"y":1}', NULL, 1);
        INSERT INTO revs VALUES (1, '1-a', NULL, 0, 1, NULL, NULL);
        INSERT INTO revs VALUES (2, '1-y', NULL, 0, 1, NULL, NULL);
        INSERT INTO revs VALUES (2, '1-x', NULL, 0, 1, '{"x":1}', '${atts}');
        INSERT INTO local_docs VALUES ('_local/cp', 2, '{"seq":3}');
        INSERT INTO attachments VALUES ('md5-f', x'0402');`);
      raw.close();

      const storage = place.open();
      expect(await storage.getMeta('uuid')).toBe('u-3');
      expect(await storage.stats()).toMatchObject({ docCount: 2, deletedCount: 0, updateSeq: 3 });
      expect((await storage.getDocs(['conflicted']))[0]).toMatchObject({ seq: 3, winner: '1-y' });
      expect(await storage.getRevisions('conflicted', ['1-y', '1-x'])).toEqual([
        content({ y: 1 }),
        content({ x: 1 }, { 'f.bin': attMeta('md5-f', 2) }),
      ]);
      expect((await collect(storage.conflicts({}))).map((doc) => doc.id)).toEqual(['conflicted']);
      expect(await readLocal(storage, '_local/cp')).toEqual({ rev: 2, body: '{"seq":3}' });
      expect(await storage.countResolutions()).toBe(0);

      // Resolve the conflict with its history entry; compaction keeps the loser's attachment.
      const history = {
        docId: 'conflicted',
        at: '2026-01-01T00:00:00.000Z',
        by: 'user:anna',
        rev: '2-y',
        kept: '1-y',
        losers: [{ rev: '1-x', body: '{"x":1}', attachments: { 'f.bin': attMeta('md5-f', 2) } }],
      };
      const [seq] = await storage.writeDocs(
        [
          docWrite('conflicted', [leaf('2-y'), leaf('2-x', true)], {
            added: [node('2-y', '1-y', { body: { y: 2 } }), node('2-x', '1-x', { deleted: true, body: {} })],
            changed: [
              { ...stored(node('1-y', null)), hasBody: true, leaf: false },
              { ...stored(node('1-x', null)), hasBody: true, leaf: false },
            ],
          }),
        ],
        [],
        [history],
      );
      expect(seq).toBe(4);
      await compactFully(storage);
      expect(await storage.getAttachment('md5-f')).toBeDefined();
      await storage.close();

      const layout = layoutOf(place.file, 'resolutions');
      expect(layout.version).toBe(SCHEMA_VERSION);
      expect(layout.indexes).toContain('resolutions_doc');
      const reopened = place.open();
      const [entry] = await collect(reopened.resolutions({ docId: 'conflicted' }));
      expect(entry).toEqual({ ...history, seq: entry?.seq });
      expect(await reopened.countConflicts()).toBe(0);
    });

    // The layout of schema version 6: version 3's, `docs.doc` still with its unique index, and
    // what versions 4 to 6 added.
    const VERSION_6 = `${VERSION_3.replace('PRAGMA user_version = 3;', '')}
      CREATE INDEX docs_branched ON docs (id) WHERE leaves IS NOT NULL;
      CREATE TABLE resolutions (seq INTEGER PRIMARY KEY AUTOINCREMENT, doc TEXT NOT NULL, entry TEXT NOT NULL, atts TEXT);
      CREATE INDEX resolutions_doc ON resolutions (doc, seq);
      CREATE TABLE indexes (num INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL UNIQUE,
        signature TEXT NOT NULL, seq INTEGER NOT NULL, rows INTEGER NOT NULL);
      PRAGMA user_version = 6;`;

    it('drops the index on the document key from a file of schema version 6, keeping its data', async () => {
      const raw = new BetterSqlite3(place.file);
      raw.pragma('journal_mode = WAL');
      raw.exec(VERSION_6);
      // Document keys 4 and 7 (others were never handed out): a new document must take 8.
      raw.exec(`
        INSERT INTO meta VALUES ('doc_count', '2'), ('doc_del_count', '0'), ('garbage_bytes', '7');
        INSERT INTO docs VALUES (2, 4, 'plain', '2-b', 0, NULL, '{"v":2}', NULL, 0);
        INSERT INTO docs VALUES (5, 7, 'conflicted', '1-y', 0, '[["1-y",0],["1-x",0]]', '{"y":1}', NULL, 1);
        INSERT INTO revs VALUES (4, '1-a', NULL, 0, 0, '{"v":1}', NULL);
        INSERT INTO revs VALUES (4, '2-b', '1-a', 0, 1, NULL, NULL);
        INSERT INTO revs VALUES (7, '1-y', NULL, 0, 1, NULL, NULL);
        INSERT INTO revs VALUES (7, '1-x', NULL, 0, 1, '{"x":1}', NULL);`);
      raw.close();

      const storage = place.open();
      expect(await storage.stats()).toMatchObject({ docCount: 2, updateSeq: 5 });
      expect((await storage.getDocs(['conflicted']))[0]).toMatchObject({ seq: 5, winner: '1-y' });
      expect(await storage.getRevisions('plain', ['2-b', '1-a'])).toEqual([
        content({ v: 2 }),
        content({ v: 1 }),
      ]);
      expect(await storage.getRevisions('conflicted', ['1-x'])).toEqual([content({ x: 1 })]);
      expect((await collect(storage.conflicts({}))).map((doc) => doc.id)).toEqual(['conflicted']);
      await storage.writeDocs([newDoc('new', '1-n', { n: 1 })]);
      await storage.close();

      // The id's own index and the two partial ones; none on `doc`.
      expect(layoutOf(place.file, 'docs')).toEqual({
        version: SCHEMA_VERSION,
        indexes: ['docs_branched', 'docs_conflicted', 'sqlite_autoindex_docs_1'],
      });
      const upgraded = new BetterSqlite3(place.file, { readonly: true });
      try {
        expect(upgraded.prepare("SELECT doc FROM docs WHERE id = 'new'").pluck().get()).toBe(8);
      } finally {
        upgraded.close();
      }
      const reopened = place.open();
      expect((await reopened.getDocs(['new']))[0]).toMatchObject({ winner: '1-n', seq: 6 });
      expect(await reopened.getRevisions('new', ['1-n'])).toEqual([content({ n: 1 })]);
    });

    it('stamps a new file with the current version', async () => {
      await place.open().close();
      const raw = new BetterSqlite3(place.file, { readonly: true });
      try {
        expect(raw.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
      } finally {
        raw.close();
      }
    });

    it('refuses a file of a newer schema, and one too old to upgrade, leaving both untouched', async () => {
      const raw = new BetterSqlite3(place.file);
      raw.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
      raw.close();
      expect(() => place.open()).toThrow(/newer/);

      const old = path.join(place.dir, 'v1.sqlite');
      const v1 = new BetterSqlite3(old);
      v1.exec(
        'CREATE TABLE docs (doc INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, seq INTEGER NOT NULL UNIQUE, winner TEXT NOT NULL, winner_row INTEGER NOT NULL, deleted INTEGER NOT NULL, leaves TEXT)',
      );
      v1.close();
      expect(() => new SqliteStorage(old)).toThrow(/too old/);
      const after = new BetterSqlite3(old, { readonly: true });
      try {
        expect(after.pragma('user_version', { simple: true })).toBe(0);
        expect(after.prepare("SELECT COUNT(*) FROM sqlite_master WHERE name = 'meta'").pluck().get()).toBe(0);
      } finally {
        after.close();
      }
    });
  });
});
