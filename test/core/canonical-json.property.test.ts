/**
 * Our canonical JSON (core/canonical-json.ts, which replaced safe-stable-stringify to keep the
 * browser entry small) against that package, its reference: revision ids and replication ids
 * hash this text, so it must not change by one character for any JSON value.
 */
import fc from 'fast-check';
import { configure } from 'safe-stable-stringify';
import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../../src/core/canonical-json.js';

const reference = configure({ deterministic: true, circularValue: TypeError, bigint: false });

describe('canonicalJson', () => {
  it('writes what safe-stable-stringify wrote, for any JSON value', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        expect(canonicalJson(value)).toBe(reference(value));
      }),
      { numRuns: 2000 },
    );
  });

  it('sorts integer-like keys as strings, escapes lone surrogates, and follows toJSON', () => {
    const value = {
      '10': 1,
      '9': 2,
      b: [undefined, () => 1, Number.NaN, -0],
      at: new Date(0),
      gone: undefined,
      '\ud800': 'x\udc00"\n',
    };
    expect(canonicalJson(value)).toBe(reference(value));
    expect(canonicalJson(value)).toBe(
      '{"10":1,"9":2,"at":"1970-01-01T00:00:00.000Z","b":[null,null,null,0],"\\ud800":"x\\udc00\\"\\n"}',
    );
  });

  it('throws on a cycle and on a value that is no JSON at all', () => {
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    expect(() => canonicalJson(cycle)).toThrow(TypeError);
    expect(() => canonicalJson(undefined)).toThrow(TypeError);
  });
});
