import type { ChangeRow, ChangesResponse, Doc, Peer, Seq } from '../core/api.js';
import { ChangesReader, handled } from './changes-reader.js';
import type { ReplicationOptions, ReplicationProgress } from './types.js';

/** A page of changes and the revisions of it that the target lacked, fetched from the source. */
export interface Batch {
  page: ChangesResponse;
  docs: Doc[];
}

/** A revision to fetch, with the revisions whose attachments the target already holds. */
export interface RevisionToFetch {
  id: string;
  rev: string;
  atts_since?: string[];
}

/**
 * Without a `batch_size`, batches start at PouchDB's 100 (a small sync shows progress at once)
 * and double while the source's pages come full, up to CouchDB's `worker_batch_size` default of
 * 500 (couch_replicator_parse.erl, `default_options`): a large copy then costs a fifth of the
 * requests, transactions and per-request work on both sides.
 */
const FIRST_BATCH_SIZE = 100;
const GROWN_BATCH_SIZE = 500;
const DEFAULT_BATCHES_AHEAD = 10;
const DEFAULT_HEARTBEAT_TIMEOUT = 25_000;

/**
 * The reading half of a replication: pages of changes read ahead of the writer (up to
 * `batches_limit`), and the documents of the next page asked for while the current one is
 * written, so that the source gathers them meanwhile. Each page's documents are the revisions
 * the target lacks (`_revs_diff`), fetched with `_bulk_get`.
 */
export class BatchPipeline {
  /**
   * Leave tombstones out (`skip_deleted_on_first_pull` from 0): until a live run first catches
   * up, and for the whole of a one-shot run.
   */
  skipDeleted = false;
  /** The `limit` of the next read of changes. */
  private batchSize: number;
  private readonly grows: boolean;
  /** The `limit` each page was read with: a page is full when it has that many rows. */
  private readonly limits = new WeakMap<ChangesResponse, number>();
  private readonly reader: ChangesReader;
  /** The documents of the page after the last one taken, asked for ahead. */
  private prefetched: Promise<{ page: ChangesResponse; docs: Promise<Doc[]> } | undefined> | undefined;
  /** The last page was empty: the reader reads nothing more until restarted. */
  private ended = false;

  constructor(
    private readonly source: Peer,
    private readonly target: Peer,
    private readonly options: ReplicationOptions,
    private readonly progress: ReplicationProgress,
    private readonly signal: AbortSignal,
  ) {
    this.batchSize = options.batch_size ?? FIRST_BATCH_SIZE;
    this.grows = options.batch_size === undefined;
    // A short page means the source had nothing more: a one-shot run is done without asking
    // again, a live one goes straight to waiting for the next change.
    this.reader = new ChangesReader(
      (since, longpoll) => this.readChanges(since, longpoll),
      (page) => (this.isFull(page) ? 'read' : options.live ? 'longpoll' : 'end'),
      options.batches_limit ?? DEFAULT_BATCHES_AHEAD,
    );
  }

  /** Starts reading at `since`. */
  start(since: Seq): void {
    this.skipDeleted = this.options.skip_deleted_on_first_pull === true && since === 0;
    this.reader.restart(since, false);
  }

  /** After an empty page nothing more is read: wait (a longpoll) for the next change after `since`. */
  listen(since: Seq): void {
    if (this.ended) this.reader.restart(since, true);
    this.ended = false;
  }

  /** The next page of changes (empty: the source had nothing more). */
  async nextPage(): Promise<ChangesResponse> {
    const page = await this.reader.next();
    this.ended = page.results.length === 0;
    return page;
  }

  /** Whether the source had more changes than fitted in this page. */
  isFull(page: ChangesResponse): boolean {
    return page.results.length >= (this.limits.get(page) ?? this.batchSize);
  }

  /**
   * The documents of `page` that the target lacks, then the next page's asked for: after a full
   * page the next one is a plain read, likely in already. (A short page's successor is a
   * longpoll: nothing to overlap.)
   */
  async docsOf(page: ChangesResponse): Promise<Doc[]> {
    const ahead = await this.prefetched;
    const docs = await (ahead?.page === page ? ahead.docs : this.missingDocs(page));
    const upcoming = this.isFull(page) ? this.reader.peek() : undefined;
    this.prefetched = upcoming?.then(
      (next) => ({ page: next, docs: handled(this.missingDocs(next)) }),
      () => undefined,
    );
    return docs;
  }

