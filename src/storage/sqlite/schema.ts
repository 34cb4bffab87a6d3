import type BetterSqlite3 from 'better-sqlite3';

/**
 * The SQLite layout. One row per document (its summary, at its latest update sequence) and one
 * row per revision-tree node, so a write touches only the nodes that changed and a document's
 * history never has to be rewritten. Attachment bytes are stored once per digest.
 *
 * The version is kept in SQLite's `user_version`; files of version 2 (which left it at 0) are
 * upgraded in place when opened.
 */
export const SCHEMA_VERSION = 3;

export const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS docs (
  seq     INTEGER PRIMARY KEY,     -- the update sequence: a changes feed reads rows in storage order
  doc     INTEGER NOT NULL UNIQUE, -- the document's stable key, which revs refer to
  id      TEXT NOT NULL UNIQUE,
  winner  TEXT NOT NULL,
  deleted INTEGER NOT NULL,
  leaves  TEXT,                    -- JSON [[rev, deleted], ...], the winner first; null if only the winner
  body    TEXT,                    -- the winner's body and attachments live here, not in its revs row,
  atts    TEXT,                    -- so scans with documents read one row each, and nothing twice
  conflicted INTEGER NOT NULL DEFAULT 0 -- 1 when a live leaf besides the winner exists (_conflicts)
);

-- Conflicted documents by id, without a scan: only their rows are in the index.
CREATE INDEX IF NOT EXISTS docs_conflicted ON docs (id) WHERE conflicted = 1;

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
    const columns = (db.pragma('table_info(docs)') as { name: string }[]).map((column) => column.name);
    if (columns.length > 0) upgrade(db, columns);
    db.exec(SCHEMA);
    db.pragma(`user_version = ${SCHEMA_VERSION}`);
  })();
}

/** Version 2 → 3: the `conflicted` flag, backfilled from each row's leaves. */
function upgrade(db: BetterSqlite3.Database, columns: string[]): void {
  if (!columns.includes('body')) {
    throw new Error('This database file has a layout too old to upgrade (schema version 1)');
  }
  if (columns.includes('conflicted')) return;
  db.exec('ALTER TABLE docs ADD COLUMN conflicted INTEGER NOT NULL DEFAULT 0');
  // Conflicted: a live leaf other than the winner. A deleted winner means every leaf is deleted.
  db.exec(`UPDATE docs SET conflicted = 1
    WHERE leaves IS NOT NULL AND deleted = 0 AND EXISTS (
      SELECT 1 FROM json_each(docs.leaves) AS l
      WHERE json_extract(l.value, '$[1]') = 0 AND json_extract(l.value, '$[0]') <> docs.winner)`);
}
