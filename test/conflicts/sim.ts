/**
 * Seeded simulations of replicas editing one document with the stamping helpers, syncing in
 * random pairs and resolving, for the convergence properties.
 */
import fc from 'fast-check';
import {
  AddWinsSet,
  AppendOnlyLog,
  compareWinnerOrder,
  crdtMerge,
  custom,
  fieldMerge,
  HybridClock,
  lastWriterWins,
  type Leaf,
  LwwRegister,
  PNCounter,
  type Resolver,
  stampDocument,
  stampFields,
  userFields,
} from '../../src/conflicts/index.js';
import { emptyTree, leavesOf, resolveTree, type Tree, union, write } from './model.js';

export type Strategy = 'lww' | 'lww-unstamped' | 'fields' | 'crdt' | 'custom';

export const SCHEMA = { likes: 'counter', tags: 'set', title: 'register', log: 'append-only' } as const;

/** A custom resolver: every field any live leaf has, the first in winner order deciding. */
export const unionOfFields = custom('union-of-fields', (leaves) => {
  const body: Record<string, unknown> = {};
  for (const leaf of [...leaves].reverse()) if (!leaf.deleted) Object.assign(body, leaf.doc);
  return { kind: 'merge', body };
});

export function resolverFor(strategy: Strategy): Resolver {
  switch (strategy) {
    case 'lww':
    case 'lww-unstamped':
      return lastWriterWins();
    case 'fields':
      return fieldMerge();
    case 'crdt':
      return crdtMerge(SCHEMA);
    case 'custom':
      return unionOfFields;
  }
}

export interface Replica {
  tree: Tree;
  time: number;
  clock: HybridClock;
}

export type Step =
  | { kind: 'edit'; replica: number; leaf: number; op: number; value: number; del: boolean; dt: number }
  | { kind: 'sync'; a: number; b: number; resolve: boolean };

export function stepArb(replicas: number, { deletions = true } = {}): fc.Arbitrary<Step> {
  const replica = fc.nat({ max: replicas - 1 });
  return fc.oneof(
    {
      weight: 3,
      arbitrary: fc.record({
        kind: fc.constant('edit' as const),
        replica,
        leaf: fc.nat({ max: 5 }),
        op: fc.nat({ max: 5 }),
        value: fc.integer({ min: -3, max: 3 }),
        del: fc.nat({ max: 4 }).map((n) => deletions && n === 0),
        dt: fc.integer({ min: -2_000, max: 2_000 }),
      }),
    },
    {
      weight: 2,
      arbitrary: fc.record({
        kind: fc.constant('sync' as const),
        a: replica,
        b: replica,
        resolve: fc.boolean(),
      }),
    },
  );
}

/** Replicas whose wall clocks are skewed by up to ±30 s, all holding the document's first version. */
export function startReplicas(strategy: Strategy, count: number, skews: readonly number[]): Replica[] {
  const replicas: Replica[] = [];
  for (let i = 0; i < count; i++) {
    const replica: Replica = {
      tree: emptyTree,
      time: 1_700_000_000_000 + (skews[i] ?? 0),
      clock: undefined!,
    };
    replica.clock = new HybridClock(`r${i}`, () => replica.time);
    replicas.push(replica);
  }
  const first = replicas[0]!;
  const created = write(emptyTree, null, firstBody(strategy, first.clock));
  for (const replica of replicas) replica.tree = created.tree;
  return replicas;
}

export function runSteps(strategy: Strategy, replicas: Replica[], steps: readonly Step[]): void {
  const resolver = resolverFor(strategy);
  for (const step of steps) {
    if (step.kind === 'sync') {
      const a = replicas[step.a]!;
      const b = replicas[step.b]!;
      const sharedA = union(a.tree, b.tree);
      const sharedB = union(b.tree, a.tree);
      a.tree = step.resolve ? resolveTree(sharedA, resolver) : sharedA;
      b.tree = step.resolve ? resolveTree(sharedB, resolver) : sharedB;
    } else {
      const replica = replicas[step.replica]!;
      replica.time += step.dt;
      edit(strategy, replica, step);
    }
  }
}

