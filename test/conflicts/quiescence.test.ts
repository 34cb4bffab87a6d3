/**
 * Quiescence on real databases: replicas that resolve conflicts automatically — most stamping
 * their writes, some not (as a plain PouchDB client) — edit the same documents concurrently and
 * sync in random pairs (seeing different leaf sets at different times), some of them with their
 * resolver off for a while (set again, it sweeps the backlog), stop writing once a bounded number
 * of full sync rounds has connected them all — then agree on every document, hold no conflict,
 * are in the state a replica resolving at write time reaches from the same leaves, and have lost
 * nothing the strategy promises to keep. The pure model of the same property is convergence.test.ts.
 */
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Doc } from '../../src/core/api.js';
import {
  compareStamps,
  crdtMerge,
  fieldMerge,
  lastWriterWins,
  PNCounter,
  readFieldStamps,
  type Resolver,
  userFields,
} from '../../src/conflicts/index.js';
import { Database } from '../../src/database/database.js';
import type { StampingOptions } from '../../src/database/stamping.js';
import { replicate, sync } from '../../src/replication/index.js';
import { errorsOf } from '../database/helpers.js';
import { dbState, makeTempDir, removeDir, useTempDatabases, winnerOf } from '../replication/helpers.js';

const DOC_IDS = ['a', 'b', 'c'];
const FIELDS = ['title', 'body', 'price'];
/** Wall-clock time at which every run starts; replicas' clocks are skewed from it. */
const T0 = 2_000_000_000_000;
/** Full sync rounds allowed before the replicas must have stopped writing. */
const MAX_ROUNDS = 10;

type Body = Record<string, unknown>;

/** How one strategy's replicas stamp and resolve, what an edit writes, and what must survive. */
interface Strategy {
  name: string;
  stamping(node: string, now: () => number): StampingOptions;
  resolver(): Resolver;
  /** The user fields an edit writes over the current winner (`base`, user fields only). */
  edit(base: Body, change: { node: string; field: number; value: number }): Body;
  /** Checks the final winner of one document against every write made to it. */
  survives(final: Doc | 'deleted' | 'missing', writes: readonly Write[]): void;
}

/** One interactive write as it was stored (stamps included). */
interface Write {
  rev: string;
  deleted: boolean;
  body: Body;
  /** Whether the replica that wrote it stamps its writes. */
  stamped: boolean;
}

/** One replica of a run: how far its clock is off, and whether it stamps its writes. */
interface ReplicaSetup {
  skew: number;
  stamps: boolean;
}

const setField = (base: Body, { field, value }: { field: number; value: number }): Body => ({
  ...base,
  [FIELDS[field % FIELDS.length]!]: value,
});

/** Per-field stamps: every field as the write with its greatest stamp left it. */
function latestFields(writes: readonly Write[]): Body {
  const expected: Body = {};
  const best = new Map<string, string>();
  for (const { body } of writes) {
    for (const [name, stamp] of Object.entries(readFieldStamps(body.settee_fields))) {
      if (name.startsWith('_')) continue;
      const held = best.get(name);
      if (held !== undefined && compareStamps(stamp, held) <= 0) continue;
      best.set(name, stamp);
      if (Object.hasOwn(body, name)) expected[name] = body[name];
      else delete expected[name];
    }
  }
  return expected;
}

