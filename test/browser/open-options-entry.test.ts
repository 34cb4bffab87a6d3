/**
 * `Database.open(name, options)` through the browser entry hands the options to IndexedDB's
 * opener: a storage bucket's `indexedDB` is the one opened, not the page's.
 */
import { expect, it } from 'vitest';
import { Database } from '../../src/browser.js';
import type { IdbFactory } from '../../src/storage/indexeddb/idb.js';

it('opens the database in the IndexedDB it is given', async () => {
  const asked: string[] = [];
  // Records what is opened in it, then refuses: Node has no IndexedDB to carry on with.
  const bucket = {
    open(name: string) {
      asked.push(name);
      throw new Error('this IndexedDB was asked');
    },
  } as unknown as IdbFactory;
  await expect(Database.open('shop', { indexedDB: bucket })).rejects.toThrow('this IndexedDB was asked');
  expect(asked).toEqual(['shop']);
});
