import { badRequest } from './errors.js';

/** A revision id split into its generation and hash. */
export interface ParsedRev {
  gen: number;
  hash: string;
}

/**
 * The highest revision generation Settee holds: 2^53 − 1. CouchDB's generations are Erlang
 * integers of any size (couch_doc.erl, `parse_rev`: `list_to_integer`), ours are numbers, exact
 * only up to here — past it `gen + 1 === gen`, and an edit would become a sibling of its parent
 * instead of the winner. Holding more would not help a peer either: `_revisions.start` travels as
 * a JSON number, which JavaScript (PouchDB included) reads only this exactly. No history gets
 * here by editing (a million edits a second for 285 years), so a generation beyond is refused.
 */
export const MAX_GENERATION = Number.MAX_SAFE_INTEGER;

const REV_PATTERN = /^([1-9][0-9]{0,15})-([^-\s][^\s]*)$/;

/**
 * Parses `"N-hash"`. The generation must be a positive integer of at most `MAX_GENERATION` and
 * the hash non-empty; like CouchDB we treat the hash as opaque, but Settee itself only ever emits
 * 32 lowercase hex chars.
 */
export function parseRev(rev: unknown): ParsedRev {
  if (typeof rev !== 'string') throw badRequest('Invalid rev format');
  const match = REV_PATTERN.exec(rev);
  if (!match) throw badRequest('Invalid rev format');
  const gen = Number(match[1]);
  if (gen > MAX_GENERATION) throw badRequest(`Invalid rev format: generations go up to ${MAX_GENERATION}`);
  return { gen, hash: match[2]! };
}

export function formatRev(gen: number, hash: string): string {
  return `${gen}-${hash}`;
}

/** True when `rev` parses as a revision id. */
export function isRev(rev: unknown): rev is string {
  return typeof rev === 'string' && REV_PATTERN.test(rev) && revGen(rev) <= MAX_GENERATION;
}

/** Generation of a revision id that is known to be well formed. */
export function revGen(rev: string): number {
  return Number(rev.slice(0, rev.indexOf('-')));
}

/**
 * The generation of an edit of `parentRev` (1 for a document's first revision); `bad_request`
 * when the parent is already at `MAX_GENERATION`, so that an acknowledged edit is always the
 * child — and the winner — it says it is.
 */
export function childGeneration(parentRev: string | null): number {
  if (parentRev === null) return 1;
  const gen = revGen(parentRev);
  if (gen >= MAX_GENERATION) {
    throw badRequest(
      `The document is at the highest revision generation (${MAX_GENERATION}): it cannot be edited`,
    );
  }
  return gen + 1;
}
