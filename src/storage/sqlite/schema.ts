import type BetterSqlite3 from 'better-sqlite3';

/**
 * The SQLite layout. One row per document (its summary, at its latest update sequence) and one
 * row per revision-tree node, so a write touches only the nodes that changed and a document's
 * history never has to be rewritten. Attachment bytes are stored once per digest.
 *
 * The history of resolved conflicts is a table of its own, one row per entry, appended to and
 * never rewritten.
 *
 * Secondary indexes (Mango indexes, views) have a registry row each and a table each, created by
 * `indexes.ts` as they are defined.
 *
 * The version is kept in SQLite's `user_version`; files of versions 2 (which left it at 0) to 6
 * are upgraded in place when opened.
 */
export const SCHEMA_VERSION = 7;

/**
 * The meta key of the bytes compaction would reclaim: the content still held by non-leaf
 * revisions, kept up to date by every write in its own transaction (so `sizes.active` needs no
 * scan). Since version 5: a Settee that did not keep it up to date must not write the file.
 */
export const GARBAGE_KEY = 'garbage_bytes';

/** The bytes of a revs row's content, as the garbage count adds them up. */
export const CONTENT_BYTES = 'COALESCE(octet_length(body), 0) + COALESCE(octet_length(atts), 0)';

/**
 * The documents table, named `name` (the upgrade to version 7 builds it beside the old one). `doc`
 * is unique without an index: keys are handed out once (`SqliteStorage.nextDocKey`) and nothing
 * looks a row up by it, while an index would be one more page written by every write.
 */
function docsTable(name: string): string {
  return `CREATE TABLE IF NOT EXISTS ${name} (
  seq     INTEGER PRIMARY KEY,     -- the update sequence: a changes feed reads rows in storage order
  doc     INTEGER NOT NULL,        -- the document's stable key, which revs refer to
  id      TEXT NOT NULL UNIQUE,
  winner  TEXT NOT NULL,
  deleted INTEGER NOT NULL,
  leaves  TEXT,                    -- JSON [[rev, deleted], ...], the winner first; null if only the winner
  body    TEXT,                    -- the winner's body and attachments live here, not in its revs row,
  atts    TEXT,                    -- so scans with documents read one row each, and nothing twice
  conflicted INTEGER NOT NULL DEFAULT 0 -- 1 when a live leaf besides the winner exists (_conflicts)
);`;
}

export const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
) WITHOUT ROWID;

${docsTable('docs')}

-- Conflicted documents by id, without a scan: only their rows are in the index.
CREATE INDEX IF NOT EXISTS docs_conflicted ON docs (id) WHERE conflicted = 1;
-- Documents with more than one leaf, deleted ones included (what a resolver's sweep visits).
-- An index on existing columns: a file of this version gains it when opened, and a Settee that
-- does not know it still keeps it up to date.
CREATE INDEX IF NOT EXISTS docs_branched ON docs (id) WHERE leaves IS NOT NULL;

-- A rowid table and an index rather than one WITHOUT ROWID B-tree keyed by (doc, rev), which
-- would save writes a page: there, a row holding a body of 1 KB spilled onto a 4 KB page of its own.
CREATE TABLE IF NOT EXISTS revs (
  doc     INTEGER NOT NULL,        -- docs.doc
  rev     TEXT NOT NULL,
  parent  TEXT,                    -- null for a branch root
  deleted INTEGER NOT NULL,
  leaf    INTEGER NOT NULL,
  body    TEXT,                    -- JSON; null when not held (ancestor known by id, compacted) or the winner
  atts    TEXT,                    -- JSON {name: {content_type, digest, length, revpos}}
  UNIQUE (doc, rev)
);

CREATE TABLE IF NOT EXISTS local_docs (
  id   TEXT PRIMARY KEY,
  rev  INTEGER NOT NULL,
  body TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS attachments (
  digest TEXT PRIMARY KEY,
  data   BLOB NOT NULL
);

CREATE TABLE IF NOT EXISTS resolutions (
  seq   INTEGER PRIMARY KEY AUTOINCREMENT, -- AUTOINCREMENT: a seq handed out is never handed out again
  doc   TEXT NOT NULL,                     -- the document's id (history outlives the docs row's key)
  entry TEXT NOT NULL,                     -- JSON {at, by, rev, kept, losers}
  atts  TEXT                               -- JSON [digest, ...] the losers refer to, for compaction; null if none
);

-- One document's history, in order, without a scan.
CREATE INDEX IF NOT EXISTS resolutions_doc ON resolutions (doc, seq);

-- Secondary indexes (since version 6): each has a table ix_<num> of its rows (see indexes.ts).
CREATE TABLE IF NOT EXISTS indexes (
  num       INTEGER PRIMARY KEY AUTOINCREMENT, -- never reused: names the index's table
  name      TEXT NOT NULL UNIQUE,
  signature TEXT NOT NULL,                     -- the definition it was built from
  seq       INTEGER NOT NULL,                  -- the update sequence it reflects
  rows      INTEGER NOT NULL
);
`;

/**
 * Brings a file to the current layout (creating it when new) in one transaction: a crash
 * midway leaves the file as it was.
 */
export function openSchema(db: BetterSqlite3.Database): void {
  const version = db.pragma('user_version', { simple: true }) as number;
  if (version > SCHEMA_VERSION) {
    throw new Error(
      `This database file has schema version ${version}, newer than this Settee's (${SCHEMA_VERSION})`,
    );
  }
  if (version === SCHEMA_VERSION) {
    db.exec(SCHEMA);
    return;
  }
  db.transaction(() => {
    for (let from = fileVersion(db, version); from < SCHEMA_VERSION; from++) UPGRADES[from]?.(db);
    db.exec(SCHEMA);
    db.pragma(`user_version = ${SCHEMA_VERSION}`);
  })();
}

