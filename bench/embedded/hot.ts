/**
 * A hot document: one document edited N times in a row, each edit its own committed write. The
 * cost of the last writes against the first shows whether a long history makes writes dearer.
 *
 * Contenders run in lockstep — edit i of each, then edit i + 1 of each — so that all of them
 * write their first (and their last) revisions at the same moment, under the same load of a
 * shared machine: their ratios then hold even when the load drifts during the run.
 */
import { Database } from '../../src/database/database.js';
import type { Body } from '../lib.js';
import { openPouch } from './pouch.js';
import { openRaw } from './raw.js';

export const HOT_ID = 'hot';

/**
 * Edits of another document first, so the first measured writes do not pay for JIT compilation,
 * cold caches or a new database's growing write-ahead log (until the WAL first reaches its
 * checkpoint size, ~1,000 pages, every commit also extends the file, which makes each fsync
 * dearer for every contender). "The 1st revision" is then the first write of a document in a
 * database that has been running for a while.
 */
export const WARMUP_WRITES = 1500;

/** One contender's hot document: `edit()` writes its next revision and returns the milliseconds. */
export interface HotWriter {
  edit(): Promise<number>;
  close(): Promise<void>;
}

/** Successive edits of one document through `put`, each timed (building the doc is not). */
function editor(put: (doc: Record<string, unknown>) => Promise<{ rev: string }>, id: string, body: Body) {
  let rev: string | undefined;
  let count = 0;
  return async (): Promise<number> => {
    const doc =
      rev === undefined ? { ...body, _id: id, edit: count } : { ...body, _id: id, _rev: rev, edit: count };
    count++;
    const start = performance.now();
    rev = (await put(doc)).rev;
    return performance.now() - start;
  };
}

async function warmUp(put: (doc: Record<string, unknown>) => Promise<{ rev: string }>, body: Body) {
  const edit = editor(put, 'warmup', body);
  for (let i = 0; i < WARMUP_WRITES; i++) await edit();
}

export async function setteeHotWriter(path: string, body: Body, revsLimit: number): Promise<HotWriter> {
  const db = await Database.open(path, { durability: 'full', revsLimit });
  const put = (doc: Record<string, unknown>) => db.put(doc);
  await warmUp(put, body);
  return { edit: editor(put, HOT_ID, body), close: () => db.close() };
}

export async function pouchHotWriter(path: string, body: Body, revsLimit: number): Promise<HotWriter> {
  const db = openPouch(path, revsLimit);
  const put = (doc: Record<string, unknown>) => db.put(doc);
  await warmUp(put, body);
  return { edit: editor(put, HOT_ID, body), close: () => db.close() };
}

/** The ceiling: each revision one row inserted in its own transaction (each commit synced). */
export async function rawHotWriter(path: string, body: Body): Promise<HotWriter> {
  const db = openRaw(path);
  db.exec('CREATE TABLE revs (id TEXT NOT NULL, rev TEXT NOT NULL, body TEXT NOT NULL, UNIQUE (id, rev))');
  const insert = db.prepare('INSERT INTO revs (id, rev, body) VALUES (?, ?, ?)');
  const write = db.transaction((id: string, rev: string, doc: Record<string, unknown>) => {
    insert.run(id, rev, JSON.stringify(doc));
  });
  const generations = new Map<string, number>();
  const put = async (doc: Record<string, unknown>) => {
    const id = doc._id as string;
    const gen = (generations.get(id) ?? 0) + 1;
    generations.set(id, gen);
    const rev = `${gen}-${gen}`;
    write(id, rev, doc);
    return { rev };
  };
  await warmUp(put, body);
  return {
    edit: editor(put, HOT_ID, body),
    close: async () => {
      db.close();
    },
  };
}

/** Edits each writer's document `writes` times, in lockstep; returns each writer's times (ms). */
export async function lockstep(writers: HotWriter[], writes: number): Promise<number[][]> {
  const times = writers.map(() => [] as number[]);
  for (let i = 0; i < writes; i++) {
    for (const [w, writer] of writers.entries()) times[w]!.push(await writer.edit());
  }
  return times;
}

/** Average µs per write over writes [from, to) (0-based), e.g. revisions 1–100 are [0, 100). */
export function microsPerWrite(times: readonly number[], from: number, to: number): number {
  let total = 0;
  for (let i = from; i < to; i++) total += times[i]!;
  return (total / (to - from)) * 1000;
}
