import { describe, expect, it } from 'vitest';
import {
  couchdbDefault,
  couchdbWinner,
  custom,
  lastWriterWins,
  planResolution,
  sortLeaves,
} from '../../src/conflicts/index.js';
import { leaf, rev, stamp } from './fixtures.js';

describe('sortLeaves and couchdbWinner', () => {
  it('use CouchDB winner order: live first, then generation, then hash', () => {
    const leaves = [
      leaf(rev(9, 'f'), {}, true),
      leaf(rev(2, 'a'), {}),
      leaf(rev(3, '0'), {}),
      leaf(rev(2, 'b'), {}),
    ];
    expect(sortLeaves(leaves).map((l) => l.rev)).toEqual([
      rev(3, '0'),
      rev(2, 'b'),
      rev(2, 'a'),
      rev(9, 'f'),
    ]);
    expect(couchdbWinner(leaves).rev).toBe(rev(3, '0'));
    expect(() => couchdbWinner([])).toThrow(RangeError);
  });

  it('drop duplicate revisions', () => {
    const a = leaf(rev(1, 'a'), { x: 1 });
    expect(sortLeaves([a, a, { ...a }])).toHaveLength(1);
  });
});

describe('couchdbDefault', () => {
  it('keeps the winner and leaves the conflict open', () => {
    expect(couchdbDefault.name).toBe('couchdb');
    expect(couchdbDefault.resolve([leaf(rev(1, 'a'), { x: 1 }), leaf(rev(1, 'b'), { x: 2 })])).toEqual({
      kind: 'keep',
    });
  });
});

describe('lastWriterWins', () => {
  const lww = lastWriterWins();

  it('takes the leaf with the latest stamp, even when it is not the CouchDB winner', () => {
    const leaves = [
      leaf(rev(3, 'f'), { v: 'winner by rev', settee_hlc: stamp(100) }),
      leaf(rev(2, 'a'), { _id: 'doc', v: 'latest', settee_hlc: stamp(200) }),
    ];
    expect(lww.resolve(leaves)).toEqual({ kind: 'merge', body: { v: 'latest', settee_hlc: stamp(200) } });
  });

  it('prefers a stamped leaf to an unstamped one, whatever the revisions say', () => {
    const leaves = [
      leaf(rev(5, 'f'), { v: 'foreign client' }),
      leaf(rev(1, 'a'), { v: 'settee', settee_hlc: stamp(1) }),
    ];
    expect(lww.resolve(leaves)).toEqual({ kind: 'merge', body: { v: 'settee', settee_hlc: stamp(1) } });
  });

  it('falls back to CouchDB order without stamps, and on equal stamps', () => {
    const unstamped = [leaf(rev(2, 'a'), { v: 'a' }), leaf(rev(2, 'b'), { v: 'b' })];
    expect(lww.resolve(unstamped)).toEqual({ kind: 'merge', body: { v: 'b' } });
    const tied = [
      leaf(rev(2, 'a'), { v: 'a', settee_hlc: stamp(5) }),
      leaf(rev(2, 'b'), { v: 'b', settee_hlc: stamp(5) }),
      leaf(rev(1, 'c'), { v: 'c', settee_hlc: 'not a stamp' }),
    ];
    expect(lww.resolve(tied)).toEqual({ kind: 'merge', body: { v: 'b', settee_hlc: stamp(5) } });
  });

  it('lets a later stamped deletion delete the document, and an earlier one lose', () => {
    const live = leaf(rev(2, 'a'), { v: 1, settee_hlc: stamp(10) });
    expect(lww.resolve([live, leaf(rev(2, 'b'), { settee_hlc: stamp(20) }, true)])).toEqual({
      kind: 'merge',
      body: { settee_hlc: stamp(20) },
      deleted: true,
    });
    expect(lww.resolve([live, leaf(rev(2, 'b'), { settee_hlc: stamp(5) }, true)])).toEqual({ kind: 'keep' });
    // An unstamped tombstone (what a resolution writes) never beats a live leaf.
    expect(lww.resolve([live, leaf(rev(9, 'f'), {}, true)])).toEqual({ kind: 'keep' });
  });

  it('keeps when there is nothing to resolve', () => {
    expect(lww.resolve([leaf(rev(1, 'a'), { v: 1 })])).toEqual({ kind: 'keep' });
    expect(
      lww.resolve([leaf(rev(1, 'a'), {}, true), leaf(rev(1, 'b'), { settee_hlc: stamp(1) }, true)]),
    ).toEqual({
      kind: 'keep',
    });
    expect(lww.resolve([])).toEqual({ kind: 'keep' });
  });

  it('reads the stamp from the field it is told', () => {
    const leaves = [leaf(rev(2, 'f'), { v: 'a', ts: stamp(1) }), leaf(rev(2, 'a'), { v: 'b', ts: stamp(2) })];
    expect(lastWriterWins({ field: 'ts' }).resolve(leaves)).toEqual({
      kind: 'merge',
      body: { v: 'b', ts: stamp(2) },
    });
  });
});

