import type pg from 'pg';
import { SetteeError } from '../../core/errors.js';
import { entryJson, isConflicted, loserDigests } from '../records.js';
import { checkBase } from '../errors.js';
import type { AttachmentBlob, DocWrite, ResolutionRecord } from '../types.js';
import { attsJson, leavesJson } from './rows.js';
import { idBytes, rowsOf, run } from './sql.js';

/**
 * One `writeDocs` call, inside its transaction: what it changes in the counter row, added up as
 * it goes and written once at the end.
 */
interface Totals {
  docs: number;
  deleted: number;
  content: number;
  garbage: number;
}

/** A document as the transaction knows it: read under its row lock, then as this batch left it. */
interface DocState {
  doc: number;
  deleted: boolean;
  seq: number;
}

/**
 * The sequence mechanism, a **counter row lock**: a writer first locks its database's row of
 * `settee.databases` (`SELECT … FOR UPDATE`), takes the next sequences from its `update_seq`, and
 * writes the new value in the same transaction. The lock is held until commit, so the writers of
 * one database run one after the other, whatever server they run on, and a transaction can only
 * take sequences once the one before it has committed (or rolled back, handing its numbers on
 * unused): sequences are gap-free and committed in their own order. A changes reader that has
 * seen sequence S has therefore seen every write below S: none can commit later with a lower
 * number — the gap that sequence generators (`nextval`, auto-increment) leave under concurrent
 * writers, where a transaction that drew 10 may commit after one that drew 11 was read.
 *
 * The price is that writes to ONE database are serialized (writes to different databases are
 * not): a transaction holds the lock for a batch's few statements, not for a request.
 *
 * Each document's summary row is locked too (`FOR UPDATE`) as it is read, so that another writer
 * of the same row, whatever it locked first, waits until this tree is committed.
 */
export async function writeBatch(
  client: pg.PoolClient,
  db: number,
  writes: readonly DocWrite[],
  blobs: readonly AttachmentBlob[],
  history: readonly ResolutionRecord[],
): Promise<number[]> {
  const counter = await lockCounter(client, db);
  const totals: Totals = { docs: 0, deleted: 0, content: await storeBlobs(client, db, blobs), garbage: 0 };
  const seqs: number[] = [];
  for (const chunk of distinctIdRuns(writes)) {
    const first = counter.update_seq + seqs.length + 1;
    await writeChunk(client, db, chunk, first, totals);
    seqs.push(...chunk.map((_, i) => first + i));
  }
  await storeHistory(client, db, history);
  await run(
    client,
    `UPDATE settee.databases SET update_seq = $2, doc_count = doc_count + $3, deleted_count = deleted_count + $4,
       content_bytes = content_bytes + $5, garbage_bytes = garbage_bytes + $6 WHERE db = $1`,
    [db, counter.update_seq + seqs.length, totals.docs, totals.deleted, totals.content, totals.garbage],
  );
  return seqs;
}

/** The database's counters that writers and compaction read under its row's lock. */
export interface LockedCounter {
  update_seq: number;
  garbage_bytes: number;
}

/**
 * Takes the database's counter row lock for the transaction of `client` (see `writeBatch`): from
 * then until it ends, no other writer of the database commits. Undefined: the database is gone.
 */
export async function takeCounterLock(client: pg.PoolClient, db: number): Promise<LockedCounter | undefined> {
  const [counter] = await rowsOf<LockedCounter>(
    client,
    'SELECT update_seq, garbage_bytes FROM settee.databases WHERE db = $1 FOR UPDATE',
    [db],
  );
  return counter;
}

/** `takeCounterLock` for a writer, which a deleted database refuses. */
export async function lockCounter(client: pg.PoolClient, db: number): Promise<LockedCounter> {
  const counter = await takeCounterLock(client, db);
  if (!counter) throw new SetteeError('not_found', 'Database does not exist.');
  return counter;
}

/**
 * The writes cut into runs in which no id repeats: each run is written with one statement per
 * kind of change (set-based, with arrays), while a document written twice in a batch sees its
 * first write before its second.
 */
function distinctIdRuns(writes: readonly DocWrite[]): DocWrite[][] {
  const runs: DocWrite[][] = [];
  let current: DocWrite[] = [];
  let ids = new Set<string>();
  for (const write of writes) {
    if (ids.has(write.record.id)) {
      runs.push(current);
      current = [];
      ids = new Set();
    }
    current.push(write);
    ids.add(write.record.id);
  }
  if (current.length > 0) runs.push(current);
  return runs;
}

