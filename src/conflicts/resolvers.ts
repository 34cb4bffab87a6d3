import { canonicalJson } from '../core/canonical-json.js';
import { ownValue } from '../core/own.js';
import { compareLeaves } from '../core/rev-tree/leaves.js';
import type { Leaf as CoreLeaf } from '../core/rev-tree/types.js';
import { parseRev } from '../core/revision.js';
import { compareStamps, isStamp } from './hlc.js';

/**
 * Conflict resolvers: values `{ name, resolve(leaves) }` that every replica can run on its own.
 *
 * The automatic resolvers are pure functions of the *set* of leaves — their revision ids, deleted
 * flags and bodies — and of nothing else: not the replica, not its clock, not the order in which
 * the leaves are passed. So every replica holding the same leaves writes the same merged body as
 * a child of the same CouchDB winner, hence the same revision id (protocol.md §1.8), and the
 * resolutions made independently on several replicas replicate into one revision, not a new
 * conflict.
 *
 * Resolvers see every leaf, deleted ones included, so a deletion can win by its stamp. A caller
 * that only runs them on documents with live conflicts (`_conflicts`) lets a lone live leaf beat a
 * concurrent deletion, as CouchDB does.
 */

/** One leaf of a document's revision tree: a complete version, live or deleted. */
export interface Leaf {
  rev: string;
  deleted: boolean;
  /** The leaf's body; `_`-prefixed fields, if present, are ignored. */
  doc: Record<string, unknown>;
}

/**
 * What to do with a conflicted document:
 * - `keep`: write nothing (the conflict, if any, stays open, or it is already resolved);
 * - `merge`: write `body` (user fields only, no `_` fields) as a child of the CouchDB winner —
 *   a tombstone when `deleted` — and delete every other live leaf with an empty body (see
 *   {@link planResolution}).
 */
export type Resolution = { kind: 'keep' } | { kind: 'merge'; body: Record<string, unknown>; deleted?: true };

/** A conflict resolution strategy. */
export interface Resolver {
  /** A short name, e.g. for a server's resolver configuration. */
  readonly name: string;
  /** Decides a document's resolution from its leaves (any order; duplicates are ignored). */
  resolve(leaves: readonly Leaf[]): Resolution;
}

/** A resolver's decision before {@link settle} turns it into a {@link Resolution}. */
export interface Outcome {
  body: Record<string, unknown>;
  deleted: boolean;
}

/** Document field that {@link lastWriterWins} reads its stamp from, unless told otherwise. */
export const DEFAULT_STAMP_FIELD = 'settee_hlc' as const;

const KEEP: Resolution = Object.freeze({ kind: 'keep' });

interface Ranked {
  leaf: Leaf;
  node: CoreLeaf;
  /** Tie-breaker between two leaves claiming the same revision id. */
  content: string;
}

/**
 * The leaves in CouchDB's winner order (protocol.md §1.4: live before deleted, then higher
 * generation, then greater hash), the winner first, one per revision id. Every resolver starts
 * here, so what it computes cannot depend on the order its input came in.
 */
export function sortLeaves(leaves: readonly Leaf[]): Leaf[] {
  const ranked: Ranked[] = leaves.map((leaf) => ({
    leaf,
    node: coreLeaf(leaf),
    content: canonicalJson([leaf.deleted, leaf.doc]),
  }));
  ranked.sort(
    (a, b) => compareLeaves(b.node, a.node) || (a.content < b.content ? 1 : a.content > b.content ? -1 : 0),
  );
  const seen = new Set<string>();
  const unique: Leaf[] = [];
  for (const { leaf } of ranked) {
    if (seen.has(leaf.rev)) continue;
    seen.add(leaf.rev);
    unique.push(leaf);
  }
  return unique;
}

/**
 * CouchDB's deterministic winner of a set of leaves.
 * @throws RangeError for an empty set.
 */
export function couchdbWinner(leaves: readonly Leaf[]): Leaf {
  const winner = sortLeaves(leaves)[0];
  if (!winner) throw new RangeError('no leaves');
  return winner;
}

/** Positive when `a` comes before `b` in CouchDB's winner order (the core's `compareLeaves`). */
export function compareWinnerOrder(a: Leaf, b: Leaf): number {
  return compareLeaves(coreLeaf(a), coreLeaf(b));
}

function coreLeaf(leaf: Leaf): CoreLeaf {
  const { gen, hash } = parseRev(leaf.rev);
  return { rev: leaf.rev, gen, hash, deleted: leaf.deleted, hasBody: true };
}

/** A body without its `_`-prefixed fields, which are CouchDB's and never part of a merge. */
export function userFields(doc: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(doc).filter(([key]) => !key.startsWith('_')));
}