/**
 * The steps from each older version to the next. New tables and indexes come from `SCHEMA`
 * itself (`IF NOT EXISTS`), after the steps: a step only changes what a file already has.
 */
const UPGRADES: Partial<Record<number, (db: BetterSqlite3.Database) => void>> = {
  2: addConflictedFlag,
  // 3 → 4 adds the resolutions table and its index, which SCHEMA creates.
  4: countGarbage,
  // 5 → 6 adds the indexes registry, which SCHEMA creates.
  6: dropDocKeyIndex,
};

/** A file's layout version: `user_version`, except that version 2 left it at 0 (as a new file has). */
function fileVersion(db: BetterSqlite3.Database, userVersion: number): number {
  if (userVersion !== 0) return userVersion;
  const columns = (db.pragma('table_info(docs)') as { name: string }[]).map((column) => column.name);
  if (columns.length === 0) return SCHEMA_VERSION; // a new file
  if (!columns.includes('body')) {
    throw new Error('This database file has a layout too old to upgrade (schema version 1)');
  }
  // The conflicted flag came with the stamped version; a file that has it is of version 3.
  return columns.includes('conflicted') ? 3 : 2;
}

/** Version 2 → 3: the `conflicted` flag, backfilled from each row's leaves. */
function addConflictedFlag(db: BetterSqlite3.Database): void {
  db.exec('ALTER TABLE docs ADD COLUMN conflicted INTEGER NOT NULL DEFAULT 0');
  // Conflicted: a live leaf other than the winner. A deleted winner means every leaf is deleted.
  db.exec(`UPDATE docs SET conflicted = 1
    WHERE leaves IS NOT NULL AND deleted = 0 AND EXISTS (
      SELECT 1 FROM json_each(docs.leaves) AS l
      WHERE json_extract(l.value, '$[1]') = 0 AND json_extract(l.value, '$[0]') <> docs.winner)`);
}

/** Version 4 → 5: the garbage count, from one scan of the revisions (only this once). */
function countGarbage(db: BetterSqlite3.Database): void {
  db.prepare(
    `INSERT INTO meta (key, value) SELECT ?, COALESCE(SUM(${CONTENT_BYTES}), 0) FROM revs
     WHERE leaf = 0 AND (body IS NOT NULL OR atts IS NOT NULL)
     ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
  ).run(GARBAGE_KEY);
}

/**
 * Version 6 → 7: `docs` without the index on `doc` — one B-tree fewer for every write to update (a
 * write of a hot document wrote 5.5 pages to the log, now 4.5). SQLite cannot drop the index of a
 * UNIQUE column: the table is copied into a new one that takes its name. The indexes on `docs` go
 * with the old table; `SCHEMA` creates them again.
 */
function dropDocKeyIndex(db: BetterSqlite3.Database): void {
  const columns = 'seq, doc, id, winner, deleted, leaves, body, atts, conflicted';
  db.exec(`${docsTable('docs_v7')}
    INSERT INTO docs_v7 (${columns}) SELECT ${columns} FROM docs;
    DROP TABLE docs;
    ALTER TABLE docs_v7 RENAME TO docs;`);
}
