import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../../src/core/canonical-json.js';
import {
  AddWinsSet,
  AppendOnlyLog,
  type LogEntry,
  LwwRegister,
  PNCounter,
} from '../../src/conflicts/index.js';

const RUNS = { numRuns: 200 };

// Replica names and tags include `__proto__` on purpose: JSON allows it as a key.
const replica = fc.constantFrom('a', 'b', 'c', '__proto__');
const tag = fc.constantFrom('t1', 't2', 't3', 't4', 't5', '__proto__');
const stamp = fc.constantFrom('s1', 's2', 's3', 's4');
const value = fc.oneof(
  fc.constantFrom('x', 'y', 'z'),
  fc.integer({ min: 0, max: 3 }),
  fc.constant({ k: [1] }),
);

const totals = fc.array(fc.tuple(replica, fc.nat({ max: 50 }))).map((entries) => Object.fromEntries(entries));
const counterArb: fc.Arbitrary<PNCounter> = fc.record({ p: totals, n: totals });
const setArb: fc.Arbitrary<AddWinsSet> = fc.record({
  adds: fc.array(fc.tuple(tag, value)).map((entries) => Object.fromEntries(entries)),
  removed: fc.uniqueArray(tag).map((tags) => tags.sort()),
});
const registerArb: fc.Arbitrary<LwwRegister> = fc.record({ value, stamp });
const logArb: fc.Arbitrary<LogEntry[]> = fc.array(
  fc.record({ id: fc.constantFrom('e1', 'e2', 'e3', 'e4'), stamp, text: fc.constantFrom('a', 'b') }),
);

/** Commutativity, associativity and idempotence of a merge, compared as canonical JSON. */
function mergeLaws<T>(name: string, arb: fc.Arbitrary<T>, merge: (a: T, b: T) => T): void {
  const json = (x: T) => canonicalJson(x);
  describe(`${name} merge`, () => {
    it('is commutative', () => {
      fc.assert(
        fc.property(arb, arb, (a, b) => {
          expect(json(merge(a, b))).toBe(json(merge(b, a)));
        }),
        RUNS,
      );
    });
    it('is associative', () => {
      fc.assert(
        fc.property(arb, arb, arb, (a, b, c) => {
          expect(json(merge(merge(a, b), c))).toBe(json(merge(a, merge(b, c))));
        }),
        RUNS,
      );
    });
    it('is idempotent', () => {
      fc.assert(
        fc.property(arb, arb, (a, b) => {
          const m = merge(a, b);
          expect(json(merge(m, m))).toBe(json(m));
          expect(json(merge(m, b))).toBe(json(m));
          expect(json(merge(a, a))).toBe(json(merge(merge(a, a), a)));
        }),
        RUNS,
      );
    });
  });
}

mergeLaws('PN-counter', counterArb, PNCounter.merge);
mergeLaws('add-wins set', setArb, AddWinsSet.merge);
mergeLaws('LWW register', registerArb, LwwRegister.merge);
mergeLaws('append-only log', logArb, AppendOnlyLog.merge);

describe('PNCounter', () => {
  it('counts increments and decrements of several replicas', () => {
    let a = PNCounter.increment(PNCounter.empty(), 'a', 3);
    let b = PNCounter.increment(a, 'b');
    a = PNCounter.increment(a, 'a', -1);
    b = PNCounter.increment(b, 'b', 4);
    expect(PNCounter.value(a)).toBe(2);
    expect(PNCounter.value(b)).toBe(8);
    const merged = PNCounter.merge(a, b);
    expect(merged).toEqual({ p: { a: 3, b: 5 }, n: { a: 1 } });
    expect(PNCounter.value(merged)).toBe(7);
    expect(() => PNCounter.increment(merged, 'a', Number.NaN)).toThrow(RangeError);
  });

  it('after merging every replica, the value is the sum of all increments', () => {
    const ops = fc.array(fc.tuple(fc.nat({ max: 2 }), fc.integer({ min: -5, max: 5 })), { maxLength: 30 });
    fc.assert(
      fc.property(ops, (steps) => {
        const replicas = [PNCounter.empty(), PNCounter.empty(), PNCounter.empty()];
        let total = 0;
        for (const [i, by] of steps) {
          replicas[i] = PNCounter.increment(replicas[i]!, `r${i}`, by);
          total += by;
          // Gossip now and then: the merged value must never double-count.
          if (by === 0) replicas[(i + 1) % 3] = PNCounter.merge(replicas[i]!, replicas[(i + 1) % 3]!);
        }
        expect(PNCounter.value(replicas.reduce(PNCounter.merge))).toBe(total);
      }),
      RUNS,
    );
  });

  it('recognizes its shape', () => {
    expect(PNCounter.is({ p: { a: 1 }, n: {} })).toBe(true);
    expect(PNCounter.is({ p: { a: -1 }, n: {} })).toBe(false);
    expect(PNCounter.is({ p: {} })).toBe(false);
    expect(PNCounter.is(3)).toBe(false);
  });

  it('keeps a replica named __proto__ as an ordinary entry', () => {
    const counter = PNCounter.increment(PNCounter.empty(), '__proto__', 2);
    expect(Object.hasOwn(counter.p, '__proto__')).toBe(true);
    expect(PNCounter.value(PNCounter.merge(counter, counter))).toBe(2);
  });
});

