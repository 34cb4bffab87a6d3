/**
 * The ceiling of the queries benchmark: the documents in the embedded benchmark's raw table
 * (bench/embedded/raw.ts), each index a plain table of its key columns and the doc id with a
 * B-tree over them, and each query one SQL statement joined to the JSON bodies, every body parsed.
 */
import type BetterSqlite3 from 'better-sqlite3';
import { openRaw, rawBatches, rawInsert } from '../embedded/raw.js';
import type { Dataset } from '../lib.js';
import type { QueryCase, Runner } from './workload.js';

/** The raw table of the documents, written as the embedded benchmark writes it. */
export function rawDocs(path: string, data: Dataset, batch: number): BetterSqlite3.Database {
  const db = openRaw(path);
  rawInsert(db, rawBatches(data, batch));
  return db;
}

/**
 * Builds one index table from the stored bodies (SQLite's json_extract, in C: the fastest way
 * there is) and its B-tree; returns the milliseconds it took.
 */
export function rawIndexBuild(db: BetterSqlite3.Database, name: string, fields: readonly string[]): number {
  const keys = fields.map((field) => `json_extract(body, '$.${field}')`).join(', ');
  const start = performance.now();
  db.transaction(() => {
    db.exec(`CREATE TABLE ${name} (${fields.join(', ')}, id TEXT NOT NULL)`);
    db.exec(`INSERT INTO ${name} SELECT ${keys}, id FROM docs`);
    db.exec(`CREATE INDEX ${name}_key ON ${name} (${fields.join(', ')}, id)`);
  })();
  return performance.now() - start;
}

/** A case's SQL, run and every body parsed; the ids in order. */
export function rawRunner(db: BetterSqlite3.Database, queryCase: QueryCase): Runner {
  const select = db.prepare<[Record<string, string | number>], { id: string; body: string }>(queryCase.sql);
  return (c) =>
    select.all(queryCase.sqlParams(c)).map((row) => {
      JSON.parse(row.body);
      return row.id;
    });
}

/** Drops an index table and its B-tree, so the next build starts from empty. */
export function rawIndexDrop(db: BetterSqlite3.Database, name: string): void {
  db.exec(`DROP TABLE ${name}`);
}
