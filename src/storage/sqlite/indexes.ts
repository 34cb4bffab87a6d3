import type BetterSqlite3 from 'better-sqlite3';
import type {
  IndexChanges,
  IndexChangesScan,
  IndexEntry,
  IndexRow,
  IndexScan,
  IndexState,
  IndexUpdate,
  ScannedDoc,
} from '../types.js';
import { encodeKey } from '../../core/mango/key-encoding.js';
import { keysetPages } from '../paging.js';

/** What the index tables need of the storage that holds them. */
export interface IndexTablesHost {
  db: BetterSqlite3.Database;
  /** Runs a write without the sync of a document commit. */
  withoutSync<T>(write: () => T): T;
  /** Turns a joined document row into the scanned document (see SqliteStorage). */
  toScanned(row: JoinedDocRow): ScannedDoc;
}

/** The document columns an index scan joins, prefixed so they cannot clash with the row's. */
export interface JoinedDocRow {
  id: string;
  seq: number;
  winner: string;
  deleted: number;
  leaves: string | null;
  body: string | null;
  atts: string | null;
}

type RegistryRow = { num: number; name: string; signature: string; seq: number; rows: number };
/**
 * A scanned row's columns, in the SELECT's order: the index row's (its position among its
 * document's rows, key bytes if lossy, document id, key JSON, value JSON), then with `withDocs` the
 * joined document's (null when it is gone).
 */
type ScannedIndexColumns = [
  n: number,
  key: Buffer | null,
  docId: string,
  keyJson: string,
  valueJson: string | null,
  seq?: number | null,
  winner?: string,
  deleted?: number,
  leaves?: string | null,
  body?: string | null,
  atts?: string | null,
];

/** Rows per read of an index scan: as for document scans, memory stays flat. */
const PAGE_SIZE = 512;

/**
 * Secondary indexes in SQLite: a registry row per index and a table per index, `ix_<num>`,
 * clustered on (key, doc_id, n) so that its B-tree keeps the rows sorted as queries read them; a
 * second B-tree on doc_id finds a document's rows when it changes. Keys are BLOBs compared with memcmp, encoded
 * by the database so that byte order is CouchDB's collation order.
 *
 * Numbers come from AUTOINCREMENT, so a dropped index's table name is never reused while a
 * statement prepared for it might still be cached.
 */
export class IndexTables {
  private readonly statements = new Map<string, BetterSqlite3.Statement>();
  /**
   * The registry rows read or written so far. This process alone writes the file (it holds it
   * locked), so they stay true; each query then costs one statement, its scan.
   */
  private readonly registry = new Map<string, RegistryRow>();

  constructor(private readonly host: IndexTablesHost) {}

  all(): IndexState[] {
    return (
      this.prepare('SELECT num, name, signature, seq, rows FROM indexes ORDER BY name').all() as RegistryRow[]
    ).map(toState);
  }

  open(name: string, signature: string): IndexState {
    const found = this.find(name);
    if (found && found.signature === signature) return toState(found);
    const created = this.host.db.transaction(() => {
      if (found) this.dropTable(found.num);
      this.prepare('DELETE FROM indexes WHERE name = ?').run(name);
      const { num } = this.prepare(
        'INSERT INTO indexes (name, signature, seq, rows) VALUES (?, ?, 0, 0) RETURNING num',
      ).get(name, signature) as { num: number };
      this.createTable(num);
      return { num, name, signature, seq: 0, rows: 0 };
    })();
    this.registry.set(name, created);
    return toState(created);
  }

  update(name: string, update: IndexUpdate): void {
    const index = this.require(name);
    const table = tableName(index.num);
    const total = this.host.withoutSync(() =>
      this.host.db.transaction(() => {
        const remove = this.prepare(`DELETE FROM ${table} WHERE doc_id = ?`);
        const insert = this.prepare(
          `INSERT INTO ${table} (key, doc_id, n, exact, key_json, value) VALUES (?, ?, ?, ?, ?, ?)`,
        );
        let rows = index.rows;
        for (const doc of update.docs) {
          rows -= remove.run(doc.id).changes;
          for (const [n, entry] of doc.rows.entries()) insertRow(insert, doc.id, n, entry);
          rows += doc.rows.length;
        }
        this.prepare('UPDATE indexes SET seq = ?, rows = ? WHERE num = ?').run(update.seq, rows, index.num);
        // Only once the transaction has committed: a rolled-back update changed nothing.
        return rows;
      })(),
    );
    this.registry.set(name, { ...index, seq: update.seq, rows: total });
  }

