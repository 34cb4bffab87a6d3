import { describe, expect, it } from 'vitest';
import {
  AddWinsSet,
  AppendOnlyLog,
  crdtMerge,
  type CrdtKind,
  LwwRegister,
  PNCounter,
} from '../../src/conflicts/index.js';
import { leaf, rev, stamp } from './fixtures.js';

const resolver = crdtMerge({ likes: 'counter', tags: 'set', title: 'register', log: 'append-only' });

describe('crdtMerge', () => {
  it('merges declared fields from every live leaf and takes the rest from the latest one', () => {
    const base = {
      likes: PNCounter.increment(PNCounter.empty(), 'a', 2),
      tags: AddWinsSet.add(AddWinsSet.empty(), 'x', 't1'),
      title: LwwRegister.of('Draft', stamp(1)),
      log: AppendOnlyLog.append([], { id: 'e1', stamp: stamp(1), text: 'created' }),
    };
    const a = leaf(rev(2, 'a'), {
      ...base,
      likes: PNCounter.increment(base.likes, 'a', 1),
      tags: AddWinsSet.remove(base.tags, 'x'),
      note: 'from a',
      settee_hlc: stamp(30),
    });
    const b = leaf(rev(2, 'b'), {
      ...base,
      likes: PNCounter.increment(base.likes, 'b', 5),
      tags: AddWinsSet.add(base.tags, 'y', 't2'),
      title: LwwRegister.of('Final', stamp(20)),
      log: AppendOnlyLog.append(base.log, { id: 'e2', stamp: stamp(20), text: 'edited' }),
      note: 'from b',
      settee_hlc: stamp(20),
    });
    const resolution = resolver.resolve([a, b]);
    expect(resolution.kind).toBe('merge');
    if (resolution.kind !== 'merge') return;
    const merged = resolution.body;
    expect(PNCounter.value(merged.likes as PNCounter)).toBe(8);
    expect(AddWinsSet.values(merged.tags as AddWinsSet)).toEqual(['y']);
    expect((merged.title as LwwRegister).value).toBe('Final');
    expect((merged.log as { id: string }[]).map((e) => e.id)).toEqual(['e1', 'e2']);
    expect(merged.note).toBe('from a');
    expect(merged.settee_hlc).toBe(stamp(30));
    // Resolving the merged version again writes nothing.
    expect(resolver.resolve([leaf(rev(3, 'm'), merged), leaf(rev(3, 't'), {}, true)])).toEqual({
      kind: 'keep',
    });
  });

  it('skips values of the wrong shape', () => {
    const a = leaf(rev(2, 'a'), { likes: 'many', settee_hlc: stamp(2) });
    const b = leaf(rev(2, 'b'), { likes: PNCounter.increment(PNCounter.empty(), 'b'), settee_hlc: stamp(1) });
    const resolution = resolver.resolve([a, b]);
    expect(resolution).toEqual({
      kind: 'merge',
      body: { likes: { p: { b: 1 }, n: {} }, settee_hlc: stamp(2) },
    });
    const onlyBad = resolver.resolve([a, leaf(rev(2, 'c'), { likes: 7 })]);
    expect(onlyBad).toEqual({ kind: 'merge', body: { likes: 'many', settee_hlc: stamp(2) } });
  });

  it('deletes the document when the latest version is a deletion', () => {
    const a = leaf(rev(2, 'a'), { likes: PNCounter.increment(PNCounter.empty(), 'a'), settee_hlc: stamp(1) });
    const gone = leaf(rev(2, 'b'), { settee_hlc: stamp(5) }, true);
    expect(resolver.resolve([a, gone])).toEqual({
      kind: 'merge',
      body: { settee_hlc: stamp(5) },
      deleted: true,
    });
  });

  it('rejects an unknown kind', () => {
    expect(() => crdtMerge({ x: 'bag' as CrdtKind })).toThrow(TypeError);
  });
});
