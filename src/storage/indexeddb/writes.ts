/**
 * `writeDocs` inside its one readwrite transaction. IndexedDB answers each request with a round
 * trip, so a batch reads everything it needs in two waves of requests issued together (the
 * documents and counters, then the revisions those lead to) — or takes what the database's own
 * read of the trees found in this very transaction (`ReadForWrite`) —, computes the batch in
 * memory over what it read, and issues its writes without waiting for each: IndexedDB applies a
 * transaction's requests in order and commits them together, or none.
 */
import { checkBase } from '../errors.js';
import { entryJson, keepsContent, loserDigests } from '../records.js';
import type { AttachmentBlob, DocWrite, ResolutionRecord } from '../types.js';
import { readMany } from './batch-reads.js';
import { type IdbObjectStore, type IdbRequest, type IdbTransaction, requested, storageError } from './idb.js';
import { idKey } from './keys.js';
import { attsOrNull, contentBytes, docRow, type HeldContent, revRow, winnerRevRow } from './rows.js';
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

/**
 * What one task of the main thread puts, at most: a put costs Chromium's main thread about 50 µs
 * whatever the record's size, plus its bytes. 25 documents, not more: with 100 a task, a pull of
 * 500-document batches had tasks over 100 ms (and none over 50 ms with 25); large documents go
 * fewer to a task.
 */
export const TASK_BUDGET = { docs: 25, chars: 256 * 1024 };

/**
 * What the database's read of a batch's trees found, in the readwrite transaction that may then
 * carry the batch's write (see `IndexedDbStorage.getDocs`): nothing can have changed since.
 */
export interface ReadForWrite {
  tx: IdbTransaction;
  state: StateRow;
  /** The documents read, by key (undefined: none). */
  docs: Map<string, DocRow | undefined>;
  /** Every stored revision of each document read (the winner's aside), by document key. */
  trees: Map<string, RevRow[]>;
}

export async function writeBatch(
  tx: IdbTransaction,
  writes: readonly DocWrite[],
  blobs: readonly AttachmentBlob[],
  history: readonly ResolutionRecord[],
  done?: ReadForWrite,
): Promise<number[]> {
  const batch = new Batch(tx);
  await batch.read(writes, blobs, done);
  batch.storeBlobs(blobs);
  const seqs: number[] = [];
  const starts = new Set(sliceStarts(writes));
  let sliceWritten: Promise<unknown> | undefined;
  try {
    for (const [i, write] of writes.entries()) {
      // A slice of the batch per task: structured-cloning a large batch's records in one task
      // would hold the page's main thread past what a user notices (50 ms). Waiting for a request
      // keeps the transaction alive; waiting for the slice before the last, not the last, keeps
      // IndexedDB busy storing one slice while the next is cloned.
      if (i > 0 && starts.has(i)) {
        const previous = sliceWritten;
        // Listened to at once: a request that succeeds before anyone listens is never heard of.
        sliceWritten = requested(batch.lastRequest!);
        await previous;
      }
      seqs.push(batch.writeDoc(write));
    }
  } finally {
    // Not awaited: the commit is. Should the batch fail, its transaction aborts and that request
    // fails too: heard here, or the page would see an unhandled rejection.
    sliceWritten?.catch(() => undefined);
  }
  batch.storeHistory(history);
  batch.finish();
  return seqs;
}

/**
 * Where each slice of a batch's writes begins (see `TASK_BUDGET`): 0, then wherever the next
 * write would take a slice past the budget. A write over the budget alone is a slice alone.
 */
export function sliceStarts(writes: readonly DocWrite[]): number[] {
  const starts: number[] = [];
  let docs = 0;
  let chars = 0;
  for (const [i, write] of writes.entries()) {
    const size = write.added.reduce((sum, node) => sum + (node.content?.body.length ?? 0), 0);
    if (i === 0 || docs === TASK_BUDGET.docs || chars + size > TASK_BUDGET.chars) {
      starts.push(i);
      docs = 0;
      chars = 0;
    }
    docs++;
    chars += size;
  }
  return starts;
}

class Batch {
  private readonly docs: IdbObjectStore;
  private readonly revs: IdbObjectStore;
  private state!: StateRow;
  /** The records as the batch has left them so far, by document key (undefined: none). */
  private readonly docRows = new Map<string, DocRow | undefined>();
  /** The tree nodes as the batch has left them so far, the winners' included. */
  private readonly revRows = new Map<string, Map<string, RevRow | undefined>>();
  /** Which of those nodes have a record in `revs` (`revKey`): a winner's has none. */
  private readonly storedRevs = new Set<string>();
  /** The document being written and the winner the write gives it. */
  private writing: { doc: string; winner: string } | undefined;
  private readonly heldBlobs = new Set<string>();
  /** The last document record put: the batch waits on it to go on in a new task. */
  lastRequest: IdbRequest<unknown> | undefined;

