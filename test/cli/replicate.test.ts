/**
 * `settee replicate` and `settee sync`, run as child processes between local database files
 * and a running server.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Database } from '../../src/database/database.js';
import { ADMIN, startServer, type TestServer } from '../server/harness.js';
import { docsOf, launch, localFile as fileWith, settee } from './helpers.js';
let t: TestServer;
let dir: string;

beforeAll(async () => {
  t = await startServer();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'settee-cli-'));
});

afterAll(async () => {
  await t.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** A database URL on the test server with the admin's credentials in it. */
const dbUrl = (db: string) => `${t.url.replace('http://', `http://${ADMIN.name}:${ADMIN.password}@`)}/${db}`;

async function createRemote(name: string, docs: Record<string, unknown>[] = []): Promise<void> {
  expect((await t.fetch(`/${name}`, { method: 'PUT' })).status).toBe(201);
  if (docs.length === 0) return;
  const response = await t.fetch(`/${name}/_bulk_docs`, { method: 'POST', body: JSON.stringify({ docs }) });
  expect(response.status).toBe(201);
}

async function remoteIds(name: string): Promise<string[]> {
  const body = (await (await t.fetch(`/${name}/_all_docs`)).json()) as { rows: { id: string }[] };
  return body.rows.map((row) => row.id);
}

const localFile = (name: string, docs: Record<string, unknown>[] = []) =>
  fileWith(path.join(dir, `${name}.sqlite`), docs);

async function localIds(file: string): Promise<string[]> {
  const db = await Database.open(file);
  try {
    return (await db.allDocs()).rows.map((row) => row.key);
  } finally {
    await db.close();
  }
}

describe('settee replicate', { timeout: 60_000 }, () => {
  it('pushes a local file to a server URL and pulls it back into a new file', async () => {
    const file = await localFile('push', docsOf('d', 40));
    await createRemote('pushed');
    const push = await settee('replicate', file, dbUrl('pushed'));
    expect(push.stderr).toBe('');
    expect(push.code).toBe(0);
    expect(push.stdout).toMatch(/replication complete: 40 docs read, 40 written, 0 failures in [\d.]+ s/);
    expect(push.stdout).not.toContain(ADMIN.password);
    expect(await remoteIds('pushed')).toHaveLength(40);

    const copy = path.join(dir, 'copy.sqlite');
    const pull = await settee('replicate', dbUrl('pushed'), copy, '--create-target');
    expect(pull.code).toBe(0);
    expect(pull.stdout).toContain('replication complete: 40 docs read, 40 written');
    expect(await localIds(copy)).toEqual(await localIds(file));

    // Once more: nothing to do, still a success.
    const again = await settee('replicate', dbUrl('pushed'), copy);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('0 docs read');
  });

  it('prints plain progress lines when stdout is not a terminal', async () => {
    const file = await localFile('lines', docsOf('d', 250));
    await createRemote('lines');
    const run = await settee('replicate', file, dbUrl('lines'));
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/replicate: read \d+, written \d+, failures 0, pending \d+, \d+ docs\/s/);
    expect(run.stdout).not.toContain('\u001b[');
  });

  it('creates a missing server database with --create-target, filtered by --doc-ids and --selector', async () => {
    const file = await localFile('filtered', [
      ...docsOf('red', 3, { color: 'red' }),
      ...docsOf('blue', 3, { color: 'blue' }),
    ]);
    const byIds = await settee(
      'replicate',
      file,
      dbUrl('by-ids'),
      '--create-target',
      '--doc-ids',
      'red001,blue002',
    );
    expect(byIds.code).toBe(0);
    expect(await remoteIds('by-ids')).toEqual(['blue002', 'red001']);
    const selector = JSON.stringify({ color: 'blue' });
    const bySelector = await settee(
      'replicate',
      file,
      dbUrl('by-selector'),
      '--create-target',
      '--selector',
      selector,
    );
    expect(bySelector.code).toBe(0);
    expect(await remoteIds('by-selector')).toEqual(['blue000', 'blue001', 'blue002']);
    const bad = await settee('replicate', file, dbUrl('by-selector'), '--selector', '{nope');
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/--selector/);
  });

  it('filters through the source’s design document with --filter and --query-params, or --view', async () => {
    const file = await localFile('by-function', [
      {
        _id: '_design/app',
        filters: { by_color: 'function (doc, req) { return doc.color === req.query.color; }' },
        views: { reds: { map: 'function (doc) { if (doc.color === "red") emit(doc._id, null); }' } },
      },
      ...docsOf('red', 2, { color: 'red' }),
      ...docsOf('blue', 2, { color: 'blue' }),
    ]);
    const params = JSON.stringify({ color: 'blue' });
    const byFunction = await settee(
      'replicate',
      file,
      dbUrl('by-function'),
      '--create-target',
      '--filter',
      'app/by_color',
      '--query-params',
      params,
    );
    expect(byFunction.code).toBe(0);
    expect(await remoteIds('by-function')).toEqual(['blue000', 'blue001']);
    const byView = await settee(
      'replicate',
      file,
      dbUrl('by-view'),
      '--create-target',
      '--filter',
      '_view',
      '--view',
      'app/reds',
    );
    expect(byView.code).toBe(0);
    expect(await remoteIds('by-view')).toEqual(['red000', 'red001']);
  });

  it('fails with a clear message for a missing source or target', async () => {
    const file = await localFile('errors', docsOf('d', 2));
    const [missingRemote, missingFile, missingTarget] = await Promise.all([
      settee('replicate', dbUrl('does-not-exist'), path.join(dir, 'x.sqlite')),
      settee('replicate', path.join(dir, 'nothing.sqlite'), dbUrl('anything')),
      settee('replicate', file, dbUrl('not-there')),
    ]);
    expect(missingRemote.code).toBe(1);
    expect(missingRemote.stderr).toContain(`source ${t.url}/does-not-exist: could not open the database`);
    expect(missingRemote.stderr).not.toContain(ADMIN.password);
    expect(fs.existsSync(path.join(dir, 'x.sqlite'))).toBe(false);

    expect(missingFile.code).toBe(1);
    expect(missingFile.stderr).toContain(`source ${path.join(dir, 'nothing.sqlite')}: no database there`);
    expect(fs.existsSync(path.join(dir, 'nothing.sqlite'))).toBe(false);

    expect(missingTarget.code).toBe(1);
    expect(missingTarget.stderr).toContain('--create-target');
  });

  it('fails with a clear message for a bad URL, bad credentials or an unreachable server', async () => {
    const file = await localFile('bad-urls', docsOf('d', 2));
    await createRemote('guarded');
    const [badScheme, noDatabase, wrongPassword, unreachable] = await Promise.all([
      settee('replicate', 'ftp://host/db', file),
      settee('replicate', t.url, file),
      settee('replicate', dbUrl('guarded').replace(ADMIN.password, 'wrong'), path.join(dir, 'never.sqlite')),
      settee('replicate', 'http://127.0.0.1:1/db', path.join(dir, 'never.sqlite')),
    ]);
    expect(badScheme.code).toBe(1);
    expect(badScheme.stderr).toContain('only http:// and https:// URLs are supported');
    expect(noDatabase.code).toBe(1);
    expect(noDatabase.stderr).toContain('names no database');
    expect(wrongPassword.code).toBe(1);
    expect(wrongPassword.stderr).toContain('unauthorized');
    expect(wrongPassword.stderr).not.toContain('wrong');
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toContain('source http://127.0.0.1:1/db: cannot reach the server');
  });

  it('--continuous follows new changes until SIGINT, then exits 0', async () => {
    await createRemote('live-source', docsOf('d', 2));
    const copy = path.join(dir, 'live-copy.sqlite');
    const run = launch(['replicate', dbUrl('live-source'), copy, '--continuous', '--create-target']);
    await run.printed(({ stdout }) => stdout.includes('up to date'), 'caught up');
    await t.fetch('/live-source/later', { method: 'PUT', body: JSON.stringify({ v: 1 }) });
    await run.printed(({ stdout }) => /written 3/.test(stdout), 'the new write');
    run.child.kill('SIGINT');
    const outcome = await run.exited;
    expect(outcome.code).toBe(0);
    expect(outcome.stdout).toContain('replication stopped: 3 docs read, 3 written');
    expect(await localIds(copy)).toEqual(['d000', 'd001', 'later']);
    // It checkpointed where it stopped: a next run has nothing to read.
    const next = await settee('replicate', dbUrl('live-source'), copy);
    expect(next.code).toBe(0);
    expect(next.stdout).toContain('replication complete: 0 docs read');
  });
});