describe('AddWinsSet', () => {
  it('adds, removes and lists distinct values', () => {
    let set = AddWinsSet.add(AddWinsSet.empty<string>(), 'b', 't1');
    set = AddWinsSet.add(set, 'a', 't2');
    set = AddWinsSet.add(set, 'b', 't3');
    expect(AddWinsSet.values(set)).toEqual(['a', 'b']);
    set = AddWinsSet.remove(set, 'b');
    expect(AddWinsSet.values(set)).toEqual(['a']);
    expect(AddWinsSet.has(set, 'b')).toBe(false);
    expect(set.removed).toEqual(['t1', 't3']);
  });

  it('lets an add concurrent with a remove win', () => {
    const shared = AddWinsSet.add(AddWinsSet.empty(), 'x', 'a1');
    const removedOnB = AddWinsSet.remove(shared, 'x');
    const readdedOnA = AddWinsSet.add(shared, 'x', 'a2');
    const merged = AddWinsSet.merge(removedOnB, readdedOnA);
    expect(AddWinsSet.values(merged)).toEqual(['x']);
    // A remove that has seen every add removes the value everywhere.
    expect(AddWinsSet.values(AddWinsSet.merge(AddWinsSet.remove(merged, 'x'), readdedOnA))).toEqual([]);
  });

  it('compares values as JSON', () => {
    const set = AddWinsSet.add(
      AddWinsSet.add(AddWinsSet.empty(), { a: 1, b: 2 }, 't1'),
      { b: 2, a: 1 },
      't2',
    );
    expect(AddWinsSet.values(set)).toHaveLength(1);
    expect(AddWinsSet.values(AddWinsSet.remove(set, { b: 2, a: 1 }))).toEqual([]);
  });

  it('does not resurrect a removed tag', () => {
    const set = AddWinsSet.remove(AddWinsSet.add(AddWinsSet.empty(), 'x', 't1'), 'x');
    expect(AddWinsSet.values(AddWinsSet.add(set, 'x', 't1'))).toEqual([]);
  });

  it('recognizes its shape', () => {
    expect(AddWinsSet.is(AddWinsSet.empty())).toBe(true);
    expect(AddWinsSet.is({ adds: {}, removed: [1] })).toBe(false);
    expect(AddWinsSet.is({ adds: [], removed: [] })).toBe(false);
  });
});

describe('LwwRegister', () => {
  it('keeps the value with the later stamp, equal stamps by value', () => {
    const older = LwwRegister.of('old', '000000000000001-0000-a');
    const newer = LwwRegister.of('new', '000000000000002-0000-b');
    expect(LwwRegister.merge(older, newer)).toBe(newer);
    expect(LwwRegister.merge(newer, older)).toBe(newer);
    const tie = LwwRegister.of('zzz', older.stamp);
    expect(LwwRegister.merge(older, tie).value).toBe('zzz');
    expect(LwwRegister.is(older)).toBe(true);
    expect(LwwRegister.is({ stamp: 's' })).toBe(false);
  });
});

describe('AppendOnlyLog', () => {
  it('keeps the union of entries, sorted by stamp then id', () => {
    const a = AppendOnlyLog.append(
      [],
      { id: 'a1', stamp: 's2', text: 'A' },
      { id: 'a2', stamp: 's1', text: 'B' },
    );
    const b = AppendOnlyLog.append(
      [],
      { id: 'b1', stamp: 's1', text: 'C' },
      { id: 'a1', stamp: 's2', text: 'A' },
    );
    expect(AppendOnlyLog.merge(a, b).map((e) => e.id)).toEqual(['a2', 'b1', 'a1']);
    expect(AppendOnlyLog.is(a)).toBe(true);
    expect(AppendOnlyLog.is([{ id: 1, stamp: 's' }])).toBe(false);
  });
});
