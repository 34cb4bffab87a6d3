import type { ChangesResponse, Seq } from '../core/api.js';

/**
 * Reads pages of changes ahead of the writer, at most `depth` pages beyond the one being
 * written (PouchDB's `batches_limit`). Each read starts at the previous page's `last_seq`, so
 * the reads form a chain with one request in flight at a time; after an empty page (caught up)
 * the chain reads nothing more until `restart`.
 */
export class ChangesReader {
  private queue: Promise<ChangesResponse>[] = [];

  constructor(
    private readonly read: (since: Seq, longpoll: boolean) => Promise<ChangesResponse>,
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
      last = handled(last.then((p) => (p.results.length === 0 ? p : this.read(p.last_seq, false))));
      this.queue.push(last);
    }
    return page;
  }
}

/** A page read ahead may fail before anyone awaits it: that is reported when it is awaited. */
function handled<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => undefined);
  return promise;
}
