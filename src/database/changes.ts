import type { ChangeRow, ChangesOptions, ChangesResponse, Doc } from '../core/api.js';
import type { DesignRunner, FilterReq } from '../design/runner.js';
import { badRequest } from '../core/errors.js';
import { countChanges } from '../storage/derived.js';
import { isConflicted } from '../storage/records.js';
import type { IndexChanges, ScannedDoc, Storage } from '../storage/types.js';
import type { Selector } from '../core/mango/index.js';
import {
  type DesignFilterName,
  designFilter,
  parseDesignFilter,
  type RevisionFilter,
  selectorFilter,
} from './change-filters.js';
import type { WriteNotifier } from './notifier.js';
import type { DocReader } from './reader.js';

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
  /**
   * With a filter function: the rest of the request object it gets as `req` (CouchDB's
   * `userCtx`, `headers`, `method`, `path`, `info`…), which the server builds from the HTTP
   * request. `req.query` is always `query_params` (`{}` without).
   */
  filter_req?: FilterReq;
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
  /**
   * The documents after `since` that may match a selector, from an index that serves it, or
   * `undefined` to read every change (see `queries/selector-changes.ts`).
   */
  selectorChanges?(selector: Selector, since: number, allLeaves: boolean): Promise<IndexChanges | undefined>;
}

/**
 * A changes feed: an async iterable of rows, each document once at its latest sequence. It
 * reads storage a page at a time, so any database streams in flat memory; in live mode it then
 * waits for writes and goes on. `lastSeq` tells where it got to (what `last_seq` reports).
 * Iterating it again goes on from there.
 *
 * A design filter (`filter`, `view`) is read from the design document once, when the feed
 * starts: a live feed keeps the function it started with, as CouchDB's does (its
 * couch_changes:configure_filter opens the design document once per request).
 */
export class ChangesFeed implements AsyncIterable<ChangeRow<number>> {
  lastSeq: number;
  private readonly docIds: Set<string> | undefined;
  private readonly designFilterName: DesignFilterName | undefined;
  private revisionFilter: Promise<RevisionFilter | undefined> | undefined;

  constructor(
    private readonly source: FeedSource,
    private readonly options: ChangesFeedOptions,
  ) {
    this.lastSeq = parseSince(options.since, source.updateSeq());
    this.docIds = options.doc_ids && new Set(options.doc_ids);
    if (options.limit !== undefined && (!Number.isInteger(options.limit) || options.limit < 0)) {
      throw badRequest('limit must be a non-negative integer');
    }
    if (options.filter !== undefined) {
      if (options.selector !== undefined || options.doc_ids !== undefined) {
        throw badRequest('`selector`, `filter` and `doc_ids` are mutually exclusive');
      }
      this.designFilterName = parseDesignFilter(options.filter, options.view);
    }
    // Compiled now, so that a bad selector is a 400 before anything is read or sent.
    if (options.selector !== undefined)
      this.revisionFilter = Promise.resolve(selectorFilter(options.selector));
  }