  scan(name: string, scan: IndexScan): AsyncIterable<IndexRow[]> {
    const table = tableName(this.require(name).num);
    const descending = scan.descending === true;
    const [next, last, order] = descending ? ['<', '>', 'DESC'] : ['>', '<', 'ASC'];
    // Columns by position (rows are read as arrays: no object built per row by the driver).
    const join = scan.withDocs
      ? `, d.seq, d.winner, d.deleted, d.leaves, d.body, d.atts FROM ${table} i LEFT JOIN docs d ON d.id = i.doc_id`
      : ` FROM ${table} i`;
    // An exact key's bytes are left out: they follow from its JSON (see ScannedIndexRow), and a
    // row read without them is exact.
    const select = `SELECT i.n, CASE WHEN i.exact THEN NULL ELSE i.key END, i.doc_id, i.key_json, i.value${join}`;
    const bounds: string[] = [];
    const boundParams: unknown[] = [];
    if (scan.end !== undefined) {
      bounds.push(`i.key ${last}${scan.inclusiveEnd === false ? '' : '='} ?`);
      boundParams.push(asBuffer(scan.end));
    }
    const orderBy = `ORDER BY i.key ${order}, i.doc_id ${order}, i.n ${order} LIMIT ?`;
    return keysetPages<ScannedIndexRow, [Uint8Array, string, number]>(
      (after, count) => {
        const where = [...bounds];
        const params = [...boundParams];
        if (after) {
          where.push(`(i.key, i.doc_id, i.n) ${next} (?, ?, ?)`);
          params.push(asBuffer(after[0]), after[1], after[2]);
        } else if (scan.start !== undefined) {
          where.push(`i.key ${next}= ?`);
          params.push(asBuffer(scan.start));
        }
        const sql = `${select}${where.length > 0 ? ` WHERE ${where.join(' AND ')}` : ''} ${orderBy}`;
        const rows = this.prepare(sql)
          .raw(true)
          .all(...params, count) as ScannedIndexColumns[];
        return rows.map((row) => this.toRow(row));
      },
      (row) => [row.key, row.docId, row.row],
      { pageSize: PAGE_SIZE, limit: scan.limit, firstPageSize: scan.firstPage },
    );
  }

  /**
   * First a count of the range's rows, bounded, on the covering B-tree; then the qualifying
   * sequences in one statement (a consistent snapshot: nothing else runs on the connection
   * meanwhile), at most as many as the range has rows; then the documents in pages by sequence.
   * A document changed since the snapshot is at a later sequence: a page skips it.
   */
  changes(name: string, scan: IndexChangesScan, asOf: number): IndexChanges | undefined {
    const table = tableName(this.require(name).num);
    const range: string[] = [];
    const params: unknown[] = [];
    if (scan.start !== undefined) {
      range.push('i.key >= ?');
      params.push(asBuffer(scan.start));
    }
    if (scan.end !== undefined) {
      range.push('i.key <= ?');
      params.push(asBuffer(scan.end));
    }
    const inRange = range.length > 0 ? `WHERE ${range.join(' AND ')}` : '';
    const rows = this.prepare(`SELECT COUNT(*) FROM (SELECT 1 FROM ${table} i ${inRange} LIMIT ?)`)
      .pluck()
      .get(...params, scan.maxRows + 1) as number;
    if (rows > scan.maxRows) return undefined;
    const seqs = this.prepare(
      `SELECT DISTINCT d.seq FROM ${table} i JOIN docs d ON d.id = i.doc_id
       WHERE ${[...range, 'd.seq > ?'].join(' AND ')}`,
    )
      .pluck()
      .all(...params, scan.since) as number[];
    seqs.sort((a, b) => a - b);
    return { asOf, docs: this.docsAt(seqs) };
  }

