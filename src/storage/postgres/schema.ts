import type pg from 'pg';

/**
 * The PostgreSQL layout: every database of a server (of all the servers sharing one PostgreSQL)
 * in ONE set of tables in the `settee` schema, each row carrying its database's key `db`.
 *
 * Why shared tables rather than a schema per database: a server may hold thousands of small
 * databases (one per till, per user). A schema each would be thousands × a dozen tables and
 * indexes in PostgreSQL's catalogs, which slows planning, `pg_dump` and autovacuum for all of
 * them, and a migration would have to run once per schema, each in its own state. Shared
 * tables keep the catalog constant: `_all_dbs` is one indexed read of `databases`, a migration
 * is one transaction whatever the number of databases, and creating a database is one row.
 * Deleting one is a delete of its rows by key (indexed in every table), not a DROP SCHEMA.
 *
 * - `databases`: the registry (name → key) and each database's counter row: the update sequence
 *   and the counts every write keeps. Writers lock it (see `writes.ts`), which makes sequences
 *   gap-free and commit-ordered.
 * - `docs`: a summary row per document, keyed by (db, id); `doc`, a key of its own drawn from a
 *   sequence, is what revision rows refer to (shorter than the id, and stable).
 * - `revs`: a row per revision-tree node, with its body when held; the winner's too (a scan with
 *   content joins it by primary key), so a write never moves content between tables.
 * - `local_docs`, `attachments` (per database, so that deleting one deletes its blobs),
 *   `resolutions` (the history, append-only), `meta`.
 * - `server`: one row, the uuid every server on this PostgreSQL gives as its own (a cluster is
 *   one CouchDB to its clients).
 * - `auth`, `auth_failures`, `auth_locks`: what authentication shares between the servers (see
 *   `src/server/auth/postgres-state.ts`): one row with the cookie secret and the admins' hashes,
 *   the failed logins counted per (address, user) pair, and the pairs locked out.
 * - `indexes` and `index_rows`: secondary indexes, all in one table keyed by (ix, key, doc_id, n),
 *   `ix` a number never reused, so a dropped or redefined index's rows can never mix with the next.
 *
 * Ids are `bytea` (their UTF-8 bytes), not `text`: bytea compares with memcmp, and UTF-8 byte
 * order is code-point order, CouchDB's raw collation; and `text` cannot hold U+0000, which an id
 * may contain. (`text COLLATE "C"` would order right too, but refuses those ids.) Index keys are
 * `bytea` for the same memcmp order, which the key encoding relies on.
 *
 * Revisions and attachment rows list the digests they refer to in a `digests` array with a GIN
 * index, so compaction finds whether any row still refers to a blob without a scan.
 *
 * The version lives in `settee.schema_version`; `migrate` brings a database from any older
 * version to `SCHEMA_VERSION` in one transaction, under an advisory lock, so servers starting
 * together upgrade it once.
 */
export const SCHEMA_VERSION = 3;

