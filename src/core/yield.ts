/**
 * A macrotask boundary: what waits for I/O (a request, a timer) runs before the caller goes on.
 * setImmediate in Node; a zero timeout in browsers, which have none.
 */
export function yieldToEventLoop(): Promise<void> {
  const immediate = (globalThis as { setImmediate?: (callback: () => void) => unknown }).setImmediate;
  return new Promise((resolve) => (immediate ? immediate(resolve) : setTimeout(resolve, 0)));
}
