/**
 * `settee replicate … --winning-revs-only` and `settee sync … --winning-revs-only`, run as child
 * processes between local database files: CouchDB's `winning_revs_only` (see
 * winning-revs-only.test.ts for where its rules come from).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Database } from '../../src/database/database.js';
import { settee } from '../cli/helpers.js';
import {
  conflicted,
  expectWinnersOnly,
  fillSource,
  leaves,
  winnerWithHistory,
} from './winning-revs-only.fixtures.js';

let dir: string;

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'settee-wro-cli-'));
});

afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Opens the database files named, runs `use` on them and closes them (the command needs them closed). */
async function withFiles(names: string[], use: (...dbs: Database[]) => Promise<void>): Promise<string[]> {
  const files = names.map((name) => path.join(dir, `${name}.sqlite`));
  const dbs = await Promise.all(files.map((file) => Database.open(file)));
  try {
    await use(...dbs);
  } finally {
    for (const db of dbs) await db.close();
  }
  return files;
}

describe('--winning-revs-only', { timeout: 60_000 }, () => {
  it('settee replicate gives a new file only the source’s winners', async () => {
    const [source] = await withFiles(['source'], (db) => fillSource(db!));
    const copy = path.join(dir, 'copy.sqlite');
    const run = await settee('replicate', source!, copy, '--create-target', '--winning-revs-only');
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('replication complete: 5 docs read, 5 written');
    await withFiles(['source', 'copy'], (from, to) => expectWinnersOnly(from!, to!));
  });

  it('settee sync brings each side the other’s winners only', async () => {
    const [a, b] = await withFiles(['a', 'b'], async (first, second) => {
      await conflicted(first!, 'from-a');
      await conflicted(second!, 'from-b');
    });
    const run = await settee('sync', a!, b!, '--winning-revs-only');
    expect(run.code).toBe(0);
    await withFiles(['a', 'b'], async (first, second) => {
      expect(await leaves(second!, 'from-a')).toEqual([await winnerWithHistory(first!, 'from-a')]);
      expect(await leaves(first!, 'from-b')).toEqual([await winnerWithHistory(second!, 'from-b')]);
    });
  });
});
