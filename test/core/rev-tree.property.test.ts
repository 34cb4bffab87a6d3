import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../../src/core/canonical-json.js';
import { type AttachmentIdentity, newRevisionId, type RevisionContent } from '../../src/core/rev-hash.js';
import {
  ancestry,
  collectConflicts,
  collectLeaves,
  type LeafState,
  leafCount,
  mergePath,
  mergeTrees,
  type RevNode,
  type RevPath,
  type RevTree,
  stem,
  winningLeaf,
} from '../../src/core/rev-tree/index.js';
import { revGen } from '../../src/core/revision.js';

const RUNS = { numRuns: 150 };

// ---------------------------------------------------------------------------------------------
// A "universe": the true, complete edit history of one document, of which replicas see parts.
// ---------------------------------------------------------------------------------------------

interface UniverseNode {
  readonly rev: string;
  readonly gen: number;
  readonly hash: string;
  readonly parent: string | null;
  readonly deleted: boolean;
}

interface Universe {
  readonly nodes: ReadonlyMap<string, UniverseNode>;
  /** Revisions without children in the universe. */
  readonly leaves: readonly string[];
}

/** A piece of history as a replica would send it: a root-to-leaf path, maybe stemmed at the top. */
interface Piece {
  readonly path: RevPath;
  readonly state: LeafState;
}

// Real revision hashes (32 lowercase hex) mixed with short ones, so that string comparison of
// hashes at equal generations is exercised with both, and ties across generations happen.
const hashArb = fc.oneof(fc.stringMatching(/^[0-9a-f]{32}$/), fc.stringMatching(/^[0-9a-z]{1,3}$/));

const universeArb: fc.Arbitrary<Universe> = fc.integer({ min: 1, max: 24 }).chain((size) =>
  fc
    .tuple(
      fc.uniqueArray(hashArb, { minLength: size, maxLength: size }),
      fc.array(
        fc.record({
          // mostly extend one of the few latest revisions: long histories with some branching
          back: fc.nat({ max: 5 }),
          // now and then an unrelated first revision (the same id created twice independently)
          newRoot: fc.integer({ min: 0, max: 11 }).map((n) => n === 0),
          deleted: fc.integer({ min: 0, max: 3 }).map((n) => n === 0),
        }),
        { minLength: size, maxLength: size },
      ),
    )
    .map(([hashes, shapes]) => {
      const nodes = new Map<string, UniverseNode>();
      const order: UniverseNode[] = [];
      shapes.forEach((shape, i) => {
        const parent = i === 0 || shape.newRoot ? null : order[i - 1 - (shape.back % Math.min(i, 6))]!;
        const gen = parent === null ? 1 : parent.gen + 1;
        const hash = hashes[i]!;
        const node = {
          rev: `${gen}-${hash}`,
          gen,
          hash,
          parent: parent?.rev ?? null,
          deleted: shape.deleted,
        };
        nodes.set(node.rev, node);
        order.push(node);
      });
      const parents = new Set(order.map((node) => node.parent));
      return { nodes, leaves: order.filter((node) => !parents.has(node.rev)).map((node) => node.rev) };
    }),
);

/** The universe's ancestry of a revision, root first. */
function lineage(universe: Universe, rev: string): UniverseNode[] {
  const line: UniverseNode[] = [];
  for (let at: string | null = rev; at !== null;) {
    const node: UniverseNode = universe.nodes.get(at)!;
    line.unshift(node);
    at = node.parent;
  }
  return line;
}

/**
 * A path from the universe: to a leaf (or, sometimes, to any revision, as a replica that has not
 * seen later edits would send), with some of its oldest revisions dropped as if stemmed.
 */
function pieceArb(universe: Universe): fc.Arbitrary<Piece> {
  const all = [...universe.nodes.keys()];
  return fc
    .record({
      pick: fc.nat(),
      anyRevision: fc.integer({ min: 0, max: 4 }).map((n) => n === 0),
      drop: fc.nat(),
    })
    .map(({ pick, anyRevision, drop }) => {
      const candidates = anyRevision ? all : universe.leaves;
      const end = candidates[pick % candidates.length]!;
      const line = lineage(universe, end).slice(drop % 3 === 0 ? 0 : drop % lineage(universe, end).length);
      const last = line[line.length - 1]!;
      return {
        path: { start: line[0]!.gen, hashes: line.map((node) => node.hash) },
        state: { deleted: last.deleted, hasBody: true },
      };
    });
}

