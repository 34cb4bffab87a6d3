/**
 * The scenario that matters (issue 5): replicas resolving the same conflict independently write
 * the same revision, so syncing their resolutions creates no new conflict; and replicas that saw
 * different leaf sets, syncing pairwise and resolving, quiesce with one agreed document.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  couchdbDefault,
  formatStamp,
  isStamp,
  lastWriterWins,
  type Leaf,
  planResolution,
  PNCounter,
  readFieldStamps,
  type Resolver,
  userFields,
} from '../../src/conflicts/index.js';
import { leaf, rev } from './fixtures.js';
import {
  emptyTree,
  leavesOf,
  liveLeaves,
  quiesce,
  resolveTree,
  revOf,
  sameTree,
  type Tree,
  union,
} from './model.js';
import { resolverFor, runSteps, startReplicas, stepArb, type Strategy } from './sim.js';

const RUNS = { numRuns: 120 };
const STRATEGIES: Strategy[] = ['lww', 'lww-unstamped', 'fields', 'crdt', 'custom'];
const skews = fc.array(fc.integer({ min: -30_000, max: 30_000 }), { minLength: 3, maxLength: 3 });

/** The merged revision id a replica would write for these leaves, or null for keep. */
function mergedRev(resolver: Resolver, leaves: Leaf[]): string | null {
  const plan = planResolution(leaves, resolver.resolve(leaves));
  return plan && revOf(plan.merged);
}

describe('replicas resolving the same leaves independently', () => {
  it('write the same revision (example: last writer wins, three replicas)', () => {
    const stamp = (wall: number, node: string) => formatStamp({ wall, counter: 0, node });
    const leaves = [
      leaf(rev(2, 'a'), { v: 'a', settee_hlc: stamp(10, 'a') }),
      leaf(rev(2, 'b'), { v: 'b', settee_hlc: stamp(30, 'b') }),
      leaf(rev(3, 'c'), { v: 'c', settee_hlc: stamp(20, 'c') }),
    ];
    const lww = lastWriterWins();
    const revs = [leaves, [...leaves].reverse(), [leaves[1]!, leaves[2]!, leaves[0]!]].map((l) =>
      mergedRev(lww, l),
    );
    expect(new Set(revs).size).toBe(1);
    const plan = planResolution(leaves, lww.resolve(leaves))!;
    expect(plan.merged).toEqual({
      parentRev: rev(3, 'c'),
      deleted: false,
      body: { v: 'b', settee_hlc: stamp(30, 'b') },
    });
    expect(revs[0]).toBe(revOf(plan.merged));
  });

  it.each(STRATEGIES)('%s: write the same revisions, and syncing them leaves one winner', (strategy) => {
    fc.assert(
      fc.property(skews, fc.array(stepArb(3), { maxLength: 30 }), (offsets, steps) => {
        const replicas = startReplicas(strategy, 3, offsets);
        runSteps(strategy, replicas, steps);
        // Every replica gets every revision, each in its own order, and resolves on its own.
        const trees = replicas.map((_, i) =>
          replicas.map((_, j) => replicas[(i + j) % replicas.length]!.tree).reduce(union, emptyTree),
        );
        const resolver = resolverFor(strategy);
        const resolved = trees.map((tree) => resolveTree(tree, resolver));
        for (const tree of resolved) expect(sameTree(tree, resolved[0]!)).toBe(true);
        // After syncing the resolutions: no conflict, and nothing more to write.
        const synced = resolved.reduce(union, emptyTree);
        expect(liveLeaves(synced).length).toBeLessThanOrEqual(1);
        expect(sameTree(resolveTree(synced, resolver), synced)).toBe(true);
      }),
      RUNS,
    );
  });
});

