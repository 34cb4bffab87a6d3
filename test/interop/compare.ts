import { isDeepStrictEqual } from 'node:util';
import type PouchDB from 'pouchdb';

/** One leaf revision of a document: its ancestry, body and attachment bytes. */
export interface LeafState {
  rev: string;
  deleted: boolean;
  revisions: PouchDB.Revisions | undefined;
  body: Record<string, unknown>;
  attachments: Record<string, AttachmentState>;
}

export interface AttachmentState {
  content_type: string;
  digest: string | undefined;
  length: number | undefined;
  revpos: number | undefined;
  bytes: Buffer;
}

/** Everything replication must carry for one document: winner, conflicts and every leaf. */
export interface DocState {
  id: string;
  winner: string;
  deleted: boolean;
  conflicts: string[];
  leaves: LeafState[];
}

/** Runs `fn` over `items` with at most `limit` calls in flight, keeping the order of results. */
async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>) {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

export interface ReadOptions {
  /**
   * Documents also read one by one, with `get(id, { revs, open_revs: 'all' })` and (when in
   * conflict) `get(id, { conflicts: true })`, which must agree with the bulk reads (default: all).
   */
  openRevs?: (id: string) => boolean;
  /** Requests in flight at once. */
  concurrency?: number;
}

/**
 * Reads the full state of every document of `db`, deleted ones included, through PouchDB's API:
 * the leaves of each document from `changes({ style: 'all_docs' })`, winners and conflicts from
 * `allDocs({ keys, conflicts })`, each leaf with its `_revisions` from `bulkGet({ revs })`, and
 * each leaf's attachment bytes from `getAttachment(id, name, { rev })`. For the documents that
 * `openRevs` selects, single-document reads must agree (see `checkOneByOne`).
 */
export async function readState(db: PouchDB, options: ReadOptions = {}): Promise<Map<string, DocState>> {
  const { openRevs = () => true, concurrency = 8 } = options;
  const leafRevs = new Map<string, string[]>();
  let since: number | string = 0;
  for (;;) {
    const page = await db.changes({ since, limit: 5000, style: 'all_docs' });
    if (page.results.length === 0) break;
    for (const row of page.results) {
      leafRevs.set(
        row.id,
        row.changes.map((change) => change.rev),
      );
    }
    since = page.last_seq;
  }
  const ids = [...leafRevs.keys()].sort();

  const winners = new Map<string, PouchDB.AllDocsRow>();
  for (const chunk of chunks(ids, 2000)) {
    const { rows } = await db.allDocs({ keys: chunk, include_docs: true, conflicts: true });
    for (const row of rows) winners.set(row.key, row);
  }

  const leafDocs = new Map<string, PouchDB.Document[]>();
  const wanted = ids.flatMap((id) => leafRevs.get(id)!.map((rev) => ({ id, rev })));
  for (const chunk of chunks(wanted, 1000)) {
    const { results } = await db.bulkGet({ docs: chunk, revs: true });
    for (const [i, result] of results.entries()) {
      const [found] = result.docs;
      if (!found || !('ok' in found)) {
        throw new Error(`${db.name}: bulkGet of ${chunk[i]!.id}@${chunk[i]!.rev}: ${JSON.stringify(found)}`);
      }
      const list = leafDocs.get(found.ok._id) ?? [];
      list.push(found.ok);
      leafDocs.set(found.ok._id, list);
    }
  }

  const states = await mapLimit(ids, concurrency, async (id): Promise<DocState> => {
    const row = winners.get(id);
    if (!row || row.error) throw new Error(`${db.name}: allDocs has no row for ${id} (${row?.error})`);
    const leaves = await Promise.all((leafDocs.get(id) ?? []).map((doc) => leafState(db, doc)));
    leaves.sort((a, b) => compareRevs(a.rev, b.rev));
    const state: DocState = {
      id,
      winner: row.value.rev,
      deleted: row.value.deleted === true,
      conflicts: [...(row.doc?._conflicts ?? [])].sort(compareRevs),
      leaves,
    };
    if (openRevs(id)) await checkOneByOne(db, state);
    return state;
  });
  return new Map(states.map((state) => [state.id, state]));
}

/**
 * Reading one document must agree with the bulk reads: `get(id, { revs, open_revs: 'all' })` lists
 * the same leaves, ancestries and bodies, and `get(id, { conflicts: true })` the same winner and
 * `_conflicts`.
 */
async function checkOneByOne(db: PouchDB, state: DocState): Promise<void> {
  const { id, leaves } = state;
  const open = await db.get(id, { revs: true, open_revs: 'all' });
  const found = open.map((result) => {
    if (!('ok' in result))
      throw new Error(`${db.name}: open_revs=all of ${id} lists ${result.missing} as missing`);
    const { _attachments, _id, _rev, _deleted, _revisions, ...body } = result.ok;
    return { rev: _rev!, deleted: _deleted === true, revisions: _revisions, body };
  });
  found.sort((a, b) => compareRevs(a.rev, b.rev));
  const expected = leaves.map(({ rev, deleted, revisions, body }) => ({ rev, deleted, revisions, body }));
  if (!isDeepStrictEqual(found, expected)) {
    throw new Error(
      `${db.name}: open_revs=all of ${id} gives ${JSON.stringify(found)}, the changes feed and bulkGet ${JSON.stringify(expected)}`,
    );
  }
  if (state.deleted || leaves.length < 2) return;
  const doc = await db.get(id, { conflicts: true });
  const conflicts = [...(doc._conflicts ?? [])].sort(compareRevs);
  if (doc._rev !== state.winner || !isDeepStrictEqual(conflicts, state.conflicts)) {
    throw new Error(
      `${db.name}: get(${id}, { conflicts }) gives ${doc._rev} ${JSON.stringify(conflicts)}, allDocs ${state.winner} ${JSON.stringify(state.conflicts)}`,
    );
  }
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

async function leafState(db: PouchDB, doc: PouchDB.Document): Promise<LeafState> {
  const { _id, _rev, _deleted, _revisions, _attachments, _conflicts, ...body } = doc;
  const attachments: Record<string, AttachmentState> = {};
  for (const [name, stub] of Object.entries(_attachments ?? {})) {
    attachments[name] = {
      content_type: stub.content_type,
      digest: stub.digest,
      length: stub.length,
      revpos: stub.revpos,
      bytes: await db.getAttachment(_id, name, { rev: _rev! }),
    };
  }
  return { rev: _rev!, deleted: _deleted === true, revisions: _revisions, body, attachments };
}

function compareRevs(a: string, b: string): number {
  const pa = Number.parseInt(a, 10);
  const pb = Number.parseInt(b, 10);
  return pa !== pb ? pa - pb : a < b ? -1 : a > b ? 1 : 0;
}

export interface DiffOptions {
  /** The two sides' names in the differences. */
  names?: [string, string];
  /**
   * Leave attachment `revpos` out: PouchDB's leveldb adapter sets `revpos` to the generation of
   * the revision it stores attachment data with, and a pull always brings the data, so a pulled
   * copy says `revpos: 4` where its source said `revpos: 1` (PouchDB → PouchDB does the same).
   */
  ignoreRevpos?: boolean;
  /**
   * Compare only the names of a losing leaf's attachments that its winner also has. PouchDB
   * (9.0.0, `getDocAttachmentsFromTargetOrSource`) pulls a revision into a PouchDB that already
   * holds the document by calling `src.getAttachment(id, name)` without `rev` for every attachment
   * whose digest differs from the local copy's, so a losing leaf gets the bytes of the server's
   * winner under that name (and a digest computed from them). A fresh PouchDB asks with `?rev=`.
   */
  losingAttachmentNamesOnly?: boolean;
  /** Most differences listed. */
  max?: number;
}

/**
 * The differences between two states, one line each, empty when they are equal. Attachment bytes
 * are compared byte for byte.
 */
export function diffStates(
  a: Map<string, DocState>,
  b: Map<string, DocState>,
  options: DiffOptions = {},
): string[] {
  const { names = ['a', 'b'], ignoreRevpos = false, losingAttachmentNamesOnly = false, max = 20 } = options;
  const out: string[] = [];
  const note = (line: string) => {
    if (out.length < max) out.push(line);
  };
  for (const id of a.keys()) if (!b.has(id)) note(`${id}: only in ${names[0]}`);
  for (const id of b.keys()) if (!a.has(id)) note(`${id}: only in ${names[1]}`);
  for (const [id, x] of a) {
    const y = b.get(id);
    if (!y) continue;
    if (x.winner !== y.winner || x.deleted !== y.deleted) {
      note(
        `${id}: winner ${x.winner}${x.deleted ? ' (deleted)' : ''} ≠ ${y.winner}${y.deleted ? ' (deleted)' : ''}`,
      );
    }
    if (!isDeepStrictEqual(x.conflicts, y.conflicts)) {
      note(`${id}: _conflicts ${JSON.stringify(x.conflicts)} ≠ ${JSON.stringify(y.conflicts)}`);
    }
    const xr = x.leaves.map((leaf) => leaf.rev);
    const yr = y.leaves.map((leaf) => leaf.rev);
    if (!isDeepStrictEqual(xr, yr)) {
      note(`${id}: leaves ${JSON.stringify(xr)} ≠ ${JSON.stringify(yr)}`);
      continue;
    }
    const winner = x.leaves.find((leaf) => leaf.rev === x.winner);
    for (const [i, leaf] of x.leaves.entries()) {
      const namesOnly =
        losingAttachmentNamesOnly && leaf !== winner ? Object.keys(winner?.attachments ?? {}) : [];
      diffLeaf(`${id}@${leaf.rev}`, leaf, y.leaves[i]!, { ignoreRevpos, namesOnly }, note);
    }
  }
  return out;
}

function diffLeaf(
  where: string,
  x: LeafState,
  y: LeafState,
  options: { ignoreRevpos: boolean; namesOnly: string[] },
  note: (line: string) => void,
): void {
  if (x.deleted !== y.deleted) note(`${where}: _deleted ${x.deleted} ≠ ${y.deleted}`);
  if (!isDeepStrictEqual(x.revisions, y.revisions)) {
    note(`${where}: _revisions ${JSON.stringify(x.revisions)} ≠ ${JSON.stringify(y.revisions)}`);
  }
  if (!isDeepStrictEqual(x.body, y.body))
    note(`${where}: body ${JSON.stringify(x.body)} ≠ ${JSON.stringify(y.body)}`);
  const names = [...new Set([...Object.keys(x.attachments), ...Object.keys(y.attachments)])].sort();
  for (const name of names) {
    const p = x.attachments[name];
    const q = y.attachments[name];
    if (!p || !q) {
      note(`${where}/${name}: attachment missing on one side`);
      continue;
    }
    if (options.namesOnly.includes(name)) continue;
    const { bytes: pb, revpos: pr, ...pm } = p;
    const { bytes: qb, revpos: qr, ...qm } = q;
    if (!options.ignoreRevpos && pr !== qr) note(`${where}/${name}: revpos ${pr} ≠ ${qr}`);
    if (!isDeepStrictEqual(pm, qm))
      note(`${where}/${name}: stub ${JSON.stringify(pm)} ≠ ${JSON.stringify(qm)}`);
    if (!pb.equals(qb)) note(`${where}/${name}: ${pb.length} bytes ≠ ${qb.length} bytes, or different bytes`);
  }
}