/** Blobs are stored once per digest; the bytes of those new to the database are counted. */
async function storeBlobs(
  client: pg.PoolClient,
  db: number,
  blobs: readonly AttachmentBlob[],
): Promise<number> {
  let bytes = 0;
  const seen = new Set<string>();
  for (const blob of blobs) {
    if (seen.has(blob.digest)) continue;
    seen.add(blob.digest);
    const inserted = await rowsOf<{ bytes: number }>(
      client,
      `INSERT INTO settee.attachments (db, digest, data) VALUES ($1, $2, $3)
       ON CONFLICT DO NOTHING RETURNING octet_length(data)::bigint AS bytes`,
      [db, blob.digest, Buffer.from(blob.data.buffer, blob.data.byteOffset, blob.data.byteLength)],
    );
    bytes += inserted[0]?.bytes ?? 0;
  }
  return bytes;
}

/** Writes documents of distinct ids, the first taking sequence `first`. */
async function writeChunk(
  client: pg.PoolClient,
  db: number,
  chunk: readonly DocWrite[],
  first: number,
  totals: Totals,
): Promise<void> {
  const states = await lockDocs(client, db, chunk);
  // Under the rows' locks: a write computed from a tree another server changed since goes back.
  for (const write of chunk) checkBase(write.record.id, write.base, states.get(write.record.id)?.seq);
  const keys = chunk.map((write) => states.get(write.record.id)?.doc);
  await assignNewKeys(client, keys);
  for (const write of chunk) {
    const before = states.get(write.record.id);
    if (before) countDoc(totals, before.deleted, -1);
    countDoc(totals, write.record.deleted, 1);
  }
  const docKeys = keys as number[];
  await removeRevs(client, chunk, docKeys, totals);
  await changeRevs(client, chunk, docKeys, totals);
  await addRevs(client, db, chunk, docKeys, totals);
  await upsertDocs(client, db, chunk, docKeys, first);
}

/** Reads (and locks) the summary rows of the chunk's documents that exist. */
async function lockDocs(
  client: pg.PoolClient,
  db: number,
  chunk: readonly DocWrite[],
): Promise<Map<string, DocState>> {
  const rows = await rowsOf<{ id: Buffer; doc: number; deleted: boolean; seq: number }>(
    client,
    'SELECT id, doc, deleted, seq FROM settee.docs WHERE db = $1 AND id = ANY($2::bytea[]) ORDER BY id FOR UPDATE',
    [db, chunk.map((write) => idBytes(write.record.id))],
  );
  return new Map(
    rows.map((row) => [
      row.id.toString('utf8'),
      { doc: row.doc, deleted: row.deleted, seq: Number(row.seq) },
    ]),
  );
}

/** Fills in a key, from the sequence, for each document that has none yet. */
async function assignNewKeys(client: pg.PoolClient, keys: (number | undefined)[]): Promise<void> {
  const missing = keys.filter((key) => key === undefined).length;
  if (missing === 0) return;
  const fresh = await rowsOf<{ key: number }>(
    client,
    "SELECT nextval('settee.doc_keys') AS key FROM generate_series(1, $1)",
    [missing],
  );
  let next = 0;
  for (let i = 0; i < keys.length; i++) keys[i] ??= fresh[next++]!.key;
}

function countDoc(totals: Totals, deleted: boolean, delta: number): void {
  if (deleted) totals.deleted += delta;
  else totals.docs += delta;
}

/** The bytes of a revision row's content (of the row aliased `row`), as the counters add them up. */
export function contentBytes(row: string): string {
  return `(COALESCE(octet_length(${row}.body), 0) + COALESCE(octet_length(${row}.atts), 0))::bigint`;
}

type ByteSums = { all: number | null; garbage: number | null };

/** Nodes the writes remove (stemmed): their content leaves the counts. */
async function removeRevs(
  client: pg.PoolClient,
  chunk: readonly DocWrite[],
  keys: readonly number[],
  totals: Totals,
): Promise<void> {
  const docs = chunk.flatMap((write, i) => write.removed.map(() => keys[i]));
  if (docs.length === 0) return;
  const [sums] = await rowsOf<ByteSums>(
    client,
    `WITH gone AS (
       DELETE FROM settee.revs r USING unnest($1::bigint[], $2::text[]) AS x(doc, rev)
       WHERE r.doc = x.doc AND r.rev = x.rev RETURNING r.leaf, ${contentBytes('r')} AS bytes)
     SELECT SUM(bytes)::bigint AS all, SUM(bytes) FILTER (WHERE NOT leaf)::bigint AS garbage FROM gone`,
    [docs, chunk.flatMap((write) => write.removed)],
  );
  totals.content -= sums?.all ?? 0;
  totals.garbage -= sums?.garbage ?? 0;
}

/**
 * Nodes whose place changed (parent, leaf, deleted): a leaf that becomes an ancestor turns its
 * content into garbage, which compaction will drop; a node whose content the write drops
 * (`ChangedNode.dropContent`) loses it in the same update, and its bytes leave the counts.
 */