  private async readChanges(since: Seq, longpoll: boolean): Promise<ChangesResponse> {
    const limit = this.batchSize;
    const page = await this.readPage(since, longpoll, limit);
    this.limits.set(page, limit);
    // Pages are read one after another: the next one is asked for after this one came.
    if (this.grows && page.results.length >= limit) this.batchSize = Math.min(GROWN_BATCH_SIZE, limit * 2);
    return page;
  }

  private readPage(since: Seq, longpoll: boolean, limit: number): Promise<ChangesResponse> {
    const { doc_ids, selector, filter, view, query_params, heartbeat_timeout } = this.options;
    return this.source.changes({
      since,
      limit,
      // Every leaf, as replicators read; only the winner with `winning_revs_only`, the one change
      // CouchDB makes for it (apache/couchdb#4095): revs_diff, bulk_get and writes stay the same.
      style: this.options.winning_revs_only ? 'main_only' : 'all_docs',
      ...(doc_ids ? { doc_ids: [...doc_ids] } : {}),
      ...(selector ? { selector } : {}),
      // The source applies a design filter; the target never sees what it leaves out.
      ...(filter !== undefined ? { filter, view, query_params } : {}),
      ...(longpoll ? { longpoll: true, timeout: heartbeat_timeout ?? DEFAULT_HEARTBEAT_TIMEOUT } : {}),
      signal: this.signal,
    });
  }

  /** The revisions of a page that the target lacks, fetched from the source. */
  private async missingDocs(page: ChangesResponse): Promise<Doc[]> {
    const wanted = this.revisionsToOffer(page.results);
    if (Object.keys(wanted).length === 0) return [];
    const diff = await this.target.revsDiff(wanted);
    const entries = Object.entries(diff).flatMap(([id, { missing, possible_ancestors }]) =>
      missing.map((rev) => ({ id, rev, atts_since: possible_ancestors ?? [] })),
    );
    if (entries.length === 0) return [];
    // Attachments inline, but only those newer than what the target holds (atts_since), as
    // CouchDB's replicator asks: stubs alone cost a refused write and a second fetch for every
    // new attachment from servers that honour atts_since only together with attachments=true.
    const docs = await fetchRevisions(this.source, entries, true, fetchesLatest(this.options));
    this.progress.docs_read += docs.length;
    return docs;
  }

  private revisionsToOffer(rows: ChangeRow[]): Record<string, string[]> {
    const known = this.options.knownOnTarget;
    const wanted: Record<string, string[]> = {};
    for (const row of rows) {
      if (this.skipDeleted && row.deleted) continue;
      const revs = row.changes.map((change) => change.rev).filter((rev) => !known?.(row.id, rev));
      if (revs.length > 0) wanted[row.id] = revs;
    }
    return wanted;
  }
}

/**
 * Fetches revisions with their ancestry (`revs`), each replaced by its leaves when it is no
 * longer one (`latest`). A revision gone since the changes were read is left out: its leaf comes
 * with it, or with a later change.
 */
export async function fetchRevisions(
  source: Peer,
  entries: RevisionToFetch[],
  attachments: boolean,
  latest = true,
): Promise<Doc[]> {
  const response = await source.bulkGet({ docs: entries }, { revs: true, latest, attachments });
  const seen = new Set<string>();
  const docs: Doc[] = [];
  for (const result of response.results) {
    for (const found of result.docs) {
      if (!('ok' in found)) continue;
      const key = `${found.ok._id}\n${found.ok._rev}`;
      if (seen.has(key)) continue;
      seen.add(key);
      docs.push(found.ok);
    }
  }
  return docs;
}

/**
 * Whether revisions are fetched `latest`. Not when only winners replicate: a winner that was
 * edited since the changes were read would bring every leaf descended from it, conflicts
 * included (CouchDB's replicator asks `latest` all the same); the new winner comes with the
 * document's next change instead.
 */
export function fetchesLatest(options: ReplicationOptions): boolean {
  return options.winning_revs_only !== true;
}