const STRATEGIES: Strategy[] = [
  {
    name: 'last-writer-wins',
    stamping: (node, now) => ({ node, now }),
    resolver: () => lastWriterWins(),
    edit: setField,
    survives(final, writes) {
      // The write with the greatest stamp is what the document ends as, whichever replica made it.
      const latest = writes.reduce((a, b) =>
        compareStamps(b.body.settee_hlc as string, a.body.settee_hlc as string) > 0 ? b : a,
      );
      // (A latest write that is a deletion concurrent with an edit is checked by the example below.)
      if (latest.deleted) return;
      expect(final, 'the latest write survives').not.toBeTypeOf('string');
      expect(userFields(final as Doc)).toEqual(userFields(latest.body));
    },
  },
  {
    name: 'field-merge',
    stamping: (node, now) => ({ node, now, field: false, fields: true }),
    resolver: () => fieldMerge(),
    edit: setField,
    survives(final, writes) {
      if (writes.some((write) => write.deleted)) return;
      expect(final, 'a document nobody deleted lives').not.toBeTypeOf('string');
      const { settee_fields: _, ...fields } = userFields(final as Doc);
      expect(fields).toEqual(latestFields(writes));
    },
  },
  {
    name: 'crdt',
    stamping: (node, now) => ({ node, now }),
    resolver: () => crdtMerge({ likes: 'counter' }),
    edit: (base, { node, field, value }) => {
      const likes = PNCounter.is(base.likes) ? base.likes : PNCounter.empty();
      // Increments and decrements, never by zero.
      const by = (value % 7) - 3 || 4;
      return { ...setField(base, { field, value }), likes: PNCounter.increment(likes, node, by) };
    },
    survives(final, writes) {
      if (writes.some((write) => write.deleted)) return;
      expect(final, 'a document nobody deleted lives').not.toBeTypeOf('string');
      // Every replica's entry only grows, so the final count is every replica's last entry.
      const entries = new Map<string, number>();
      for (const { body } of writes) {
        const counter = body.likes as PNCounter;
        for (const side of ['p', 'n'] as const) {
          for (const [node, n] of Object.entries(counter[side])) {
            const key = `${side}:${node}`;
            entries.set(key, Math.max(entries.get(key) ?? 0, n));
          }
        }
      }
      const expected = [...entries].reduce((sum, [key, n]) => sum + (key.startsWith('p:') ? n : -n), 0);
      expect(PNCounter.value((final as Doc).likes as PNCounter)).toBe(expected);
    },
  },
];

type Op =
  | { kind: 'put'; replica: number; doc: number; field: number; value: number; dt: number }
  | { kind: 'delete'; replica: number; doc: number; dt: number }
  | {
      kind: 'conflict';
      replica: number;
      other: number;
      doc: number;
      field: number;
      otherField: number;
      value: number;
      /** The first replica deletes the document instead of editing it. */
      deletes: boolean;
      dt: number;
    }
  | { kind: 'push'; replica: number; other: number; docs: number[]; dt: number }
  | { kind: 'sync'; replica: number; other: number; dt: number }
  | { kind: 'resolver'; replica: number; on: boolean; dt: number };

const replica = fc.nat({ max: 4 });
const doc = fc.nat({ max: DOC_IDS.length - 1 });
const field = fc.nat({ max: FIELDS.length - 1 });
const value = fc.nat({ max: 1000 });
/** How far the shared wall clock moves before the step: often not at all, so stamps tie on wall time. */
const dt = fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 5_000 }));

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('put' as const), replica, doc, field, value, dt }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('delete' as const), replica, doc, dt }) },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('conflict' as const),
      replica,
      other: replica,
      doc,
      field,
      otherField: field,
      value,
      deletes: fc.oneof(
        { weight: 3, arbitrary: fc.constant(false) },
        { weight: 1, arbitrary: fc.constant(true) },
      ),
      dt,
    }),
  },
  {
    // One way, some documents only: the target sees a leaf set the source's peers may not.
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('push' as const),
      replica,
      other: replica,
      docs: fc.uniqueArray(doc, { minLength: 1, maxLength: DOC_IDS.length }),
      dt,
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('sync' as const), replica, other: replica, dt }) },
  {
    // Off, writes bring conflicts in unresolved; on again, the sweep must settle what they would have.
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('resolver' as const), replica, on: fc.boolean(), dt }),
  },
);

/** Most replicas stamp; a few write as a client that does not (their bodies keep what they read). */
const setupArb: fc.Arbitrary<ReplicaSetup[]> = fc.array(
  fc.record({
    skew: fc.integer({ min: -30_000, max: 30_000 }),
    stamps: fc.oneof(
      { weight: 3, arbitrary: fc.constant(true) },
      { weight: 1, arbitrary: fc.constant(false) },
    ),
  }),
  { minLength: 3, maxLength: 5 },
);

/** The replicas of one run, their clocks, and every interactive write made. */
class World {
  readonly writes = new Map<string, Write[]>();
  private time = T0;

  private constructor(
    readonly strategy: Strategy,
    readonly replicas: Database[],
    private readonly setups: ReplicaSetup[],
    private readonly dir: string,
  ) {}

  /** With `resolving` false, no replica resolves until the end: then each sweeps its backlog. */
  static async open(
    strategy: Strategy,
    dir: string,
    setups: ReplicaSetup[],
    resolving: boolean,
  ): Promise<World> {
    const world = new World(strategy, [], setups, dir);
    for (const [i, { skew, stamps }] of setups.entries()) {
      const db = await Database.open(path.join(dir, `r${i}.sqlite`), {
        durability: 'normal',
        history: true,
        stamping: stamps ? strategy.stamping(`r${i}`, () => world.time + skew) : false,
        ...(resolving ? { resolver: strategy.resolver() } : {}),
      });
      world.replicas.push(db);
    }
    return world;
  }

