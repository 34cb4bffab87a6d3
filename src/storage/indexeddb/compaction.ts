/**
 * Compaction of an IndexedDB database in bounded steps, each one readwrite transaction (so a
 * closed tab or a crash leaves it before or after a step, never midway), in two phases:
 * 1. purge: the revisions in the sparse index `purgeable` (non-leaves still holding content)
 *    are rewritten without it, a batch per step. Leafness is read in the step's transaction, and
 *    every write keeps the index, so a revision that is a leaf now is not in it.
 * 2. sweep: the blobs, a batch of digests per step, each kept when a record refers to it
 *    (the multi-entry `digests` indexes of documents, revisions and history) and deleted
 *    otherwise — asked in the step's own transaction, so a write between steps that refers to a
 *    blob again is seen, and nothing needs following between steps (as SQLite's sweep must).
 *
 * A phase ends at its first short batch: writes between steps keep making garbage, and a
 * compaction that chased them would never end; the next one takes what they left.
 *
 * There is no file to shrink: the browser's engine (LevelDB in Chromium) reclaims the space of
 * deleted records itself.
 */
import { phasedProgress } from '../compaction-progress.js';
import type { CompactionSteps } from '../types.js';
import { type IdbDatabase, type IdbTransaction, inTransaction, requested } from './idb.js';
import { EMPTY, keyRange } from './keys.js';
import { contentBytes, revRow } from './rows.js';
import { type RevRow, STATE_KEY, STORE, type StateRow } from './schema.js';
import { WRITE_STORES } from './writes.js';

// Records per step: a few milliseconds of work, so writes wait little between steps.
const REVS_PER_STEP = 200;
const BLOBS_PER_STEP = 200;

/** One phase: steps until it says it is finished. */
interface Phase {
  /** Its share of the whole, for `progress`. */
  readonly weight: number;
  /** Does one step in `tx`; true when the phase is finished. */
  step(tx: IdbTransaction, state: StateRow): Promise<boolean>;
  fraction(): number;
}

export class IndexedDbCompaction implements CompactionSteps {
  private readonly phases: Phase[] = [new PurgePhase(), new SweepPhase()];
  private current = 0;

  constructor(private readonly db: () => IdbDatabase) {}

  get progress(): number {
    return phasedProgress(this.phases, this.current);
  }

  async step(): Promise<boolean> {
    const phase = this.phases[this.current];
    if (!phase) return false;
    // Relaxed: a step lost to a power cut is only done again.
    const finished = await inTransaction(
      this.db(),
      WRITE_STORES,
      'readwrite',
      async (tx) => {
        const stateStore = tx.objectStore(STORE.state);
        const state = (await requested(stateStore.get(STATE_KEY))) as StateRow;
        const done = await phase.step(tx, state);
        stateStore.put(state, STATE_KEY);
        return done;
      },
      'relaxed',
    );
    if (finished) this.current++;
    return this.current < this.phases.length;
  }
}

/** Counts what a phase has to do at its first step, and how much it has done. */
class Tally {
  private total: number | undefined;
  private done = 0;

  async start(count: () => Promise<number>): Promise<void> {
    this.total ??= await count();
  }

  add(n: number): void {
    this.done += n;
  }

  fraction(): number {
    return this.total ? Math.min(1, this.done / this.total) : 0;
  }
}

/** Phase 1: content of non-leaf revisions, dropped. */
class PurgePhase implements Phase {
  readonly weight = 5;
  private readonly tally = new Tally();

  async step(tx: IdbTransaction, state: StateRow): Promise<boolean> {
    const revs = tx.objectStore(STORE.revs);
    const purgeable = revs.index('purgeable');
    await this.tally.start(() => requested(purgeable.count()));
    const rows = (await requested(purgeable.getAll(null, REVS_PER_STEP))) as RevRow[];
    for (const row of rows) {
      const bytes = contentBytes(row);
      state.contentBytes -= bytes;
      state.garbageBytes = Math.max(0, state.garbageBytes - bytes);
      revs.put(revRow({ ...row, body: null, atts: null }));
    }
    this.tally.add(rows.length);
    return rows.length < REVS_PER_STEP;
  }

  fraction(): number {
    return this.tally.fraction();
  }
}

/** Phase 2: blobs no record refers to, deleted. */
class SweepPhase implements Phase {
  readonly weight = 1;
  private readonly tally = new Tally();
  private after: string | undefined;

  async step(tx: IdbTransaction, state: StateRow): Promise<boolean> {
    const sizes = tx.objectStore(STORE.blobSizes);
    await this.tally.start(() => requested(sizes.count()));
    const range = this.after === undefined ? null : keyRange({ key: this.after, open: true }, undefined);
    const digests =
      range === EMPTY ? [] : ((await requested(sizes.getAllKeys(range, BLOBS_PER_STEP))) as string[]);
    const referrers = [STORE.docs, STORE.revs, STORE.resolutions].map((store) =>
      tx.objectStore(store).index('digests'),
    );
    const orphans = await Promise.all(
      digests.map(async (digest) => {
        const found = await Promise.all(referrers.map((index) => requested(index.getKey(digest))));
        return found.every((key) => key === undefined) ? [digest] : [];
      }),
    );
    const unreferenced = orphans.flat();
    // Sizes are read without the bytes, which may be many.
    const bytes = await Promise.all(
      unreferenced.map((digest) => requested(sizes.get(digest)) as Promise<number>),
    );
    const blobs = tx.objectStore(STORE.attachments);
    for (const [i, digest] of unreferenced.entries()) {
      state.contentBytes -= bytes[i]!;
      blobs.delete(digest);
      sizes.delete(digest);
    }
    this.after = digests.at(-1) ?? this.after;
    this.tally.add(digests.length);
    return digests.length < BLOBS_PER_STEP;
  }

  fraction(): number {
    return this.tally.fraction();
  }
}