interface Scenario {
  universe: Universe;
  pieces: Piece[];
  /** A permutation of the pieces and a grouping of them, to merge them differently. */
  order: number[];
  groups: number[];
}

const scenarioArb: fc.Arbitrary<Scenario> = universeArb.chain((universe) =>
  fc.integer({ min: 1, max: 8 }).chain((count) =>
    fc.record({
      universe: fc.constant(universe),
      pieces: fc.array(pieceArb(universe), { minLength: count, maxLength: count }),
      order: fc.array(fc.nat(), { minLength: count, maxLength: count }).map((keys) =>
        keys
          .map((key, i) => [key, i] as const)
          .sort((a, b) => a[0] - b[0] || a[1] - b[1])
          .map(([, i]) => i),
      ),
      groups: fc.array(fc.nat({ max: 3 }), { minLength: count, maxLength: count }),
    }),
  ),
);

const EMPTY: RevTree = new Map();

function mergeAll(pieces: readonly Piece[], tree: RevTree = EMPTY): RevTree {
  return pieces.reduce((acc, piece) => mergePath(acc, piece.path, piece.state).tree, tree);
}

/** The tree every merge of `pieces` must give, built without mergePath: sets of nodes and edges. */
function expectedTree(universe: Universe, pieces: readonly Piece[]): RevTree {
  const revs = new Set<string>();
  const linked = new Set<string>();
  const ends = new Set<string>();
  for (const { path } of pieces) {
    path.hashes.forEach((hash, i) => {
      const rev = `${path.start + i}-${hash}`;
      revs.add(rev);
      if (i > 0) linked.add(rev);
      if (i === path.hashes.length - 1) ends.add(rev);
    });
  }
  const tree = new Map<string, RevNode>();
  for (const rev of revs) {
    const node = universe.nodes.get(rev)!;
    tree.set(rev, {
      gen: node.gen,
      hash: node.hash,
      parent: linked.has(rev) ? node.parent : null,
      deleted: ends.has(rev) && node.deleted,
      hasBody: ends.has(rev),
    });
  }
  return tree;
}

