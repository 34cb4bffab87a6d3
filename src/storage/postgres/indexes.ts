import type pg from 'pg';
import { SetteeError } from '../../core/errors.js';
import { keysetPages } from '../paging.js';
import type {
  IndexChanges,
  IndexChangesScan,
  IndexRow,
  IndexScan,
  IndexState,
  IndexUpdate,
  ScannedDoc,
} from '../types.js';
import { SCANNED_DOC_FROM, type ScanRow, toScanned } from './rows.js';
import { asBuffer, asBytes, idBytes, idText, inTransaction, rowsOf, run } from './sql.js';

type RegistryRow = { num: number; name: string; signature: string; seq: number; rows: number };
type StoredRow = {
  key: Buffer;
  doc_id: Buffer;
  n: number;
  exact: boolean;
  key_json: string;
  value: string | null;
};
/** A row with its document's columns, prefixed so they cannot clash with the row's. */
type JoinedRow = StoredRow & Partial<Record<`d_${string}`, unknown>>;
/** An index row with `n`, the last part of its key in the table: where the next page starts. */
type PagedRow = IndexRow & { n: number };
type RowKey = [Buffer, Buffer, number];

const ROW_SELECT = 'SELECT i.key, i.doc_id, i.n, i.exact, i.key_json, i.value';
const JOINED_SELECT = `${ROW_SELECT}, d.id AS d_id, d.seq AS d_seq, d.winner AS d_winner, d.deleted AS d_deleted,
  d.leaves AS d_leaves, d.body AS d_body, d.atts AS d_atts`;

/** Rows per read of an index scan: as for document scans, memory stays flat. */
const PAGE_SIZE = 512;

const REGISTRY = 'SELECT num, name, signature, seq, rows FROM settee.indexes';

/**
 * Secondary indexes on PostgreSQL: a registry row per index and every index's rows in one table,
 * whose primary key (ix, key, doc_id, n) is the B-tree that keeps them in the order queries
 * read them. Keys are `bytea`, which PostgreSQL compares as memcmp and then by length (varlena.c
 * `byteacmp`), the order the key encoding relies on ("shorter prefix first"). A second B-tree on
 * (ix, doc_id) finds a document's rows when it changes.
 *
 * Writers of an index lock its registry row first, so two servers bringing the same index up to
 * date take turns, and its row count stays exact.
 */
export class PostgresIndexes {
  constructor(
    private readonly pool: pg.Pool,
    private readonly db: number,
  ) {}

  async all(): Promise<IndexState[]> {
    return (await rowsOf<RegistryRow>(this.pool, `${REGISTRY} WHERE db = $1 ORDER BY name`, [this.db])).map(
      toState,
    );
  }

  async open(name: string, signature: string): Promise<IndexState> {
    const found = await this.find(this.pool, name);
    if (found?.signature === signature) return toState(found);
    return toState(await inTransaction(this.pool, (client) => this.register(client, name, signature)));
  }

  /** Index writes skip the wait for the disk: an index lost to a power cut is rebuilt. */
  async update(name: string, update: IndexUpdate): Promise<void> {
    await inTransaction(
      this.pool,
      async (client) => {
        const index = await this.require(client, name, 'FOR UPDATE');
        const removed = await run(
          client,
          'DELETE FROM settee.index_rows WHERE ix = $1 AND doc_id = ANY($2::bytea[])',
          [index.num, update.docs.map((doc) => idBytes(doc.id))],
        );
        const rows = update.docs.flatMap((doc) => doc.rows.map((entry, n) => ({ id: doc.id, n, entry })));
        if (rows.length > 0) {
          await run(
            client,
            `INSERT INTO settee.index_rows (ix, key, doc_id, n, exact, key_json, value)
             SELECT $1, * FROM unnest($2::bytea[], $3::bytea[], $4::integer[], $5::boolean[], $6::text[], $7::text[])`,
            [
              index.num,
              rows.map((row) => asBuffer(row.entry.key)),
              rows.map((row) => idBytes(row.id)),
              rows.map((row) => row.n),
              rows.map((row) => row.entry.exact),
              rows.map((row) => row.entry.keyJson),
              rows.map((row) => row.entry.valueJson),
            ],
          );
        }
        const count = index.rows - (removed.rowCount ?? 0) + rows.length;
        await run(client, 'UPDATE settee.indexes SET seq = $2, rows = $3 WHERE num = $1', [
          index.num,
          update.seq,
          count,
        ]);
      },
      { synchronousCommit: false },
    );
  }