  /** Every replica resolving again: those whose resolver was off sweep their backlog. */
  async resolveEverywhere(): Promise<void> {
    for (const db of this.replicas) if (!db.getResolver()) await db.setResolver(this.strategy.resolver());
  }

  /** A new replica that resolves at write time, given everything `source` holds. */
  async witness(source: Database): Promise<Database> {
    const db = await Database.open(path.join(this.dir, 'witness.sqlite'), {
      durability: 'normal',
      resolver: this.strategy.resolver(),
    });
    expectClean(await replicate(source, db).done);
    return db;
  }

  private at(index: number): number {
    return index % this.replicas.length;
  }

  /** Another replica than `index`'s. */
  private other(index: number, other: number): number {
    const n = this.replicas.length;
    return (this.at(index) + 1 + (other % (n - 1))) % n;
  }

  private async remember(db: Database, id: string, rev: string): Promise<void> {
    const [read] = await db.getOpenRevs(id, [rev]);
    if (!read || !('ok' in read)) throw new Error(`${id}@${rev} unreadable right after its write`);
    const { _id, _rev, _deleted, ...body } = read.ok;
    const writes = this.writes.get(id) ?? [];
    const stamped = this.setups[this.replicas.indexOf(db)]!.stamps;
    writes.push({ rev, deleted: _deleted === true, body, stamped });
    this.writes.set(id, writes);
  }

  /** Creates the document, re-creates it over a tombstone, or edits its winner. */
  private async edit(index: number, id: string, field: number, value: number): Promise<void> {
    const db = this.replicas[index]!;
    const winner = await winnerOf(db, id);
    const base = typeof winner === 'string' ? {} : userFields(winner);
    const fields = this.strategy.edit(base, { node: `r${index}`, field, value });
    const rev = typeof winner === 'string' ? undefined : winner._rev;
    const written = await db.put({ ...fields, _id: id, ...(rev ? { _rev: rev } : {}) });
    await this.remember(db, id, written.rev);
  }

  /** Deletes the document's winner, if it has a live one. */
  private async remove(index: number, id: string): Promise<void> {
    const db = this.replicas[index]!;
    const winner = await winnerOf(db, id);
    if (typeof winner === 'string') return;
    await this.remember(db, id, (await db.remove(id, winner._rev)).rev);
  }

  async run(op: Op): Promise<void> {
    this.time += op.dt;
    const r = this.at(op.replica);
    const db = this.replicas[r]!;
    switch (op.kind) {
      case 'put':
        return this.edit(r, DOC_IDS[op.doc]!, op.field, op.value);
      case 'delete':
        return this.remove(r, DOC_IDS[op.doc]!);
      case 'conflict': {
        // Both start from the same revision of the document, then edit it apart (or one deletes it).
        const id = DOC_IDS[op.doc]!;
        const o = this.other(op.replica, op.other);
        expectClean(await replicate(db, this.replicas[o]!, { doc_ids: [id] }).done);
        if (op.deletes) await this.remove(r, id);
        else await this.edit(r, id, op.field, op.value);
        await this.edit(o, id, op.otherField, op.value + 1);
        return;
      }
      case 'push': {
        const target = this.replicas[this.other(op.replica, op.other)]!;
        const doc_ids = op.docs.map((d) => DOC_IDS[d]!);
        expectClean(await replicate(db, target, { doc_ids }).done);
        return;
      }
      case 'sync': {
        const { push, pull } = await sync(db, this.replicas[this.other(op.replica, op.other)]!).done;
        expectClean(push);
        expectClean(pull);
        return;
      }
      case 'resolver':
        await db.setResolver(op.on ? this.strategy.resolver() : null);
        return;
    }
  }

  async updateSeqs(): Promise<unknown[]> {
    return Promise.all(this.replicas.map(async (db) => (await db.info()).update_seq));
  }

  /** Syncs every pair once; returns the documents written in all. */
  async fullRound(): Promise<number> {
    let written = 0;
    for (let i = 0; i < this.replicas.length; i++) {
      for (let j = i + 1; j < this.replicas.length; j++) {
        const { push, pull } = await sync(this.replicas[i]!, this.replicas[j]!).done;
        expectClean(push);
        expectClean(pull);
        written += push.docs_written + pull.docs_written;
      }
    }
    return written;
  }

