import type BetterSqlite3 from 'better-sqlite3';
import { phasedProgress } from '../compaction-progress.js';
import type { CompactionSteps } from '../types.js';
import { CONTENT_BYTES } from './schema.js';

/**
 * Compaction of a SQLite file in place, in bounded steps the database interleaves with its
 * writes, in four phases:
 * 1. purge: the rows of non-leaf revisions that still hold content are deleted and inserted again
 *    without it, a span of rowids per step. Deleting (rather than setting the body to null) is
 *    what frees pages: SQLite merges a page its deletions left nearly empty with its neighbours,
 *    while an update that shrinks rows leaves them where they were (1,000 rows of 1 KB nulled in
 *    place kept their 250 pages, 93% empty).
 * 2. sweep (only when there are attachments): the digests that rows refer to are gathered, a span
 *    per step, then the blobs none refers to are deleted, a batch per step.
 * 3. vacuum: `PRAGMA incremental_vacuum(N)` moves pages from the end of the file into free ones
 *    and cuts the file, N pages per step (files are created with `auto_vacuum = INCREMENTAL`).
 * 4. checkpoint: the write-ahead log is copied into the file and truncated, so that the files on
 *    disk shrink to the live data.
 *
 * Why in place rather than a copy-and-swap as CouchDB does: a copy needs twice the disk, must
 * catch up with the writes made while it copied, and swapping files means closing the database;
 * here every step is a short SQLite transaction of its own, and writes go on between steps.
 *
 * Kill -9 at any moment: each step is one SQLite transaction (or one pragma, which SQLite makes
 * atomic), so a crash leaves the file as it was before or after a step, and a step never drops
 * content a leaf holds or a blob a row refers to at that moment. The cursors and the digests
 * gathered live only in memory: after a crash the next compaction starts over, and what the
 * lost one had done stays done.
 */
export class SqliteCompaction implements CompactionSteps {
  private readonly phases: Phase[];
  private current = 0;

  constructor(private readonly host: CompactionHost) {
    this.phases = [
      new PurgePhase(host),
      new SweepPhase(host),
      new VacuumPhase(host),
      new CheckpointPhase(host),
    ];
  }

  get progress(): number {
    return phasedProgress(this.phases, this.current);
  }

  async step(): Promise<boolean> {
    const phase = this.phases[this.current];
    if (!phase) return false;
    if (this.host.inStep(() => phase.step())) this.current++;
    return this.current < this.phases.length;
  }
}

/** What a compaction needs of its storage. */
export interface CompactionHost {
  readonly db: BetterSqlite3.Database;
  /** A cached prepared statement. */
  prepare(sql: string): BetterSqlite3.Statement;
  /**
   * Runs a step with the sync compaction's writes need: none of their own, as a step lost to a
   * power cut is only done again (the next document commit syncs it along).
   */
  inStep<T>(work: () => T): T;
  /** Content of non-leaf revisions was dropped: `bytes` fewer to reclaim (inside the step). */
  reclaimed(bytes: number): void;
  /**
   * Starts (with a set) or ends (with undefined) a sweep: while it runs, the storage adds to the
   * set every digest its writes refer to, which the sweep then keeps.
   */
  followDigests(written: Set<string> | undefined): void;
}

/** One phase: steps until it says it is finished. */
interface Phase {
  /** Its share of the whole, for `progress`. */
  readonly weight: number;
  /** Does one bounded step; true when the phase is finished. */
  step(): boolean;
  /** How far the phase is, from 0 to 1. */
  fraction(): number;
}

// Rowids of revisions looked at per step: with bodies of 1 KB, a step takes about 10 ms.
const ROWIDS_PER_STEP = 500;
// Blobs considered per step.
const BLOBS_PER_STEP = 500;
// Pages moved per step (2 MB with 4 KB pages): about 2 ms.
const PAGES_PER_STEP = 512;

/** A walk over a span of integer keys (rowids, sequences) fixed when it starts. */
class KeySpan {
  private cursor = 0;
  private end: number | undefined;

  constructor(private readonly maxKey: () => number) {}

  /** The next span of at most `size` keys, or undefined when the walk is over. */
  next(size: number): { after: number; upTo: number } | undefined {
    this.end ??= this.maxKey();
    if (this.cursor >= this.end) return undefined;
    const after = this.cursor;
    this.cursor = Math.min(this.end, after + size);
    return { after, upTo: this.cursor };
  }

  fraction(): number {
    return this.end ? this.cursor / this.end : 0;
  }
}

function maxOf(host: CompactionHost, sql: string): () => number {
  return () => host.prepare(sql).pluck().get() as number;
}

type PurgedRow = { doc: number; rev: string; parent: string | null; deleted: number; bytes: number };

/** Phase 1: content of non-leaf revisions, rewritten out of its rows. */
class PurgePhase implements Phase {
  readonly weight = 5;
  // Rows inserted again go past the end fixed at the start: each row is looked at once.
  private readonly span: KeySpan;

  constructor(private readonly host: CompactionHost) {
    this.span = new KeySpan(maxOf(host, 'SELECT COALESCE(MAX(rowid), 0) FROM revs'));
  }

  step(): boolean {
    const span = this.span.next(ROWIDS_PER_STEP);
    if (!span) return true;
    this.host.db.transaction(() => this.purge(span.after, span.upTo))();
    return false;
  }

