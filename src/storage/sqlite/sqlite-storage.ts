import { rmSync, statSync } from 'node:fs';
import BetterSqlite3 from 'better-sqlite3';
import type { StoredNode } from '../../core/rev-tree/diff.js';
import { revGen } from '../../core/revision.js';
import type {
  AttachmentBlob,
  AttachmentMeta,
  ChangedNode,
  ChangesScan,
  CompactionSteps,
  ConflictsScan,
  DocRecord,
  DocsRead,
  DocsScan,
  DocWrite,
  FetchedDoc,
  IdRange,
  IndexChanges,
  IndexChangesScan,
  IndexRow,
  IndexScan,
  IndexState,
  IndexUpdate,
  LeafRecord,
  LocalDocsScan,
  LocalRecord,
  ResolutionRecord,
  ResolutionsScan,
  RevisionContent,
  RevisionsWanted,
  ScannedDoc,
  ScannedLocal,
  Storage,
  StorageStats,
  StoredResolution,
} from '../types.js';
import { checkBase } from '../errors.js';
import { keysetPages } from '../paging.js';
import { entryJson, isConflicted, keepsContent, loserDigests } from '../records.js';
import { SqliteCompaction } from './compaction.js';
import { IndexTables } from './indexes.js';
import { CONTENT_BYTES, GARBAGE_KEY, openSchema } from './schema.js';

export interface SqliteStorageOptions {
  /**
   * `full` (the default) syncs the write-ahead log on every commit, so an acknowledged write
   * survives power loss; `normal` survives a crash of the process but not of the machine.
   */
  durability?: 'full' | 'normal';
  /**
   * The database's page cache, in KiB: 16,000 by default (better-sqlite3's own), which holds the
   * pages that indexed queries read again and again. A server that keeps many databases open
   * gives each less (`settee serve`: 4,000).
   */
  pageCacheKiB?: number;
}

/** SQLite's page cache per database when not told otherwise (KiB). */
const DEFAULT_PAGE_CACHE_KIB = 16_000;

/** The page cache asked for, checked: a positive whole number of KiB. */
function pageCacheKiB(asked: number | undefined): number {
  const kib = asked ?? DEFAULT_PAGE_CACHE_KIB;
  if (!Number.isSafeInteger(kib) || kib < 1) {
    throw new RangeError(`pageCacheKiB must be a positive integer, got ${kib}`);
  }
  return kib;
}

/** The files SQLite keeps for a database at `path`: the file itself, its log and journals. */
const FILE_SUFFIXES = ['', '-wal', '-shm', '-journal'];

// Rows read per query when scanning: large enough to amortize the query, small enough that a
// scan of any database keeps memory flat.
const PAGE_SIZE = 512;

type DocRow = { id: string; seq: number; winner: string; deleted: number; leaves: string | null };
type ScanRow = DocRow & { body?: string | null; atts?: string | null };
type ResolutionRow = { seq: number; doc: string; entry: string };
type MovedRow = { leaf: number; atts: string | null; bytes: number };
type NodeRow = { rev: string; parent: string | null; node_deleted: number; leaf: number; has_body: number };

/** The embedded default backend: one SQLite file per database, through better-sqlite3. */
export class SqliteStorage implements Storage {
  readonly path: string;
  private readonly db: BetterSqlite3.Database;
  private readonly statements = new Map<string, BetterSqlite3.Statement>();
  private docCount = 0;
  private deletedCount = 0;
  private updateSeq = 0;
  private nextDocKey = 1;
  /** Bytes of content non-leaf revisions still hold: what compaction would reclaim. */
  private garbageBytes = 0;
  /** While a compaction sweeps attachments: every digest the writes refer to (see `noteAtts`). */
  private writtenDigests: Set<string> | undefined;
  private readonly durability: 'full' | 'normal';
  private readonly indexTables: IndexTables;
  /**
   * Runs `work` in one SQLite transaction. Made once: better-sqlite3 builds four wrapped functions
   * each time `transaction()` is called, about 10 µs, which was a tenth of a small write.
   */
  private readonly transaction: <T>(work: () => T) => T;