describe('custom', () => {
  it('gives the function the leaves in winner order and drops _ fields of its body', () => {
    const seen: string[][] = [];
    const resolver = custom('sum', (leaves) => {
      seen.push(leaves.map((l) => l.rev));
      const total = leaves.reduce((sum, l) => sum + Number(l.doc.n ?? 0), 0);
      return { kind: 'merge', body: { _id: 'ignored', n: total } };
    });
    const a = leaf(rev(1, 'a'), { n: 1 });
    const b = leaf(rev(1, 'b'), { n: 2 });
    expect(resolver.name).toBe('sum');
    expect(resolver.resolve([a, b])).toEqual({ kind: 'merge', body: { n: 3 } });
    expect(resolver.resolve([b, a])).toEqual({ kind: 'merge', body: { n: 3 } });
    expect(seen).toEqual([
      [b.rev, a.rev],
      [b.rev, a.rev],
    ]);
  });

  it('turns a merge that changes nothing into keep, and passes keep and deletions through', () => {
    const same = custom('same', (leaves) => ({ kind: 'merge', body: leaves[0]!.doc }));
    expect(same.resolve([leaf(rev(1, 'a'), { n: 1 })])).toEqual({ kind: 'keep' });
    expect(
      custom('k', () => ({ kind: 'keep' })).resolve([leaf(rev(1, 'a'), {}), leaf(rev(1, 'b'), {})]),
    ).toEqual({
      kind: 'keep',
    });
    const remove = custom('delete', () => ({ kind: 'merge', body: {}, deleted: true }));
    expect(remove.resolve([leaf(rev(1, 'a'), { n: 1 })])).toEqual({ kind: 'merge', body: {}, deleted: true });
  });
});

describe('planResolution', () => {
  it('writes the merged body on the CouchDB winner and deletes the other live leaves', () => {
    const leaves = [
      leaf(rev(2, 'a'), { v: 'a' }),
      leaf(rev(3, 'c'), { v: 'c' }),
      leaf(rev(2, 'b'), { v: 'b' }),
      leaf(rev(4, 'd'), {}, true),
    ];
    expect(planResolution(leaves, { kind: 'merge', body: { v: 'm', _rev: 'x' } })).toEqual({
      merged: { parentRev: rev(3, 'c'), deleted: false, body: { v: 'm' } },
      tombstones: [
        { parentRev: rev(2, 'b'), deleted: true, body: {} },
        { parentRev: rev(2, 'a'), deleted: true, body: {} },
      ],
    });
    expect(planResolution(leaves, { kind: 'keep' })).toBeNull();
    expect(planResolution(leaves, { kind: 'merge', body: {}, deleted: true })?.merged.deleted).toBe(true);
    expect(planResolution([], { kind: 'merge', body: {} })).toBeNull();
  });
});
