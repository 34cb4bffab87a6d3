/**
 * SetteeError carries the fields of PouchDB's errors. pouchdb-errors' PouchError sets `name` to
 * CouchDB's error name, `message` to the reason, `status`, and `error`/`reason`
 * (node_modules/pouchdb/lib/index.js, class PouchError and createError; its HTTP adapter's
 * errors carry the server's `error` string), so code written for PouchDB reads ours unchanged.
 * The comparison below is with a real PouchDB, on the same failures.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import PouchDB from 'pouchdb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { conflict, notFound, SetteeError, toSetteeError } from '../../src/core/errors.js';
import { Database } from '../../src/database/database.js';

/** What code written for PouchDB looks at. */
const pouchView = (err: unknown) => {
  const { name, status, message } = err as { name: string; status: number; message: string };
  return { name, status, messageIsString: typeof message === 'string' && message.length > 0 };
};

async function failure(action: () => Promise<unknown>): Promise<unknown> {
  try {
    await action();
  } catch (err) {
    return err;
  }
  throw new Error('expected a failure');
}

describe('SetteeError', () => {
  it('has CouchDB’s name as name, the reason as message, and keeps error, reason and status', () => {
    const err = conflict();
    expect(err).toBeInstanceOf(SetteeError);
    expect(err).toBeInstanceOf(Error);
    expect(err).toMatchObject({
      name: 'conflict',
      status: 409,
      message: 'Document update conflict.',
      error: 'conflict',
      reason: 'Document update conflict.',
    });
    expect(String(err)).toBe('conflict: Document update conflict.');
    expect(err.stack).toMatch(/^conflict: Document update conflict\./);
    expect(JSON.parse(JSON.stringify(err))).toEqual({
      error: 'conflict',
      reason: 'Document update conflict.',
    });
  });

  it('wraps foreign errors as unknown_error with the same fields', () => {
    expect(toSetteeError(new TypeError('boom'))).toMatchObject({
      name: 'unknown_error',
      status: 500,
      message: 'boom',
    });
    expect(toSetteeError(notFound())).toMatchObject({ name: 'not_found', message: 'missing' });
  });

  describe('beside a real PouchDB', () => {
    let dir: string;
    let settee: Database;
    let pouch: PouchDB;

    beforeAll(async () => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'settee-errors-'));
      settee = await Database.open(path.join(dir, 'settee.sqlite'));
      pouch = new PouchDB(path.join(dir, 'pouch'));
    });

    afterAll(async () => {
      await settee.close();
      await pouch.close();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    it('a missing document fails the same way', async () => {
      const ours = await failure(() => settee.get('nothing'));
      const theirs = await failure(() => pouch.get('nothing'));
      expect(pouchView(ours)).toEqual(pouchView(theirs));
      expect(pouchView(ours)).toEqual({ name: 'not_found', status: 404, messageIsString: true });
    });

    it('a conflict fails the same way', async () => {
      await settee.put({ _id: 'a', n: 1 });
      await pouch.put({ _id: 'a', n: 1 });
      const ours = await failure(() => settee.put({ _id: 'a', n: 2 }));
      const theirs = await failure(() => pouch.put({ _id: 'a', n: 2 }));
      expect(pouchView(ours)).toEqual(pouchView(theirs));
      expect(pouchView(ours)).toEqual({ name: 'conflict', status: 409, messageIsString: true });
    });
  });
});
