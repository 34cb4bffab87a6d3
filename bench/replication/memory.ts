/**
 * Is memory flat in the number of documents? An untimed Settee replication that stops at every
 * tenth of the documents (inside its `change` event, so nothing moves meanwhile), collects this
 * process's garbage and records what JS still holds (heap, external buffers) and its RSS beside
 * the server's RSS. Timed phases cannot tell: without a collection, their RSS is mostly garbage
 * not yet collected. RSS stays informative only: the allocator keeps freed memory, SQLite's page
 * cache fills up to its bound, and the server cannot be made to collect its garbage.
 */
import type { Database } from '../../src/database/database.js';
import type { RemoteDatabase } from '../../src/remote/index.js';
import { replicate } from '../../src/replication/index.js';
import { gc, median } from '../lib.js';
import type { ServerProcess } from '../server/servers.js';
import { boundFor, withTimeout } from '../server/util.js';

export interface MemoryPoint {
  docs: number;
  /** This process's V8 heap in use after a full collection, MB. */
  heapMB: number;
  /** Memory outside the heap that JS objects hold (Buffers, ArrayBuffers) after it, MB. */
  externalMB: number;
  /** This process's RSS after that collection (SQLite's page cache included), MB. */
  rssMB: number;
  serverRssMB: number;
}

export interface MemoryProbe {
  phase: string;
  batch: number;
  points: MemoryPoint[];
  /**
   * Robust slopes (Theil–Sen: the median of the slopes between every two readings), in MB per
   * 10,000 documents, from the second reading on (by then SQLite's page caches are full). One
   * reading disturbed by something else in the process does not move them.
   */
  slopes: { js: number; rss: number; serverRss: number };
  /** JSON bytes of 10,000 documents, MB: the slope of a replicator that kept them. */
  docsPer10kMB: number;
}

const READINGS = 10;

export async function memoryProbe(
  server: ServerProcess,
  phase: string,
  source: RemoteDatabase | Database,
  target: RemoteDatabase | Database,
  n: number,
  batch: number,
  docBytes: number,
): Promise<MemoryProbe> {
  const points: MemoryPoint[] = [];
  const record = (docs: number) => {
    gc();
    const { heapUsed, external, rss } = process.memoryUsage();
    points.push({
      docs,
      heapMB: heapUsed / 2 ** 20,
      externalMB: external / 2 ** 20,
      rssMB: rss / 2 ** 20,
      serverRssMB: server.memory().rssMB,
    });
  };
  const step = Math.ceil(n / READINGS);
  let next = step;
  const replication = replicate(source, target, { batch_size: batch });
  replication.on('change', (progress) => {
    if (progress.docs_written >= next) {
      record(progress.docs_written);
      next += step;
    }
  });
  const result = await withTimeout(replication.done, boundFor(n), `memory probe ${phase}`, () =>
    replication.cancel(),
  );
  if (result.docs_written !== n) {
    throw new Error(`memory probe ${phase}: ${result.docs_written} of ${n} written`);
  }
  if (points.at(-1)?.docs !== n) record(n);
  const settled = points.slice(1);
  const slope = (get: (p: MemoryPoint) => number) => theilSen(settled, get) * 10_000;
  return {
    phase,
    batch,
    points,
    slopes: {
      js: slope((p) => p.heapMB + p.externalMB),
      rss: slope((p) => p.rssMB),
      serverRss: slope((p) => p.serverRssMB),
    },
    docsPer10kMB: (10_000 * docBytes) / 2 ** 20,
  };
}

/** The median of the slopes (MB per document) between every two readings. */
function theilSen(points: MemoryPoint[], get: (p: MemoryPoint) => number): number {
  const slopes: number[] = [];
  for (let i = 0; i < points.length; i++) {
    for (let j = i + 1; j < points.length; j++) {
      const dx = points[j]!.docs - points[i]!.docs;
      if (dx > 0) slopes.push((get(points[j]!) - get(points[i]!)) / dx);
    }
  }
  return slopes.length === 0 ? Number.NaN : median(slopes);
}
