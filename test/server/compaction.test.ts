import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Database } from '../../src/database/database.js';
import { fileNameOf } from '../../src/server/registry.js';
import { writeGenerations } from '../database/generations.js';
import { startServer, type TestServer } from './harness.js';

/**
 * `POST /{db}/_compact` as CouchDB answers it (src/chttpd/src/chttpd_db.erl, `handle_compact_req`:
 * 202 `{"ok":true}` once the compaction is started) while it runs in the background:
 * `compact_running` in `GET /{db}` and a `database_compaction` task in `/_active_tasks`
 * (src/couch/src/couch_bt_engine_compactor.erl adds `type`, `database`, `progress`;
 * src/couch/src/couch_task_status.erl adds `started_on` and `updated_on`, in seconds).
 */
describe('compaction over HTTP', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startServer();
    // A database with much history, written before the server opens it (faster without HTTP).
    const db = await Database.open(path.join(t.dataDir, fileNameOf('big')), { durability: 'normal' });
    await writeGenerations(db, { docs: 2000, generations: 20, bodyBytes: 1000 });
    await db.close();
  }, 30_000);
  afterAll(async () => {
    await t?.stop();
  });

  const json = async (p: string, init?: RequestInit) =>
    (await t.fetch(p, init)).json() as Promise<Record<string, unknown>>;

  /** Makes one request; fails when it does not succeed. */
  async function succeeds(p: string, init?: RequestInit): Promise<void> {
    const response = await t.fetch(p, init);
    await response.arrayBuffer();
    expect(response.ok, `${init?.method ?? 'GET'} ${p}`).toBe(true);
  }

  it('answers 202 at once, shows it running, answers requests meanwhile, and shrinks the file', async () => {
    const before = (await json('/big')).sizes as { file: number; active: number };
    expect(before.active).toBeLessThan(before.file / 2.5);
    const db = await t.server.services.registry.get('big');

    const response = await t.fetch('/big/_compact', { method: 'POST' });
    expect(response.status).toBe(202);
    expect(await response.json()).toEqual({ ok: true });
    expect(await json('/big')).toMatchObject({ compact_running: true });
    const tasks = (await (await t.fetch('/_active_tasks')).json()) as Record<string, unknown>[];
    const task = tasks.filter((entry) => entry.type === 'database_compaction');
    expect(task).toEqual([
      expect.objectContaining({
        database: 'big',
        progress: expect.any(Number),
        started_on: expect.any(Number),
      }),
    ]);
    expect(task[0]?.updated_on).toBeGreaterThanOrEqual(task[0]?.started_on as number);
    // Asked again while it runs: 202, and still one compaction.
    expect((await t.fetch('/big/_compact', { method: 'POST' })).status).toBe(202);
    const again = (await (await t.fetch('/_active_tasks')).json()) as Record<string, unknown>[];
    expect(again.filter((entry) => entry.type === 'database_compaction')).toHaveLength(1);

    // Rounds of a read and a write, one after the other, each round seen between two answers
    // that the compaction still runs: a compaction that held the server would leave none.
    const done = db.compact();
    const running = async () => (await json('/big')).compact_running === true;
    let rounds = 0;
    let rev = (await json('/big/d1'))._rev as string;
    for (let i = 0; await running(); i++) {
      await succeeds('/_up');
      await succeeds(`/big/d${i % 2000}`);
      const put = await t.fetch('/big/d1', { method: 'PUT', body: JSON.stringify({ _rev: rev, i }) });
      expect(put.status).toBe(201);
      rev = ((await put.json()) as { rev: string }).rev;
      if (await running()) rounds++;
    }
    await done;
    expect(rounds).toBeGreaterThanOrEqual(3);

    const after = (await json('/big')) as {
      compact_running: boolean;
      sizes: { file: number; active: number };
    };
    expect(after.compact_running).toBe(false);
    expect(after.sizes.file).toBeLessThan(before.file / 4);
    expect(after.sizes.file).toBeLessThanOrEqual(2 * after.sizes.active + 64 * 1024);
    const listed = (await (await t.fetch('/_active_tasks')).json()) as Record<string, unknown>[];
    expect(listed.filter((entry) => entry.type === 'database_compaction')).toEqual([]);
    expect(await json('/big/d1')).toMatchObject({ _rev: rev });
  }, 30_000);

  it('refuses a body that is not JSON as CouchDB does, and starts nothing', async () => {
    const response = await t.fetch('/big/_compact', {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
    });
    expect(response.status).toBe(415);
    expect(await response.json()).toMatchObject({ error: 'bad_content_type' });
    expect(await json('/big')).toMatchObject({ compact_running: false });
  });
});
