/** Something a live response emits while idle, so that clients and proxies keep it open. */
export const HEARTBEAT = Symbol('heartbeat');

/**
 * Re-emits `source`, inserting HEARTBEAT whenever it has been idle for `heartbeatMs`; without
 * a heartbeat, calls `onIdleTimeout` once it has been idle for `timeoutMs` (the caller then
 * ends the source, which ends this stream).
 */
export async function* withHeartbeats<T>(
  source: AsyncIterable<T>,
  heartbeatMs: number | undefined,
  timeoutMs: number,
  onIdleTimeout: () => void,
): AsyncGenerator<T | typeof HEARTBEAT> {
  const iterator = source[Symbol.asyncIterator]();
  let next = iterator.next();
  let timer: NodeJS.Timeout | undefined;
  try {
    for (;;) {
      const idle = new Promise<typeof HEARTBEAT>((resolve) => {
        timer = setTimeout(() => resolve(HEARTBEAT), heartbeatMs ?? timeoutMs);
      });
      const result = await Promise.race([next, idle]);
      clearTimeout(timer);
      if (result === HEARTBEAT) {
        if (heartbeatMs !== undefined) yield HEARTBEAT;
        else onIdleTimeout();
        continue;
      }
      if (result.done) return;
      yield result.value;
      next = iterator.next();
    }
  } finally {
    clearTimeout(timer);
    await iterator.return?.();
  }
}

/** What a changes feed's closing line reports. */
export interface FeedEnd {
  last_seq: number;
  pending: number;
}

/**
 * The closing line of a changes feed: where it got to, and how many changes lie beyond. A feed
 * whose database was deleted (`deleted` aborted, by this server or another) ends with nothing
 * pending, without reading the database that is gone, so that its client gets a whole answer
 * rather than a cut connection. CouchDB ends it so too: its update listener stops on the
 * `deleted` event (`handle_db_event` in src/fabric/src/fabric_db_update_listener.erl), and
 * `keep_sending_changes` (src/fabric/src/fabric_view_changes.erl) then calls back
 * `{stop, LastSeq, Pending}`, the closing line of every feed style.
 */
export async function feedEnd(
  feed: { readonly lastSeq: number; pending(): Promise<number> },
  deleted: AbortSignal,
): Promise<FeedEnd> {
  if (deleted.aborted) return { last_seq: feed.lastSeq, pending: 0 };
  try {
    return { last_seq: feed.lastSeq, pending: await feed.pending() };
  } catch (error) {
    // Deleted while being counted.
    if (deleted.aborted) return { last_seq: feed.lastSeq, pending: 0 };
    throw error;
  }
}