/**
 * Turns a resolver's outcome into a resolution, writing nothing when nothing is left to do, so
 * that resolving an already resolved document is a no-op and repeated sync rounds quiesce:
 * - with no live leaf, `keep` (an automatic resolver never resurrects a deleted document);
 * - with one live leaf whose user fields already equal a live outcome, `keep`;
 * - otherwise `merge` with the outcome.
 */
export function settle(leaves: readonly Leaf[], outcome: Outcome): Resolution {
  const live = sortLeaves(leaves).filter((leaf) => !leaf.deleted);
  const [winner] = live;
  if (!winner) return KEEP;
  const body = userFields(outcome.body);
  if (live.length === 1 && !outcome.deleted && sameJson(body, userFields(winner.doc))) return KEEP;
  return outcome.deleted ? { kind: 'merge', body, deleted: true } : { kind: 'merge', body };
}

/**
 * CouchDB's default: the deterministic winner stands and the conflict stays open (`_conflicts`
 * keeps listing the other leaves until someone resolves them).
 */
export const couchdbDefault: Resolver = Object.freeze({
  name: 'couchdb',
  resolve: (): Resolution => KEEP,
});

/** Options of {@link lastWriterWins}. */
export interface LastWriterWinsOptions {
  /** The ordinary body field holding the document's HLC stamp. Default `settee_hlc`. */
  field?: string;
}

/**
 * Last writer wins: the leaf with the greatest {@link HybridClock} stamp in `field` becomes the
 * document; the other live leaves are deleted.
 *
 * Rules, in order:
 * 1. a leaf with a well-formed stamp beats every leaf without one (a client that does not stamp
 *    its writes cannot claim to be later than one that does);
 * 2. between stamped leaves, the greater stamp wins;
 * 3. between leaves with equal stamps, and between unstamped leaves, CouchDB's winner order
 *    decides (live before deleted, then generation, then revision hash).
 *
 * A stamped deletion (written with {@link stampDocument}) that is later than every live leaf
 * deletes the document. Tombstones without a stamp — the ones a resolution writes for the losing
 * leaves — never win against a live leaf.
 */
export function lastWriterWins(options: LastWriterWinsOptions = {}): Resolver {
  const field = options.field ?? DEFAULT_STAMP_FIELD;
  return Object.freeze({
    name: 'last-writer-wins',
    resolve(leaves: readonly Leaf[]): Resolution {
      const best = latestLeaf(sortLeaves(leaves), field);
      if (!best) return KEEP;
      return settle(leaves, { body: userFields(best.doc), deleted: best.deleted });
    },
  });
}

/**
 * The leaf with the greatest stamp in `field` among `sorted` (in CouchDB's winner order), or the
 * first leaf when none is stamped; see {@link lastWriterWins} for the rules.
 */
export function latestLeaf(sorted: readonly Leaf[], field: string): Leaf | undefined {
  let best: Leaf | undefined;
  let bestStamp: string | undefined;
  for (const leaf of sorted) {
    const stamp = ownValue(leaf.doc, field);
    if (!isStamp(stamp)) continue;
    // Strictly greater only: on equal stamps the earlier leaf in winner order stays.
    if (bestStamp === undefined || compareStamps(stamp, bestStamp) > 0) {
      best = leaf;
      bestStamp = stamp;
    }
  }
  return best ?? sorted[0];
}

/**
 * A user-defined resolver. `fn` MUST be pure and deterministic — a function of the leaves it is
 * given and nothing else (no clock, no randomness, no replica id, no other documents) — or
 * replicas resolving the same conflict write different revisions, which conflict again.
 *
 * To help, `fn` always receives the leaves in CouchDB's winner order (winner first, one per
 * revision id), whatever order the caller had them in. `_` fields of a merged body are dropped,
 * and its result goes through {@link settle}: returning the same body again once the conflict is
 * resolved writes nothing.
 *
 * @example
 * const longestText = custom('longest-text', (leaves) => {
 *   const live = leaves.filter((leaf) => !leaf.deleted);
 *   const best = live.reduce((a, b) => (String(b.doc.text).length > String(a.doc.text).length ? b : a));
 *   return { kind: 'merge', body: best.doc };
 * });
 */
export function custom(name: string, fn: (leaves: readonly Leaf[]) => Resolution): Resolver {
  return Object.freeze({
    name,
    resolve(leaves: readonly Leaf[]): Resolution {
      const sorted = sortLeaves(leaves);
      const result = fn(sorted);
      if (result.kind === 'keep') return KEEP;
      return settle(sorted, { body: result.body, deleted: result.deleted === true });
    },
  });
}

/** True when two JSON values are equal whatever the order of their object keys. */
export function sameJson(a: unknown, b: unknown): boolean {
  return canonicalJson(a) === canonicalJson(b);
}
