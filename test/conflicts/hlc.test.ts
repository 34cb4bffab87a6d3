import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ClockDriftError,
  compareStamps,
  DEFAULT_MAX_DRIFT,
  formatStamp,
  HybridClock,
  isStamp,
  MAX_COUNTER,
  parseStamp,
} from '../../src/conflicts/index.js';

const T0 = 1_795_460_000_000;

/** A clock whose wall time the test sets. */
function manualClock(node: string, start = T0, options = {}): { clock: HybridClock; set(t: number): void } {
  let now = start;
  return { clock: new HybridClock(node, () => now, options), set: (t) => (now = t) };
}

describe('stamps', () => {
  it('have a fixed-width form that sorts as strings', () => {
    const stamp = formatStamp({ wall: T0, counter: 3, node: 'nodeA' });
    expect(stamp).toBe('001795460000000-0003-nodeA');
    expect(parseStamp(stamp)).toEqual({ wall: T0, counter: 3, node: 'nodeA' });
    expect(isStamp(stamp)).toBe(true);
    expect(compareStamps(stamp, formatStamp({ wall: T0, counter: 10, node: 'a' }))).toBeLessThan(0);
    expect(compareStamps(stamp, formatStamp({ wall: T0 + 1, counter: 0, node: 'a' }))).toBeLessThan(0);
    expect(compareStamps(stamp, stamp)).toBe(0);
  });

  it('accept node ids with dashes and reject malformed input', () => {
    expect(parseStamp('000000000000001-0000-a-b-c').node).toBe('a-b-c');
    for (const bad of ['', '1-0-a', '000000000000001-0000-', '000000000000001-0000-a b', 42, null]) {
      expect(isStamp(bad)).toBe(false);
    }
    expect(() => parseStamp('nope')).toThrow(RangeError);
    expect(() => formatStamp({ wall: -1, counter: 0, node: 'a' })).toThrow(RangeError);
    expect(() => formatStamp({ wall: 0, counter: MAX_COUNTER + 1, node: 'a' })).toThrow(RangeError);
    expect(() => new HybridClock('has space')).toThrow(RangeError);
    expect(() => new HybridClock('')).toThrow(RangeError);
  });

  it('order like their parsed (wall, counter, node) tuples', () => {
    const parts = fc.record({
      wall: fc.nat({ max: 10 ** 15 - 1 }),
      counter: fc.nat({ max: MAX_COUNTER }),
      node: fc.stringMatching(/^[a-z0-9-]{1,8}$/),
    });
    fc.assert(
      fc.property(parts, parts, (a, b) => {
        const tuple = Math.sign(a.wall - b.wall) || Math.sign(a.counter - b.counter) || cmp(a.node, b.node);
        expect(Math.sign(compareStamps(formatStamp(a), formatStamp(b)))).toBe(tuple);
      }),
    );
  });
});