  /** Full rounds until one changes no replica's update_seq; fails after MAX_ROUNDS. */
  async quiesce(): Promise<number> {
    for (let round = 1; round <= MAX_ROUNDS; round++) {
      const before = await this.updateSeqs();
      await this.fullRound();
      if (JSON.stringify(await this.updateSeqs()) === JSON.stringify(before)) return round;
    }
    throw new Error(`the replicas still write after ${MAX_ROUNDS} full rounds of syncs`);
  }

  /** How many resolutions the replicas wrote in all. */
  async resolutions(): Promise<number> {
    let total = 0;
    for (const db of this.replicas) total += (await db.resolutions()).total_rows;
    return total;
  }

  async close(): Promise<void> {
    for (const db of this.replicas) await db.close();
  }
}

function expectClean(result: { status: string; doc_write_failures: number }): void {
  expect(result.status).toBe('complete');
  expect(result.doc_write_failures).toBe(0);
}

/**
 * The replicas agree on everything, hold no conflict, are as a replica resolving at write time
 * leaves the same leaves, and kept what the strategy keeps.
 */
async function checkSettled(world: World): Promise<void> {
  const [first, ...rest] = world.replicas;
  const reference = await dbState(first!);
  for (const db of rest) expect(await dbState(db)).toEqual(reference);
  const witness = await world.witness(first!);
  try {
    expect(await dbState(witness), 'settled as a write would settle it').toEqual(reference);
  } finally {
    await witness.close();
  }
  for (const db of world.replicas) expect((await db.conflicts()).total_rows).toBe(0);
  for (const [id, state] of Object.entries(reference)) {
    if (typeof state.winner !== 'string') expect(state.winner._conflicts, id).toBeUndefined();
    expect(state.leaves.filter((leaf) => !leaf._deleted).length, id).toBeLessThanOrEqual(1);
  }
  expect(Object.keys(reference).sort()).toEqual([...world.writes.keys()].sort());
  for (const [id, writes] of world.writes) {
    // What survives is promised from stamps: a writer that does not stamp keeps the stamps it
    // read, so its edit may lose to what it replaced. Agreement above holds for every document.
    if (writes.every((write) => write.stamped)) world.strategy.survives(await winnerOf(first!, id), writes);
  }
}

describe('replicas resolving automatically quiesce (model test on real databases)', () => {
  it.each(STRATEGIES)(
    '$name: random edits, conflicts, deletes and partial syncs settle into one agreed state',
    async (strategy) => {
      // Runs in which some replica resolved a conflict: the property is not vacuous.
      let runsWithConflicts = 0;
      await fc.assert(
        fc.asyncProperty(
          setupArb,
          fc.boolean(),
          fc.array(opArb, { minLength: 1, maxLength: 20 }),
          async (setups, resolving, ops) => {
            const dir = makeTempDir();
            const world = await World.open(strategy, dir, setups, resolving);
            try {
              for (const op of ops) await world.run(op);
              // Replicas whose resolver is off hold every leaf before they set it: then only their
              // sweep can settle what writes would have.
              await world.quiesce();
              await world.resolveEverywhere();
              await world.quiesce();
              // (a) Once syncing has settled, a further complete round writes nothing anywhere.
              const before = await world.updateSeqs();
              expect(await world.fullRound()).toBe(0);
              expect(await world.updateSeqs()).toEqual(before);
              // (b) and (c)
              await checkSettled(world);
              if ((await world.resolutions()) > 0) runsWithConflicts++;
            } finally {
              await world.close();
              removeDir(dir);
            }
          },
        ),
        { numRuns: 15 },
      );
      expect(runsWithConflicts).toBeGreaterThan(0);
    },
    60_000,
  );
});

const dbs = useTempDatabases();

/** Both replicas edit `id` from the same revision, then each receives the other's leaf. */
async function crossedEdits(a: Database, b: Database, id: string, edits: [Body, Body]): Promise<void> {
  await a.put({ _id: id, title: 'first', body: 'first', likes: PNCounter.empty() });
  await replicate(a, b).done;
  const [onA, onB] = [await a.get(id), await b.get(id)];
  const leafA = await a.put({ ...onA, ...edits[0] });
  const leafB = await b.put({ ...onB, ...edits[1] });
  // What a replication batch carries: the leaf with its history, written with new_edits=false.
  const copy = async (from: Database, to: Database, rev: string) => {
    const [read] = await from.getOpenRevs(id, [rev], { revs: true });
    if (!read || !('ok' in read)) throw new Error('leaf missing');
    const results = await to.bulkDocs([read.ok], { newEdits: false });
    expect(errorsOf(results)).toEqual([]);
  };
  await copy(a, b, leafA.rev);
  await copy(b, a, leafB.rev);
}

