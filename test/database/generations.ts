import fs from 'node:fs';
import path from 'node:path';
import type { Database } from '../../src/database/database.js';

/** How many documents, edited how many times, with bodies of about how many bytes. */
export interface Generations {
  docs: number;
  generations: number;
  bodyBytes: number;
}

/**
 * Writes `generations` revisions of each of `docs` documents (`d0`, `d1`, …), in batches, as an
 * application editing its documents over time would: every edit leaves the previous body for
 * compaction to reclaim. Returns each document's latest revision.
 */
export async function writeGenerations(db: Database, shape: Generations): Promise<string[]> {
  const pad = 'x'.repeat(shape.bodyBytes);
  const revs: string[] = [];
  const batch = 1000;
  for (let generation = 1; generation <= shape.generations; generation++) {
    for (let first = 0; first < shape.docs; first += batch) {
      const ids = Array.from({ length: Math.min(batch, shape.docs - first) }, (_, k) => first + k);
      const docs = ids.map((i) => ({ _id: `d${i}`, ...(revs[i] ? { _rev: revs[i] } : {}), generation, pad }));
      const results = await db.bulkDocs(docs);
      results.forEach((result, k) => {
        if (!('rev' in result) || result.rev === undefined) throw new Error(`d${first + k} was not written`);
        revs[first + k] = result.rev;
      });
    }
  }
  return revs;
}

/** Bytes on disk of a SQLite database's files (`{file}*`: the file, its write-ahead log, journals). */
export function sqliteFilesSize(file: string): number {
  const dir = path.dirname(file);
  return fs
    .readdirSync(dir)
    .filter((name) => name.startsWith(path.basename(file)))
    .reduce((sum, name) => sum + fs.statSync(path.join(dir, name)).size, 0);
}
