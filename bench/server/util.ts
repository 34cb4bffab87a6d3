/** Small bounded-wait and timing helpers of the server and replication benchmarks. */
import { setTimeout as sleep } from 'node:timers/promises';

export { sleep };

/** `promise`, or a rejection after `ms` (calling `onTimeout` first, e.g. to cancel the work). */
export async function withTimeout<T>(
  promise: PromiseLike<T>,
  ms: number,
  what: string,
  onTimeout?: () => void,
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => {
      try {
        onTimeout?.();
      } finally {
        reject(new Error(`${what} did not finish within ${Math.round(ms / 1000)} s`));
      }
    }, ms);
  });
  try {
    return await Promise.race([Promise.resolve(promise), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** A generous bound for a replication of `docs` documents (even at 200 docs/s). */
export function boundFor(docs: number): number {
  return 60_000 + docs * 5;
}

/** Polls `check` every `everyMs` until it is true; false if `ms` passed first. */
export async function waitFor(check: () => boolean, ms: number, everyMs = 5): Promise<boolean> {
  const deadline = performance.now() + ms;
  while (!check()) {
    if (performance.now() > deadline) return false;
    await sleep(everyMs);
  }
  return true;
}

/** Nearest-rank percentile (p in 0..100) of the values; NaN for none. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

/** Wall-clock milliseconds with sub-millisecond resolution, comparable across handles. */
export function now(): number {
  return performance.timeOrigin + performance.now();
}