/** A tree as comparable data: its nodes sorted by revision id. */
function entries(tree: RevTree): [string, RevNode][] {
  return [...tree]
    .map(([rev, n]): [string, RevNode] => [
      rev,
      { gen: n.gen, hash: n.hash, parent: n.parent, deleted: n.deleted, hasBody: n.hasBody },
    ])
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/** Leaves, winner and conflicts: everything a reader sees of a tree. */
function visible(tree: RevTree) {
  const leaves = collectLeaves(tree);
  return { leaves, winner: leaves[0]?.rev, ...collectConflicts(leaves) };
}

/** The reference winner: the greatest (live, generation, hash) among the tree's leaves. */
function referenceWinner(tree: RevTree): string {
  const parents = new Set([...tree.values()].map((node) => node.parent));
  const key = (node: RevNode) => [node.deleted ? 0 : 1, node.gen, node.hash] as const;
  let best: [string, RevNode] | undefined;
  for (const entry of tree) {
    if (parents.has(entry[0])) continue;
    if (!best) {
      best = entry;
      continue;
    }
    const [a, b] = [key(entry[1]), key(best[1])];
    if (a[0] !== b[0] ? a[0] > b[0] : a[1] !== b[1] ? a[1] > b[1] : a[2] > b[2]) best = entry;
  }
  return best![0];
}

/** Checks the flat representation's own invariants. */
function expectWellFormed(tree: RevTree): void {
  for (const [rev, node] of tree) {
    expect(rev).toBe(`${node.gen}-${node.hash}`);
    if (node.parent !== null) {
      const parent = tree.get(node.parent);
      expect(parent, `parent of ${rev}`).toBeDefined();
      expect(parent!.gen).toBe(node.gen - 1);
    }
  }
}

describe('merging paths of one history', () => {
  it('gives the same tree, winner and conflicts in any order and any grouping', () => {
    fc.assert(
      fc.property(scenarioArb, ({ universe, pieces, order, groups }) => {
        const expected = entries(expectedTree(universe, pieces));

        const inOrder = mergeAll(pieces);
        const shuffled = mergeAll(order.map((i) => pieces[i]!));
        const reversed = mergeAll([...pieces].reverse());

        // grouped: each group merged into its own tree (as separate replicas would), then united
        const byGroup = new Map<number, Piece[]>();
        order.forEach((i, position) => {
          const group = groups[position]!;
          byGroup.set(group, [...(byGroup.get(group) ?? []), pieces[i]!]);
        });
        const groupTrees = [...byGroup.values()].map((group) => mergeAll(group));
        const united = groupTrees.reduce(mergeTrees, EMPTY);
        const unitedBackwards = [...groupTrees].reverse().reduce((acc, tree) => mergeTrees(tree, acc), EMPTY);
        // mixed: one replica's tree, then the other pieces merged path by path
        const [firstGroup = [], ...otherGroups] = [...byGroup.values()];
        const mixed = mergeAll(otherGroups.flat(), mergeAll(firstGroup));

        for (const tree of [inOrder, shuffled, reversed, united, unitedBackwards, mixed]) {
          expect(entries(tree)).toEqual(expected);
          expect(visible(tree)).toEqual(visible(inOrder));
          expect(winningLeaf(tree).rev).toBe(referenceWinner(tree));
          expectWellFormed(tree);
        }
      }),
      RUNS,
    );
  });

  it('is idempotent: merging a path or a tree again changes nothing', () => {
    fc.assert(
      fc.property(scenarioArb, ({ pieces, groups }) => {
        const tree = mergeAll(pieces);
        for (const piece of pieces) {
          const again = mergePath(tree, piece.path, piece.state);
          expect(again.outcome).toBe('internal_node');
          expect(again.tree).toBe(tree);
        }
        expect(entries(mergeTrees(tree, tree))).toEqual(entries(tree));
        const part = mergeAll(pieces.filter((_, i) => groups[i] === 0));
        expect(entries(mergeTrees(tree, part))).toEqual(entries(tree));
        expect(entries(mergeTrees(part, tree))).toEqual(entries(tree));
      }),
      RUNS,
    );
  });

  it('reports new_leaf, new_branch or internal_node consistently with the leaves it changes', () => {
    fc.assert(
      fc.property(scenarioArb, ({ pieces }) => {
        let tree = EMPTY;
        for (const piece of pieces) {
          const last = piece.path.hashes.length - 1;
          const leafRev = `${piece.path.start + last}-${piece.path.hashes[last]}`;
          const known = tree.has(leafRev);
          const before = leafCount(tree);
          const result = mergePath(tree, piece.path, piece.state);
          const after = leafCount(result.tree);
          if (known) expect(result.outcome).toBe('internal_node');
          else if (tree.size === 0) expect(result.outcome).toBe('new_leaf');
          else expect(result.outcome).toBe(after > before ? 'new_branch' : 'new_leaf');
          expect(result.tree.has(leafRev)).toBe(true);
          tree = result.tree;
        }
      }),
      RUNS,
    );
  });

  it('an edit on a leaf never creates a conflict', () => {
    fc.assert(
      fc.property(scenarioArb, fc.integer({ min: 1, max: 6 }), fc.boolean(), ({ pieces }, limit, deleted) => {
        const merged = mergeAll(pieces);
        for (const tree of [merged, stem(merged, limit)]) {
          const leaves = collectLeaves(tree);
          for (const leaf of leaves) {
            // universe hashes have 1-3 or 32 characters: this one is new
            const child = `edit-of-${leaf.hash}`;
            const { tree: edited, outcome } = mergePath(
              tree,
              { start: leaf.gen, hashes: [leaf.hash, child] },
              {
                deleted,
                hasBody: true,
              },
            );
            expect(outcome).toBe('new_leaf');
            expect(leafCount(edited)).toBe(leaves.length);
            const childRev = `${leaf.gen + 1}-${child}`;
            expect(new Set(collectLeaves(edited).map((l) => l.rev))).toEqual(
              new Set([...leaves.filter((l) => l.rev !== leaf.rev).map((l) => l.rev), childRev]),
            );
            expect(edited.get(childRev)).toEqual({
              gen: leaf.gen + 1,
              hash: child,
              parent: leaf.rev,
              deleted,
              hasBody: true,
            });
          }
        }
      }),
      RUNS,
    );
  });
});

describe('stemming', () => {
  it('keeps every leaf and the winner, and exactly the last `limit` revisions of each leaf', () => {
    fc.assert(
      fc.property(scenarioArb, fc.integer({ min: 1, max: 8 }), ({ pieces }, limit) => {
        const tree = mergeAll(pieces);
        const stemmed = stem(tree, limit);
        expectWellFormed(stemmed);
        expect(visible(stemmed)).toEqual(visible(tree));

        // a revision survives iff it is among the last `limit` revisions of some leaf
        const leaves = collectLeaves(tree);
        const wanted = new Set(leaves.flatMap((leaf) => ancestry(tree, leaf.rev).slice(0, limit)));
        expect(new Set(stemmed.keys())).toEqual(wanted);

        for (const leaf of leaves) {
          const full = ancestry(tree, leaf.rev);
          const kept = ancestry(stemmed, leaf.rev);
          // every leaf keeps its last min(limit, history) revisions; it can keep more only
          // through ancestors that another, shorter branch keeps
          expect(kept.slice(0, limit)).toEqual(full.slice(0, limit));
          expect(kept).toEqual(full.slice(0, kept.length));
          if (leaves.length === 1) expect(kept).toHaveLength(Math.min(limit, full.length));
        }
        // surviving revisions are unchanged but for a parent link cut above a new root
        for (const [rev, node] of stemmed) {
          const original = tree.get(rev)!;
          expect({ ...node, parent: null }).toEqual({ ...original, parent: null });
          if (node.parent !== null) expect(node.parent).toBe(original.parent);
        }
      }),
      RUNS,
    );
  });

  it('is idempotent, and stemming twice is stemming to the smaller limit', () => {
    fc.assert(
      fc.property(
        scenarioArb,
        fc.integer({ min: 1, max: 8 }),
        fc.integer({ min: 1, max: 8 }),
        ({ pieces }, first, second) => {
          const tree = mergeAll(pieces);
          const once = stem(tree, first);
          expect(stem(once, first)).toBe(once);
          expect(entries(stem(once, second))).toEqual(entries(stem(tree, Math.min(first, second))));
        },
      ),
      RUNS,
    );
  });

  it('commutes with merging as far as leaves go: leaves(stem(merge(a, b))) = leaves(merge(a, b))', () => {
    fc.assert(
      fc.property(scenarioArb, fc.integer({ min: 1, max: 6 }), ({ pieces, groups }, limit) => {
        const a = mergeAll(pieces.filter((_, i) => groups[i]! % 2 === 0));
        const b = mergeAll(pieces.filter((_, i) => groups[i]! % 2 === 1));
        const merged = mergeTrees(a, b);
        expect(collectLeaves(stem(merged, limit))).toEqual(collectLeaves(merged));
        // stemming each side first loses no leaf either: merging stemmed trees keeps them all
        const ofStemmed = mergeTrees(stem(a, limit), stem(b, limit));
        const leafRevs = new Set(collectLeaves(ofStemmed).map((leaf) => leaf.rev));
        for (const leaf of collectLeaves(merged)) expect(leafRevs.has(leaf.rev)).toBe(true);
      }),
      RUNS,
    );
  });

  it('a stemmed tree merges back with the full history it came from', () => {
    fc.assert(
      fc.property(scenarioArb, fc.integer({ min: 1, max: 6 }), ({ pieces }, limit) => {
        const tree = mergeAll(pieces);
        const restored = mergeTrees(stem(tree, limit), tree);
        expect(entries(restored)).toEqual(entries(tree));
        // and merging every piece again into the stemmed tree re-attaches what was stemmed
        expect(entries(mergeAll(pieces, stem(tree, limit)))).toEqual(entries(tree));
      }),
      RUNS,
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Deterministic revision ids
// ---------------------------------------------------------------------------------------------

const bodyArb = fc.dictionary(fc.string(), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 6 }) as fc.Arbitrary<
  Record<string, unknown>
>;
const parentArb = fc.option(
  fc
    .tuple(fc.integer({ min: 1, max: 10_000 }), fc.stringMatching(/^[0-9a-f]{32}$/))
    .map(([gen, hash]) => `${gen}-${hash}`),
  { nil: null },
);
const attachmentArb: fc.Arbitrary<AttachmentIdentity> = fc.record({
  name: fc.string({ minLength: 1 }),
  contentType: fc.constantFrom('text/plain', 'image/png', 'application/octet-stream', 'application/json'),
  digest: fc.stringMatching(/^md5-[A-Za-z0-9+/]{22}==$/),
});
const attachmentsArb = fc.uniqueArray(attachmentArb, { selector: (att) => att.name, maxLength: 4 });
const contentArb: fc.Arbitrary<RevisionContent> = fc.record({
  deleted: fc.boolean(),
  parentRev: parentArb,
  body: bodyArb,
  attachments: attachmentsArb,
});

/** The same JSON value with the keys of every object in another order. */
function reorderKeys(value: unknown, reverse: boolean): unknown {
  if (Array.isArray(value)) return value.map((item) => reorderKeys(item, !reverse));
  if (typeof value !== 'object' || value === null) return value;
  const keys = Object.keys(value).sort();
  if (reverse) keys.reverse();
  return Object.fromEntries(
    keys.map((key) => [key, reorderKeys((value as Record<string, unknown>)[key], !reverse)]),
  );
}

describe('newRevisionId', () => {
  it('is "gen-hash" with the generation one above the parent and 32 lowercase hex', () => {
    fc.assert(
      fc.property(contentArb, (content) => {
        const rev = newRevisionId(content);
        expect(rev).toMatch(/^[1-9][0-9]*-[0-9a-f]{32}$/);
        expect(revGen(rev)).toBe(content.parentRev === null ? 1 : revGen(content.parentRev) + 1);
      }),
      RUNS,
    );
  });

  it('is the md5 of the canonical JSON of [deleted, parent, body, sorted attachments] (protocol §1.8)', () => {
    fc.assert(
      fc.property(contentArb, (content) => {
        const atts = content.attachments
          .map((att) => [att.name, att.contentType, att.digest])
          .sort((a, b) => (a[0]! < b[0]! ? -1 : 1));
        const text = canonicalJson([content.deleted, content.parentRev, content.body, atts]);
        const hash = createHash('md5').update(text, 'utf8').digest('hex');
        expect(newRevisionId(content).split('-')[1]).toBe(hash);
      }),
      RUNS,
    );
    // every Settee replica gives the empty first revision the same id
    expect(newRevisionId({ deleted: false, parentRev: null, body: {}, attachments: [] })).toBe(
      `1-${createHash('md5').update('[false,null,{},[]]').digest('hex')}`,
    );
  });

  it('does not depend on the order of keys or of attachments', () => {
    fc.assert(
      fc.property(contentArb, fc.boolean(), (content, reverse) => {
        const reordered: RevisionContent = {
          ...content,
          body: reorderKeys(content.body, reverse) as Record<string, unknown>,
          attachments: [...content.attachments].reverse(),
        };
        expect(newRevisionId(reordered)).toBe(newRevisionId(content));
      }),
      RUNS,
    );
  });

  it('changes with the body', () => {
    fc.assert(
      fc.property(contentArb, fc.string(), fc.jsonValue({ maxDepth: 2 }), (content, key, value) => {
        const body = Object.fromEntries([
          ...Object.entries(content.body).filter(([k]) => k !== key),
          [key, value],
        ]);
        fc.pre(canonicalJson(body) !== canonicalJson(content.body));
        expect(newRevisionId({ ...content, body })).not.toBe(newRevisionId(content));
      }),
      RUNS,
    );
  });

  it('changes with the deleted flag', () => {
    fc.assert(
      fc.property(contentArb, (content) => {
        expect(newRevisionId({ ...content, deleted: !content.deleted })).not.toBe(newRevisionId(content));
      }),
      RUNS,
    );
  });

  it('changes with the parent revision', () => {
    fc.assert(
      fc.property(contentArb, parentArb, (content, parentRev) => {
        fc.pre(parentRev !== content.parentRev);
        const other = newRevisionId({ ...content, parentRev });
        expect(other).not.toBe(newRevisionId(content));
        // even the hash alone differs, not just the generation
        expect(other.split('-')[1]).not.toBe(newRevisionId(content).split('-')[1]);
      }),
      RUNS,
    );
  });

  it('changes with an attachment name, content type or digest, or an attachment added', () => {
    fc.assert(
      fc.property(
        contentArb,
        fc.nat(),
        fc.constantFrom('name', 'contentType', 'digest'),
        attachmentArb,
        (content, pick, field, replacement) => {
          const id = newRevisionId(content);
          const added = [...content.attachments, replacement];
          if (!content.attachments.some((att) => att.name === replacement.name)) {
            expect(newRevisionId({ ...content, attachments: added })).not.toBe(id);
          }
          fc.pre(content.attachments.length > 0);
          const index = pick % content.attachments.length;
          const changed = { ...content.attachments[index]!, [field]: replacement[field] };
          fc.pre(changed[field] !== content.attachments[index]![field]);
          fc.pre(!content.attachments.some((att, i) => i !== index && att.name === changed.name));
          const attachments = content.attachments.map((att, i) => (i === index ? changed : att));
          expect(newRevisionId({ ...content, attachments })).not.toBe(id);
          expect(
            newRevisionId({ ...content, attachments: content.attachments.filter((_, i) => i !== index) }),
          ).not.toBe(id);
        },
      ),
      RUNS,
    );
  });
});
