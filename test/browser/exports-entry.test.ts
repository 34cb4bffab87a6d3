/**
 * The browser entry exports what the Node entry does, the same values (one list,
 * `src/shared-exports.ts`), apart from what only runs in Node: an export added to one entry
 * alone shows here.
 */
import { describe, expect, it } from 'vitest';
import * as browserEntry from '../../src/browser.js';
import * as nodeEntry from '../../src/index.js';

const NODE_ONLY = ['SetteeServer', 'SqliteStorage', 'openSqliteFile'];
const BROWSER_ONLY = [
  'BrowserSync',
  'DEFAULT_SYNC_LOCK',
  'IndexedDbStorage',
  'holdTabLock',
  'logIn',
  'logOut',
  'openIndexedDb',
  'pageFetch',
  'requestPersistentStorage',
  'shareWritesAcrossTabs',
  'syncInBrowser',
  'watchNetwork',
];

describe('the browser and Node entries', () => {
  it('share every export but the platform-only ones, with the same values', () => {
    const shared = Object.keys(nodeEntry).filter((name) => !NODE_ONLY.includes(name));
    expect(Object.keys(browserEntry).sort()).toEqual([...shared, ...BROWSER_ONLY].sort());
    for (const name of shared) {
      expect(browserEntry[name as keyof typeof browserEntry], name).toBe(
        nodeEntry[name as keyof typeof nodeEntry],
      );
    }
    expect(Object.keys(nodeEntry)).toEqual(expect.arrayContaining(NODE_ONLY));
  });
});
