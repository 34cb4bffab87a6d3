import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Doc } from '../../src/core/api.js';
import { Database } from '../../src/database/database.js';
import { replicate, sync } from '../../src/replication/index.js';
import { allIds, bytes, dbState, makeTempDir, removeDir, winnerOf } from './helpers.js';

/**
 * The convergence property: replicas that write, delete and edit the same documents
 * concurrently, and sync in random pairs, end up identical once a final round of syncs has
 * connected them all — same revision trees, winners and conflicts — and nothing written is lost.
 */

const DOC_IDS = ['a', 'b', 'c', 'd'];

type Op =
  | { kind: 'put'; replica: number; doc: number; value: number }
  | { kind: 'delete'; replica: number; doc: number }
  | { kind: 'attach'; replica: number; doc: number; value: number }
  | { kind: 'resolve'; replica: number; doc: number }
  | { kind: 'conflict'; replica: number; other: number; doc: number; value: number }
  | { kind: 'sync'; replica: number; other: number; batch: number }
  | { kind: 'push'; replica: number; other: number; batch: number };

const replica = fc.nat({ max: 4 });
const doc = fc.nat({ max: DOC_IDS.length - 1 });
const value = fc.nat({ max: 1000 });
/** Small batches too, so a sync runs several pipelined batches. */
const batch = fc.constantFrom(1, 2, 100);

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('put' as const), replica, doc, value }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('delete' as const), replica, doc }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('attach' as const), replica, doc, value }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('resolve' as const), replica, doc }) },
  {
    weight: 3,
    arbitrary: fc.record({ kind: fc.constant('conflict' as const), replica, other: replica, doc, value }),
  },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('sync' as const), replica, other: replica, batch }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('push' as const), replica, other: replica, batch }) },
);

/** The replicas of one run, and every revision any of them wrote. */
class World {
  readonly written = new Map<string, Set<string>>();

  constructor(readonly replicas: Database[]) {}

  at(index: number): Database {
    return this.replicas[index % this.replicas.length]!;
  }

  /** Another replica than `index`'s. */
  other(index: number, other: number): Database {
    const n = this.replicas.length;
    const first = index % n;
    return this.replicas[(first + 1 + (other % (n - 1))) % n]!;
  }

  remember(id: string, rev: string): void {
    const revs = this.written.get(id) ?? new Set();
    revs.add(rev);
    this.written.set(id, revs);
  }

  /** Creates the document, re-creates it over a tombstone, or edits its winner. */
  async edit(db: Database, id: string, fields: Record<string, unknown>): Promise<void> {
    const winner = await winnerOf(db, id);
    const base: Record<string, unknown> = typeof winner === 'string' ? { _id: id } : { ...winner };
    delete base._conflicts;
    delete base._deleted_conflicts;
    const { rev } = await db.put({ ...base, ...fields });
    this.remember(id, rev);
  }

  async run(op: Op): Promise<void> {
    const id = DOC_IDS[('doc' in op ? op.doc : 0) % DOC_IDS.length]!;
    const db = this.at(op.replica);
    switch (op.kind) {
      case 'put':
        return this.edit(db, id, { value: op.value, by: this.replicas.indexOf(db) });
      case 'attach': {
        const winner = await winnerOf(db, id);
        const rev = typeof winner === 'string' ? undefined : winner._rev;
        if (winner === 'deleted') return;
        const written = await db.putAttachment(
          id,
          `att${op.value % 3}`,
          rev,
          bytes(1 + op.value, op.value),
          'x/y',
        );
        return this.remember(id, written.rev);
      }
      case 'delete': {
        const winner = await winnerOf(db, id);
        if (typeof winner === 'string') return;
        return this.remember(id, (await db.remove(id, winner._rev)).rev);
      }
      case 'resolve': {
        // Deletes one losing branch of a conflict, as an application resolving it would.
        const winner = await winnerOf(db, id);
        const loser = typeof winner === 'string' ? undefined : winner._conflicts?.[0];
        if (!loser) return;
        return this.remember(id, (await db.remove(id, loser)).rev);
      }
      case 'conflict': {
        // Both replicas start from the same revision of the document, then edit it apart.
        const other = this.other(op.replica, op.other);
        await expectClean(await replicate(db, other, { doc_ids: [id] }).done);
        await this.edit(db, id, { value: op.value, side: 'one' });
        await this.edit(other, id, { value: op.value, side: 'two' });
        return;
      }
      case 'sync': {
        const options = { batch_size: op.batch };
        const { push, pull } = await sync(db, this.other(op.replica, op.other), options).done;
        await expectClean(push);
        await expectClean(pull);
        return;
      }
      case 'push':
        await expectClean(
          await replicate(db, this.other(op.replica, op.other), { batch_size: op.batch }).done,
        );
        return;
    }
  }

