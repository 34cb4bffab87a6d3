/**
 * The SQLite layout. One row per document (its summary, at its latest update sequence) and one
 * row per revision-tree node, so a write touches only the nodes that changed and a document's
 * history never has to be rewritten. Attachment bytes are stored once per digest.
 */
export const SCHEMA_VERSION = 2;

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
  atts    TEXT                     -- so scans with documents read one row each, and nothing twice
);

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
