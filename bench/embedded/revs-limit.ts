/**
 * revs_limit: after many edits of one document, what is stored of its history and what
 * replication would send of it (`_revisions` in a bulkGet with revs=true).
 */
import BetterSqlite3 from 'better-sqlite3';
import { Database } from '../../src/database/database.js';
import { type Body, sizeOnDisk } from '../lib.js';
import { openPouch } from './pouch.js';

const DOC_ID = 'edited';

export interface RevsLimitFigures {
  /** Revision nodes stored for the document (Settee: rows of `revs`; PouchDB: `_revs_info` entries). */
  storedRevs: number;
  /** Of them, how many still hold a body (Settee only; PouchDB keeps bodies until compaction). */
  storedBodies: number | null;
  /** `_revisions.ids.length` in a bulkGet with revs=true: the history replication sends. */
  sentIds: number;
  /** Bytes on disk after closing. */
  bytes: number;
}

/** The document as edited: the body, its id, the revision it replaces (none at first) and a counter. */
type Edit = Body & { _id: string; _rev?: string; edit: number };

/** Puts `edits` successive revisions of the one document, each replacing the last. */
async function editRepeatedly(
  put: (doc: Edit) => Promise<{ rev: string }>,
  body: Body,
  edits: number,
): Promise<void> {
  let rev: string | undefined;
  for (let i = 0; i < edits; i++) {
    rev = (await put({ ...body, _id: DOC_ID, ...(rev === undefined ? {} : { _rev: rev }), edit: i })).rev;
  }
}

/** How many revision ids a bulkGet with revs=true sent in the document's `_revisions`. */
function historySent(got: {
  results: { docs: ({ ok: { _revisions?: { ids: string[] } } } | { error: unknown })[] }[];
}): number {
  const first = got.results[0]?.docs[0];
  return first && 'ok' in first ? (first.ok._revisions?.ids.length ?? 0) : 0;
}

export async function setteeRevsLimit(
  path: string,
  body: Body,
  edits: number,
  revsLimit: number,
): Promise<RevsLimitFigures> {
  const db = await Database.open(path, { durability: 'full', revsLimit });
  await editRepeatedly((doc) => db.put(doc), body, edits);
  const sentIds = historySent(await db.bulkGet({ docs: [{ id: DOC_ID }] }, { revs: true }));
  await db.close();
  const sqlite = new BetterSqlite3(path, { readonly: true });
  const counts = sqlite
    .prepare(
      `SELECT COUNT(*) AS revs, SUM(r.body IS NOT NULL) AS bodies
       FROM revs r JOIN docs d ON r.doc = d.doc WHERE d.id = ?`,
    )
    .get(DOC_ID) as { revs: number; bodies: number };
  sqlite.close();
  return { storedRevs: counts.revs, storedBodies: counts.bodies, sentIds, bytes: sizeOnDisk(path) };
}

export async function pouchRevsLimit(
  path: string,
  body: Body,
  edits: number,
  revsLimit: number,
): Promise<RevsLimitFigures> {
  const db = openPouch(path, revsLimit);
  await editRepeatedly((doc) => db.put(doc), body, edits);
  const sentIds = historySent(await db.bulkGet({ docs: [{ id: DOC_ID }], revs: true }));
  const info = await db.get(DOC_ID, { revs_info: true });
  await db.close();
  return { storedRevs: info._revs_info?.length ?? 0, storedBodies: null, sentIds, bytes: sizeOnDisk(path) };
}
