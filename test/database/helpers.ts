import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, expect } from 'vitest';
import type { Doc, NewDoc, OpenRevsResult, WriteResult } from '../../src/core/api.js';
import { type ErrorName, SetteeError } from '../../src/core/errors.js';
import { Database, type DatabaseOptions } from '../../src/database/database.js';

/**
 * Real databases in fresh temporary folders, closed and removed after each test:
 * `const dbs = useTempDatabases();` at the top of a file, then `const db = await dbs.open();`.
 */
export function useTempDatabases() {
  const dirs: string[] = [];
  const opened: Database[] = [];
  const paths = new Map<Database, string>();

  afterEach(async () => {
    for (const db of opened.splice(0)) await db.close().catch(() => undefined);
    for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
    paths.clear();
  });

  const openAt = async (file: string, options: DatabaseOptions = {}) => {
    const db = await Database.open(file, options);
    opened.push(db);
    paths.set(db, file);
    return db;
  };

  return {
    /** A new, empty database in its own temporary folder. */
    async open(options: DatabaseOptions = {}): Promise<Database> {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'settee-db-'));
      dirs.push(dir);
      return openAt(path.join(dir, 'db.sqlite'), options);
    },
    /** Closes `db` and opens its file again. */
    async reopen(db: Database, options: DatabaseOptions = {}): Promise<Database> {
      const file = paths.get(db);
      if (!file) throw new Error('not a database opened by this helper');
      await db.close();
      return openAt(file, options);
    },
    /** The SQLite file behind `db`. */
    pathOf(db: Database): string {
      const file = paths.get(db);
      if (!file) throw new Error('not a database opened by this helper');
      return file;
    },
  };
}

/** Awaits `action` and checks it fails with this CouchDB error (and reason, when given). */
export async function expectError(
  action: Promise<unknown> | (() => Promise<unknown>),
  error: ErrorName,
  reason?: string | RegExp,
): Promise<SetteeError> {
  let thrown: unknown;
  try {
    await (typeof action === 'function' ? action() : action);
  } catch (err) {
    thrown = err;
  }
  expect(thrown, `expected a ${error} error`).toBeInstanceOf(SetteeError);
  const settee = thrown as SetteeError;
  expect(settee.error).toBe(error);
  if (typeof reason === 'string') expect(settee.reason).toBe(reason);
  else if (reason) expect(settee.reason).toMatch(reason);
  return settee;
}

/** A 32-character revision hash made of one repeated hex digit: `h('a')` = `'aaaa…'`. */
export function h(digit: string): string {
  return digit.repeat(32 / digit.length);
}

/** `rev(2, 'b')` = `'2-bbbb…'`. */
export function rev(gen: number, digit: string): string {
  return `${gen}-${h(digit)}`;
}

/** The hash part of a revision id. */
export function hashOf(revision: string): string {
  return revision.slice(revision.indexOf('-') + 1);
}

/** The generation of a revision id. */
export function genOf(revision: string): number {
  return Number(revision.slice(0, revision.indexOf('-')));
}

/**
 * A document as a replicator sends it (`new_edits=false`): `revs` lists the revision first, then
 * its ancestors, newest to oldest, each one generation below the previous.
 */
export function replicated(id: string, revs: string[], body: Record<string, unknown> = {}): NewDoc {
  const [leaf] = revs;
  if (!leaf) throw new Error('a replicated document needs a revision');
  const start = genOf(leaf);
  revs.forEach((r, i) => {
    if (genOf(r) !== start - i) throw new Error(`revision ${r} is not generation ${start - i}`);
  });
  return { _id: id, _rev: leaf, _revisions: { start, ids: revs.map(hashOf) }, ...body };
}

/** Writes a chain of revisions as replication would, with one body for the leaf. */
export async function writeReplicated(
  db: Database,
  id: string,
  revs: string[],
  body: Record<string, unknown> = {},
): Promise<void> {
  const results = await db.bulkDocs([replicated(id, revs, body)], { newEdits: false });
  expect(errorsOf(results)).toEqual([]);
}

/** The failed entries of a bulkDocs response. */
export function errorsOf(results: WriteResult[]): WriteResult[] {
  return results.filter((result) => 'error' in result);
}

/** The revision ids of the found entries of an open_revs answer, sorted. */
export function okRevs(results: OpenRevsResult[]): string[] {
  return results.flatMap((result) => ('ok' in result ? [result.ok._rev] : [])).sort();
}

/** The found documents of an open_revs answer, sorted by revision. */
export function okDocs(results: OpenRevsResult[]): Doc[] {
  return results
    .flatMap((result) => ('ok' in result ? [result.ok] : []))
    .sort((a, b) => (a._rev < b._rev ? -1 : a._rev > b._rev ? 1 : 0));
}

/** CouchDB's attachment digest of some bytes: `md5-` + base64 of the MD5. */
export function md5Digest(bytes: Uint8Array | string): string {
  return `md5-${createHash('md5').update(bytes).digest('base64')}`;
}

/** Base64 of a string's UTF-8 bytes, or of some bytes. */
export function b64(data: string | Uint8Array): string {
  return Buffer.from(data).toString('base64');
}
