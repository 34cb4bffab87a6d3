/**
 * `writeDocs` inside its one readwrite transaction. IndexedDB answers each request with a round
 * trip, so a batch reads everything it needs in two waves of requests issued together (the
 * documents and counters, then the revisions those lead to), computes the batch in memory over
 * what it read, and issues its writes without waiting for each: IndexedDB applies a
 * transaction's requests in order and commits them together, or none.
 */
import { checkBase } from '../errors.js';
import { entryJson, loserDigests } from '../records.js';
import type { AttachmentBlob, DocWrite, ResolutionRecord } from '../types.js';
import { type IdbObjectStore, type IdbTransaction, requested } from './idb.js';
import { idKey } from './keys.js';
import { attsOrNull, contentBytes, docRow, type HeldContent, revRow } from './rows.js';
import { type DocRow, type ResolutionRow, type RevRow, STATE_KEY, STORE, type StateRow } from './schema.js';

/** The stores a batch writes. */
export const WRITE_STORES = [
  STORE.state,
  STORE.docs,
  STORE.revs,
  STORE.attachments,
  STORE.blobSizes,
  STORE.resolutions,
];

export async function writeBatch(
  tx: IdbTransaction,
  writes: readonly DocWrite[],
  blobs: readonly AttachmentBlob[],
  history: readonly ResolutionRecord[],
): Promise<number[]> {
  const batch = new Batch(tx);
  await batch.read(writes, blobs);
  batch.storeBlobs(blobs);
  const seqs = writes.map((write) => batch.writeDoc(write));
  batch.storeHistory(history);
  batch.finish();
  return seqs;
}

class Batch {
  private readonly docs: IdbObjectStore;
  private readonly revs: IdbObjectStore;
  private state!: StateRow;
  /** The records as the batch has left them so far, by document key (undefined: none). */
  private readonly docRows = new Map<string, DocRow | undefined>();
  private readonly revRows = new Map<string, Map<string, RevRow | undefined>>();
  private readonly heldBlobs = new Set<string>();

  constructor(private readonly tx: IdbTransaction) {
    this.docs = tx.objectStore(STORE.docs);
    this.revs = tx.objectStore(STORE.revs);
  }

  /** Reads the counters, the documents, which blobs exist, then the revisions the writes touch. */
  async read(writes: readonly DocWrite[], blobs: readonly AttachmentBlob[]): Promise<void> {
    const keys = [...new Set(writes.map((write) => idKey(write.record.id)))];
    const attachments = this.tx.objectStore(STORE.attachments);
    const digests = [...new Set(blobs.map((blob) => blob.digest))];
    const [state, docs, held] = await Promise.all([
      requested(this.tx.objectStore(STORE.state).get(STATE_KEY)) as Promise<StateRow>,
      Promise.all(keys.map((key) => requested(this.docs.get(key)) as Promise<DocRow | undefined>)),
      Promise.all(digests.map((digest) => requested(attachments.getKey(digest)))),
    ]);
    this.state = state;
    keys.forEach((key, i) => this.docRows.set(key, docs[i]));
    digests.forEach((digest, i) => held[i] !== undefined && this.heldBlobs.add(digest));
    const wanted = this.revisionsRead(writes);
    const rows = await Promise.all(
      wanted.map(([doc, rev]) => requested(this.revs.get([doc, rev])) as Promise<RevRow | undefined>),
    );
    wanted.forEach(([doc, rev], i) => this.setRev(doc, rev, rows[i]));
  }

  /**
   * The revisions a batch reads: those it removes or changes (their content and leafness count),
   * each document's winners before and after (content moves between them and the document).
   */
  private revisionsRead(writes: readonly DocWrite[]): [string, string][] {
    const wanted = new Map<string, Set<string>>();
    const want = (doc: string, rev: string) => {
      let revs = wanted.get(doc);
      if (!revs) wanted.set(doc, (revs = new Set()));
      revs.add(rev);
    };
    for (const write of writes) {
      const doc = idKey(write.record.id);
      const stored = this.docRows.get(doc);
      if (stored) want(doc, stored.winner);
      want(doc, write.record.winner);
      for (const rev of write.removed) want(doc, rev);
      for (const node of write.changed) want(doc, node.rev);
    }
    return [...wanted].flatMap(([doc, revs]) => [...revs].map((rev): [string, string] => [doc, rev]));
  }

  storeBlobs(blobs: readonly AttachmentBlob[]): void {
    const store = this.tx.objectStore(STORE.attachments);
    const sizes = this.tx.objectStore(STORE.blobSizes);
    for (const { digest, data } of blobs) {
      if (this.heldBlobs.has(digest)) continue;
      this.heldBlobs.add(digest);
      store.put({ digest, data: ownBytes(data) });
      sizes.put(data.byteLength, digest);
      this.state.contentBytes += data.byteLength;
    }
  }