describe('two replicas resolving the same conflict independently', () => {
  it.each(STRATEGIES)('$name: then sync into one winner, with nothing new written', async (strategy) => {
    let time = T0;
    const open = (node: string) =>
      dbs.open({ stamping: strategy.stamping(node, () => time), resolver: strategy.resolver() });
    const [a, b] = [await open('a'), await open('b')];
    time += 1_000;
    await crossedEdits(a, b, 'doc', [
      strategy.edit({}, { node: 'a', field: 0, value: 1 }),
      strategy.edit({}, { node: 'b', field: 1, value: 2 }),
    ]);
    // Each resolved on its own, as the other's leaf arrived.
    for (const db of [a, b]) expect((await db.conflicts()).total_rows).toBe(0);
    const before = [(await a.info()).update_seq, (await b.info()).update_seq];
    const { push, pull } = await sync(a, b).done;
    expect([push.docs_written, pull.docs_written]).toEqual([0, 0]);
    expect([(await a.info()).update_seq, (await b.info()).update_seq]).toEqual(before);
    expect(await dbState(a)).toEqual(await dbState(b));
    const doc = await a.get('doc', { conflicts: true });
    expect(doc._conflicts).toBeUndefined();
    const leaves = await a.getOpenRevs('doc', 'all');
    expect(leaves.filter((leaf) => 'ok' in leaf && !leaf.ok._deleted)).toHaveLength(1);
  });
});

describe('a document re-created on a replica that saw it deleted', () => {
  it('field merge: is settled alike where the deletion was seen as a leaf and where it was not', async () => {
    let time = T0;
    const open = (node: string) =>
      dbs.open({
        stamping: { node, now: () => time, field: false, fields: true },
        resolver: fieldMerge(),
      });
    const [r0, r1, r2] = [await open('r0'), await open('r1'), await open('r2')];
    time += 1;
    await r0.put({ _id: 'b', title: 0 });
    await r2.put({ _id: 'b', body: 0 });
    time += 1;
    await r2.remove('b', (await r2.get('b'))._rev);
    // r0 weighs r2's deletion against its own edit (the deletion is later: r0 deletes too)…
    await replicate(r2, r0, { doc_ids: ['b'] }).done;
    // …while r1 gets the deletion alone, and writes the document again over it.
    await replicate(r2, r1, { doc_ids: ['b'] }).done;
    await r1.put({ _id: 'b', title: 1 });
    for (let round = 0; round < 2; round++) {
      await sync(r0, r1).done;
      await sync(r1, r2).done;
      await sync(r0, r2).done;
    }
    const settled = await dbState(r0);
    for (const db of [r1, r2]) expect(await dbState(db)).toEqual(settled);
    expect(await r0.get('b')).toMatchObject({ title: 1 });
    // A replica given the leaves by replication knows the re-creation's parent only as an id, not
    // as a deletion: it weighs the deletion against the re-creation, and must find it settled.
    const witness = await dbs.open({ resolver: fieldMerge() });
    await replicate(r0, witness).done;
    expect(await dbState(witness)).toEqual(settled);
  });
});

