import {
  couchdbDefault,
  custom,
  type Resolver,
  sameJson,
  sortLeaves,
  userFields,
} from '../../conflicts/resolvers.js';
import type { ReadLeaf } from './leaves.js';
import type { ResolveOptions, ResolveResult } from './manual.js';

/** Options of `Database.resolveWith`. */
export interface ResolveWithOptions {
  /** Who asked, for the history of resolutions: recorded as `resolver:NAME by BY`. Default `user`. */
  by?: string;
}

/** What `Database.resolveWith` did to one document: resolved it, or left it as it was, and why. */
export type ResolveWithResult =
  (ResolveResult & { resolved: true }) | { ok: true; id: string; resolved: false; reason: string };

/** A resolver's decision as a resolution by hand, or why there is nothing to write. */
export type ChosenResolution = { options: ResolveOptions } | { reason: string };

const NO_CONFLICT = Object.freeze({ reason: 'The document has no conflict' });

/**
 * CouchDB's strategy, chosen by a person: the version apps are shown now stays as it is and the
 * other live leaves are deleted (as the automatic resolver, `couchdb` leaves conflicts open).
 */
const WINNER_STANDS = custom('couchdb', (sorted) => ({ kind: 'merge', body: sorted[0]!.doc }));

/** The resolver a person's choice stands for: `couchdbDefault` means "the winner stands". */
export function chosenResolver(resolver: Resolver): Resolver {
  return resolver === couchdbDefault ? WINNER_STANDS : resolver;
}

/**
 * What `resolver` makes of `leaves` (the contenders, as every resolution weighs them), as the
 * options of `Database.resolve` naming the live leaves read. A decision equal to one live version
 * keeps that version as it is, attachments and all; a merge continues the winner with its
 * attachments; a deletion deletes every live leaf.
 */
export function chooseResolution(leaves: readonly ReadLeaf[], resolver: Resolver): ChosenResolution {
  const live = (sortLeaves(leaves) as ReadLeaf[]).filter((leaf) => !leaf.deleted);
  const [winner] = live;
  // Nothing live: a resolution by hand keeps a live leaf, and never resurrects a deleted document.
  if (leaves.length < 2 || !winner) return NO_CONFLICT;
  const resolution = resolver.resolve(leaves);
  if (resolution.kind === 'keep') {
    return live.length < 2 ? NO_CONFLICT : { reason: `${resolver.name} keeps the versions as they are` };
  }
  const othersThan = (kept: ReadLeaf) => ({
    keep: kept.rev,
    losers: live.filter((leaf) => leaf !== kept).map((leaf) => leaf.rev),
  });
  if (resolution.deleted) return { options: { merged: { _deleted: true }, ...othersThan(winner) } };
  const body = userFields(resolution.body);
  const same = live.find((leaf) => sameJson(userFields(leaf.doc), body));
  if (same) return { options: othersThan(same) };
  const files = winner.doc._attachments;
  return { options: { merged: files ? { ...body, _attachments: files } : body, ...othersThan(winner) } };
}