function firstBody(strategy: Strategy, clock: HybridClock): Record<string, unknown> {
  switch (strategy) {
    case 'lww':
    case 'crdt':
      return stampDocument({ title: 'first' }, clock);
    case 'fields':
      return stampFields(null, { title: 'first', n: 0 }, clock);
    default:
      return { title: 'first' };
  }
}

function edit(strategy: Strategy, replica: Replica, step: Extract<Step, { kind: 'edit' }>): void {
  const leaves = leavesOf(replica.tree).sort((a, b) => compareWinnerOrder(b, a));
  const live = leaves.filter((leaf) => !leaf.deleted);
  // Edit a live leaf, or recreate from the winning tombstone when every leaf is deleted.
  const target: Leaf = live.length > 0 ? live[step.leaf % live.length]! : leaves[0]!;
  const { body, deleted } = editBody(strategy, replica.clock, target, step, live);
  replica.tree = write(replica.tree, target.rev, body, deleted).tree;
}

const FIELDS = ['title', 'n', 'color', 'size'];

function editBody(
  strategy: Strategy,
  clock: HybridClock,
  target: Leaf,
  step: Extract<Step, { kind: 'edit' }>,
  live: readonly Leaf[],
): { body: Record<string, unknown>; deleted: boolean } {
  const previous = target.deleted ? {} : userFields(target.doc);
  const name = FIELDS[step.op % FIELDS.length]!;
  switch (strategy) {
    case 'lww':
      if (step.del) return { body: stampDocument({}, clock, { previous: target.doc }), deleted: true };
      return {
        body: stampDocument({ ...previous, [name]: step.value }, clock, { previous: target.doc }),
        deleted: false,
      };
    case 'fields': {
      const before = target.deleted ? { ...target.doc, _deleted: true } : target.doc;
      if (step.del) {
        const stamped = stampFields(before, { ...previous, _deleted: true }, clock);
        return { body: { settee_fields: stamped.settee_fields }, deleted: true };
      }
      const next = { ...previous };
      if (step.value === 0) delete next[name];
      else next[name] = step.value;
      return { body: userFields(stampFields(before, next, clock)), deleted: false };
    }
    case 'crdt':
      if (step.del) return { body: stampDocument({}, clock, { previous: target.doc }), deleted: true };
      return {
        body: stampDocument(crdtEdit(previous, clock, step, live), clock, { previous: target.doc }),
        deleted: false,
      };
    default:
      if (step.del) return { body: {}, deleted: true };
      return { body: { ...previous, [name]: step.value }, deleted: false };
  }
}

function crdtEdit(
  doc: Record<string, unknown>,
  clock: HybridClock,
  step: Extract<Step, { kind: 'edit' }>,
  live: readonly Leaf[],
): Record<string, unknown> {
  // A replica counts on from its own latest entry, which may be in another open version than the
  // one it edits: it merges the counters of the versions it holds first (docs/conflicts.md).
  const likes = [doc, ...live.map((leaf) => leaf.doc)]
    .map((version) => version.likes)
    .filter(PNCounter.is)
    .reduce(PNCounter.merge, PNCounter.empty());
  const tags = AddWinsSet.is(doc.tags) ? doc.tags : AddWinsSet.empty();
  const log = AppendOnlyLog.is(doc.log) ? doc.log : [];
  const stamp = clock.tick();
  switch (step.op) {
    case 0:
      return { ...doc, likes: PNCounter.increment(likes, clock.node, step.value) };
    case 1:
      return { ...doc, tags: AddWinsSet.add(tags, `t${Math.abs(step.value)}`, stamp) };
    case 2:
      return { ...doc, tags: AddWinsSet.remove(tags, `t${Math.abs(step.value)}`) };
    case 3:
      return { ...doc, title: LwwRegister.of(`title ${step.value}`, stamp) };
    case 4:
      return { ...doc, log: AppendOnlyLog.append(log, { id: stamp, stamp, text: `entry ${step.value}` }) };
    default:
      return { ...doc, note: step.value };
  }
}
