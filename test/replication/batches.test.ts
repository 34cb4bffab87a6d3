/**
 * Batch sizes: without `batch_size` a replication starts with batches of 100 (PouchDB's
 * default) and doubles them while the source's pages come full, up to 500 (CouchDB's
 * `worker_batch_size` default, couch_replicator_parse.erl `default_options`); a `batch_size`
 * given is kept whatever comes.
 */
import { describe, expect, it } from 'vitest';
import type { PeerChangesOptions } from '../../src/core/api.js';
import type { Database } from '../../src/database/database.js';
import { replicate } from '../../src/replication/index.js';
import { dbState, fill, peerOver, useTempDatabases } from './helpers.js';

const dbs = useTempDatabases();

/** The source, recording the `limit` and the number of rows of every changes page it answers. */
function recordingPages(db: Database) {
  const pages: { limit: number | undefined; rows: number }[] = [];
  const peer = peerOver(db, {
    changes: async (options: PeerChangesOptions) => {
      const page = await db.changes(options);
      pages.push({ limit: options.limit, rows: page.results.length });
      return page;
    },
  });
  return { peer, pages };
}

describe('batch sizes', () => {
  it('grow from 100 to 500 while pages come full, and end at the first short page', async () => {
    const [source, target] = [await dbs.open(), await dbs.open()];
    await fill(source, 2000);
    const { peer, pages } = recordingPages(source);
    const result = await replicate(peer, target).done;
    expect(result).toMatchObject({ status: 'complete', docs_written: 2000 });
    // 100 + 200 + 400 + 500 + 500 = 1700, then 300 of 500: short, the source had no more.
    expect(pages).toEqual([
      { limit: 100, rows: 100 },
      { limit: 200, rows: 200 },
      { limit: 400, rows: 400 },
      { limit: 500, rows: 500 },
      { limit: 500, rows: 500 },
      { limit: 500, rows: 300 },
    ]);
    expect(await dbState(target)).toEqual(await dbState(source));
  });

  it('stay at the batch_size given', async () => {
    const [source, target] = [await dbs.open(), await dbs.open()];
    await fill(source, 250);
    const { peer, pages } = recordingPages(source);
    await replicate(peer, target, { batch_size: 100 }).done;
    expect(pages).toEqual([
      { limit: 100, rows: 100 },
      { limit: 100, rows: 100 },
      { limit: 100, rows: 50 },
    ]);
    expect(await dbState(target)).toEqual(await dbState(source));
  });
});
