import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import { fileExists, SetteeError } from '../../core/errors.js';
import { keysetPages } from '../paging.js';
import type {
  AttachmentBlob,
  ChangesScan,
  CompactionSteps,
  ConflictsScan,
  DocRecord,
  DocsRead,
  DocsScan,
  DocWrite,
  ExternalWrite,
  FetchedDoc,
  IdRange,
  IndexChanges,
  IndexChangesScan,
  IndexRow,
  IndexScan,
  IndexState,
  IndexUpdate,
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
import { PostgresCompaction } from './compaction.js';
import { PostgresIndexes } from './indexes.js';
import { announceWrite, writeListenerOf } from './notifications.js';
import {
  DOC_COLUMNS,
  type DocRow,
  type NodeRow,
  type ResolutionRow,
  SCANNED_DOC_FROM,
  type ScanRow,
  toContent,
  toNode,
  toRecord,
  toResolution,
  toScanned,
} from './rows.js';
import { migrate } from './schema.js';
import { asBytes, idBytes, idText, inTransaction, type Queryable, rowsOf, run } from './sql.js';
import { lockCounter, writeBatch } from './writes.js';

// Rows read per query when scanning: large enough to amortize the round trip, small enough that
// a scan of any database keeps memory flat.
const PAGE_SIZE = 512;

const SUMMARY_FROM = `SELECT ${DOC_COLUMNS} FROM settee.docs d`;

/**
 * A statement's leading CTE that makes its own (implicit) transaction commit without waiting for
 * the disk, as `SET LOCAL synchronous_commit = off` would in a transaction block: PostgreSQL reads
 * the setting at commit. The statement must read `relaxed` for the CTE to run.
 */
const RELAXED_COMMIT = "WITH relaxed AS (SELECT set_config('synchronous_commit', 'off', true))";

type CounterRow = {
  update_seq: number;
  doc_count: number;
  deleted_count: number;
  content_bytes: number;
  garbage_bytes: number;
};

/**
 * A database kept in PostgreSQL, beside every other database of the servers that share it (see
 * `schema.ts` for the layout). The pool is the server's, shared by all its databases: this object
 * holds no connection of its own and no state that another server could change behind its back;
 * every count and sequence is read from the database.
 *
 * @example
 * const pool = new pg.Pool({ connectionString: process.env.SETTEE_POSTGRES });
 * const storage = await PostgresStorage.open(pool, 'orders');
 * await storage.writeDocs(writes);
 */
export class PostgresStorage implements Storage {
  private readonly indexTables: PostgresIndexes;
  private closed = false;
  private readonly unsubscribes = new Set<() => void>();

  private constructor(
    private readonly pool: pg.Pool,
    /** The database's key in every table. */
    private readonly db: number,
    readonly name: string,
    /** Marks this object's write notifications, which its own listeners need not hear. */
    private readonly origin = randomBytes(8).toString('hex'),
    /** In the view `exclusively` hands its work: the transaction holding the lock, while it lasts. */
    private readonly held?: HeldTransaction,
  ) {
    this.indexTables = new PostgresIndexes(pool, db);
  }

  /**
   * Opens the database called `name` in the pool's PostgreSQL, creating it when absent (and the
   * tables, or their upgrade, on the pool's first use).
   */
  static async open(pool: pg.Pool, name: string): Promise<PostgresStorage> {
    await migrate(pool);
    const db =
      (await databaseKey(pool, name)) ??
      (await createDatabase(pool, name)) ??
      (await databaseKey(pool, name));
    if (db === undefined)
      throw new SetteeError('not_found', `Database ${name} was deleted while it was being opened`);
    return new PostgresStorage(pool, db, name);
  }

  /** Creates the database called `name`; `file_exists` (412) when there is one. */
  static async create(pool: pg.Pool, name: string): Promise<PostgresStorage> {
    await migrate(pool);
    const db = await createDatabase(pool, name);
    if (db === undefined) throw fileExists();
    return new PostgresStorage(pool, db, name);
  }

  /** Opens the database called `name` if there is one: never creates it. */
  static async existing(pool: pg.Pool, name: string): Promise<PostgresStorage | undefined> {
    await migrate(pool);
    const db = await databaseKey(pool, name);
    return db === undefined ? undefined : new PostgresStorage(pool, db, name);
  }

  /**
   * Whether this object's database still exists: another server may have deleted it (and made
   * a new one of the same name, which gets a new key, never this one).
   */
  async exists(): Promise<boolean> {
    const rows = await rowsOf(this.pool, 'SELECT 1 FROM settee.databases WHERE db = $1', [this.db]);
    return rows.length > 0;
  }

  /** The names of the databases the pool's PostgreSQL holds, in code-point order (`_all_dbs`). */
  static async names(pool: pg.Pool): Promise<string[]> {
    await migrate(pool);
    const rows = await rowsOf<{ name: string }>(
      pool,
      'SELECT name FROM settee.databases ORDER BY name COLLATE "C"',
    );
    return rows.map((row) => row.name);
  }

  async getMeta(key: string): Promise<string | undefined> {
    const [row] = await rowsOf<{ value: string }>(
      this.on(),
      'SELECT value FROM settee.meta WHERE db = $1 AND key = $2',
      [this.db, key],
    );
    return row?.value;
  }

  async setMeta(key: string, value: string): Promise<void> {
    await run(
      this.on(),
      `INSERT INTO settee.meta (db, key, value) VALUES ($1, $2, $3)
       ON CONFLICT (db, key) DO UPDATE SET value = excluded.value`,
      [this.db, key, value],
    );
  }

  async getDocs(ids: readonly string[], read: DocsRead = {}): Promise<(FetchedDoc | undefined)[]> {
    if (ids.length === 0) return [];
    const byId = read.withTree ? await this.docsWithTrees(ids) : await this.summaries(ids);
    return ids.map((id) => byId.get(id));
  }

  private async summaries(ids: readonly string[]): Promise<Map<string, FetchedDoc>> {
    const rows = await rowsOf<DocRow>(
      this.on(),
      `${SUMMARY_FROM} WHERE d.db = $1 AND d.id = ANY($2::bytea[])`,
      [this.db, ids.map(idBytes)],
    );
    return new Map(rows.map((row) => [idText(row.id), toRecord(row)]));
  }

  /** Summaries and trees in one statement, a row per node. */
  private async docsWithTrees(ids: readonly string[]): Promise<Map<string, FetchedDoc>> {
    const rows = await rowsOf<DocRow & NodeRow>(
      this.on(),
      `SELECT ${DOC_COLUMNS}, r.rev, r.parent, r.deleted AS node_deleted, r.leaf, r.body IS NOT NULL AS has_body
       FROM settee.docs d JOIN settee.revs r ON r.doc = d.doc WHERE d.db = $1 AND d.id = ANY($2::bytea[])`,
      [this.db, ids.map(idBytes)],
    );
    const byId = new Map<string, FetchedDoc>();
    for (const row of rows) {
      const id = idText(row.id);
      let fetched = byId.get(id);
      if (!fetched) byId.set(id, (fetched = { ...toRecord(row), tree: [] }));
      fetched.tree!.push(toNode(row));
    }
    return byId;
  }

  async getRevisions(id: string, revs: readonly string[]): Promise<(RevisionContent | undefined)[]> {
    return (await this.getRevisionsOf([{ id, revs }]))[0]!;
  }

  /** One statement for the whole batch: its (id, rev) pairs joined against both primary keys. */
  async getRevisionsOf(wanted: readonly RevisionsWanted[]): Promise<(RevisionContent | undefined)[][]> {
    const pairs = wanted.flatMap(({ id, revs }) => revs.map((rev) => [id, rev] as const));
    if (pairs.length === 0) return wanted.map(() => []);
    const rows = await rowsOf<{ id: Buffer; rev: string; body: string; atts: string | null }>(
      this.on(),
      `SELECT d.id, r.rev, r.body, r.atts FROM unnest($2::bytea[], $3::text[]) AS x(id, rev)
       JOIN settee.docs d ON d.db = $1 AND d.id = x.id
       JOIN settee.revs r ON r.doc = d.doc AND r.rev = x.rev
       WHERE r.body IS NOT NULL`,
      [this.db, pairs.map(([id]) => idBytes(id)), pairs.map(([, rev]) => rev)],
    );
    const byDoc = new Map<string, Map<string, RevisionContent>>();
    for (const row of rows) {
      const id = idText(row.id);
      let revs = byDoc.get(id);
      if (!revs) byDoc.set(id, (revs = new Map()));
      revs.set(row.rev, toContent(row.body, row.atts));
    }
    return wanted.map(({ id, revs }) => revs.map((rev) => byDoc.get(id)?.get(rev)));
  }

  /**
   * One transaction per call (or the one `exclusively` holds); see `writeBatch` for the locks that
   * order concurrent writers.
   */
  async writeDocs(
    writes: readonly DocWrite[],
    blobs: readonly AttachmentBlob[] = [],
    history: readonly ResolutionRecord[] = [],
  ): Promise<number[]> {
    const on = this.on();
    const write = async (client: pg.PoolClient) => {
      const seqs = await writeBatch(client, this.db, writes, blobs, history);
      const last = seqs.at(-1);
      // In the transaction: PostgreSQL sends it at commit, and never for a write rolled back.
      if (last !== undefined) {
        const ids = writes.map((written) => written.record.id);
        await announceWrite(client, this.origin, this.db, last, ids);
      }
      return seqs;
    };
    return on === this.pool ? inTransaction(this.pool, write) : write(on as pg.PoolClient);
  }

  /**
   * Runs `work` in one transaction that first takes the counter row lock every writer of this
   * database takes (see `writeBatch`), handing it a view of this storage whose statements run in
   * that transaction — reads and `writeDocs` alike; once the transaction is over, the view's go to
   * the pool again (what `work` planned to run after the commit).
   */
  async exclusively<T>(work: (locked: Storage) => Promise<T>): Promise<T> {
    this.outsideHeld('exclusively');
    this.on();
    return inTransaction(this.pool, async (client) => {
      await lockCounter(client, this.db);
      const held: HeldTransaction = { client, open: true };
      try {
        return await work(new PostgresStorage(this.pool, this.db, this.name, this.origin, held));
      } finally {
        held.open = false;
      }
    });
  }

  /**
   * Follows the writes other servers (any other storage object) commit to this database, heard
   * through the pool's listening connection once it listens (see `notifications.ts`).
   */
  onExternalWrite(listener: (write: ExternalWrite) => void): () => void {
    const unsubscribe = writeListenerOf(this.pool).subscribe(this.db, this.origin, listener);
    this.unsubscribes.add(unsubscribe);
    return () => {
      this.unsubscribes.delete(unsubscribe);
      unsubscribe();
    };
  }

  changes(options: ChangesScan): AsyncIterable<ScannedDoc[]> {
    const descending = options.descending === true;
    const select = options.withContent ? SCANNED_DOC_FROM : SUMMARY_FROM;
    const sql = `${select} WHERE d.db = $1 AND d.seq ${descending ? '< $2 AND d.seq > $3' : '> $2'}
      ORDER BY d.seq ${descending ? 'DESC' : 'ASC'} LIMIT $${descending ? 4 : 3}`;
    return this.pages(
      async (after, count) => {
        const bounds = descending
          ? [after ?? Number.MAX_SAFE_INTEGER, options.since]
          : [after ?? options.since];
        return (await rowsOf<ScanRow>(this.on(), sql, [this.db, ...bounds, count])).map(toScanned);
      },
      (doc) => doc.seq,
      options.limit,
    );
  }

  docs(options: DocsScan): AsyncIterable<ScannedDoc[]> {
    const select = options.withContent ? SCANNED_DOC_FROM : SUMMARY_FROM;
    return this.idPages(options, 'd.id', async (clauses, params) =>
      (await rowsOf<ScanRow>(this.on(), `${select} WHERE d.db = $1 ${clauses}`, params)).map(toScanned),
    );
  }

  localDocs(options: LocalDocsScan): AsyncIterable<ScannedLocal[]> {
    const select = `SELECT ${options.withBody ? 'id, rev, body' : 'id, rev'} FROM settee.local_docs WHERE db = $1`;
    return this.idPages(options, 'id', async (clauses, params) =>
      (
        await rowsOf<{ id: Buffer; rev: number; body?: string }>(this.on(), `${select} ${clauses}`, params)
      ).map((row) => ({ ...row, id: idText(row.id) })),
    );
  }

  /** A keyset scan of the id `column` within `range`; `read` runs a page's clauses (`AND … LIMIT`). */
  private idPages<Row extends { id: string }>(
    range: IdRange,
    column: string,
    read: (clauses: string, params: unknown[]) => Promise<Row[]>,
  ): AsyncIterable<Row[]> {
    return this.pages<Row, string>(
      (after, count) => {
        const params: unknown[] = [this.db];
        return read(idRangeClauses(column, range, after, count, params), params);
      },
      (row) => row.id,
    );
  }

  conflicts(options: ConflictsScan): AsyncIterable<DocRecord[]> {
    // Each condition is its partial index's, so PostgreSQL reads only the index's rows.
    const which = options.deletedLeaves ? 'd.leaves IS NOT NULL' : 'd.conflicted';
    return this.pages<DocRecord, string>(
      async (after, count) => {
        const from = after ?? options.start;
        const params: unknown[] = [this.db, count];
        const start =
          from === undefined
            ? ''
            : `AND d.id ${after === undefined ? '>=' : '>'} $${params.push(idBytes(from))}`;
        const sql = `${SUMMARY_FROM} WHERE d.db = $1 AND ${which} ${start} ORDER BY d.id LIMIT $2`;
        return (await rowsOf<DocRow>(this.on(), sql, params)).map(toRecord);
      },
      (doc) => doc.id,
      options.limit,
    );
  }

  async countConflicts(): Promise<number> {
    return this.count('SELECT COUNT(*) AS count FROM settee.docs WHERE db = $1 AND conflicted', [this.db]);
  }

  resolutions(scan: ResolutionsScan): AsyncIterable<StoredResolution[]> {
    const descending = scan.descending === true;
    const params: unknown[] = [this.db];
    const doc = scan.docId === undefined ? '' : `AND doc = $${params.push(idBytes(scan.docId))}`;
    const from = scan.after ?? (descending ? Number.MAX_SAFE_INTEGER : 0);
    const sql = `SELECT seq, doc, entry FROM settee.resolutions WHERE db = $1 ${doc}
      AND seq ${descending ? '<' : '>'} $${params.length + 1} ORDER BY seq ${descending ? 'DESC' : 'ASC'} LIMIT $${params.length + 2}`;
    return this.pages(
      async (after, count) =>
        (await rowsOf<ResolutionRow>(this.on(), sql, [...params, after ?? from, count])).map(toResolution),
      (entry) => entry.seq,
      scan.limit,
    );
  }

  async countResolutions(docId?: string): Promise<number> {
    return docId === undefined
      ? this.count('SELECT COUNT(*) AS count FROM settee.resolutions WHERE db = $1', [this.db])
      : this.count('SELECT COUNT(*) AS count FROM settee.resolutions WHERE db = $1 AND doc = $2', [
          this.db,
          idBytes(docId),
        ]);
  }

  /**
   * Counts and sizes from the database's counter row, as of the last commit: no scan. The sizes
   * are the bytes of content held (bodies, attachment metadata, blobs) rather than of table files,
   * which every database shares: `fileSize` all of it, `activeSize` less what compaction drops.
   */
  async stats(): Promise<StorageStats> {
    const [counter] = await rowsOf<CounterRow>(
      this.on(),
      `SELECT update_seq, doc_count, deleted_count, content_bytes, garbage_bytes FROM settee.databases WHERE db = $1`,
      [this.db],
    );
    if (!counter) throw new SetteeError('not_found', 'Database does not exist.');
    return {
      docCount: counter.doc_count,
      deletedCount: counter.deleted_count,
      updateSeq: counter.update_seq,
      fileSize: counter.content_bytes,
      activeSize: Math.max(0, counter.content_bytes - counter.garbage_bytes),
    };
  }

  /**
   * Local documents are replication checkpoints: losing the newest to a crash of the machine only
   * makes a replication read a batch again, so their commit does not wait for the disk. One
   * statement, its own transaction: a checkpoint costs one round trip, not four.
   */
  async putLocal(id: string, record: LocalRecord | null): Promise<void> {
    // Its relaxed commit would make the whole held transaction's commit relaxed.
    this.outsideHeld('putLocal');
    if (record === null) {
      await run(
        this.on(),
        `${RELAXED_COMMIT} DELETE FROM settee.local_docs WHERE db = $1 AND id = $2 AND EXISTS (SELECT FROM relaxed)`,
        [this.db, idBytes(id)],
      );
    } else {
      await run(
        this.on(),
        `${RELAXED_COMMIT} INSERT INTO settee.local_docs (db, id, rev, body) SELECT $1, $2, $3, $4 FROM relaxed
         ON CONFLICT (db, id) DO UPDATE SET rev = excluded.rev, body = excluded.body`,
        [this.db, idBytes(id), record.rev, record.body],
      );
    }
  }

  async getAttachment(digest: string): Promise<Uint8Array | undefined> {
    const [row] = await rowsOf<{ data: Buffer }>(
      this.on(),
      'SELECT data FROM settee.attachments WHERE db = $1 AND digest = $2',
      [this.db, digest],
    );
    return row && asBytes(row.data);
  }

  indexes(): Promise<IndexState[]> {
    this.on();
    return this.indexTables.all();
  }

  openIndex(name: string, signature: string): Promise<IndexState> {
    this.on();
    return this.indexTables.open(name, signature);
  }

  updateIndex(name: string, update: IndexUpdate): Promise<void> {
    this.on();
    return this.indexTables.update(name, update);
  }

  scanIndex(name: string, scan: IndexScan): AsyncIterable<IndexRow[]> {
    this.on();
    return this.indexTables.scan(name, scan);
  }

  dropIndex(name: string): Promise<void> {
    this.on();
    return this.indexTables.drop(name);
  }

  indexChanges(name: string, scan: IndexChangesScan): Promise<IndexChanges | undefined> {
    this.on();
    return this.indexTables.changes(name, scan);
  }

  compaction(): CompactionSteps {
    this.outsideHeld('compaction');
    this.on();
    return new PostgresCompaction(this.pool, this.db);
  }

  /** This database is done with; the pool stays open for the server's other databases. */
  async close(): Promise<void> {
    this.closed = true;
    this.stopFollowing();
  }

  private stopFollowing(): void {
    for (const unsubscribe of this.unsubscribes) unsubscribe();
    this.unsubscribes.clear();
  }

  /**
   * Deletes the database: its registry row first (so the name can be created again at once, as a
   * new database with a new key), then its rows in every table, in one transaction.
   */
  async destroy(): Promise<void> {
    this.outsideHeld('destroy');
    this.closed = true;
    this.stopFollowing();
    await inTransaction(this.pool, async (client) => {
      await run(client, 'DELETE FROM settee.databases WHERE db = $1', [this.db]);
      await run(client, 'DELETE FROM settee.revs WHERE doc IN (SELECT doc FROM settee.docs WHERE db = $1)', [
        this.db,
      ]);
      for (const table of ['docs', 'meta', 'local_docs', 'attachments', 'resolutions']) {
        await run(client, `DELETE FROM settee.${table} WHERE db = $1`, [this.db]);
      }
      await this.indexTables.dropAll(client);
    });
  }

  /** A scan in pages of `PAGE_SIZE` rows, continuing after the key of each page's last row. */
  private pages<Row, Key>(
    read: (after: Key | undefined, count: number) => Promise<Row[]>,
    keyOf: (row: Row) => Key,
    limit?: number,
  ): AsyncIterable<Row[]> {
    return keysetPages(read, keyOf, { pageSize: PAGE_SIZE, limit });
  }

  private async count(sql: string, params: unknown[]): Promise<number> {
    const [row] = await rowsOf<{ count: number }>(this.on(), sql, params);
    return row?.count ?? 0;
  }

  /**
   * Refuses, in the view `exclusively` hands its work while the transaction lasts, what would
   * wait for the lock that transaction holds (another transaction taking it: a wait with no end)
   * or change how it commits.
   */
  private outsideHeld(method: string): void {
    if (this.held?.open) throw new Error(`${method}() is not for the work of exclusively()`);
  }

  /**
   * The pool (or the transaction `exclusively` holds), for a storage still open: a closed one
   * refuses, as a closed SQLite file does.
   */
  private on(): Queryable {
    if (this.closed) throw new SetteeError('unavailable', `Database ${this.name} is closed`);
    return this.held?.open ? this.held.client : this.pool;
  }
}

/** The transaction of `exclusively`, open until its work is done. */
interface HeldTransaction {
  readonly client: pg.PoolClient;
  open: boolean;
}

async function databaseKey(pool: pg.Pool, name: string): Promise<number | undefined> {
  return (await rowsOf<{ db: number }>(pool, 'SELECT db FROM settee.databases WHERE name = $1', [name]))[0]
    ?.db;
}

/** A new database's key; undefined when another server created it first (it is then read). */
async function createDatabase(pool: pg.Pool, name: string): Promise<number | undefined> {
  const made = await rowsOf<{ db: number }>(
    pool,
    'INSERT INTO settee.databases (name) VALUES ($1) ON CONFLICT (name) DO NOTHING RETURNING db',
    [name],
  );
  return made[0]?.db;
}

/**
 * The clauses of one page of an id scan (`AND … ORDER BY … LIMIT`), binding into `params`: from
 * the range's start (inclusive) on the first page, after the last id read on the next ones, up to
 * its end, in its direction.
 */
function idRangeClauses(
  column: string,
  range: IdRange,
  after: string | undefined,
  count: number,
  params: unknown[],
): string {
  const descending = range.descending === true;
  const [next, last] = descending ? ['<', '>'] : ['>', '<'];
  const bind = (value: unknown) => `$${params.push(value)}`;
  const conditions: string[] = [];
  const from = after ?? range.start;
  if (from !== undefined)
    conditions.push(`${column} ${next}${after === undefined ? '=' : ''} ${bind(idBytes(from))}`);
  if (range.end !== undefined) {
    conditions.push(
      `${column} ${range.inclusiveEnd === false ? last : `${last}=`} ${bind(idBytes(range.end))}`,
    );
  }
  const where = conditions.map((condition) => `AND ${condition} `).join('');
  return `${where}ORDER BY ${column} ${descending ? 'DESC' : 'ASC'} LIMIT ${bind(count)}`;
}
