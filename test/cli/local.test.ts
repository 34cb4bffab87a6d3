/**
 * Commands over local database files: a path where no database is, or one a running server
 * holds, is told in one line and changes nothing; counts read as words ("1 doc"); a second
 * replication says from where it resumes.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Database } from '../../src/database/database.js';
import { docsOf, localFile, settee } from './helpers.js';

let dir: string;
const at = (name: string) => path.join(dir, name);

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'settee-cli-local-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** One line on stderr, and no stack trace in it. */
function expectOneLine(stderr: string, text: string): void {
  expect(stderr).toBe(`error: ${text}\n`);
}

describe('settee info and compact', { timeout: 150_000 }, () => {
  it('say that no database is at a path, exit 1 and create nothing', async () => {
    fs.mkdirSync(at('folder'));
    fs.writeFileSync(at('empty.sqlite'), '');
    const [typo, compactTypo, folder, empty] = await Promise.all([
      settee('info', at('typo.sqlite')),
      settee('compact', at('typo2.sqlite')),
      settee('info', at('folder')),
      settee('info', at('empty.sqlite')),
    ]);
    expect(typo.code).toBe(1);
    expectOneLine(typo.stderr, `database ${at('typo.sqlite')}: no database there (no such file)`);
    expect(typo.stdout).toBe('');
    expect(compactTypo.code).toBe(1);
    expectOneLine(compactTypo.stderr, `database ${at('typo2.sqlite')}: no database there (no such file)`);
    expect(fs.readdirSync(dir).sort()).toEqual(['empty.sqlite', 'folder']);
    expect(fs.statSync(at('empty.sqlite')).size).toBe(0);
    expect(folder.code).toBe(1);
    expectOneLine(folder.stderr, `database ${at('folder')}: a folder, not a database file`);
    expect(empty.code).toBe(1);
    expectOneLine(empty.stderr, `database ${at('empty.sqlite')}: an empty file, not a database`);
  });

  it('say in one line that a database is in use by a running server', async () => {
    const file = await localFile(at('held.sqlite'), docsOf('d', 1));
    // Opened here, as a server holds its databases: SQLite's exclusive lock, for good.
    const held = await Database.open(file);
    try {
      const inUse =
        'in use by another process (a running `settee serve`?); stop it, or reach the database through its URL';
      const [info, replicate] = await Promise.all([
        settee('info', file),
        settee('replicate', file, at('held-copy.sqlite'), '--create-target'),
      ]);
      expect(info.code).toBe(1);
      expectOneLine(info.stderr, `database ${file}: ${inUse}`);
      expect(replicate.code).toBe(1);
      expectOneLine(replicate.stderr, `source ${file}: ${inUse}`);
    } finally {
      await held.close();
    }
  });

  it('counts in words, and compacts with its sizes', async () => {
    const file = await localFile(at('one.sqlite'), docsOf('d', 1));
    const compacted = await settee('compact', file);
    expect(compacted.code).toBe(0);
    expect(compacted.stdout).toMatch(/^compacted .*one\.sqlite: \d+ → \d+ bytes\n$/);
    const info = await settee('info', file);
    expect(JSON.parse(info.stdout)).toMatchObject({ doc_count: 1 });
  });
});

describe('settee replicate between files', { timeout: 150_000 }, () => {
  it('says "1 doc", and where a second run resumes', async () => {
    const source = await localFile(at('resume-source.sqlite'), docsOf('d', 1));
    const target = at('resume-target.sqlite');
    const first = await settee('replicate', source, target, '--create-target');
    expect(first.code).toBe(0);
    expect(first.stdout).not.toContain('resuming');
    expect(first.stdout).toMatch(/replication complete: 1 doc read, 1 written, 0 failures in/);

    const db = await Database.open(source);
    await db.bulkDocs(docsOf('e', 3));
    await db.close();
    const second = await settee('replicate', source, target);
    expect(second.code).toBe(0);
    // The checkpoint of the first run is at the source's seq 1.
    expect(second.stdout).toContain('replicate: resuming from checkpoint at seq 1\n');
    expect(second.stdout).toMatch(/replication complete: 3 docs read, 3 written, 0 failures in/);
  });
});