  writeDoc(write: DocWrite): number {
    const { record } = write;
    const key = idKey(record.id);
    const existing = this.docRows.get(key);
    checkBase(record.id, write.base, existing?.seq);
    const seq = ++this.state.updateSeq;
    if (existing) this.countDoc(existing.deleted, -1);
    this.countDoc(record.deleted, 1);
    this.writeRevs(key, write);
    const content =
      existing && existing.winner === record.winner ? existing : this.takeWinnerContent(key, write, existing);
    const row = docRow(key, record, seq, content);
    this.docRows.set(key, row);
    this.docs.put(row);
    return seq;
  }

  /**
   * Applies a document's tree changes; the winner's content stays in the document's record. The
   * garbage count follows the content of non-leaf revisions in and out.
   */
  private writeRevs(doc: string, write: DocWrite): void {
    for (const rev of write.removed) {
      const row = this.rev(doc, rev);
      if (!row) continue;
      this.revs.delete([doc, rev]);
      this.setRev(doc, rev, undefined);
      this.countContent(row, -1);
    }
    for (const node of write.changed) {
      const before = this.rev(doc, node.rev);
      if (!before) continue;
      if (before.leaf !== node.leaf) this.state.garbageBytes += (node.leaf ? -1 : 1) * contentBytes(before);
      this.putRev({ ...before, parent: node.parent, deleted: node.deleted, leaf: node.leaf });
    }
    for (const node of write.added) {
      const content = { body: node.content?.body ?? null, atts: attsOrNull(node.content?.attachments) };
      const { rev, parent, deleted, leaf } = node;
      const held = rev === write.record.winner ? { body: null, atts: null } : content;
      const row = revRow({ doc, rev, parent, deleted, leaf, ...held });
      // `add`, not `put`: a revision already stored fails the batch rather than being overwritten.
      this.revs.add(row);
      this.setRev(doc, rev, row);
      this.countContent({ ...content, leaf }, 1);
    }
  }

  /**
   * The new winner's content moves into the document's record; a dethroned winner's content
   * moves back into its revision's, unless this write removed that revision.
   */
  private takeWinnerContent(doc: string, write: DocWrite, existing: DocRow | undefined): HeldContent {
    const { winner } = write.record;
    // The removed winner's content was the document's.
    if (existing && write.removed.includes(existing.winner))
      this.countContent({ ...existing, leaf: true }, -1);
    const dethroned = existing && !write.removed.includes(existing.winner) && this.rev(doc, existing.winner);
    if (existing && dethroned) {
      this.putRev({ ...dethroned, body: existing.body, atts: existing.atts });
      // An edit makes the old winner an ancestor: its content is compaction's to reclaim now.
      if (!dethroned.leaf) this.state.garbageBytes += contentBytes(existing);
    }
    const added = write.added.find((node) => node.rev === winner);
    if (added) return { body: added.content?.body ?? null, atts: attsOrNull(added.content?.attachments) };
    const held = this.rev(doc, winner);
    if (!held) return { body: null, atts: null };
    this.putRev({ ...held, body: null, atts: null });
    return { body: held.body, atts: held.atts };
  }

  storeHistory(history: readonly ResolutionRecord[]): void {
    const store = this.tx.objectStore(STORE.resolutions);
    for (const record of history) {
      const row: ResolutionRow = { docId: record.docId, entry: entryJson(record) };
      const digests = loserDigests(record);
      if (digests) row.digests = digests;
      store.add(row);
    }
  }

  finish(): void {
    this.tx.objectStore(STORE.state).put(this.state, STATE_KEY);
  }

  private rev(doc: string, rev: string): RevRow | undefined {
    return this.revRows.get(doc)?.get(rev);
  }

  private setRev(doc: string, rev: string, row: RevRow | undefined): void {
    let revs = this.revRows.get(doc);
    if (!revs) this.revRows.set(doc, (revs = new Map()));
    revs.set(rev, row);
  }

  private putRev(fields: RevRow): void {
    const row = revRow(fields);
    this.revs.put(row);
    this.setRev(row.doc, row.rev, row);
  }

  /** Content in (+1) or out (-1) of the database; a non-leaf's counts as garbage too. */
  private countContent(row: HeldContent & { leaf: boolean }, sign: 1 | -1): void {
    const bytes = contentBytes(row);
    this.state.contentBytes += sign * bytes;
    if (!row.leaf) this.state.garbageBytes += sign * bytes;
  }

  private countDoc(deleted: boolean, delta: number): void {
    if (deleted) this.state.deletedCount += delta;
    else this.state.docCount += delta;
  }
}

/**
 * Bytes to store: a view over part of a larger buffer is copied, since IndexedDB clones a view's
 * whole buffer.
 */
export function ownBytes(data: Uint8Array): Uint8Array {
  return data.byteOffset === 0 && data.byteLength === data.buffer.byteLength ? data : data.slice();
}
