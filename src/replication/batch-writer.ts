import type { Doc, NewDoc, Peer, WriteError, WriteResult } from '../core/api.js';
import { SetteeError } from '../core/errors.js';
import { fetchRevisions } from './batch-pipeline.js';
import type { ReplicationEvents, ReplicationProgress } from './types.js';

/** What the writer tells the replication about. */
export interface WriterHooks {
  /** A revision landed on the target. */
  written(id: string, rev: string): void;
  /** The target refused a revision (forbidden, unauthorized). */
  denied(event: ReplicationEvents['denied']): void;
}

/** HTTP's "Payload Too Large": the target takes the batch in smaller pieces. */
const TOO_LARGE = 413;

/**
 * The writing half of a replication: fetched revisions into the target with `new_edits=false`,
 * counted in the progress (`docs_written`, `doc_write_failures`). A batch too large for the
 * target is split in halves; a document refused for an attachment stub the target lacks is
 * fetched again with its attachments' data and written once more.
 */
export class BatchWriter {
  constructor(
    private readonly source: Peer,
    private readonly target: Peer,
    private readonly progress: ReplicationProgress,
    private readonly hooks: WriterHooks,
    /** Refetched revisions come as their leaves when they are no longer leaves (`fetchesLatest`). */
    private readonly latest = true,
  ) {}

  async write(docs: Doc[]): Promise<void> {
    const stubless = await this.send(docs, true);
    if (stubless.length === 0) return;
    const entries = stubless.map((doc) => ({ id: doc._id, rev: doc._rev }));
    await this.send(await fetchRevisions(this.source, entries, true, this.latest), false);
  }

  /** Writes docs; returns those refused for a missing attachment stub (when `retryStubs`). */
  private async send(docs: Doc[], retryStubs: boolean): Promise<Doc[]> {
    if (docs.length === 0) return [];
    let results: WriteResult[];
    try {
      results = await this.target.bulkDocs(docs as NewDoc[], { newEdits: false });
    } catch (error) {
      if (!(error instanceof SetteeError) || error.status !== TOO_LARGE) throw error;
      if (docs.length === 1) {
        this.progress.doc_write_failures++;
        return [];
      }
      const half = Math.ceil(docs.length / 2);
      return [
        ...(await this.send(docs.slice(0, half), retryStubs)),
        ...(await this.send(docs.slice(half), retryStubs)),
      ];
    }
    return this.account(docs, results, retryStubs);
  }

  private account(docs: Doc[], results: WriteResult[], retryStubs: boolean): Doc[] {
    const failed = new Map<string, WriteError>();
    for (const result of results)
      if ('error' in result) failed.set(`${result.id}\n${result.rev ?? ''}`, result);
    const retry: Doc[] = [];
    for (const doc of docs) {
      const failure = failed.get(`${doc._id}\n${doc._rev}`) ?? failed.get(`${doc._id}\n`);
      if (!failure) {
        this.progress.docs_written++;
        this.hooks.written(doc._id, doc._rev);
      } else if (failure.error === 'missing_stub' && retryStubs) {
        retry.push(doc);
      } else {
        this.progress.doc_write_failures++;
        if (failure.error === 'forbidden' || failure.error === 'unauthorized') {
          this.hooks.denied({ id: doc._id, rev: doc._rev, error: failure.error, reason: failure.reason });
        }
      }
    }
    return retry;
  }
}