  /** Syncs around the ring twice: afterwards every replica has seen every other's writes. */
  async connectAll(): Promise<void> {
    const n = this.replicas.length;
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < n; i++) {
        const { push, pull } = await sync(this.replicas[i]!, this.replicas[(i + 1) % n]!).done;
        await expectClean(push);
        await expectClean(pull);
      }
    }
  }
}

async function expectClean(result: { status: string; doc_write_failures: number }): Promise<void> {
  expect(result.status).toBe('complete');
  expect(result.doc_write_failures).toBe(0);
}

/** CouchDB's winner (protocol.md §1.4): a live leaf over a deleted one, then the longest, then the highest hash. */
function expectedWinner(leaves: Doc[]): Doc {
  const key = (leaf: Doc) => {
    const [gen, hash] = leaf._rev.split('-') as [string, string];
    return [leaf._deleted ? 0 : 1, Number(gen), hash] as const;
  };
  return [...leaves].sort((x, y) => {
    const [a, b] = [key(x), key(y)];
    return b[0] - a[0] || b[1] - a[1] || (a[2] < b[2] ? 1 : a[2] > b[2] ? -1 : 0);
  })[0]!;
}

/** Checks the replicas are identical and correct; returns whether any document is in conflict. */
async function checkConverged(world: World): Promise<boolean> {
  const [first, ...rest] = world.replicas;
  const reference = await dbState(first!);
  for (const db of rest) expect(await dbState(db)).toEqual(reference);

  // Nothing any replica wrote is lost, on any replica.
  const everything = Object.fromEntries([...world.written].map(([id, revs]) => [id, [...revs]]));
  for (const db of world.replicas) expect(await db.revsDiff(everything)).toEqual({});
  expect(await allIds(first!)).toEqual([...world.written.keys()].sort());

  // Winners and conflicts follow CouchDB's rule, from the leaves alone.
  for (const [id, state] of Object.entries(reference)) {
    const leaves = state.leaves as Doc[];
    const winner = expectedWinner(leaves);
    if (winner._deleted) {
      expect(state.winner).toBe('deleted');
      continue;
    }
    const got = state.winner as Doc;
    expect(got._rev, id).toBe(winner._rev);
    const live = leaves.filter((leaf) => !leaf._deleted && leaf._rev !== winner._rev).map((l) => l._rev);
    const dead = leaves.filter((leaf) => leaf._deleted).map((l) => l._rev);
    expect([...(got._conflicts ?? [])].sort()).toEqual(live.sort());
    expect([...(got._deleted_conflicts ?? [])].sort()).toEqual(dead.sort());
  }
  return Object.values(reference).some((state) => state.leaves.length > 1);
}

describe('convergence (model test)', () => {
  it('random writes, deletes, conflicting edits and pairwise syncs converge', async () => {
    let runsWithConflicts = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 3, max: 5 }),
        fc.array(opArb, { minLength: 1, maxLength: 25 }),
        async (n, ops) => {
          const dir = makeTempDir();
          const replicas: Database[] = [];
          try {
            for (let i = 0; i < n; i++) {
              replicas.push(await Database.open(path.join(dir, `r${i}.sqlite`), { durability: 'normal' }));
            }
            const world = new World(replicas);
            for (const op of ops) await world.run(op);
            await world.connectAll();
            if (await checkConverged(world)) runsWithConflicts++;

            // Converged replicas have nothing to send each other, in any pairing.
            for (let i = 0; i < n; i++) {
              for (let j = i + 1; j < n; j++) {
                const { push, pull } = await sync(replicas[i]!, replicas[j]!).done;
                expect([push.docs_written, pull.docs_written, push.docs_read, pull.docs_read]).toEqual([
                  0, 0, 0, 0,
                ]);
              }
            }
          } finally {
            for (const db of replicas) await db.close();
            removeDir(dir);
          }
        },
      ),
      { numRuns: 20 },
    );
    // The property is not vacuous: conflicts did arise and converge.
    expect(runsWithConflicts).toBeGreaterThan(0);
  }, 120_000);
});
