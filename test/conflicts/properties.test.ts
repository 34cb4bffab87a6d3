/**
 * Properties every resolver must have, on arbitrary leaves (malformed stamps and CRDT values
 * included): the result depends on the set of leaves only, and resolving the result again
 * writes nothing.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../../src/core/canonical-json.js';
import {
  couchdbDefault,
  crdtMerge,
  fieldMerge,
  formatStamp,
  lastWriterWins,
  type Leaf,
  planResolution,
  type Resolution,
  type Resolver,
} from '../../src/conflicts/index.js';
import { revOf } from './model.js';
import { SCHEMA, unionOfFields } from './sim.js';

const RUNS = { numRuns: 300 };

const RESOLVERS: Resolver[] = [
  couchdbDefault,
  lastWriterWins(),
  fieldMerge(),
  crdtMerge(SCHEMA),
  unionOfFields,
];

const stampArb = fc.oneof(
  fc
    .record({ wall: fc.nat({ max: 4 }), counter: fc.nat({ max: 2 }), node: fc.constantFrom('a', 'b') })
    .map(formatStamp),
  fc.constantFrom('not a stamp', 7),
);
const small = fc.oneof(fc.integer({ min: 0, max: 3 }), fc.constantFrom('x', 'y'), fc.constant(null));
const fieldStampsArb = fc
  .array(fc.tuple(fc.constantFrom('x', 'y', 'z', '_deleted', '_created', 'constructor'), stampArb), {
    maxLength: 5,
  })
  .map((entries) => Object.fromEntries(entries));
const counterArb = fc.record({
  p: fc.array(fc.tuple(fc.constantFrom('a', 'b'), fc.nat({ max: 3 }))).map((e) => Object.fromEntries(e)),
  n: fc.constant({}),
});
const setArb = fc.record({
  adds: fc.array(fc.tuple(fc.constantFrom('t1', 't2', 't3'), small)).map((e) => Object.fromEntries(e)),
  removed: fc.subarray(['t1', 't2']),
});

const docArb: fc.Arbitrary<Record<string, unknown>> = fc.record(
  {
    x: small,
    y: small,
    z: small,
    _id: fc.constant('doc'),
    settee_hlc: stampArb,
    settee_fields: fc.oneof(fieldStampsArb, fc.constant('junk')),
    likes: fc.oneof(counterArb, fc.constant('junk')),
    tags: setArb,
    title: fc.oneof(fc.record({ value: small, stamp: stampArb }), small),
    log: fc.array(
      fc.record({ id: fc.constantFrom('e1', 'e2'), stamp: fc.constantFrom('s1', 's2'), v: small }),
    ),
  },
  { requiredKeys: [] },
);

const leavesArb: fc.Arbitrary<Leaf[]> = fc.uniqueArray(
  fc.record({
    rev: fc
      .tuple(fc.integer({ min: 1, max: 4 }), fc.constantFrom('a', 'b', 'c', 'd'))
      .map(([g, c]) => `${g}-${c.repeat(32)}`),
    deleted: fc.boolean(),
    doc: docArb,
  }),
  { selector: (leaf) => leaf.rev, minLength: 1, maxLength: 6 },
);

const json = (resolution: Resolution) => canonicalJson(resolution);

/** The leaves once a resolution is written: the merged revision, the tombstones, the old deleted leaves. */
function afterResolution(leaves: readonly Leaf[], resolution: Resolution): Leaf[] | null {
  const plan = planResolution(leaves, resolution);
  if (!plan) return null;
  const written = [plan.merged, ...plan.tombstones].map((w) => ({
    rev: revOf(w),
    deleted: w.deleted,
    doc: w.body,
  }));
  return [...written, ...leaves.filter((leaf) => leaf.deleted)];
}

describe.each(RESOLVERS.map((resolver) => [resolver.name, resolver] as const))('%s', (_name, resolver) => {
  it('depends on the set of leaves, not their order', () => {
    fc.assert(
      fc.property(
        leavesArb.chain((leaves) =>
          fc.tuple(fc.constant(leaves), fc.shuffledSubarray(leaves, { minLength: leaves.length })),
        ),
        ([leaves, shuffled]) => {
          expect(json(resolver.resolve(shuffled))).toBe(json(resolver.resolve(leaves)));
        },
      ),
      RUNS,
    );
  });

  it('ignores leaves given twice', () => {
    fc.assert(
      fc.property(leavesArb, (leaves) => {
        expect(json(resolver.resolve([...leaves, ...leaves.map((l) => ({ ...l }))]))).toBe(
          json(resolver.resolve(leaves)),
        );
      }),
      RUNS,
    );
  });

  it('writes nothing when resolving its own result again', () => {
    fc.assert(
      fc.property(leavesArb, (leaves) => {
        const resolution = resolver.resolve(leaves);
        const after = afterResolution(leaves, resolution);
        if (!after) return;
        expect(after.filter((leaf) => !leaf.deleted).length).toBeLessThanOrEqual(1);
        expect(resolver.resolve(after)).toEqual({ kind: 'keep' });
      }),
      RUNS,
    );
  });

  it('merges into user fields only, and never resurrects a deleted document', () => {
    fc.assert(
      fc.property(leavesArb, (leaves) => {
        const resolution = resolver.resolve(leaves);
        if (resolution.kind === 'keep') return;
        expect(Object.keys(resolution.body).filter((key) => key.startsWith('_'))).toEqual([]);
        expect(leaves.some((leaf) => !leaf.deleted)).toBe(true);
      }),
      RUNS,
    );
  });
});