  scan(name: string, scan: IndexScan): AsyncIterable<IndexRow[]> {
    const descending = scan.descending === true;
    const [next, last, order] = descending ? ['<', '>', 'DESC'] : ['>', '<', 'ASC'];
    let num: number | undefined;
    const rows = async (after: RowKey | undefined, count: number) => {
      num ??= (await this.require(this.pool, name)).num;
      const params: unknown[] = [count, num];
      const bind = (value: unknown) => `$${params.push(value)}`;
      const from = scan.withDocs
        ? `${JOINED_SELECT} FROM settee.index_rows i LEFT JOIN (${SCANNED_DOC_FROM} WHERE d.db = ${bind(this.db)}) d
           ON d.id = i.doc_id`
        : `${ROW_SELECT} FROM settee.index_rows i`;
      const where = ['i.ix = $2'];
      if (scan.end !== undefined) {
        where.push(`i.key ${last}${scan.inclusiveEnd === false ? '' : '='} ${bind(asBuffer(scan.end))}`);
      }
      if (after)
        where.push(
          `(i.key, i.doc_id, i.n) ${next} (${bind(after[0])}, ${bind(after[1])}, ${bind(after[2])})`,
        );
      else if (scan.start !== undefined) where.push(`i.key ${next}= ${bind(asBuffer(scan.start))}`);
      const sql = `${from} WHERE ${where.join(' AND ')} ORDER BY i.key ${order}, i.doc_id ${order}, i.n ${order} LIMIT $1`;
      return (await rowsOf<JoinedRow>(this.pool, sql, params)).map(toIndexRow);
    };
    return keysetPages<PagedRow, RowKey>(rows, (row) => [asBuffer(row.key), idBytes(row.docId), row.n], {
      pageSize: PAGE_SIZE,
      limit: scan.limit,
      firstPageSize: scan.firstPage,
    });
  }

  /**
   * One statement, hence one snapshot: the update sequence, a count of the range's rows bounded
   * at `maxRows + 1` (on the primary key's B-tree) and, only when the range is small enough, the
   * qualifying sequences. The documents are then read in pages by sequence; one changed since is
   * at a later sequence, and a page skips it.
   */
  async changes(name: string, scan: IndexChangesScan): Promise<IndexChanges | undefined> {
    const num = (await this.require(this.pool, name)).num;
    const params: unknown[] = [this.db, num, scan.since, scan.maxRows];
    const range = ['i.ix = $2'];
    if (scan.start !== undefined) range.push(`i.key >= $${params.push(asBuffer(scan.start))}`);
    if (scan.end !== undefined) range.push(`i.key <= $${params.push(asBuffer(scan.end))}`);
    const inRange = range.join(' AND ');
    const [found] = await rowsOf<{ as_of: number; seqs: number[] | null }>(
      this.pool,
      `WITH counted AS (SELECT COUNT(*) AS rows FROM (SELECT 1 FROM settee.index_rows i WHERE ${inRange} LIMIT $4 + 1) r)
       SELECT (SELECT update_seq FROM settee.databases WHERE db = $1) AS as_of,
              CASE WHEN (SELECT rows FROM counted) <= $4 THEN
                ARRAY(SELECT DISTINCT d.seq FROM settee.index_rows i JOIN settee.docs d ON d.db = $1 AND d.id = i.doc_id
                      WHERE ${inRange} AND d.seq > $3)::float8[]
              END AS seqs`,
      params,
    );
    if (!found?.seqs) return undefined;
    const seqs = [...found.seqs].sort((a, b) => a - b);
    return { asOf: found.as_of, docs: this.docsAt(seqs) };
  }