  constructor(private readonly tx: IdbTransaction) {
    this.docs = tx.objectStore(STORE.docs);
    this.revs = tx.objectStore(STORE.revs);
  }

  /**
   * Reads the counters, the documents, which blobs exist, then the revisions the writes touch;
   * or takes the counters, documents and whole trees a read in this transaction found (`done`).
   */
  async read(
    writes: readonly DocWrite[],
    blobs: readonly AttachmentBlob[],
    done?: ReadForWrite,
  ): Promise<void> {
    const keys = writes.map((write) => idKey(write.record.id));
    const attachments = this.tx.objectStore(STORE.attachments);
    const digests = [...new Set(blobs.map((blob) => blob.digest))];
    const [state, docs, held] = await Promise.all([
      done?.state ?? (requested(this.tx.objectStore(STORE.state).get(STATE_KEY)) as Promise<StateRow>),
      done ? undefined : readMany<DocRow>(this.docs, keys),
      Promise.all(digests.map((digest) => requested(attachments.getKey(digest)))),
    ]);
    this.state = state;
    digests.forEach((digest, i) => held[i] !== undefined && this.heldBlobs.add(digest));
    if (done) {
      for (const [key, row] of done.docs) this.docRows.set(key, row);
      for (const [doc, rows] of done.trees) for (const row of rows) this.setStoredRev(doc, row.rev, row);
    } else {
      keys.forEach((key, i) => this.docRows.set(key, docs!.values[i]));
      const wanted = this.revisionsRead(writes);
      const rows = await readMany<RevRow>(this.revs, wanted);
      wanted.forEach(([doc, rev], i) => this.setStoredRev(doc, rev, rows.values[i]));
    }
    // The winners' nodes, which their documents' records hold.
    for (const row of this.docRows.values()) {
      if (row && !this.rev(row.key, row.winner)) this.setRev(row.key, row.winner, winnerRevRow(row));
    }
  }

  private setStoredRev(doc: string, rev: string, row: RevRow | undefined): void {
    if (row) this.storedRevs.add(revKey(doc, rev));
    this.setRev(doc, rev, row);
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
      // A revision is stored only with its document: a new document's are all new.
      if (!stored) continue;
      want(doc, stored.winner);
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
    this.writing = { doc: key, winner: record.winner };
    this.writeRevs(key, write);
    const content =
      existing && existing.winner === record.winner ? existing : this.takeWinnerContent(key, write, existing);
    const row = docRow(key, record, seq, content, this.rev(key, record.winner)?.parent ?? null);
    this.docRows.set(key, row);
    this.lastRequest = this.docs.put(row);
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
      this.unstore(doc, rev);
      this.setRev(doc, rev, undefined);
      this.countContent(row, -1);
    }
    for (const node of write.changed) {
      const before = this.rev(doc, node.rev);
      if (!before) continue;
      const moved = { ...before, parent: node.parent, deleted: node.deleted, leaf: node.leaf };
      if (node.dropContent) {
        this.countContent(before, -1);
        this.putRev({ ...moved, body: null, atts: null });
        continue;
      }
      if (before.leaf !== node.leaf) this.state.garbageBytes += (node.leaf ? -1 : 1) * contentBytes(before);
      this.putRev(moved);
    }
    for (const node of write.added) {
      const content = { body: node.content?.body ?? null, atts: attsOrNull(node.content?.attachments) };
      const { rev, parent, deleted, leaf } = node;
      const held = rev === write.record.winner ? { body: null, atts: null } : content;
      const row = revRow({ doc, rev, parent, deleted, leaf, ...held });
      // A revision already stored fails the batch rather than being overwritten: `add` refuses a
      // stored record; the winner's node, which has none, is checked against what was read.
      if (this.rev(doc, rev)) throw storageError({ name: 'ConstraintError', message: `${rev} is stored` });
      if (rev !== write.record.winner) {
        this.revs.add(row);
        this.storedRevs.add(revKey(doc, rev));
      }
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
    // The content of a winner removed, or dropped, was the document's.
    if (existing && !keepsContent(write, existing.winner)) this.countContent({ ...existing, leaf: true }, -1);
    const dethroned = existing && keepsContent(write, existing.winner) && this.rev(doc, existing.winner);
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

  /** Records a node as now changed: in `revs`, unless it is the winner being written. */
  private putRev(fields: RevRow): void {
    const row = revRow(fields);
    const { doc, rev } = row;
    if (this.writing?.doc === doc && this.writing.winner === rev) this.unstore(doc, rev);
    else {
      this.revs.put(row);
      this.storedRevs.add(revKey(doc, rev));
    }
    this.setRev(doc, rev, row);
  }

  /** Deletes a node's record from `revs`, if it has one. */
  private unstore(doc: string, rev: string): void {
    if (!this.storedRevs.delete(revKey(doc, rev))) return;
    this.revs.delete([doc, rev]);
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

function revKey(doc: string, rev: string): string {
  return `${doc}\n${rev}`;
}
