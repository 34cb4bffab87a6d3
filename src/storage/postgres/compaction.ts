import type pg from 'pg';
import type { CompactionSteps } from '../types.js';
import { inTransaction, rowsOf, run } from './sql.js';
import { contentBytes, takeCounterLock } from './writes.js';

// Rows or blobs per step: each step is a short transaction, and writes wait for it (see below).
const BATCH = 500;

/**
 * Compaction of one database on PostgreSQL, in two phases of bounded steps:
 * 1. purge: the content of non-leaf revisions is set to null, `BATCH` rows per step, found through
 *    a partial index of exactly those rows (no scan of the database);
 * 2. sweep: the blobs of the database, `BATCH` digests per step in digest order, are deleted when
 *    neither a revision nor a history entry refers to them (GIN indexes on their `digests`).
 *
 * Each step is one transaction that first locks the database's counter row, as every writer does
 * (see `writes.ts`): a step and a write of the same database never interleave, so a step never
 * drops content a leaf holds or a blob a row refers to when it commits, and the steps need
 * no memory of what writes did between them (any server may write meanwhile).
 *
 * The space freed is PostgreSQL's to reuse (autovacuum marks it free for the tables' next rows);
 * it is not returned to the operating system, which only a `VACUUM FULL` of the shared tables
 * would do, locking every database: an operator's decision, not a database's compaction. The
 * sizes `stats` reports are byte counters of this database's content, which compaction lowers.
 */
export class PostgresCompaction implements CompactionSteps {
  private phase: 'purge' | 'sweep' | 'done' = 'purge';
  private garbageAtStart: number | undefined;
  private purged = 0;
  private blobCursor = '';

  constructor(
    private readonly pool: pg.Pool,
    private readonly db: number,
  ) {}

  get progress(): number {
    if (this.phase === 'done') return 1;
    if (this.phase === 'sweep') return 0.9;
    return this.garbageAtStart ? 0.9 * Math.min(1, this.purged / this.garbageAtStart) : 0;
  }

  async step(): Promise<boolean> {
    if (this.phase === 'purge' && (await this.locked((client) => this.purgeStep(client))))
      this.phase = 'sweep';
    else if (this.phase === 'sweep' && (await this.locked((client) => this.sweepStep(client))))
      this.phase = 'done';
    return this.phase !== 'done';
  }

  /** A step in a transaction holding the counter row's lock; a lost step is only done again. */
  private locked(work: (client: pg.PoolClient) => Promise<boolean>): Promise<boolean> {
    return inTransaction(
      this.pool,
      async (client) => {
        // A database deleted meanwhile leaves the step nothing to do, not an error.
        const counter = await takeCounterLock(client, this.db);
        this.garbageAtStart ??= counter?.garbage_bytes ?? 0;
        return work(client);
      },
      { synchronousCommit: false },
    );
  }

  /** Drops the content of up to BATCH non-leaf revisions; true when none is left. */
  private async purgeStep(client: pg.PoolClient): Promise<boolean> {
    const [purged] = await rowsOf<{ count: number; bytes: number }>(
      client,
      `WITH batch AS (
         SELECT doc, rev, ${contentBytes('g')} AS bytes FROM settee.revs g
         WHERE g.db = $1 AND NOT g.leaf AND (g.body IS NOT NULL OR g.atts IS NOT NULL) LIMIT $2),
       purged AS (
         UPDATE settee.revs r SET body = NULL, atts = NULL FROM batch
         WHERE r.doc = batch.doc AND r.rev = batch.rev RETURNING batch.bytes)
       SELECT COUNT(*)::bigint AS count, COALESCE(SUM(bytes), 0)::bigint AS bytes FROM purged`,
      [this.db, BATCH],
    );
    const bytes = purged?.bytes ?? 0;
    this.purged += bytes;
    await this.lessContent(client, bytes, bytes);
    return (purged?.count ?? 0) < BATCH;
  }

  /** Deletes the unreferenced blobs among the next BATCH digests; true when none are left. */
  private async sweepStep(client: pg.PoolClient): Promise<boolean> {
    const digests = (
      await rowsOf<{ digest: string }>(
        client,
        'SELECT digest FROM settee.attachments WHERE db = $1 AND digest > $2 ORDER BY digest LIMIT $3',
        [this.db, this.blobCursor, BATCH],
      )
    ).map((row) => row.digest);
    if (digests.length === 0) return true;
    this.blobCursor = digests.at(-1)!;
    const [swept] = await rowsOf<{ bytes: number }>(
      client,
      `WITH swept AS (
         DELETE FROM settee.attachments a WHERE a.db = $1 AND a.digest = ANY($2::text[])
           AND NOT EXISTS (SELECT 1 FROM settee.revs r WHERE r.digests @> ARRAY[a.digest] AND r.db = $1)
           AND NOT EXISTS (SELECT 1 FROM settee.resolutions h WHERE h.digests @> ARRAY[a.digest] AND h.db = $1)
         RETURNING octet_length(a.data) AS bytes)
       SELECT COALESCE(SUM(bytes), 0)::bigint AS bytes FROM swept`,
      [this.db, digests],
    );
    await this.lessContent(client, swept?.bytes ?? 0, 0);
    return digests.length < BATCH;
  }

  private async lessContent(client: pg.PoolClient, content: number, garbage: number): Promise<void> {
    if (content === 0 && garbage === 0) return;
    await run(
      client,
      `UPDATE settee.databases SET content_bytes = GREATEST(0, content_bytes - $2),
         garbage_bytes = GREATEST(0, garbage_bytes - $3) WHERE db = $1`,
      [this.db, content, garbage],
    );
  }
}