  private async *docsAt(seqs: readonly number[]): AsyncIterable<ScannedDoc[]> {
    for (let at = 0; at < seqs.length; at += PAGE_SIZE) {
      const rows = await rowsOf<ScanRow>(
        this.pool,
        `${SCANNED_DOC_FROM} WHERE d.db = $1 AND d.seq = ANY($2::bigint[]) ORDER BY d.seq`,
        [this.db, seqs.slice(at, at + PAGE_SIZE)],
      );
      if (rows.length > 0) yield rows.map(toScanned);
    }
  }

  async drop(name: string): Promise<void> {
    await inTransaction(this.pool, async (client) => {
      const found = await this.find(client, name, 'FOR UPDATE');
      if (!found) return;
      await this.dropRows(client, found.num);
      await run(client, 'DELETE FROM settee.indexes WHERE num = $1', [found.num]);
    });
  }

  /** Every index of the database and its rows (when the database is deleted). */
  async dropAll(client: pg.PoolClient): Promise<void> {
    await run(
      client,
      'DELETE FROM settee.index_rows WHERE ix IN (SELECT num FROM settee.indexes WHERE db = $1)',
      [this.db],
    );
    await run(client, 'DELETE FROM settee.indexes WHERE db = $1', [this.db]);
  }

  /**
   * The index's registry row with this signature, made when absent and remade (a new `num`, no
   * rows) when the index was defined otherwise. Openers of a new index at once (two queries, two
   * servers) all try to insert it: the first wins and the others, told so by `ON CONFLICT`, read
   * its row under lock rather than fail on the unique (db, name).
   */
  private async register(client: pg.PoolClient, name: string, signature: string): Promise<RegistryRow> {
    const [inserted] = await rowsOf<RegistryRow>(
      client,
      `INSERT INTO settee.indexes (db, name, signature, seq, rows) VALUES ($1, $2, $3, 0, 0)
       ON CONFLICT (db, name) DO NOTHING RETURNING num, name, signature, seq, rows`,
      [this.db, name, signature],
    );
    if (inserted) return inserted;
    const locked = await this.find(client, name, 'FOR UPDATE');
    if (locked?.signature === signature) return locked;
    // Redefined: its old rows go. Or dropped since the insert was refused: insert again.
    if (locked) {
      await this.dropRows(client, locked.num);
      await run(client, 'DELETE FROM settee.indexes WHERE num = $1', [locked.num]);
    }
    return this.register(client, name, signature);
  }

  private async dropRows(client: pg.PoolClient, num: number): Promise<void> {
    await run(client, 'DELETE FROM settee.index_rows WHERE ix = $1', [num]);
  }

  private async find(on: pg.Pool | pg.PoolClient, name: string, lock = ''): Promise<RegistryRow | undefined> {
    const [found] = await rowsOf<RegistryRow>(on, `${REGISTRY} WHERE db = $1 AND name = $2 ${lock}`, [
      this.db,
      name,
    ]);
    return found;
  }

  private async require(on: pg.Pool | pg.PoolClient, name: string, lock = ''): Promise<RegistryRow> {
    const found = await this.find(on, name, lock);
    if (!found) throw new SetteeError('not_found', `No index named ${name} (open it first)`);
    return found;
  }
}

function toState(row: RegistryRow): IndexState {
  return { name: row.name, signature: row.signature, seq: row.seq, rows: row.rows };
}

function toIndexRow(row: JoinedRow): PagedRow {
  const indexRow: PagedRow = {
    n: row.n,
    key: asBytes(row.key),
    exact: row.exact,
    keyJson: row.key_json,
    valueJson: row.value,
    docId: idText(row.doc_id),
  };
  if (row.d_seq !== undefined && row.d_seq !== null) indexRow.doc = toScanned(joinedDoc(row));
  return indexRow;
}

/** The joined document's columns of a row, without their `d_` prefix. */
function joinedDoc(row: JoinedRow): ScanRow {
  const columns = Object.entries(row).filter(([column]) => column.startsWith('d_'));
  return Object.fromEntries(columns.map(([column, value]) => [column.slice(2), value])) as ScanRow;
}
