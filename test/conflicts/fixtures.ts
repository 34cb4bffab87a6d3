import { formatStamp, type Leaf } from '../../src/conflicts/index.js';

/** A revision id with a hash of one repeated character, e.g. `rev(2, 'a')` = `2-aaa…a`. */
export const rev = (gen: number, c: string): string => `${gen}-${c.repeat(32)}`;

/** A stamp at wall time `wall` (counter 0). */
export const stamp = (wall: number, node = 'n'): string => formatStamp({ wall, counter: 0, node });

export const leaf = (r: string, doc: Record<string, unknown>, deleted = false): Leaf => ({
  rev: r,
  deleted,
  doc,
});
