import { afterEach, beforeEach, describe } from 'vitest';
import type { Storage } from '../../src/storage/types.js';
import { attachmentTests, compactTests, localTests, statsTests } from './conformance/data.js';
import { conflictsTests } from './conformance/conflicts.js';
import type { Context } from './conformance/helpers.js';
import { indexTests } from './conformance/indexes.js';
import { atomicityTests, lifecycleTests } from './conformance/lifecycle.js';
import { resolutionsTests } from './conformance/resolutions.js';
import { changesTests, docsTests, localDocsTests, pagingTests } from './conformance/scans.js';
import { metaTests, writeAndReadTests } from './conformance/writes.js';

/** One backend instance under test, over a place (file, database, schema) of its own. */
export interface StorageHarness {
  /** A fresh, empty storage. */
  storage: Storage;
  /**
   * Opens a new Storage over the same place. The suite closes or destroys the previous one
   * first, so a backend that locks its place can be reopened.
   */
  reopen: () => Promise<Storage>;
  /** Closes whatever is still open and removes every trace of the place; runs after each test. */
  cleanup: () => Promise<void>;
}

/**
 * The Storage conformance suite: the interface's contract, not CouchDB's semantics, which live
 * in `database/`. Every backend runs it with a factory for fresh, isolated instances:
 *
 * ```ts
 * runStorageTests('SqliteStorage', async () => {
 *   const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'settee-'));
 *   const file = path.join(dir, 'db.sqlite');
 *   return {
 *     storage: new SqliteStorage(file),
 *     reopen: async () => new SqliteStorage(file),
 *     cleanup: async () => fs.rmSync(dir, { recursive: true, force: true }),
 *   };
 * });
 * ```
 *
 * Ids are ordered by code point (CouchDB's raw collation = UTF-8 byte order), which differs from
 * JavaScript's default string order (UTF-16 code units) beyond the BMP: a backend whose native
 * order is UTF-16 (IndexedDB) has to encode its keys.
 */
export function runStorageTests(name: string, makeStorage: () => Promise<StorageHarness>): void {
  describe(`Storage conformance: ${name}`, () => {
    let harness: StorageHarness;
    const t: Context = {
      storage: undefined as unknown as Storage,
      async reopen() {
        await t.storage.close();
        t.storage = await harness.reopen();
        return t.storage;
      },
      async open() {
        t.storage = await harness.reopen();
        return t.storage;
      },
    };

    beforeEach(async () => {
      harness = await makeStorage();
      t.storage = harness.storage;
    });
    afterEach(async () => {
      await harness.cleanup();
    });

    metaTests(t);
    writeAndReadTests(t);
    changesTests(t);
    docsTests(t);
    pagingTests(t);
    statsTests(t);
    localTests(t);
    localDocsTests(t);
    attachmentTests(t);
    compactTests(t);
    conflictsTests(t);
    lifecycleTests(t);
    atomicityTests(t);
    resolutionsTests(t);
    indexTests(t);
  });
}
