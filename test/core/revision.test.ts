import { describe, expect, it } from 'vitest';
import { SetteeError } from '../../src/core/errors.js';
import { pathFromRevisions } from '../../src/core/rev-tree/index.js';
import { childGeneration, isRev, MAX_GENERATION, parseRev } from '../../src/core/revision.js';

const HASH = 'abcdef0123456789abcdef0123456789';

function reasonOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(SetteeError);
    expect((err as SetteeError).status).toBe(400);
    return (err as SetteeError).reason;
  }
  throw new Error('expected a bad_request');
}

// CouchDB reads a generation with list_to_integer (couch_doc.erl, parse_rev/1): Erlang integers
// have no upper bound, so CouchDB holds any. Ours are numbers, exact up to 2^53 − 1 only; a
// generation past that is refused (see MAX_GENERATION), never rounded.
describe('revision generations up to 2^53 − 1, and no further', () => {
  it('MAX_GENERATION is the last integer a number holds exactly', () => {
    expect(MAX_GENERATION).toBe(2 ** 53 - 1);
    expect(MAX_GENERATION + 1).toBe(MAX_GENERATION + 2); // what the limit protects from
  });

  it('parses a generation at the limit exactly', () => {
    expect(parseRev(`${MAX_GENERATION}-${HASH}`)).toEqual({ gen: MAX_GENERATION, hash: HASH });
    expect(isRev(`${MAX_GENERATION}-${HASH}`)).toBe(true);
  });

  it.each(['9007199254740992', '9007199254740993', '9999999999999999'])(
    'refuses generation %s, which a number cannot hold apart from its neighbours',
    (gen) => {
      expect(reasonOf(() => parseRev(`${gen}-${HASH}`))).toMatch(/^Invalid rev format/);
      expect(isRev(`${gen}-${HASH}`)).toBe(false);
    },
  );

  it('gives an edit the next generation, up to the limit, and refuses one beyond', () => {
    expect(childGeneration(null)).toBe(1);
    expect(childGeneration(`${MAX_GENERATION - 1}-${HASH}`)).toBe(MAX_GENERATION);
    expect(reasonOf(() => childGeneration(`${MAX_GENERATION}-${HASH}`))).toMatch(
      /highest revision generation/,
    );
  });

  it('refuses a _revisions.start beyond the limit (JSON.parse has already rounded it)', () => {
    const start = JSON.parse('9007199254740993') as number;
    expect(reasonOf(() => pathFromRevisions({ start, ids: [HASH] }))).toMatch(/_revisions.start/);
    expect(pathFromRevisions({ start: MAX_GENERATION, ids: [HASH, HASH] })).toEqual({
      start: MAX_GENERATION - 1,
      hashes: [HASH, HASH],
    });
  });
});
