import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { SetteeError } from '../../src/core/errors.js';
import { Database } from '../../src/database/database.js';
import { installPlatformStorage, type PlatformStorageOptions } from '../../src/storage/platform.js';
import { openSqliteFile } from '../../src/storage/sqlite/open.js';
import { SqliteStorage } from '../../src/storage/sqlite/sqlite-storage.js';

describe('Database.open on the platform storage', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'settee-platform-'));
  });
  afterEach(() => {
    installPlatformStorage(openSqliteFile);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('in Node opens a SQLite file at the path, creating its folders', async () => {
    const file = path.join(dir, 'a', 'b', 'shop.sqlite');
    const db = await Database.open(file, { durability: 'normal' });
    await db.put({ _id: 'apple' });
    expect((await db.info()).db_name).toBe(file);
    await db.close();
    expect(fs.existsSync(file)).toBe(true);
    const reopened = await Database.open(file);
    expect((await reopened.get('apple'))._id).toBe('apple');
    await reopened.close();
  });

  it('opens through the installed backend, with the name and the storage options given', async () => {
    const opened: { name: string; options: PlatformStorageOptions }[] = [];
    installPlatformStorage(async (name, options) => {
      opened.push({ name, options });
      return new SqliteStorage(path.join(dir, 'elsewhere.sqlite'), options);
    });
    const db = await Database.open('shop', { name: 'The shop', durability: 'normal' });
    expect(opened).toEqual([{ name: 'shop', options: { name: 'The shop', durability: 'normal' } }]);
    expect((await db.info()).db_name).toBe('The shop');
    await db.close();
    expect(fs.existsSync(path.join(dir, 'elsewhere.sqlite'))).toBe(true);
  });

  it('says what to do where no backend is installed', async () => {
    // A fresh copy of the module, as a process that never loaded a platform entry has it.
    vi.resetModules();
    const fresh = await import('../../src/storage/platform.js');
    let failure: unknown;
    try {
      await fresh.openPlatformStorage('shop', {});
    } catch (error) {
      failure = error;
    }
    expect(failure).toBeInstanceOf(Error);
    expect(failure).toMatchObject({ name: 'not_implemented', status: 501 });
    expect((failure as SetteeError).reason).toMatch(/Node entry.*Database\.fromStorage/);
  });
});
