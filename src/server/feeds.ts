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
