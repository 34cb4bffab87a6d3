import { describe, expect, it } from 'vitest';
import {
  compareStamps,
  fieldMerge,
  formatStamp,
  HybridClock,
  parseStamp,
  stampDocument,
  stampFields,
} from '../../src/conflicts/index.js';

const T0 = 1_795_460_000_000;
const at = (wall: number, counter = 0, node = 'other') => formatStamp({ wall, counter, node });

function clockAt(t = T0, node = 'me'): HybridClock {
  return new HybridClock(node, () => t);
}

describe('stampDocument', () => {
  it('adds a fresh stamp in settee_hlc, or the field it is told', () => {
    const clock = clockAt();
    const doc = { _id: 'a', title: 'x' };
    const stamped = stampDocument(doc, clock);
    expect(stamped).toEqual({ _id: 'a', title: 'x', settee_hlc: at(T0, 0, 'me') });
    expect(doc).toEqual({ _id: 'a', title: 'x' });
    expect(stampDocument(doc, clock, { field: 'ts' }).ts).toBe(at(T0, 1, 'me'));
  });

  it('stamps an edit after the version it edits, even from a clock that is behind', () => {
    const clock = clockAt(T0 - 60_000);
    const read = { title: 'x', settee_hlc: at(T0, 5) };
    const edited = stampDocument({ ...read, title: 'y' }, clock);
    expect(compareStamps(edited.settee_hlc, read.settee_hlc)).toBeGreaterThan(0);
    const previous = { settee_hlc: at(T0 + 10) };
    const recreated = stampDocument({ title: 'z' }, clock, { previous });
    expect(compareStamps(recreated.settee_hlc, previous.settee_hlc)).toBeGreaterThan(0);
  });

  it('does not adopt a stamp too far in the future', () => {
    const clock = clockAt();
    const stamped = stampDocument({ settee_hlc: at(T0 + 86_400_000) }, clock);
    expect(parseStamp(stamped.settee_hlc)).toEqual({ wall: T0, counter: 0, node: 'me' });
  });

  it('ignores a malformed stamp', () => {
    expect(stampDocument({ settee_hlc: 'yesterday' }, clockAt()).settee_hlc).toBe(at(T0, 0, 'me'));
  });
});

describe('stampFields', () => {
  it('stamps every field of a new document, and _created', () => {
    const doc = stampFields(null, { title: 'x', n: 1 }, clockAt());
    const s = at(T0, 0, 'me');
    expect(doc).toEqual({ title: 'x', n: 1, settee_fields: { title: s, n: s, _created: s } });
  });

  it('stamps only what changed, appeared or disappeared', () => {
    const previous = stampFields(null, { title: 'x', n: 1, gone: true, same: { a: 1, b: 2 } }, clockAt());
    const { settee_fields: _, ...fields } = previous;
    const next = { ...fields, title: 'y', extra: 3, same: { b: 2, a: 1 } } as Record<string, unknown>;
    delete next.gone;
    const clock = clockAt(T0 + 5);
    const stamped = stampFields(previous, { ...next, settee_fields: previous.settee_fields }, clock);
    const old = at(T0, 0, 'me');
    const now = at(T0 + 5, 0, 'me');
    expect(stamped.settee_fields).toEqual({
      title: now,
      n: old,
      gone: now,
      same: old,
      extra: now,
      _created: old,
    });
  });

  it('writes nothing new when nothing changed', () => {
    const previous = stampFields(null, { title: 'x' }, clockAt());
    const clock = clockAt(T0 + 5);
    expect(stampFields(previous, { ...previous }, clock)).toEqual(previous);
    expect(clock.last).toBeUndefined();
  });

  it('stamps a deletion with _deleted and keeps the field stamps', () => {
    const previous = stampFields(null, { title: 'x' }, clockAt());
    const deleted = stampFields(previous, { _deleted: true }, clockAt(T0 + 5));
    expect(deleted.settee_fields).toEqual({
      title: at(T0, 0, 'me'),
      _created: at(T0, 0, 'me'),
      _deleted: at(T0 + 5, 0, 'me'),
    });
  });

  it('treats a write over a deletion as a recreation, stamped after the deletion', () => {
    const tombstone = { _deleted: true, settee_fields: { title: at(T0), _deleted: at(T0 + 100) } };
    const recreated = stampFields(tombstone, { title: 'x' }, clockAt(T0 + 50));
    const fields = recreated.settee_fields;
    expect(compareStamps(fields.title!, at(T0 + 100))).toBeGreaterThan(0);
    expect(fields._created).toBe(fields.title);
    expect(fields._deleted).toBe(at(T0 + 100));
  });

  it('drops, at a recreation, the stamps of the fields the deletion removed', () => {
    const tombstone = {
      _deleted: true,
      settee_fields: { title: at(T0), body: at(T0 + 10), _created: at(T0), _deleted: at(T0 + 100) },
    };
    const recreated = stampFields(tombstone, { price: 3 }, clockAt(T0 + 200));
    const stamp = recreated.settee_fields.price!;
    // What a field merge of the recreation with the deletion keeps: the same map, so it is settled.
    expect(recreated.settee_fields).toEqual({ price: stamp, _created: stamp, _deleted: at(T0 + 100) });
    const merged = fieldMerge().resolve([
      { rev: '3-b', deleted: false, doc: { _id: 'd', _rev: '3-b', ...recreated } },
      { rev: '2-a', deleted: true, doc: { _id: 'd', _rev: '2-a', ...tombstone } },
    ]);
    expect(merged).toEqual({ kind: 'keep' });
  });

  it('uses the map in next when there is no previous, and a custom field name', () => {
    const next = { title: 'x', meta: { title: at(T0 - 5) } };
    const doc = stampFields(undefined, next, clockAt(), { field: 'meta' });
    expect(compareStamps(doc.meta.title!, at(T0 - 5))).toBeGreaterThan(0);
  });

  it('handles fields named like Object.prototype members', () => {
    const previous = stampFields(null, { constructor: 1 }, clockAt());
    const next = stampFields(previous, { ...previous, toString: 2, constructor: 1 }, clockAt(T0 + 1));
    expect(Object.keys(next.settee_fields).sort()).toEqual(['_created', 'constructor', 'toString']);
  });
});
