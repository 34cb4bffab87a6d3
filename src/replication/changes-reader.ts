import type { ChangesResponse, Seq } from '../core/api.js';

/** What to do after a page: read on, wait for changes (a longpoll), or stop here (caught up). */
export type Continuation = 'read' | 'longpoll' | 'end';

/**
 * Reads pages of changes ahead of the writer, at most `depth` pages beyond the one being
 * written (PouchDB's `batches_limit`). Each read starts at the previous page's `last_seq`, so
 * the reads form a chain with one request in flight at a time. `after` decides how the chain
 * goes on from a page: a short page means the source was caught up, so the next read can be a
 * longpoll (live) or need not happen at all (one-shot: the chain yields an empty page instead).
 * After an empty page the chain reads nothing more until `restart`.
 */
export class ChangesReader {
  private queue: Promise<ChangesResponse>[] = [];

  constructor(
    private readonly read: (since: Seq, longpoll: boolean) => Promise<ChangesResponse>,
    private readonly after: (page: ChangesResponse) => Continuation,
    private readonly depth: number,
  ) {}

  /** Drops what was read ahead and starts a new chain at `since`. */
  restart(since: Seq, longpoll: boolean): void {
    this.queue = [handled(this.read(since, longpoll))];
  }

  /** The next page; reading ahead continues behind it. */
  next(): Promise<ChangesResponse> {
    const page = this.queue.shift();
    if (!page) throw new Error('ChangesReader.next() before restart()');
    for (let last = this.queue.at(-1) ?? page; this.queue.length < this.depth;) {
      last = handled(last.then((previous) => this.continueAfter(previous)));
      this.queue.push(last);
    }
    return page;
  }

  /** The page `next` will return, if it has been asked for, without taking it. */
  peek(): Promise<ChangesResponse> | undefined {
    return this.queue[0];
  }

  private continueAfter(page: ChangesResponse): Promise<ChangesResponse> | ChangesResponse {
    if (page.results.length === 0) return page;
    const how = this.after(page);
    if (how === 'end') return { results: [], last_seq: page.last_seq, pending: 0 };
    return this.read(page.last_seq, how === 'longpoll');
  }
}

/** A promise awaited later (a page read ahead…): its failure is reported then, not as an unhandled rejection. */
export function handled<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => undefined);
  return promise;
}
