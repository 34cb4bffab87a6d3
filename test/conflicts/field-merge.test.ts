import { describe, expect, it } from 'vitest';
import { fieldMerge, HybridClock, type Leaf, stampFields } from '../../src/conflicts/index.js';
import { leaf, rev, stamp } from './fixtures.js';

const merge = fieldMerge();

function body(leaves: Leaf[]): Record<string, unknown> | 'keep' {
  const resolution = merge.resolve(leaves);
  if (resolution.kind === 'keep') return 'keep';
  return resolution.deleted ? { deleted: resolution.body } : resolution.body;
}

describe('fieldMerge', () => {
  it('keeps concurrent edits of different fields, without an ancestor', () => {
    const a = leaf(rev(2, 'a'), {
      title: 'New',
      text: 'old',
      settee_fields: { title: stamp(20), text: stamp(10) },
    });
    const b = leaf(rev(2, 'b'), {
      title: 'Old',
      text: 'new',
      settee_fields: { title: stamp(10), text: stamp(30) },
    });
    expect(body([a, b])).toEqual({
      title: 'New',
      text: 'new',
      settee_fields: { title: stamp(20), text: stamp(30) },
    });
  });

  it('gives each field the value with the latest stamp, a removal included', () => {
    const a = leaf(rev(2, 'a'), { n: 1, settee_fields: { n: stamp(10), gone: stamp(50) } });
    const b = leaf(rev(2, 'b'), {
      n: 2,
      gone: 'still here',
      settee_fields: { n: stamp(20), gone: stamp(40) },
    });
    expect(body([a, b])).toEqual({ n: 2, settee_fields: { n: stamp(20), gone: stamp(50) } });
  });

  it('prefers stamped versions, and the CouchDB winner for unstamped fields or equal stamps', () => {
    const a = leaf(rev(3, 'a'), { x: 'a', y: 'a', z: 'a', settee_fields: { z: stamp(5) } });
    const b = leaf(rev(2, 'b'), {
      x: 'b',
      y: 'b',
      w: 'b',
      z: 'b',
      settee_fields: { x: stamp(1), z: stamp(5) },
    });
    // x: only b is stamped; y: nobody, the winner a decides; w: only in b, unstamped: winner a lacks it.
    expect(body([a, b])).toEqual({ x: 'b', y: 'a', z: 'a', settee_fields: { x: stamp(1), z: stamp(5) } });
  });

  it('deletes the document when the deletion is later than every write', () => {
    const live = leaf(rev(2, 'a'), { n: 1, settee_fields: { n: stamp(10), _created: stamp(1) } });
    const gone = leaf(rev(2, 'b'), { settee_fields: { n: stamp(10), _deleted: stamp(20) } }, true);
    expect(body([live, gone])).toEqual({
      deleted: { settee_fields: { _created: stamp(1), _deleted: stamp(20) } },
    });
  });

  it('keeps, of an edit concurrent with a deletion, only what was written after it', () => {
    const live = leaf(rev(3, 'a'), { n: 1, m: 2, settee_fields: { n: stamp(10), m: stamp(30) } });
    const gone = leaf(rev(2, 'b'), { settee_fields: { _deleted: stamp(20) } }, true);
    expect(body([live, gone])).toEqual({ m: 2, settee_fields: { m: stamp(30), _deleted: stamp(20) } });
  });

  it('lets a recreation after a deletion live, even without fields', () => {
    const recreated = leaf(rev(3, 'a'), { settee_fields: { _deleted: stamp(20), _created: stamp(30) } });
    const gone = leaf(rev(2, 'b'), { settee_fields: { _deleted: stamp(20) } }, true);
    expect(body([recreated, gone])).toBe('keep');
  });

  it('ignores tombstones without stamps, as resolutions write them', () => {
    const live = leaf(rev(2, 'a'), { n: 1, settee_fields: { n: stamp(10) } });
    expect(body([live, leaf(rev(5, 'f'), {}, true)])).toBe('keep');
  });

  it('keeps what it merged: resolving the result again changes nothing', () => {
    const a = leaf(rev(2, 'a'), { title: 'New', settee_fields: { title: stamp(20) } });
    const b = leaf(rev(2, 'b'), { text: 'x', settee_fields: { text: stamp(30) } });
    const merged = merge.resolve([a, b]);
    expect(merged.kind).toBe('merge');
    if (merged.kind !== 'merge') return;
    const after = [leaf(rev(3, 'm'), merged.body), leaf(rev(3, 't'), {}, true)];
    expect(merge.resolve(after)).toEqual({ kind: 'keep' });
  });

  it('merges what stampFields wrote on two replicas', () => {
    let t = 1_000;
    const a = new HybridClock('a', () => t);
    const b = new HybridClock('b', () => t + 7);
    const base = stampFields(null, { title: 'T', tags: ['x'], count: 1 }, a);
    t += 10;
    const onA = stampFields(base, { ...base, title: 'T2' }, a);
    const onB = stampFields(base, { ...base, count: 2, tags: ['x', 'y'] }, b);
    expect(body([leaf(rev(2, 'a'), onA), leaf(rev(2, 'b'), onB)])).toMatchObject({
      title: 'T2',
      count: 2,
      tags: ['x', 'y'],
    });
  });

  it('reads the stamps from the field it is told', () => {
    const a = leaf(rev(2, 'a'), { x: 1, meta: { x: stamp(2) } });
    const b = leaf(rev(2, 'b'), { x: 2, meta: { x: stamp(1) } });
    expect(fieldMerge({ field: 'meta' }).resolve([a, b])).toEqual({
      kind: 'merge',
      body: { x: 1, meta: { x: stamp(2) } },
    });
  });
});
