/**
 * What a page loads on demand works before it is loaded: the `$regex` engine is imported by the
 * database's own calls — `find`, `explain`, `createIndex` with a partial filter, a feed filtered
 * by a selector — before they compile a selector that needs it, and only `compileSelector`
 * called directly asks for `loadRegexEngine()` first. Node loads the engine up front (the Node
 * entry and this suite's setup import `regex-preload.ts`), so each test here takes fresh copies
 * of our modules, in which it is not loaded yet, as in a page.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

type Fresh = {
  mango: typeof import('../../src/core/mango/index.js');
  Database: typeof import('../../src/database/database.js').Database;
  openSqliteFile: typeof import('../../src/storage/sqlite/open.js').openSqliteFile;
};

let fresh: Fresh;
let dir: string;
const opened: { close(): Promise<void> }[] = [];

beforeEach(async () => {
  vi.resetModules();
  fresh = {
    mango: await import('../../src/core/mango/index.js'),
    Database: (await import('../../src/database/database.js')).Database,
    openSqliteFile: (await import('../../src/storage/sqlite/open.js')).openSqliteFile,
  };
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'settee-on-demand-'));
});

afterEach(async () => {
  for (const db of opened.splice(0)) await db.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

async function openWithNames() {
  const db = await fresh.Database.fromStorage(await fresh.openSqliteFile(path.join(dir, 'db.sqlite')), 'db');
  opened.push(db);
  await db.bulkDocs(['anna', 'bob', 'alice'].map((name) => ({ _id: name, name })));
  return db;
}

const startsWithA = { name: { $regex: '^a' } };

describe('the $regex engine, loaded on demand', () => {
  it('is not loaded until asked for: compileSelector says so, then takes $regex', async () => {
    expect(fresh.mango.needsRegexEngine(startsWithA)).toBe(true);
    expect(() => fresh.mango.compileSelector(startsWithA)).toThrow(
      expect.objectContaining({ error: 'not_implemented', reason: expect.stringMatching(/loadRegexEngine/) }),
    );
    // Selectors without $regex never wait for it.
    expect(fresh.mango.needsRegexEngine({ name: { $gt: 'a' } })).toBe(false);
    expect(fresh.mango.compileSelector({ name: { $gt: 'a' } }).matches({ name: 'b' })).toBe(true);
    await fresh.mango.loadRegexEngine();
    expect(fresh.mango.needsRegexEngine(startsWithA)).toBe(false);
    expect(fresh.mango.compileSelector(startsWithA).matches({ name: 'anna' })).toBe(true);
  });

  it('is loaded up front by the Node entry: compileSelector takes $regex at once, as always', async () => {
    const settee = await import('../../src/index.js');
    expect(settee.compileSelector(startsWithA).matches({ name: 'alice' })).toBe(true);
  });

  it('is loaded by find and explain, and a bad pattern is still a 400', async () => {
    const db = await openWithNames();
    const { docs } = await db.find({ selector: startsWithA, fields: ['_id'] });
    expect(docs.map((doc) => doc._id).sort()).toEqual(['alice', 'anna']);
    expect((await db.explain({ selector: startsWithA })).index.name).toBe('_all_docs');
    await expect(db.find({ selector: { name: { $regex: '(a' } } })).rejects.toMatchObject({
      error: 'bad_request',
    });
  });

  it('is loaded by a changes feed filtered by a selector', async () => {
    const db = await openWithNames();
    const { results } = await db.changes({ selector: startsWithA });
    expect(results.map((row) => row.id).sort()).toEqual(['alice', 'anna']);
  });

  it('is loaded by createIndex for a partial filter, and by find for a stored one', async () => {
    const db = await openWithNames();
    await db.createIndex({
      index: { fields: ['name'], partial_filter_selector: startsWithA },
      ddoc: 'a-names',
      name: 'a-names',
    });
    vi.resetModules(); // a page opened later: the index's definition comes from storage
    const { Database, openSqliteFile } = {
      Database: (await import('../../src/database/database.js')).Database,
      openSqliteFile: (await import('../../src/storage/sqlite/open.js')).openSqliteFile,
    };
    await db.close();
    opened.splice(0);
    const reopened = await Database.fromStorage(await openSqliteFile(path.join(dir, 'db.sqlite')), 'db');
    opened.push(reopened);
    const { docs } = await reopened.find({
      selector: { name: { $gt: null } },
      use_index: ['a-names', 'a-names'],
      fields: ['_id'],
    });
    expect(docs.map((doc) => doc._id).sort()).toEqual(['alice', 'anna']);
  });
});