describe('three replicas that saw different leaves, syncing pairwise', () => {
  it.each(STRATEGIES)('%s: quiesce, all agreeing on one document', (strategy) => {
    fc.assert(
      fc.property(skews, fc.array(stepArb(3), { maxLength: 40 }), (offsets, steps) => {
        const replicas = startReplicas(strategy, 3, offsets);
        runSteps(strategy, replicas, steps);
        const { replicas: trees, cycles } = quiesce(
          replicas.map((r) => r.tree),
          resolverFor(strategy),
        );
        expect(cycles).toBeLessThanOrEqual(3);
        for (const tree of trees) expect(sameTree(tree, trees[0]!)).toBe(true);
        expect(liveLeaves(trees[0]!).length).toBeLessThanOrEqual(1);
      }),
      RUNS,
    );
  });

  it('couchdb default: quiesce without writing anything, the conflict left open', () => {
    fc.assert(
      fc.property(skews, fc.array(stepArb(3), { maxLength: 30 }), (offsets, steps) => {
        const replicas = startReplicas('lww-unstamped', 3, offsets);
        runSteps(
          'lww-unstamped',
          replicas,
          steps.map((s) => (s.kind === 'sync' ? { ...s, resolve: false } : s)),
        );
        const all = replicas.map((r) => r.tree).reduce(union, emptyTree);
        const { replicas: trees } = quiesce(
          replicas.map((r) => r.tree),
          couchdbDefault,
        );
        for (const tree of trees) expect(sameTree(tree, all)).toBe(true);
      }),
      RUNS,
    );
  });
});

describe('what survives the resolutions (no deletions)', () => {
  /** Every replica's revisions, resolved pairwise until quiet; the one live document left. */
  function settle(strategy: Strategy, offsets: number[], steps: Parameters<typeof runSteps>[2]) {
    const replicas = startReplicas(strategy, 3, offsets);
    runSteps(strategy, replicas, steps);
    const history = replicas.map((r) => r.tree).reduce(union, emptyTree);
    const { replicas: trees } = quiesce(
      replicas.map((r) => r.tree),
      resolverFor(strategy),
    );
    const [final] = liveLeaves(trees[0]!);
    return { history, final: userFields(final!.doc) };
  }

  const noDeletions = fc.array(stepArb(3, { deletions: false }), { maxLength: 40 });

  it('last writer wins: the body of the write with the greatest stamp', () => {
    fc.assert(
      fc.property(skews, noDeletions, (offsets, steps) => {
        const { history, final } = settle('lww', offsets, steps);
        const latest = [...history.values()]
          .filter((node) => isStamp(node.body.settee_hlc))
          .reduce((a, b) => ((b.body.settee_hlc as string) > (a.body.settee_hlc as string) ? b : a));
        expect(final).toEqual(latest.body);
      }),
      RUNS,
    );
  });

  it('field merge: every field as its latest stamped write left it', () => {
    fc.assert(
      fc.property(skews, noDeletions, (offsets, steps) => {
        const { history, final } = settle('fields', offsets, steps);
        const expected: Record<string, unknown> = {};
        const best = new Map<string, string>();
        for (const node of history.values()) {
          for (const [name, stamp] of Object.entries(readFieldStamps(node.body.settee_fields))) {
            if (name.startsWith('_') || (best.get(name) ?? '') >= stamp) continue;
            best.set(name, stamp);
            if (Object.hasOwn(node.body, name)) expected[name] = node.body[name];
            else delete expected[name];
          }
        }
        const { settee_fields: _, ...fields } = final;
        expect(fields).toEqual(expected);
      }),
      RUNS,
    );
  });

  it('CRDT merge: the counter counts every increment made on any replica', () => {
    fc.assert(
      fc.property(skews, noDeletions, (offsets, steps) => {
        const { final } = settle('crdt', offsets, steps);
        const total = steps.reduce((sum, s) => sum + (s.kind === 'edit' && s.op === 0 ? s.value : 0), 0);
        expect(PNCounter.is(final.likes) ? PNCounter.value(final.likes) : 0).toBe(total);
      }),
      RUNS,
    );
  });
});

describe('the model', () => {
  it('resolves nothing on a single revision', () => {
    const tree: Tree = startReplicas('lww', 1, [0])[0]!.tree;
    expect(leavesOf(tree)).toHaveLength(1);
    expect(sameTree(resolveTree(tree, lastWriterWins()), tree)).toBe(true);
  });
});