  constructor(path: string, options: SqliteStorageOptions = {}) {
    this.path = path;
    // A second opener fails at once rather than waiting for a lock that is held for good.
    this.db = new BetterSqlite3(path, { timeout: 0 });
    this.durability = options.durability ?? 'full';
    const transaction = this.db.transaction((work: () => unknown) => work());
    this.transaction = <T>(work: () => T) => transaction(work) as T;
    this.indexTables = new IndexTables({
      db: this.db,
      withoutSync: (write) => this.withoutSync(write),
      toScanned: (row) => toScanned(row),
    });
    try {
      // One process owns a database file: a second opener fails instead of writing behind our back.
      // Set before the first access, so the lock is taken at open and the WAL index lives in memory
      // (no -shm); set after WAL, a reopened file was only share-locked, a second opener got in,
      // and neither could write again.
      this.db.pragma('locking_mode = EXCLUSIVE');
      this.db.pragma('auto_vacuum = INCREMENTAL');
      this.db.pragma('journal_mode = WAL');
      this.db.pragma(`cache_size = -${pageCacheKiB(options.pageCacheKiB)}`);
      this.db.pragma(`synchronous = ${this.durability === 'normal' ? 'NORMAL' : 'FULL'}`);
      openSchema(this.db);
      this.docCount = Number(this.metaSync('doc_count') ?? 0);
      this.deletedCount = Number(this.metaSync('doc_del_count') ?? 0);
      this.garbageBytes = Number(this.metaSync(GARBAGE_KEY) ?? 0);
      this.updateSeq = this.prepare('SELECT COALESCE(MAX(seq), 0) FROM docs').pluck().get() as number;
      // Every document has its nodes in revs, whose key starts with the document's: no scan.
      this.nextDocKey = (this.prepare('SELECT COALESCE(MAX(doc), 0) FROM revs').pluck().get() as number) + 1;
    } catch (error) {
      // A file this process cannot use must not stay open, holding its lock.
      this.db.close();
      throw error;
    }
  }

  async getMeta(key: string): Promise<string | undefined> {
    return this.metaSync(key);
  }

  async setMeta(key: string, value: string): Promise<void> {
    this.setMetaSync(key, value);
  }

  async getDocs(ids: readonly string[], read: DocsRead = {}): Promise<(FetchedDoc | undefined)[]> {
    if (read.withTree) return ids.map((id) => this.docWithTree(id));
    const select = this.prepare('SELECT id, seq, winner, deleted, leaves FROM docs WHERE id = ?');
    return ids.map((id) => {
      const row = select.get(id) as DocRow | undefined;
      return row && toRecord(row);
    });
  }

  /**
   * A document's summary and tree in one statement, a row per node. The winner's body lives in
   * the document row, so the winner is always held.
   */
  private docWithTree(id: string): FetchedDoc | undefined {
    const rows = this.prepare(
      `SELECT d.id, d.seq, d.winner, d.deleted, d.leaves, r.rev, r.parent, r.deleted AS node_deleted,
              r.leaf, (r.body IS NOT NULL OR r.rev = d.winner) AS has_body
       FROM docs d JOIN revs r ON r.doc = d.doc WHERE d.id = ?`,
    ).all(id) as (DocRow & NodeRow)[];
    const first = rows[0];
    if (!first) return undefined;
    const fetched: FetchedDoc = toRecord(first);
    fetched.tree = rows.map(toNode);
    return fetched;
  }

  async getRevisions(id: string, revs: readonly string[]): Promise<(RevisionContent | undefined)[]> {
    return this.revisionsSync(id, revs);
  }

  /** A statement per revision: in-process SQLite answers each in microseconds. */
  async getRevisionsOf(wanted: readonly RevisionsWanted[]): Promise<(RevisionContent | undefined)[][]> {
    return wanted.map(({ id, revs }) => this.revisionsSync(id, revs));
  }

  private revisionsSync(id: string, revs: readonly string[]): (RevisionContent | undefined)[] {
    const select = this.prepare(
      `SELECT CASE WHEN r.rev = d.winner THEN d.body ELSE r.body END AS body,
              CASE WHEN r.rev = d.winner THEN d.atts ELSE r.atts END AS atts
       FROM revs r JOIN docs d ON r.doc = d.doc
       WHERE d.id = ? AND r.rev = ? AND (r.body IS NOT NULL OR r.rev = d.winner)`,
    );
    return revs.map((rev) => {
      const row = select.get(id, rev) as { body: string; atts: string | null } | undefined;
      return row && toContent(row.body, row.atts);
    });
  }

