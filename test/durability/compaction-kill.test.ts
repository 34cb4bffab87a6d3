import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Database } from '../../src/database/database.js';
import { revisionHistory, runUntilKilled } from './child.js';
import { mulberry32 } from '../faults/fault-proxy.js';

const CHILD = join(import.meta.dirname, 'compaction-child.ts');
const ROUNDS = 6;
/** Fixed, so that a failure replays with the same kill points. */
const SEED = 0x5e77ee;
const folders: string[] = [];

afterEach(() => {
  for (const folder of folders.splice(0)) rmSync(folder, { recursive: true, force: true });
});

interface Acked {
  rev: string;
  n: number;
}

interface Round {
  /** The last acknowledged write of each document. */
  acked: Map<string, Acked>;
  /** The highest write number acknowledged: the next round writes above it. */
  lastN: number;
  /** The compaction's progress (in percent) at the kill. */
  killedAt: number;
}

/**
 * Runs the writer until a compaction has reached `atPercent` of its steps, and kills it there with
 * SIGKILL: the rest of that compaction, and the writes that go on meanwhile, are cut off.
 */
async function killDuringCompaction(path: string, firstN: number, atPercent: number): Promise<Round> {
  const round: Round = { acked: new Map(), lastN: firstN, killedAt: -1 };
  await runUntilKilled(CHILD, [path, String(firstN)], (line, kill) => {
    const [kind, a, b, c] = line.split(' ');
    if (kind === 'ack') {
      round.acked.set(a!, { rev: b!, n: Number(c) });
      round.lastN = Math.max(round.lastN, Number(c));
    } else if (kind === 'progress' && round.killedAt < 0 && Number(a) >= atPercent) {
      round.killedAt = Number(a);
      kill();
    }
  });
  return round;
}

/** Every acknowledged write is there with its body and attachment, or a later write of it is. */
async function expectAcknowledgedWrites(db: Database, acked: Map<string, Acked>): Promise<void> {
  for (const [id, { rev, n }] of acked) {
    const doc = await db.get<{ n: number; filler: string }>(id, { revs: true });
    // The writer may have committed more after its last acknowledged line, never less.
    expect(revisionHistory(doc)).toContain(rev);
    expect(doc.n).toBeGreaterThanOrEqual(n);
    if (doc._rev === rev) expect(doc.n).toBe(n);
    expect(doc.filler).toHaveLength(2000);
    expect(doc.filler.startsWith(`${doc.n}:`)).toBe(true);
    const attachment = await db.getAttachment(id, 'a.txt');
    expect(Buffer.from(attachment.data).toString()).toBe(`attachment of ${doc.n}`);
  }
}

/** `_changes` from 0 lists each document once, at its winning revision, in sequence order, to update_seq. */
async function expectConsistentChanges(db: Database): Promise<void> {
  const { results, last_seq } = await db.changes({ since: 0 });
  const info = await db.info();
  expect(last_seq).toBe(info.update_seq);
  expect(results).toHaveLength(info.doc_count + info.doc_del_count);
  expect(new Set(results.map((r) => r.id)).size).toBe(results.length);
  const seqs = results.map((r) => Number(r.seq));
  expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
  expect(Math.max(...seqs)).toBe(Number(info.update_seq));
  for (const row of results) expect(row.changes[0]!.rev).toBe((await db.get(row.id))._rev);
}

/** Only the database's own files: an interrupted compaction leaves nothing of its own behind. */
function expectOnlyDatabaseFiles(folder: string): void {
  for (const file of readdirSync(folder)) expect(file).toMatch(/^db\.sqlite(-wal|-shm|-journal)?$/);
}

describe('kill -9 during compaction', () => {
  it(`loses no acknowledged write and leaves a database that opens (${ROUNDS} seeded rounds)`, async () => {
    const folder = mkdtempSync(join(tmpdir(), 'settee-compaction-kill-'));
    folders.push(folder);
    const path = join(folder, 'db.sqlite');
    const random = mulberry32(SEED);
    const acked = new Map<string, Acked>();
    let nextN = 0;
    const killedAt: number[] = [];

    for (let round = 0; round < ROUNDS; round++) {
      const result = await killDuringCompaction(path, nextN, Math.floor(random() * 95));
      for (const [id, write] of result.acked) acked.set(id, write);
      nextN = result.lastN + 1_000_000;
      killedAt.push(result.killedAt);

      expectOnlyDatabaseFiles(folder);
      const db = await Database.open(path);
      try {
        await expectAcknowledgedWrites(db, acked);
        await expectConsistentChanges(db);
      } finally {
        await db.close();
      }
    }
    // Each round was cut short inside a compaction (a progress line came, and the kill with it).
    expect(killedAt.every((percent) => percent >= 0)).toBe(true);

    // What the killed compactions left undone, a whole compaction does: the file shrinks to its data.
    const db = await Database.open(path);
    try {
      await db.compact();
      const { sizes } = await db.info();
      expect(sizes.file).toBeLessThan(2 * sizes.active + 4 * 1024 * 1024);
      await expectAcknowledgedWrites(db, acked);
      await expectConsistentChanges(db);
    } finally {
      await db.close();
    }
    expectOnlyDatabaseFiles(folder);
  }, 60_000);
});