describe('HybridClock', () => {
  it('uses the wall time, and a counter within one millisecond', () => {
    const { clock, set } = manualClock('a');
    expect(clock.last).toBeUndefined();
    expect(clock.tick()).toBe(formatStamp({ wall: T0, counter: 0, node: 'a' }));
    expect(clock.tick()).toBe(formatStamp({ wall: T0, counter: 1, node: 'a' }));
    set(T0 + 5);
    expect(clock.tick()).toBe(formatStamp({ wall: T0 + 5, counter: 0, node: 'a' }));
    expect(clock.last).toBe(formatStamp({ wall: T0 + 5, counter: 0, node: 'a' }));
  });

  it('never goes backwards when the wall clock does', () => {
    const { clock, set } = manualClock('a');
    const before = clock.tick();
    set(T0 - 60_000);
    const after = clock.tick();
    expect(compareStamps(after, before)).toBeGreaterThan(0);
    expect(parseStamp(after)).toEqual({ wall: T0, counter: 1, node: 'a' });
  });

  it('moves one logical millisecond ahead when the counter is exhausted', () => {
    const { clock } = manualClock('a', T0, {
      last: formatStamp({ wall: T0, counter: MAX_COUNTER, node: 'a' }),
    });
    expect(parseStamp(clock.tick())).toEqual({ wall: T0 + 1, counter: 0, node: 'a' });
  });

  it('resumes after a restart from the last stamp it issued', () => {
    const last = formatStamp({ wall: T0 + 1000, counter: 7, node: 'a' });
    const { clock } = manualClock('a', T0, { last });
    expect(compareStamps(clock.tick(), last)).toBeGreaterThan(0);
  });

  it('receive: a stamp after both the remote and the local one', () => {
    const { clock } = manualClock('a');
    clock.tick();
    const ahead = formatStamp({ wall: T0 + 1000, counter: 4, node: 'b' });
    expect(parseStamp(clock.receive(ahead))).toEqual({ wall: T0 + 1000, counter: 5, node: 'a' });
    const behind = formatStamp({ wall: T0 - 1000, counter: 9, node: 'b' });
    expect(parseStamp(clock.receive(behind))).toEqual({ wall: T0 + 1000, counter: 6, node: 'a' });
    const same = formatStamp({ wall: T0 + 1000, counter: 20, node: 'b' });
    expect(parseStamp(clock.receive(same))).toEqual({ wall: T0 + 1000, counter: 21, node: 'a' });
  });

  it('receive: refuses a stamp too far in the future and stays where it was', () => {
    const { clock } = manualClock('a', T0, { maxDrift: 1000 });
    const last = clock.tick();
    const far = formatStamp({ wall: T0 + 1001, counter: 0, node: 'b' });
    expect(() => clock.receive(far)).toThrow(ClockDriftError);
    expect(clock.last).toBe(last);
    expect(() => clock.receive(formatStamp({ wall: T0 + 1000, counter: 0, node: 'b' }))).not.toThrow();
    expect(new HybridClock('x').maxDrift).toBe(DEFAULT_MAX_DRIFT);
    const unbounded = manualClock('a', T0, { maxDrift: Infinity }).clock;
    expect(() => unbounded.receive(formatStamp({ wall: T0 * 2, counter: 0, node: 'b' }))).not.toThrow();
  });

  it('receive: rejects a malformed stamp', () => {
    expect(() => new HybridClock('a').receive('yesterday')).toThrow(RangeError);
  });

  it('issues strictly increasing stamps whatever the wall clock does', () => {
    const event = fc.oneof(
      fc.record({ kind: fc.constant('tick' as const), dt: fc.integer({ min: -5_000, max: 5_000 }) }),
      fc.record({
        kind: fc.constant('receive' as const),
        dt: fc.integer({ min: -5_000, max: 5_000 }),
        offset: fc.integer({ min: -100_000, max: 100_000 }),
        counter: fc.nat({ max: MAX_COUNTER }),
      }),
    );
    fc.assert(
      fc.property(fc.array(event, { maxLength: 60 }), (events) => {
        const { clock, set } = manualClock('local', T0, { maxDrift: Infinity });
        let now = T0;
        let last = '';
        for (const e of events) {
          now += e.dt;
          set(now);
          const before = clock.last ?? '';
          let stamp: string;
          if (e.kind === 'tick') {
            stamp = clock.tick();
          } else {
            const remote = formatStamp({
              wall: Math.max(0, now + e.offset),
              counter: e.counter,
              node: 'remote',
            });
            stamp = clock.receive(remote);
            expect(compareStamps(stamp, remote)).toBeGreaterThan(0);
          }
          expect(compareStamps(stamp, before)).toBeGreaterThan(0);
          expect(compareStamps(stamp, last)).toBeGreaterThan(0);
          expect(parseStamp(stamp).wall).toBeGreaterThanOrEqual(now);
          last = stamp;
        }
      }),
    );
  });

  it('keeps its logical time within the drift bound of the largest wall time seen', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: -10_000, max: 10_000 }), { maxLength: 40 }), (offsets) => {
        const { clock } = manualClock('local', T0, { maxDrift: 5_000 });
        for (const offset of offsets) {
          try {
            clock.receive(formatStamp({ wall: T0 + offset, counter: 0, node: 'r' }));
          } catch (error) {
            expect(error).toBeInstanceOf(ClockDriftError);
          }
        }
        const wall = parseStamp(clock.tick()).wall;
        expect(wall).toBeLessThanOrEqual(T0 + 5_000 + 1);
      }),
    );
  });
});

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