  async writeDocs(
    writes: readonly DocWrite[],
    blobs: readonly AttachmentBlob[] = [],
    history: readonly ResolutionRecord[] = [],
  ): Promise<number[]> {
    const counters = [
      this.docCount,
      this.deletedCount,
      this.updateSeq,
      this.nextDocKey,
      this.garbageBytes,
    ] as const;
    try {
      return this.transaction(() => {
        const insertBlob = this.prepare('INSERT OR IGNORE INTO attachments (digest, data) VALUES (?, ?)');
        for (const blob of blobs) insertBlob.run(blob.digest, blob.data);
        this.noteDigests(blobs.map((blob) => blob.digest));
        const seqs = writes.map((write) => this.writeDoc(write));
        const insertEntry = this.prepare('INSERT INTO resolutions (doc, entry, atts) VALUES (?, ?, ?)');
        for (const record of history) {
          const digests = loserDigests(record);
          insertEntry.run(record.docId, entryJson(record), digests && JSON.stringify(digests));
          if (digests) this.noteDigests(digests);
        }
        this.persistCounters(counters);
        return seqs;
      });
    } catch (error) {
      // The rollback undid the rows; the counters kept in memory must follow, or the next
      // commit would persist counts of documents that were never written.
      [this.docCount, this.deletedCount, this.updateSeq, this.nextDocKey, this.garbageBytes] = counters;
      throw error;
    }
  }

  /**
   * Writes the counters a batch changed, and only those: an edit that leaves them as they were
   * (most edits of a live document) writes no meta row, and dirties one page less.
   */
  private persistCounters([docs, deleted, , , garbage]: readonly number[]): void {
    if (this.docCount !== docs) this.setMetaSync('doc_count', String(this.docCount));
    if (this.deletedCount !== deleted) this.setMetaSync('doc_del_count', String(this.deletedCount));
    if (this.garbageBytes !== garbage) this.setMetaSync(GARBAGE_KEY, String(this.garbageBytes));
  }