describe('what the strategies keep', () => {
  it('field merge: concurrent edits of different fields on three replicas all survive', async () => {
    const stamping = (node: string) => ({ node, field: false as const, fields: true });
    const [a, b, c] = await Promise.all(
      ['a', 'b', 'c'].map((node) => dbs.open({ stamping: stamping(node), resolver: fieldMerge() })),
    );
    await a!.put({ _id: 'doc', title: 't0', body: 'b0', price: 0 });
    await replicate(a!, b!).done;
    await replicate(a!, c!).done;
    await a!.put({ ...(await a!.get('doc')), title: 't-from-a' });
    await b!.put({ ...(await b!.get('doc')), body: 'b-from-b' });
    await c!.put({ ...(await c!.get('doc')), price: 3 });
    // Partial views first: b learns a's edit, c learns b's merged version, then all meet.
    await replicate(a!, b!).done;
    await replicate(b!, c!).done;
    await sync(a!, c!).done;
    await sync(a!, b!).done;
    await sync(b!, c!).done;
    for (const db of [a!, b!, c!]) {
      const doc = await db.get('doc', { conflicts: true });
      expect([doc.title, doc.body, doc.price, doc._conflicts]).toEqual([
        't-from-a',
        'b-from-b',
        3,
        undefined,
      ]);
    }
    expect(await dbState(a!)).toEqual(await dbState(c!));
  });

  it('crdt merge: increments made concurrently on three replicas are all counted', async () => {
    const resolver = () => crdtMerge({ likes: 'counter' });
    const [a, b, c] = await Promise.all(
      ['a', 'b', 'c'].map((node) => dbs.open({ stamping: { node }, resolver: resolver() })),
    );
    await a!.put({ _id: 'post', likes: PNCounter.empty() });
    for (const db of [b!, c!]) await replicate(a!, db).done;
    const like = async (db: Database, node: string, by: number) => {
      const doc = await db.get('post');
      await db.put({ ...doc, likes: PNCounter.increment(doc.likes as PNCounter, node, by) });
    };
    await like(a!, 'a', 2);
    await like(b!, 'b', 5);
    await like(c!, 'c', -1);
    await like(c!, 'c', 3);
    await replicate(c!, b!).done;
    await like(b!, 'b', 1);
    await sync(a!, b!).done;
    await sync(b!, c!).done;
    await sync(a!, c!).done;
    for (const db of [a!, b!, c!]) {
      expect(PNCounter.value((await db.get('post')).likes as PNCounter)).toBe(2 + 5 + 1 - 1 + 3);
    }
  });

  it('last writer wins: an edit from a device whose clock is behind beats what its edited version beat', async () => {
    const now = { a: T0 + 60_000, b: T0, d: T0 + 30_000 };
    const open = (node: 'a' | 'b' | 'd') =>
      dbs.open({ stamping: { node, now: () => now[node] }, resolver: lastWriterWins() });
    const [a, b, d] = [await open('a'), await open('b'), await open('d')];
    await b.put({ _id: 'doc', v: 'v0' });
    await replicate(b, a).done;
    await replicate(b, d).done;
    // a (clock a minute ahead of b's) and d (half a minute ahead) edit v0 concurrently: a's is later.
    await a.put({ ...(await a.get('doc')), v: 'a1' });
    await d.put({ ...(await d.get('doc')), v: 'd1' });
    // b, whose wall clock is behind both, edits a1: its edit must still count as after a1, so after d1.
    await replicate(a, b).done;
    await b.put({ ...(await b.get('doc')), v: 'b-edit' });
    await replicate(d, b).done;
    await sync(a, d).done;
    await sync(b, d).done;
    await sync(a, b).done;
    for (const db of [a, b, d]) {
      const doc = await db.get('doc', { conflicts: true });
      expect([doc.v, doc._conflicts]).toEqual(['b-edit', undefined]);
    }
  });

  it('last writer wins: a deletion later than the concurrent edits deletes the document', async () => {
    let time = T0;
    const stamping = (node: string) => ({ node, now: () => time });
    const [a, b, c] = await Promise.all(
      ['a', 'b', 'c'].map((node) => dbs.open({ stamping: stamping(node), resolver: lastWriterWins() })),
    );
    for (const id of ['two-edits', 'one-edit']) await a!.put({ _id: id, v: 1 });
    for (const db of [b!, c!]) await replicate(a!, db).done;
    time += 1_000;
    await b!.put({ ...(await b!.get('two-edits')), v: 'b' });
    await c!.put({ ...(await c!.get('two-edits')), v: 'c' });
    await b!.put({ ...(await b!.get('one-edit')), v: 'b' });
    time += 1_000;
    for (const id of ['two-edits', 'one-edit']) await a!.remove(id, (await a!.get(id))._rev);
    for (let round = 0; round < 2; round++) {
      await sync(a!, b!).done;
      await sync(b!, c!).done;
      await sync(a!, c!).done;
    }
    // Deleted when two edits were concurrent with the deletion (the resolver ran on two live leaves)…
    for (const db of [a!, b!, c!]) expect(await winnerOf(db, 'two-edits')).toBe('deleted');
    // …and equally when only one was: the deletion is the latest write all the same (deleted
    // leaves contend too, unless the document was re-created since).
    for (const db of [a!, b!, c!]) expect(await winnerOf(db, 'one-edit')).toBe('deleted');
  });
});
