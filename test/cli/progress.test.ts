/**
 * Progress of a 20,000-document replication between real SQLite files: the tracker's
 * percentage rises with every batch written and reaches 100 at the last one (it stayed at 0
 * while the replicator read 10 pages ahead of a tracker that kept 8), and the command's plain
 * lines show each tenth once, in order, the 100% line just before the summary.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Database } from '../../src/database/database.js';
import { trackedReplication } from '../../src/replication/progress.js';
import { docsOf, localFile, settee } from './helpers.js';

const DOCS = 20_000;
let dir: string;
let source: string;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'settee-progress-'));
  source = await localFile(path.join(dir, 'source.sqlite'), docsOf('d', DOCS));
}, 120_000);

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('replication progress', { timeout: 180_000 }, () => {
  it('rises batch by batch with the documents written and reaches 100% at the last batch', async () => {
    const [from, to] = await Promise.all([
      Database.open(source),
      Database.open(path.join(dir, 'tracked.sqlite')),
    ]);
    try {
      // Batches of 100 throughout (by default they grow to 500): 200 of them.
      const { replication, tracker } = trackedReplication(from, to, { batch_size: 100 });
      const seen: { percent: number | undefined; written: number }[] = [];
      replication.on('change', (progress) => {
        seen.push({ percent: tracker.percent(progress), written: progress.docs_written });
      });
      const result = await replication.done;
      expect(result.docs_written).toBe(DOCS);
      expect(seen.length).toBe(DOCS / 100);
      // Each document is one change row: the percentage is the share written, batch by batch.
      for (const { percent, written } of seen) expect(percent).toBe(Math.floor((100 * written) / DOCS));
      expect(seen.filter(({ percent }) => percent === 100)).toEqual([seen[seen.length - 1]]);
      expect(tracker.percent(replication.progress)).toBe(100);
    } finally {
      await Promise.all([from.close(), to.close()]);
    }
  });

  it('prints a line at each tenth when piped, once each, 100% last before the summary', async () => {
    const run = await settee('replicate', source, path.join(dir, 'copy.sqlite'), '--create-target');
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const lines = run.stdout.trimEnd().split('\n');
    const percents = lines.flatMap((line) => {
      const match = /\((\d+)%\)$/.exec(line);
      return match ? [Number(match[1])] : [];
    });
    // Batches of up to 500 (2.5%): each tenth is crossed by a batch of its own, shown once, by the
    // first line at or past it.
    expect(percents.map((percent) => Math.floor(percent / 10))).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(percents.at(-1)).toBe(100);
    expect(lines.at(-2)).toMatch(
      /^replicate: read 20000, written 20000, failures 0, pending 0, \d+ docs\/s \(100%\)$/,
    );
    expect(lines.at(-1)).toMatch(
      /^replicate: replication complete: 20000 docs read, 20000 written, 0 failures in/,
    );
  });
});