async function changeRevs(
  client: pg.PoolClient,
  chunk: readonly DocWrite[],
  keys: readonly number[],
  totals: Totals,
): Promise<void> {
  const changed = chunk.flatMap((write, i) => write.changed.map((node) => ({ doc: keys[i], node })));
  if (changed.length === 0) return;
  const [sums] = await rowsOf<{ garbage: number | null; dropped: number | null }>(
    client,
    `WITH moved AS (
       UPDATE settee.revs r SET parent = x.parent, deleted = x.deleted, leaf = x.leaf,
         body = CASE WHEN x.gone THEN NULL ELSE r.body END, atts = CASE WHEN x.gone THEN NULL ELSE r.atts END
       FROM unnest($1::bigint[], $2::text[], $3::text[], $4::boolean[], $5::boolean[], $6::boolean[])
              AS x(doc, rev, parent, deleted, leaf, gone),
            settee.revs o
       WHERE r.doc = x.doc AND r.rev = x.rev AND o.doc = r.doc AND o.rev = r.rev
       RETURNING o.leaf AS was_leaf, r.leaf, x.gone, ${contentBytes('o')} AS bytes)
     SELECT SUM(CASE WHEN gone THEN (CASE WHEN was_leaf THEN 0 ELSE -bytes END)
                     WHEN was_leaf = leaf THEN 0 WHEN leaf THEN -bytes ELSE bytes END)::bigint AS garbage,
            SUM(CASE WHEN gone THEN bytes ELSE 0 END)::bigint AS dropped FROM moved`,
    [
      changed.map((c) => c.doc),
      changed.map((c) => c.node.rev),
      changed.map((c) => c.node.parent),
      changed.map((c) => c.node.deleted),
      changed.map((c) => c.node.leaf),
      changed.map((c) => c.node.dropContent === true),
    ],
  );
  totals.garbage += sums?.garbage ?? 0;
  totals.content -= sums?.dropped ?? 0;
}

/** New nodes, with their content. A rev already stored fails the whole batch (primary key). */
async function addRevs(
  client: pg.PoolClient,
  db: number,
  chunk: readonly DocWrite[],
  keys: readonly number[],
  totals: Totals,
): Promise<void> {
  const added = chunk.flatMap((write, i) => write.added.map((node) => ({ doc: keys[i], node })));
  if (added.length === 0) return;
  const [sums] = await rowsOf<ByteSums>(
    client,
    `WITH added AS (
       INSERT INTO settee.revs AS r (db, doc, rev, parent, deleted, leaf, body, atts)
       SELECT $1, * FROM unnest($2::bigint[], $3::text[], $4::text[], $5::boolean[], $6::boolean[], $7::text[], $8::text[])
       RETURNING r.leaf, ${contentBytes('r')} AS bytes)
     SELECT SUM(bytes)::bigint AS all, SUM(bytes) FILTER (WHERE NOT leaf)::bigint AS garbage FROM added`,
    [
      db,
      added.map((a) => a.doc),
      added.map((a) => a.node.rev),
      added.map((a) => a.node.parent),
      added.map((a) => a.node.deleted),
      added.map((a) => a.node.leaf),
      added.map((a) => a.node.content?.body ?? null),
      added.map((a) => attsJson(a.node.content?.attachments)),
    ],
  );
  totals.content += sums?.all ?? 0;
  totals.garbage += sums?.garbage ?? 0;
}

/** Each document's summary row, at its new sequence. */
async function upsertDocs(
  client: pg.PoolClient,
  db: number,
  chunk: readonly DocWrite[],
  keys: readonly number[],
  first: number,
): Promise<void> {
  const records = chunk.map((write) => write.record);
  await run(
    client,
    `INSERT INTO settee.docs (db, id, doc, seq, winner, deleted, leaves, conflicted)
     SELECT $1, * FROM unnest($2::bytea[], $3::bigint[], $4::bigint[], $5::text[], $6::boolean[], $7::text[], $8::boolean[])
     ON CONFLICT (db, id) DO UPDATE SET seq = excluded.seq, winner = excluded.winner, deleted = excluded.deleted,
       leaves = excluded.leaves, conflicted = excluded.conflicted`,
    [
      db,
      records.map((record) => idBytes(record.id)),
      keys,
      records.map((_, i) => first + i),
      records.map((record) => record.winner),
      records.map((record) => record.deleted),
      records.map((record) => leavesJson(record.leaves)),
      records.map((record) => isConflicted(record)),
    ],
  );
}

/** History entries, appended in the order given. */
async function storeHistory(
  client: pg.PoolClient,
  db: number,
  history: readonly ResolutionRecord[],
): Promise<void> {
  for (const record of history) {
    await run(client, 'INSERT INTO settee.resolutions (db, doc, entry, digests) VALUES ($1, $2, $3, $4)', [
      db,
      idBytes(record.docId),
      entryJson(record),
      loserDigests(record),
    ]);
  }
}
