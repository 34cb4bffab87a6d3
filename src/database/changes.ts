import type { ChangeRow, ChangesOptions, ChangesResponse, Doc } from '../core/api.js';
import type { DesignRunner } from '../design/runner.js';
import { badRequest } from '../core/errors.js';
import { type CompiledSelector, compileSelector } from '../core/mango/index.js';
import { countChanges } from '../storage/derived.js';
import { isConflicted } from '../storage/records.js';
import type { ScannedDoc, Storage } from '../storage/types.js';
import type { WriteNotifier } from './notifier.js';
import { type DocReader, docFromBody } from './reader.js';

/**
 * Within this many sequences of the end, `pending` is counted exactly. Counting is a range scan
 * on every page a replicator asks for: at 10,000 it was an eighth of a server's CPU in a pull.
 */
const EXACT_PENDING_WITHIN = 1_000;

export interface ChangesFeedOptions extends ChangesOptions {
  /** Keep the feed open and emit changes as they are written, until `signal` aborts. */
  live?: boolean;
  signal?: AbortSignal;
  /** Only documents that are conflicted (a live leaf besides the winner) at their latest seq. */
  conflicts_only?: boolean;
}

/** What a changes feed needs of its database. */
export interface FeedSource {
  storage: Storage;
  reader: DocReader;
  notifier: WriteNotifier;
  updateSeq(): number;
  /** Where filter functions and `_view` filters' map functions run. */
  design(): DesignRunner;
  /** The design documents (filters and views are read from them). */
  designDocs(): Promise<readonly Doc[]>;
}

/**
 * A changes feed: an async iterable of rows, each document once at its latest sequence. It
 * reads storage a page at a time, so any database streams in flat memory; in live mode it then
 * waits for writes and goes on. `lastSeq` tells where it got to (what `last_seq` reports).
 */
export class ChangesFeed implements AsyncIterable<ChangeRow<number>> {
  lastSeq: number;
  private readonly selector: CompiledSelector | undefined;
  private readonly docIds: Set<string> | undefined;

  constructor(
    private readonly source: FeedSource,
    private readonly options: ChangesFeedOptions,
  ) {
    this.lastSeq = parseSince(options.since, source.updateSeq());
    this.selector = options.selector === undefined ? undefined : compileSelector(options.selector);
    this.docIds = options.doc_ids && new Set(options.doc_ids);
    if (options.limit !== undefined && (!Number.isInteger(options.limit) || options.limit < 0)) {
      throw badRequest('limit must be a non-negative integer');
    }
  }

  async *[Symbol.asyncIterator](): AsyncIterator<ChangeRow<number>> {
    const { options, source } = this;
    let remaining = options.limit ?? Number.POSITIVE_INFINITY;
    const filtered =
      this.selector !== undefined || this.docIds !== undefined || options.conflicts_only === true;
    while (remaining > 0) {
      const scan = source.storage.changes({
        since: this.lastSeq,
        descending: options.descending,
        limit: filtered ? undefined : remaining,
        withContent: options.include_docs || this.selector !== undefined,
      });
      for await (const page of scan) {
        for (const scanned of page) {
          this.lastSeq = scanned.seq;
          const row = this.toRow(scanned);
          const ready = row instanceof Promise ? await row : row;
          if (!ready) continue;
          yield ready;
          if (--remaining === 0 || options.signal?.aborted) return;
        }
      }
      if (!options.live || options.descending || options.signal?.aborted) return;
      if (source.updateSeq() <= this.lastSeq) await source.notifier.next(options.signal);
      if (options.signal?.aborted) return;
    }
  }

  /** Runs the feed to its end and collects CouchDB's response (use a limit on big databases). */
  async collect(): Promise<ChangesResponse<number>> {
    const results: ChangeRow<number>[] = [];
    for await (const row of this) results.push(row);
    return { results, last_seq: this.lastSeq, pending: await this.pending() };
  }

  /** How many changes lie beyond where the feed got to (CouchDB's `pending`). */
  async pending(): Promise<number> {
    if (this.options.descending) return 0;
    const { storage } = this.source;
    const distance = this.source.updateSeq() - this.lastSeq;
    if (distance <= EXACT_PENDING_WITHIN) return countChanges(storage, this.lastSeq, EXACT_PENDING_WITHIN);
    // Counting a long tail on every page would make a full read quadratic: far from the end,
    // estimate from the share of sequences still held by a document. Exact near the end, 0 at it.
    const stats = await storage.stats();
    const held = (stats.docCount + stats.deletedCount) / Math.max(1, stats.updateSeq);
    return Math.round(distance * held);
  }

  /** A scanned document as a row, or nothing when filtered out; synchronous unless it must read more. */
  private toRow(scanned: ScannedDoc): ChangeRow<number> | undefined | Promise<ChangeRow<number> | undefined> {
    if (this.docIds && !this.docIds.has(scanned.id)) return undefined;
    if (this.options.conflicts_only && !isConflicted(scanned)) return undefined;
    const revs =
      this.options.style === 'all_docs' ? scanned.leaves.map((leaf) => leaf.rev) : [scanned.winner];
    if (!this.selector) return this.withDoc(scanned, revs);
    return this.matchingRevs(scanned, revs, this.selector).then((matching) =>
      matching.length === 0 ? undefined : this.withDoc(scanned, matching),
    );
  }

  private withDoc(scanned: ScannedDoc, revs: string[]): ChangeRow<number> | Promise<ChangeRow<number>> {
    const row: ChangeRow<number> = {
      seq: scanned.seq,
      id: scanned.id,
      changes: revs.map((rev) => ({ rev })),
    };
    if (scanned.deleted) row.deleted = true;
    if (!this.options.include_docs) return row;
    const { reader } = this.source;
    const shape = { conflicts: this.options.conflicts, attachments: this.options.attachments };
    if (scanned.content && !this.options.attachments) {
      row.doc = reader.build(scanned, scanned.id, scanned.winner, scanned.content, shape);
      return row;
    }
    return reader.read(scanned, scanned.id, scanned.winner, shape, undefined, scanned.content).then((doc) => {
      if (doc) row.doc = doc;
      return row;
    });
  }

  /** With a selector, a row lists only the leaves whose revision matches it. */
  private async matchingRevs(
    scanned: ScannedDoc,
    revs: string[],
    selector: CompiledSelector,
  ): Promise<string[]> {
    const contents =
      revs.length === 1 && revs[0] === scanned.winner
        ? [scanned.content]
        : await this.source.storage.getRevisions(scanned.id, revs);
    return revs.filter((rev, i) => {
      const content = contents[i];
      if (!content) return false;
      const deleted = scanned.leaves.find((leaf) => leaf.rev === rev)?.deleted;
      const doc = docFromBody(scanned.id, rev, content.body);
      if (deleted) doc._deleted = true;
      return selector.matches(doc);
    });
  }
}

function parseSince(since: number | string | undefined, now: number): number {
  if (since === undefined) return 0;
  if (since === 'now') return now;
  // A string is a number, optionally followed by `-…` (CouchDB-style opaque suffix).
  const head = typeof since === 'string' ? since.split('-')[0]! : undefined;
  const seq = head === undefined ? since : /^[0-9]+$/.test(head) ? Number(head) : Number.NaN;
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 0) {
    throw badRequest("Malformed sequence supplied in 'since' parameter.");
  }
  return seq;
}