describe('settee sync', { timeout: 60_000 }, () => {
  it('syncs a local file and a server URL both ways', async () => {
    const file = await localFile('sync', docsOf('local', 5));
    await createRemote('sync', docsOf('remote', 7));
    const run = await settee('sync', file, dbUrl('sync'));
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('push: replication complete: 5 docs read, 5 written');
    expect(run.stdout).toContain('pull: replication complete: 7 docs read, 7 written');
    expect(await remoteIds('sync')).toHaveLength(12);
    expect(await localIds(file)).toHaveLength(12);
  });

  it('--continuous between two local files waits for changes until SIGTERM', async () => {
    const a = await localFile('live-a', docsOf('a', 2));
    const b = await localFile('live-b', docsOf('b', 3));
    const run = launch(['sync', a, b, '--continuous']);
    await run.printed(({ stdout }) => (stdout.match(/up to date/g) ?? []).length >= 2, 'both caught up');
    // Idle, it must keep waiting (nothing but promises keeps a local replication alive): the
    // signal finds it waiting, and it stops as asked, not on its own (status 13). How long it
    // would wait is not shown: no change can be sent for it to carry, as it holds both files
    // locked (one process owns a database file), and waiting a while would be a clock.
    expect(run.output().code).toBeNull();
    run.child.kill('SIGTERM');
    const outcome = await run.exited;
    expect(outcome.code).toBe(0);
    expect(outcome.stderr).toBe('');
    expect(outcome.stdout).toContain('push: replication stopped: 2 docs read, 2 written');
    expect(outcome.stdout).toContain('pull: replication stopped: 3 docs read, 3 written');
    expect(await localIds(a)).toHaveLength(5);
    expect(await localIds(b)).toHaveLength(5);
  });

  it('fails when one side does not exist', async () => {
    const file = await localFile('sync-missing', docsOf('d', 1));
    const run = await settee('sync', file, dbUrl('sync-nowhere'));
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('could not open the database');
  });
});