  private writeDoc(write: DocWrite): number {
    const { record } = write;
    const seq = this.updateSeq + 1;
    const existing = this.prepare('SELECT seq, doc, deleted, winner FROM docs WHERE id = ?').get(
      record.id,
    ) as { seq: number; doc: number; deleted: number; winner: string } | undefined;
    checkBase(record.id, write.base, existing?.seq);
    if (existing) this.countDoc(existing.deleted === 1, -1);
    this.countDoc(record.deleted, 1);
    const doc = existing?.doc ?? this.nextDocKey++;
    this.writeRevs(doc, write, existing?.winner);
    const leaves =
      record.leaves.length === 1
        ? null
        : JSON.stringify(record.leaves.map((leaf) => [leaf.rev, leaf.deleted ? 1 : 0]));
    const deleted = record.deleted ? 1 : 0;
    const conflicted = isConflicted(record) ? 1 : 0;
    if (existing && existing.winner === record.winner) {
      this.prepare('UPDATE docs SET seq = ?, deleted = ?, leaves = ?, conflicted = ? WHERE seq = ?').run(
        seq,
        deleted,
        leaves,
        conflicted,
        existing.seq,
      );
    } else {
      const content = this.takeWinnerContent(doc, write, existing);
      this.noteAtts(content.atts);
      if (existing) this.prepare('DELETE FROM docs WHERE seq = ?').run(existing.seq);
      this.prepare(
        `INSERT INTO docs (seq, doc, id, winner, deleted, leaves, body, atts, conflicted)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ).run(seq, doc, record.id, record.winner, deleted, leaves, content.body, content.atts, conflicted);
    }
    this.updateSeq = seq;
    return seq;
  }

  /**
   * The winner's content moves into the document row; a dethroned winner's content moves back
   * into its revision row, unless this write removed that revision.
   */
  private takeWinnerContent(
    doc: number,
    write: DocWrite,
    existing: { seq: number; winner: string } | undefined,
  ): { body: string | null; atts: string | null } {
    const { winner } = write.record;
    if (existing && keepsContent(write, existing.winner)) {
      const moved = this.prepare(
        `UPDATE revs SET body = (SELECT body FROM docs WHERE seq = ?), atts = (SELECT atts FROM docs WHERE seq = ?)
         WHERE doc = ? AND rev = ? RETURNING leaf, atts, ${CONTENT_BYTES} AS bytes`,
      ).get(existing.seq, existing.seq, doc, existing.winner) as MovedRow | undefined;
      // An edit makes the old winner an ancestor: its content is compaction's to reclaim now.
      if (moved && moved.leaf === 0) this.garbageBytes += moved.bytes;
      this.noteAtts(moved?.atts ?? null);
    }
    const added = write.added.find((node) => node.rev === winner);
    if (added) return { body: added.content?.body ?? null, atts: attsJson(added.content?.attachments) };
    const held = this.prepare('SELECT body, atts FROM revs WHERE doc = ? AND rev = ?').get(doc, winner) as
      { body: string | null; atts: string | null } | undefined;
    this.prepare('UPDATE revs SET body = NULL, atts = NULL WHERE doc = ? AND rev = ?').run(doc, winner);
    return { body: held?.body ?? null, atts: held?.atts ?? null };
  }

  /**
   * Applies a document's tree changes; the winner's content is kept in the document row instead.
   * The garbage count follows the content of non-leaf revisions in and out.
   */
  private writeRevs(doc: number, write: DocWrite, storedWinner: string | undefined): void {
    const remove = this.prepare(
      `DELETE FROM revs WHERE doc = ? AND rev = ? RETURNING leaf, ${CONTENT_BYTES} AS bytes`,
    );
    for (const rev of write.removed) {
      const row = remove.get(doc, rev) as { leaf: number; bytes: number } | undefined;
      if (row?.leaf === 0) this.garbageBytes -= row.bytes;
    }
    for (const node of write.changed) this.changeRev(doc, node, node.rev === storedWinner);
    const insert = this.prepare(
      'INSERT INTO revs (doc, rev, parent, deleted, leaf, body, atts) VALUES (?, ?, ?, ?, ?, ?, ?)',
    );
    for (const node of write.added) {
      const isWinner = node.rev === write.record.winner;
      const body = isWinner ? null : (node.content?.body ?? null);
      const atts = isWinner ? null : attsJson(node.content?.attachments);
      insert.run(doc, node.rev, node.parent, node.deleted ? 1 : 0, node.leaf ? 1 : 0, body, atts);
      if (!node.leaf) this.garbageBytes += utf8Bytes(body) + utf8Bytes(atts);
      this.noteAtts(atts);
    }
  }

  /**
   * Moves a node in the tree, and drops its content when asked. A revision's content is garbage
   * while it is not a leaf, so the count moves only when its leafness changes or its content
   * goes: a node that stays what it was (a root of a stemmed tree) is updated without being
   * read, and so is the stored winner, whose content is in the document row.
   */
  private changeRev(doc: number, node: ChangedNode, isStoredWinner: boolean): void {
    const leaf = node.leaf ? 1 : 0;
    const deleted = node.deleted ? 1 : 0;
    if (!node.dropContent && !isStoredWinner) {
      const kept = this.prepare(
        'UPDATE revs SET parent = ?, deleted = ? WHERE doc = ? AND rev = ? AND leaf = ?',
      ).run(node.parent, deleted, doc, node.rev, leaf);
      if (kept.changes > 0) return;
    }
    const before = isStoredWinner
      ? undefined
      : (this.prepare(`SELECT leaf, ${CONTENT_BYTES} AS bytes FROM revs WHERE doc = ? AND rev = ?`).get(
          doc,
          node.rev,
        ) as { leaf: number; bytes: number } | undefined);
    if (before && node.dropContent) {
      if (before.leaf === 0) this.garbageBytes -= before.bytes;
    } else if (before && before.leaf !== leaf) this.garbageBytes += leaf ? -before.bytes : before.bytes;
    const content = node.dropContent ? ', body = NULL, atts = NULL' : '';
    this.prepare(`UPDATE revs SET parent = ?, deleted = ?, leaf = ?${content} WHERE doc = ? AND rev = ?`).run(
      node.parent,
      deleted,
      leaf,
      doc,
      node.rev,
    );
  }

  /** Keeps the digests of attachment metadata being written, while a sweep asks for them. */
  private noteAtts(atts: string | null): void {
    if (!this.writtenDigests || atts === null) return;
    this.noteDigests(
      Object.values(JSON.parse(atts) as Record<string, AttachmentMeta>).map((meta) => meta.digest),
    );
  }

  private noteDigests(digests: readonly string[]): void {
    for (const digest of digests) this.writtenDigests?.add(digest);
  }

  private countDoc(deleted: boolean, delta: number): void {
    if (deleted) this.deletedCount += delta;
    else this.docCount += delta;
  }

  changes(options: ChangesScan): AsyncIterable<ScannedDoc[]> {
    const descending = options.descending === true;
    const sql = `${this.scanSelect(options.withContent)} WHERE d.seq ${descending ? '< ? AND d.seq > ?' : '> ?'}
      ORDER BY d.seq ${descending ? 'DESC' : 'ASC'} LIMIT ?`;
    return this.pages(
      (after, count) => {
        const params = descending
          ? [after ?? Number.MAX_SAFE_INTEGER, options.since]
          : [after ?? options.since];
        return (this.prepare(sql).all(...params, count) as ScanRow[]).map(toScanned);
      },
      (doc) => doc.seq,
      options.limit,
    );
  }

  docs(options: DocsScan): AsyncIterable<ScannedDoc[]> {
    const select = this.scanSelect(options.withContent);
    return this.idPages(options, 'd.id', (clauses, params) =>
      (this.prepare(`${select} ${clauses}`).all(...params) as ScanRow[]).map(toScanned),
    );
  }

  localDocs(options: LocalDocsScan): AsyncIterable<ScannedLocal[]> {
    const select = `SELECT ${options.withBody ? 'id, rev, body' : 'id, rev'} FROM local_docs`;
    return this.idPages(
      options,
      'id',
      (clauses, params) => this.prepare(`${select} ${clauses}`).all(...params) as ScannedLocal[],
    );
  }

  /**
   * A keyset scan of `column` within `range`; `read` runs its SELECT with the clauses of each page
   * (`WHERE … ORDER BY … LIMIT ?`) and their parameters.
   */
  private idPages<Row extends { id: string }>(
    range: IdRange,
    column: string,
    read: (clauses: string, params: unknown[]) => Row[],
  ): AsyncIterable<Row[]> {
    return this.pages<Row, string>(
      (after, count) => {
        const { clauses, params } = idRangeClauses(column, range, after);
        return read(clauses, [...params, count]);
      },
      (row) => row.id,
    );
  }

  conflicts(options: ConflictsScan): AsyncIterable<DocRecord[]> {
    // Each condition matches its partial index's, so SQLite walks only the index's rows.
    const select = options.deletedLeaves
      ? 'SELECT id, seq, winner, deleted, leaves FROM docs INDEXED BY docs_branched WHERE leaves IS NOT NULL'
      : 'SELECT id, seq, winner, deleted, leaves FROM docs INDEXED BY docs_conflicted WHERE conflicted = 1';
    return this.pages(
      (after, count) => {
        const from = after ?? options.start;
        const where = from === undefined ? '' : ` AND id ${after === undefined ? '>=' : '>'} ?`;
        const params = from === undefined ? [] : [from];
        const rows = this.prepare(`${select}${where} ORDER BY id LIMIT ?`).all(...params, count) as DocRow[];
        return rows.map(toRecord);
      },
      (doc) => doc.id,
      options.limit,
    );
  }

  async countConflicts(): Promise<number> {
    return this.prepare('SELECT COUNT(*) FROM docs INDEXED BY docs_conflicted WHERE conflicted = 1')
      .pluck()
      .get() as number;
  }

  resolutions(scan: ResolutionsScan): AsyncIterable<StoredResolution[]> {
    const descending = scan.descending === true;
    const where = `${scan.docId === undefined ? '' : 'doc = ? AND '}seq ${descending ? '<' : '>'} ?`;
    const sql = `SELECT seq, doc, entry FROM resolutions WHERE ${where} ORDER BY seq ${descending ? 'DESC' : 'ASC'} LIMIT ?`;
    const from = scan.after ?? (descending ? Number.MAX_SAFE_INTEGER : 0);
    const doc = scan.docId === undefined ? [] : [scan.docId];
    return this.pages(
      (after, count) =>
        (this.prepare(sql).all(...doc, after ?? from, count) as ResolutionRow[]).map(toResolution),
      (entry) => entry.seq,
      scan.limit,
    );
  }

  async countResolutions(docId?: string): Promise<number> {
    const count =
      docId === undefined
        ? this.prepare('SELECT COUNT(*) FROM resolutions').pluck().get()
        : this.prepare('SELECT COUNT(*) FROM resolutions WHERE doc = ?').pluck().get(docId);
    return count as number;
  }

  /** A scan in pages of `PAGE_SIZE` rows, continuing after the key of each page's last row. */
  private pages<Row, Key>(
    read: (after: Key | undefined, count: number) => Row[],
    keyOf: (row: Row) => Key,
    limit?: number,
  ): AsyncIterable<Row[]> {
    return keysetPages(read, keyOf, { pageSize: PAGE_SIZE, limit });
  }

  private scanSelect(withContent = false): string {
    return withContent
      ? 'SELECT d.id, d.seq, d.winner, d.deleted, d.leaves, d.body, d.atts FROM docs d'
      : 'SELECT d.id, d.seq, d.winner, d.deleted, d.leaves FROM docs d';
  }

  /**
   * The size on disk is every file of the database, the write-ahead log included. The live data
   * is the pages in use less the content of non-leaf revisions (kept count of by every write): no
   * scan, so `info()` stays cheap on a database of any size.
   */
  async stats(): Promise<StorageStats> {
    const pageSize = this.db.pragma('page_size', { simple: true }) as number;
    const pages = this.db.pragma('page_count', { simple: true }) as number;
    const free = this.db.pragma('freelist_count', { simple: true }) as number;
    return {
      docCount: this.docCount,
      deletedCount: this.deletedCount,
      updateSeq: this.updateSeq,
      fileSize: FILE_SUFFIXES.reduce((sum, suffix) => sum + sizeOnDisk(this.path + suffix), 0),
      activeSize: Math.max(0, (pages - free) * pageSize - this.garbageBytes),
    };
  }

  async putLocal(id: string, record: LocalRecord | null): Promise<void> {
    // Local documents are replication checkpoints: losing the newest one to a power cut only
    // makes a replication re-read a batch, so they skip the fsync that documents pay for. The
    // next document commit syncs them along (a crash of the process loses nothing either way).
    this.withoutSync(() => {
      if (record === null) this.prepare('DELETE FROM local_docs WHERE id = ?').run(id);
      else {
        this.prepare(
          `INSERT INTO local_docs (id, rev, body) VALUES (?, ?, ?)
           ON CONFLICT (id) DO UPDATE SET rev = excluded.rev, body = excluded.body`,
        ).run(id, record.rev, record.body);
      }
    });
  }

  private withoutSync<T>(write: () => T): T {
    if (this.durability !== 'full') return write();
    this.db.pragma('synchronous = NORMAL');
    try {
      return write();
    } finally {
      this.db.pragma('synchronous = FULL');
    }
  }

  async getAttachment(digest: string): Promise<Uint8Array | undefined> {
    const data = this.prepare('SELECT data FROM attachments WHERE digest = ?').pluck().get(digest) as
      Buffer | undefined;
    return data && new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  }

  async indexes(): Promise<IndexState[]> {
    return this.indexTables.all();
  }

  async openIndex(name: string, signature: string): Promise<IndexState> {
    return this.indexTables.open(name, signature);
  }

  async updateIndex(name: string, update: IndexUpdate): Promise<void> {
    this.indexTables.update(name, update);
  }

  scanIndex(name: string, scan: IndexScan): AsyncIterable<IndexRow[]> {
    return this.indexTables.scan(name, scan);
  }

  async dropIndex(name: string): Promise<void> {
    this.indexTables.drop(name);
  }

  async indexChanges(name: string, scan: IndexChangesScan): Promise<IndexChanges | undefined> {
    return this.indexTables.changes(name, scan, this.updateSeq);
  }

  /** Compaction in place, in steps (see `SqliteCompaction`). */
  compaction(): CompactionSteps {
    return new SqliteCompaction({
      db: this.db,
      prepare: (sql) => this.prepare(sql),
      inStep: (work) => this.withoutSync(work),
      reclaimed: (bytes) => {
        this.garbageBytes = Math.max(0, this.garbageBytes - bytes);
        this.setMetaSync(GARBAGE_KEY, String(this.garbageBytes));
      },
      followDigests: (written) => {
        this.writtenDigests = written;
      },
    });
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }

  async destroy(): Promise<void> {
    await this.close();
    for (const suffix of FILE_SUFFIXES) rmSync(this.path + suffix, { force: true });
  }

  private metaSync(key: string): string | undefined {
    return this.prepare('SELECT value FROM meta WHERE key = ?').pluck().get(key) as string | undefined;
  }

  private setMetaSync(key: string, value: string): void {
    this.prepare(
      'INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
    ).run(key, value);
  }

  /** Prepared statements are cached by their text: preparing is far costlier than running. */
  private prepare(sql: string): BetterSqlite3.Statement {
    let statement = this.statements.get(sql);
    if (!statement) {
      statement = this.db.prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement;
  }
}

function toRecord(row: DocRow): DocRecord {
  const leaves: LeafRecord[] =
    row.leaves === null
      ? [{ rev: row.winner, deleted: row.deleted === 1 }]
      : (JSON.parse(row.leaves) as [string, number][]).map(([rev, deleted]) => ({
          rev,
          deleted: deleted === 1,
        }));
  return { id: row.id, seq: row.seq, winner: row.winner, deleted: row.deleted === 1, leaves };
}

function toNode(row: NodeRow): StoredNode {
  const dash = row.rev.indexOf('-');
  return {
    rev: row.rev,
    gen: revGen(row.rev),
    hash: row.rev.slice(dash + 1),
    parent: row.parent,
    deleted: row.node_deleted === 1,
    hasBody: row.has_body === 1,
    leaf: row.leaf === 1,
  };
}

function toContent(body: string, atts: string | null | undefined): RevisionContent {
  return { body, attachments: atts ? JSON.parse(atts) : undefined };
}

function toScanned(row: ScanRow): ScannedDoc {
  const scanned: ScannedDoc = toRecord(row);
  if (typeof row.body === 'string') scanned.content = toContent(row.body, row.atts);
  return scanned;
}

/**
 * The clauses of one page of an id scan: from the range's start (inclusive) on the first page,
 * after the last id read on the next ones, up to its end, in its direction.
 */
function idRangeClauses(
  column: string,
  range: IdRange,
  after: string | undefined,
): { clauses: string; params: string[] } {
  const descending = range.descending === true;
  const [next, last] = descending ? ['<', '>'] : ['>', '<'];
  const conditions: string[] = [];
  const params: string[] = [];
  const from = after ?? range.start;
  if (from !== undefined) {
    conditions.push(`${column} ${next}${after === undefined ? '=' : ''} ?`);
    params.push(from);
  }
  if (range.end !== undefined) {
    conditions.push(`${column} ${range.inclusiveEnd === false ? last : `${last}=`} ?`);
    params.push(range.end);
  }
  const where = conditions.length > 0 ? `WHERE ${conditions.join(' AND ')} ` : '';
  return { clauses: `${where}ORDER BY ${column} ${descending ? 'DESC' : 'ASC'} LIMIT ?`, params };
}

function sizeOnDisk(file: string): number {
  return statSync(file, { throwIfNoEntry: false })?.size ?? 0;
}

function utf8Bytes(text: string | null): number {
  return text === null ? 0 : Buffer.byteLength(text, 'utf8');
}

function attsJson(attachments: Record<string, unknown> | undefined): string | null {
  return attachments && Object.keys(attachments).length > 0 ? JSON.stringify(attachments) : null;
}

function toResolution(row: ResolutionRow): StoredResolution {
  return { docId: row.doc, ...(JSON.parse(row.entry) as Omit<ResolutionRecord, 'docId'>), seq: row.seq };
}