  /**
   * Opens the design filter, if any: a missing design document or function is a `not_found`.
   * Iterating does it too; the server calls it first, to answer 404 rather than a broken 200.
   */
  async prepare(): Promise<void> {
    await this.filter();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<ChangeRow<number>> {
    const { options, source } = this;
    const filter = await this.filter();
    let remaining = options.limit ?? Number.POSITIVE_INFINITY;
    const filtered = filter !== undefined || this.docIds !== undefined || options.conflicts_only === true;
    const indexed = await this.indexedCandidates();
    if (indexed) {
      for await (const row of this.pageRows(indexed.docs, filter)) {
        yield row;
        if (--remaining === 0 || options.signal?.aborted) return;
      }
      // Every change up to the index's sequence that could match has been read: go on from there.
      this.lastSeq = Math.max(this.lastSeq, indexed.asOf);
    }
    while (remaining > 0) {
      const scan = source.storage.changes({
        since: this.lastSeq,
        descending: options.descending,
        limit: filtered ? undefined : remaining,
        withContent: options.include_docs || filter !== undefined,
      });
      for await (const row of this.pageRows(scan, filter)) {
        yield row;
        if (--remaining === 0 || options.signal?.aborted) return;
      }
      if (!options.live || options.descending || options.signal?.aborted) return;
      if (source.updateSeq() <= this.lastSeq) await source.notifier.next(options.signal);
      if (options.signal?.aborted) return;
    }
  }

  /** The rows of scanned pages that pass; `lastSeq` follows every document read, passing or not. */
  private async *pageRows(
    pages: AsyncIterable<ScannedDoc[]>,
    filter: RevisionFilter | undefined,
  ): AsyncGenerator<ChangeRow<number>> {
    for await (const page of pages) {
      const rows = await this.rowsOf(page, filter);
      for (const [i, scanned] of page.entries()) {
        this.lastSeq = scanned.seq;
        const row = rows[i];
        if (row) yield row;
      }
    }
  }

  /**
   * With a selector, the documents an index names as possible matches, instead of every change
   * (a plain ascending read of the changes: `doc_ids` and `conflicts_only` read them all).
   */
  private async indexedCandidates(): Promise<IndexChanges | undefined> {
    const { options, source } = this;
    if (options.selector === undefined || !source.selectorChanges) return undefined;
    if (options.descending || this.docIds || options.conflicts_only) return undefined;
    return source.selectorChanges(options.selector, this.lastSeq, options.style === 'all_docs');
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

  /** The selector's or design function's filter, opened once per feed. */
  private filter(): Promise<RevisionFilter | undefined> {
    this.revisionFilter ??= this.openDesignFilter();
    return this.revisionFilter;
  }

  private async openDesignFilter(): Promise<RevisionFilter | undefined> {
    if (!this.designFilterName) return undefined;
    const req = { ...this.options.filter_req, query: this.options.query_params ?? {} };
    const designDocs = await this.source.designDocs();
    return designFilter(this.designFilterName, designDocs, this.source.design(), req);
  }

  /** A page's rows, one per scanned document, undefined where filtered out. */
  private async rowsOf(
    page: readonly ScannedDoc[],
    filter: RevisionFilter | undefined,
  ): Promise<(ChangeRow<number> | undefined)[]> {
    const candidates = page.map((scanned) => this.candidateRevs(scanned));
    const passing = filter ? await this.passingRevs(page, candidates, filter) : candidates;
    return Promise.all(
      page.map((scanned, i) => {
        const revs = passing[i];
        return revs && revs.length > 0 ? this.withDoc(scanned, revs) : undefined;
      }),
    );
  }

  /** The revisions a row would list, before any content filter; none when filtered out already. */
  private candidateRevs(scanned: ScannedDoc): string[] | undefined {
    if (this.docIds && !this.docIds.has(scanned.id)) return undefined;
    if (this.options.conflicts_only && !isConflicted(scanned)) return undefined;
    return this.options.style === 'all_docs' ? scanned.leaves.map((leaf) => leaf.rev) : [scanned.winner];
  }

  /**
   * With a filter, a row lists only the revisions that pass it (CouchDB's filter_revs): every
   * candidate revision of the page is judged in one call.
   */
  private async passingRevs(
    page: readonly ScannedDoc[],
    candidates: readonly (string[] | undefined)[],
    filter: RevisionFilter,
  ): Promise<string[][]> {
    const docs = await Promise.all(
      page.map((scanned, i) => (candidates[i] ? this.revisionDocs(scanned, candidates[i]) : [])),
    );
    const verdicts = await filter.test(docs.flat());
    let next = 0;
    return docs.map((revisionDocs) =>
      revisionDocs.filter(() => verdicts[next++] === true).map((doc) => doc._rev),
    );
  }

  /**
   * The revisions as a filter sees them, as CouchDB opens them for one (couch_changes:open_revs,
   * `[deleted, conflicts]`): a tombstone is its body with `_deleted: true`, attachments are
   * stubs, the winner lists `_conflicts`. A revision whose body is gone is left out.
   */
  private async revisionDocs(scanned: ScannedDoc, revs: string[]): Promise<Doc[]> {
    const contents =
      revs.length === 1 && revs[0] === scanned.winner && scanned.content
        ? [scanned.content]
        : await this.source.storage.getRevisions(scanned.id, revs);
    return revs.flatMap((rev, i) => {
      const content = contents[i];
      return content
        ? [this.source.reader.build(scanned, scanned.id, rev, content, { conflicts: true })]
        : [];
    });
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