  private purge(after: number, upTo: number): void {
    // Leafness is read in the step's own transaction: a revision that is a leaf now keeps its body.
    const rows = this.host
      .prepare(
        `DELETE FROM revs WHERE rowid > ? AND rowid <= ? AND leaf = 0 AND (body IS NOT NULL OR atts IS NOT NULL)
         RETURNING doc, rev, parent, deleted, ${CONTENT_BYTES} AS bytes`,
      )
      .all(after, upTo) as PurgedRow[];
    const insert = this.host.prepare(
      'INSERT INTO revs (doc, rev, parent, deleted, leaf) VALUES (?, ?, ?, ?, 0)',
    );
    for (const row of rows) insert.run(row.doc, row.rev, row.parent, row.deleted);
    this.host.reclaimed(rows.reduce((sum, row) => sum + row.bytes, 0));
  }

  fraction(): number {
    return this.span.fraction();
  }
}

/** Where rows refer to attachment digests: a table, its key, and the digests of a span of keys. */
const REFERENCES = [
  {
    max: 'SELECT COALESCE(MAX(rowid), 0) FROM revs',
    digests: `SELECT json_extract(a.value, '$.digest') FROM revs r, json_each(r.atts) a
              WHERE r.rowid > ? AND r.rowid <= ? AND r.atts IS NOT NULL`,
  },
  {
    max: 'SELECT COALESCE(MAX(seq), 0) FROM docs',
    digests: `SELECT json_extract(a.value, '$.digest') FROM docs d, json_each(d.atts) a
              WHERE d.seq > ? AND d.seq <= ? AND d.atts IS NOT NULL`,
  },
  {
    max: 'SELECT COALESCE(MAX(seq), 0) FROM resolutions',
    digests: `SELECT a.value FROM resolutions h, json_each(h.atts) a
              WHERE h.seq > ? AND h.seq <= ? AND h.atts IS NOT NULL`,
  },
];

/**
 * Phase 2: blobs no row refers to. The digests referred to are gathered over several steps, while
 * writes go on: rows written meanwhile may lie behind a walk's cursor (a dethroned winner's content
 * moves into its older revision row), so the storage reports every digest its writes refer to
 * until the sweep ends, and those are kept too.
 */
class SweepPhase implements Phase {
  readonly weight = 1;
  private readonly referenced = new Set<string>();
  private readonly walks: { span: KeySpan; digests: string }[];
  private blobCursor: string | undefined = '';
  private started = false;

  constructor(private readonly host: CompactionHost) {
    this.walks = REFERENCES.map((table) => ({
      span: new KeySpan(maxOf(host, table.max)),
      digests: table.digests,
    }));
  }

  step(): boolean {
    if (!this.started) {
      this.started = true;
      const blobs = this.host.prepare('SELECT EXISTS (SELECT 1 FROM attachments)').pluck().get();
      if (!blobs) return true;
      this.host.followDigests(this.referenced);
    }
    if (this.gatherStep()) return false;
    if (this.deleteStep()) return false;
    this.host.followDigests(undefined);
    return true;
  }

  /** Gathers the digests of the next span of the first unfinished walk; false when all are done. */
  private gatherStep(): boolean {
    for (const walk of this.walks) {
      const span = walk.span.next(ROWIDS_PER_STEP);
      if (!span) continue;
      const digests = this.host.prepare(walk.digests).pluck().all(span.after, span.upTo) as string[];
      for (const digest of digests) this.referenced.add(digest);
      return true;
    }
    return false;
  }

  /** Deletes the unreferenced blobs of the next batch of digests; false when none are left. */
  private deleteStep(): boolean {
    if (this.blobCursor === undefined) return false;
    const digests = this.host
      .prepare('SELECT digest FROM attachments WHERE digest > ? ORDER BY digest LIMIT ?')
      .pluck()
      .all(this.blobCursor, BLOBS_PER_STEP) as string[];
    this.blobCursor = digests.length < BLOBS_PER_STEP ? undefined : digests.at(-1);
    const remove = this.host.prepare('DELETE FROM attachments WHERE digest = ?');
    this.host.db.transaction(() => {
      for (const digest of digests) if (!this.referenced.has(digest)) remove.run(digest);
    })();
    return true;
  }

  fraction(): number {
    const walked = this.walks.reduce((sum, walk) => sum + walk.span.fraction(), 0) / this.walks.length;
    return this.blobCursor === undefined ? 1 : walked * 0.9;
  }
}

/** Phase 3: free pages given back to the disk, from the end of the file. */
class VacuumPhase implements Phase {
  readonly weight = 4;
  private initial: number | undefined;
  private left = 0;

  constructor(private readonly host: CompactionHost) {}

  step(): boolean {
    this.left = this.freePages();
    this.initial ??= this.left;
    if (this.left === 0) return true;
    this.host.db.pragma(`incremental_vacuum(${PAGES_PER_STEP})`);
    this.left = this.freePages();
    return this.left === 0;
  }

  private freePages(): number {
    return this.host.db.pragma('freelist_count', { simple: true }) as number;
  }

  fraction(): number {
    return this.initial ? 1 - this.left / this.initial : 0;
  }
}

/**
 * Phase 4: the write-ahead log copied into the file and truncated. Its size is bounded (SQLite
 * checkpoints every 1,000 pages as it goes), so this is one step.
 */
class CheckpointPhase implements Phase {
  readonly weight = 0.2;
  private done = false;

  constructor(private readonly host: CompactionHost) {}

  step(): boolean {
    this.host.db.pragma('wal_checkpoint(TRUNCATE)');
    this.done = true;
    return true;
  }

  fraction(): number {
    return this.done ? 1 : 0;
  }
}
