import { badRequest } from './errors.js';

/** A revision id split into its generation and hash. */
export interface ParsedRev {
  gen: number;
  hash: string;
}

const REV_PATTERN = /^([1-9][0-9]{0,15})-([^-\s][^\s]*)$/;

/**
 * Parses `"N-hash"`. The generation must be a positive integer and the hash non-empty; like
 * CouchDB we treat the hash as opaque, but Settee itself only ever emits 32 lowercase hex chars.
 */
export function parseRev(rev: unknown): ParsedRev {
  if (typeof rev !== 'string') throw badRequest('Invalid rev format');
  const match = REV_PATTERN.exec(rev);
  if (!match) throw badRequest('Invalid rev format');
  return { gen: Number(match[1]), hash: match[2]! };
}

export function formatRev(gen: number, hash: string): string {
  return `${gen}-${hash}`;
}

/** True when `rev` parses as a revision id. */
export function isRev(rev: unknown): rev is string {
  return typeof rev === 'string' && REV_PATTERN.test(rev);
}

/** Generation of a revision id that is known to be well formed. */
export function revGen(rev: string): number {
  return Number(rev.slice(0, rev.indexOf('-')));
}