  private async *docsAt(seqs: readonly number[]): AsyncIterable<ScannedDoc[]> {
    for (let at = 0; at < seqs.length; at += PAGE_SIZE) {
      const page = seqs.slice(at, at + PAGE_SIZE);
      const rows = this.prepare(
        `SELECT id, seq, winner, deleted, leaves, body, atts FROM docs WHERE seq IN (SELECT value FROM json_each(?)) ORDER BY seq`,
      ).all(JSON.stringify(page)) as JoinedDocRow[];
      if (rows.length > 0) yield rows.map((row) => this.host.toScanned(row));
    }
  }

  drop(name: string): void {
    const found = this.find(name);
    if (!found) return;
    this.host.db.transaction(() => {
      this.dropTable(found.num);
      this.prepare('DELETE FROM indexes WHERE num = ?').run(found.num);
    })();
    this.registry.delete(name);
  }

  private toRow(columns: ScannedIndexColumns): ScannedIndexRow {
    const [n, key, docId, keyJson, valueJson, seq, winner, deleted, leaves, body, atts] = columns;
    const indexRow = new ScannedIndexRow(n, key, key === null, keyJson, valueJson, docId);
    if (seq !== undefined && seq !== null) {
      indexRow.doc = this.host.toScanned({
        id: docId,
        seq,
        winner: winner!,
        deleted: deleted!,
        leaves: leaves!,
        body: body!,
        atts: atts!,
      });
    }
    return indexRow;
  }

  private find(name: string): RegistryRow | undefined {
    let found = this.registry.get(name);
    if (!found) {
      found = this.prepare('SELECT num, name, signature, seq, rows FROM indexes WHERE name = ?').get(name) as
        RegistryRow | undefined;
      if (found) this.registry.set(name, found);
    }
    return found;
  }

  private require(name: string): RegistryRow {
    const found = this.find(name);
    if (!found) throw new Error(`No index named ${name} (open it first)`);
    return found;
  }

  /**
   * The rows are the B-tree itself (WITHOUT ROWID, keyed by key, document id and the row's
   * position among the document's rows): a range scan reads them in order from one tree, with
   * no lookup per row. The second tree finds a document's rows when it changes.
   */
  private createTable(num: number): void {
    const table = tableName(num);
    this.host.db.exec(`
      CREATE TABLE ${table} (
        key      BLOB NOT NULL,
        doc_id   TEXT NOT NULL,
        n        INTEGER NOT NULL,
        exact    INTEGER NOT NULL,
        key_json TEXT NOT NULL,
        value    TEXT,
        PRIMARY KEY (key, doc_id, n)
      ) WITHOUT ROWID;
      CREATE INDEX ${table}_doc ON ${table} (doc_id);`);
  }

  private dropTable(num: number): void {
    const table = tableName(num);
    this.host.db.exec(`DROP TABLE IF EXISTS ${table}`);
    // Statements on the dropped table must not be found again.
    for (const sql of [...this.statements.keys()]) if (sql.includes(table)) this.statements.delete(sql);
  }

  private prepare(sql: string): BetterSqlite3.Statement {
    let statement = this.statements.get(sql);
    if (!statement) {
      statement = this.host.db.prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement;
  }
}

function tableName(num: number): string {
  return `ix_${num}`;
}

function toState(row: RegistryRow): IndexState {
  return { name: row.name, signature: row.signature, seq: row.seq, rows: row.rows };
}

function insertRow(insert: BetterSqlite3.Statement, docId: string, n: number, entry: IndexEntry): void {
  insert.run(asBuffer(entry.key), docId, n, entry.exact ? 1 : 0, entry.keyJson, entry.valueJson);
}

/** better-sqlite3 binds BLOBs from Buffers: a view over the same bytes, no copy. */
function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * A scanned row whose key bytes, when exact, are made only if asked for: they are the encoding
 * of its JSON key (`encodeKey` is deterministic and JSON keeps every value it encodes), and
 * reading a BLOB costs the driver a Buffer per row — half the time of a scan that returns
 * documents, while callers need the bytes of a page's last row only (to continue after it).
 */
class ScannedIndexRow implements IndexRow {
  doc?: ScannedDoc;
  #key: Uint8Array | null;

  constructor(
    readonly row: number,
    key: Buffer | null,
    readonly exact: boolean,
    readonly keyJson: string,
    readonly valueJson: string | null,
    readonly docId: string,
  ) {
    this.#key = key;
  }

  get key(): Uint8Array {
    this.#key ??= encodeKey(JSON.parse(this.keyJson)).bytes;
    return this.#key;
  }
}