/** The steps from each version to the next, `UPGRADES[v]` taking version v to v + 1. */
const UPGRADES: readonly string[] = [
  // 0 → 1: the first layout.
  `
  CREATE TABLE settee.databases (
    db            integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name          text NOT NULL UNIQUE,
    update_seq    bigint NOT NULL DEFAULT 0,
    doc_count     bigint NOT NULL DEFAULT 0,
    deleted_count bigint NOT NULL DEFAULT 0,
    content_bytes bigint NOT NULL DEFAULT 0, -- bodies, attachment metadata and blobs held
    garbage_bytes bigint NOT NULL DEFAULT 0  -- of which compaction would drop (non-leaf content)
  );

  CREATE TABLE settee.meta (
    db    integer NOT NULL,
    key   text NOT NULL,
    value text NOT NULL,
    PRIMARY KEY (db, key)
  );

  CREATE SEQUENCE settee.doc_keys AS bigint;

  CREATE TABLE settee.docs (
    db         integer NOT NULL,
    id         bytea NOT NULL,
    doc        bigint NOT NULL UNIQUE,
    seq        bigint NOT NULL,
    winner     text NOT NULL,
    deleted    boolean NOT NULL,
    leaves     text,              -- JSON [[rev, 0|1], ...], the winner first; null if only the winner
    conflicted boolean NOT NULL,  -- a live leaf besides the winner (_conflicts)
    PRIMARY KEY (db, id)
  );
  CREATE UNIQUE INDEX docs_by_seq ON settee.docs (db, seq);
  CREATE INDEX docs_conflicted ON settee.docs (db, id) WHERE conflicted;
  CREATE INDEX docs_branched ON settee.docs (db, id) WHERE leaves IS NOT NULL;

  -- The digests a revision's attachment metadata ({name: {digest, ...}}) refers to.
  CREATE FUNCTION settee.att_digests(atts text) RETURNS text[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT array_agg(value ->> 'digest') FROM jsonb_each(atts::jsonb) $$;

  CREATE TABLE settee.revs (
    db      integer NOT NULL,
    doc     bigint NOT NULL,
    rev     text NOT NULL,
    parent  text,
    deleted boolean NOT NULL,
    leaf    boolean NOT NULL,
    body    text,                 -- JSON; null when not held (known by id only, or compacted)
    atts    text,                 -- JSON {name: {content_type, digest, length, revpos}}
    digests text[] GENERATED ALWAYS AS (settee.att_digests(atts)) STORED,
    PRIMARY KEY (doc, rev)
  );
  -- What compaction drops, found without a scan: content of non-leaf revisions.
  CREATE INDEX revs_garbage ON settee.revs (db) WHERE NOT leaf AND (body IS NOT NULL OR atts IS NOT NULL);
  CREATE INDEX revs_digests ON settee.revs USING gin (digests);

  CREATE TABLE settee.local_docs (
    db   integer NOT NULL,
    id   bytea NOT NULL,
    rev  integer NOT NULL,
    body text NOT NULL,
    PRIMARY KEY (db, id)
  );

  CREATE TABLE settee.attachments (
    db     integer NOT NULL,
    digest text NOT NULL,
    data   bytea NOT NULL,
    PRIMARY KEY (db, digest)
  );

  CREATE TABLE settee.resolutions (
    seq     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, -- never handed out twice
    db      integer NOT NULL,
    doc     bytea NOT NULL,
    entry   text NOT NULL,        -- JSON {at, by, rev, kept, losers}
    digests text[]                -- the attachment digests the losers refer to, for compaction
  );
  CREATE INDEX resolutions_by_seq ON settee.resolutions (db, seq);
  CREATE INDEX resolutions_by_doc ON settee.resolutions (db, doc, seq);
  CREATE INDEX resolutions_digests ON settee.resolutions USING gin (digests);

  CREATE TABLE settee.indexes (
    num       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    db        integer NOT NULL,
    name      text NOT NULL,
    signature text NOT NULL,
    seq       bigint NOT NULL,
    rows      bigint NOT NULL,
    UNIQUE (db, name)
  );

  CREATE TABLE settee.index_rows (
    ix       bigint NOT NULL,     -- indexes.num
    key      bytea NOT NULL,
    doc_id   bytea NOT NULL,
    n        integer NOT NULL,    -- the row's place among its document's: equal rows stay apart
    exact    boolean NOT NULL,
    key_json text NOT NULL,
    value    text,
    PRIMARY KEY (ix, key, doc_id, n)
  );
  CREATE INDEX index_rows_by_doc ON settee.index_rows (ix, doc_id);
  `,
  // 1 → 2: the identity all the servers sharing this PostgreSQL answer with (`GET /` uuid).
  `
  CREATE TABLE settee.server (
    one  boolean PRIMARY KEY DEFAULT true CHECK (one), -- a single row
    uuid text NOT NULL
  );
  `,
  // 2 → 3: the authentication state all the servers share (src/server/auth/postgres-state.ts).
  `
  CREATE TABLE settee.auth (
    one    boolean PRIMARY KEY DEFAULT true CHECK (one), -- a single row
    secret text NOT NULL,  -- hex: the key that signs session cookies
    admins text NOT NULL   -- JSON {name: password hash}: the hashes of admins given with --admin
  );
  -- Pairs are JSON [address, user name]: text that holds any name (a U+0000 is escaped).
  CREATE TABLE settee.auth_failures (
    pair  text PRIMARY KEY,
    count integer NOT NULL,
    since bigint NOT NULL  -- ms since the epoch: the first failure of the counting window
  );
  CREATE INDEX auth_failures_by_since ON settee.auth_failures (since);
  CREATE TABLE settee.auth_locks (
    pair  text PRIMARY KEY,
    until bigint NOT NULL  -- ms since the epoch
  );
  CREATE INDEX auth_locks_by_until ON settee.auth_locks (until);
  `,
];

// Any constant: the advisory lock that makes servers starting together migrate one at a time.
const MIGRATION_LOCK = 0x5e77ee;

/** Pools whose database is known to be up to date: the check runs once per pool. */
const migrated = new WeakMap<pg.Pool, Promise<void>>();

/**
 * Brings the pool's database to the current layout, creating it when new, in one transaction: a
 * failure midway leaves it as it was. Servers of an older Settee refuse a newer layout.
 */
export function migrate(pool: pg.Pool): Promise<void> {
  let done = migrated.get(pool);
  if (!done) {
    done = runMigrations(pool);
    migrated.set(pool, done);
    done.catch(() => migrated.delete(pool));
  }
  return done;
}

async function runMigrations(pool: pg.Pool): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    await requireUtf8(client);
    await client.query('CREATE SCHEMA IF NOT EXISTS settee');
    await client.query('CREATE TABLE IF NOT EXISTS settee.schema_version (version integer NOT NULL)');
    const { rows } = await client.query<{ version: number }>('SELECT version FROM settee.schema_version');
    const version = rows[0]?.version ?? 0;
    if (version > SCHEMA_VERSION) {
      throw new Error(
        `This PostgreSQL database has Settee schema version ${version}, newer than this Settee's (${SCHEMA_VERSION})`,
      );
    }
    for (let from = version; from < SCHEMA_VERSION; from++) await client.query(UPGRADES[from]!);
    if (rows.length === 0)
      await client.query('INSERT INTO settee.schema_version VALUES ($1)', [SCHEMA_VERSION]);
    else await client.query('UPDATE settee.schema_version SET version = $1', [SCHEMA_VERSION]);
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK');
    throw error;
  } finally {
    client.release();
  }
}

/** Bodies and ids are UTF-8: a database of another encoding would garble or refuse them. */
async function requireUtf8(client: pg.PoolClient): Promise<void> {
  const { rows } = await client.query<{ server_encoding: string }>('SHOW server_encoding');
  const encoding = rows[0]?.server_encoding;
  if (encoding !== 'UTF8') {
    throw new Error(
      `Settee needs a PostgreSQL database in UTF8, not ${encoding} (CREATE DATABASE … ENCODING 'UTF8')`,
    );
  }
}
