import { compareStamps } from './hlc.js';
import { ownValue } from '../core/own.js';
import { type Leaf, type Resolution, type Resolver, settle, sortLeaves } from './resolvers.js';
import {
  CREATED_KEY,
  DEFAULT_FIELDS_FIELD,
  DELETED_KEY,
  type FieldStamps,
  readFieldStamps,
} from './stamps.js';

/** Options of {@link fieldMerge}. */
export interface FieldMergeOptions {
  /** The field holding per-field stamps (written by {@link stampFields}). Default `settee_fields`. */
  field?: string;
}

/**
 * Field-level merge: every field is a last-writer-wins register stamped by {@link stampFields},
 * so concurrent edits of different fields both survive, with no common ancestor needed.
 *
 * Rules:
 * 1. Each live leaf offers, for each field in its body or its stamp map, a version: the value (or
 *    its absence — a removed field keeps its stamp) and the stamp. Per field the version with the
 *    greatest stamp wins; a stamped version beats an unstamped one; equal stamps, and fields
 *    nobody stamped, go by CouchDB's winner order of the leaves.
 * 2. A deletion is a stamp too: the greatest `_deleted` stamp D in any leaf's map (a deleted
 *    leaf's, or a live leaf's that was recreated after it) removes every field whose winning
 *    version is not later than D, unstamped ones included. So an edit concurrent with a deletion
 *    keeps only what was written after the deletion.
 * 3. The merged document is deleted when there is such a D and nothing in the merged map (a field
 *    version or a `_created` stamp) is later than D; otherwise it lives.
 * Deleted leaves contribute only their `_deleted` stamp: an unstamped tombstone (as resolutions
 * write for losing leaves) counts for nothing. The merged map keeps the winning stamps, D and the
 * latest `_created`, so merging the result again changes nothing.
 *
 * @example
 * // leaf A: { title: 'New', body: 'x', settee_fields: { title: t2, body: t1 } }
 * // leaf B: { title: 'Old', body: 'y', settee_fields: { title: t1, body: t3 } }
 * // merged: { title: 'New', body: 'y', settee_fields: { title: t2, body: t3 } }
 */
export function fieldMerge(options: FieldMergeOptions = {}): Resolver {
  const field = options.field ?? DEFAULT_FIELDS_FIELD;
  return Object.freeze({
    name: 'field-merge',
    resolve: (leaves: readonly Leaf[]): Resolution => {
      const sorted = sortLeaves(leaves);
      return settle(sorted, mergeFields(sorted, field));
    },
  });
}

interface Version {
  leaf: Leaf;
  stamp: string | undefined;
}

function mergeFields(
  sorted: readonly Leaf[],
  field: string,
): { body: Record<string, unknown>; deleted: boolean } {
  const maps = new Map(sorted.map((leaf) => [leaf, readFieldStamps(leaf.doc[field])]));
  const live = sorted.filter((leaf) => !leaf.deleted);
  const deletedAt = latest(sorted.map((leaf) => ownValue(maps.get(leaf)!, DELETED_KEY)));
  const createdAt = latest(live.map((leaf) => ownValue(maps.get(leaf)!, CREATED_KEY)));
  const body: [string, unknown][] = [];
  const stamps: [string, string][] = [];
  if (createdAt !== undefined) stamps.push([CREATED_KEY, createdAt]);
  if (deletedAt !== undefined) stamps.push([DELETED_KEY, deletedAt]);
  for (const name of fieldNames(live, maps, field)) {
    const { leaf, stamp } = winningVersion(live, maps, name);
    if (deletedAt !== undefined && (stamp === undefined || compareStamps(stamp, deletedAt) <= 0)) continue;
    if (stamp !== undefined) stamps.push([name, stamp]);
    const value = ownValue(leaf.doc, name);
    if (value !== undefined) body.push([name, value]);
  }
  const deleted =
    deletedAt !== undefined &&
    stamps.every(([key, stamp]) => key === DELETED_KEY || compareStamps(stamp, deletedAt) <= 0);
  const map: FieldStamps = Object.fromEntries(stamps);
  return { body: Object.fromEntries(deleted ? [[field, map]] : [...body, [field, map]]), deleted };
}

/** Names of the user fields the live leaves hold or have stamps for, sorted. */
function fieldNames(live: readonly Leaf[], maps: ReadonlyMap<Leaf, FieldStamps>, field: string): string[] {
  const names = new Set<string>();
  for (const leaf of live) {
    for (const name of [...Object.keys(leaf.doc), ...Object.keys(maps.get(leaf)!)]) {
      if (!name.startsWith('_') && name !== field) names.add(name);
    }
  }
  return [...names].sort();
}

/** The version of a field that wins (rule 1); `live` is non-empty and in winner order. */
function winningVersion(live: readonly Leaf[], maps: ReadonlyMap<Leaf, FieldStamps>, name: string): Version {
  let best: Version = { leaf: live[0]!, stamp: undefined };
  for (const leaf of live) {
    const stamp = ownValue(maps.get(leaf)!, name);
    // Strictly greater only, so equal stamps keep the earlier leaf in winner order.
    if (stamp !== undefined && (best.stamp === undefined || compareStamps(stamp, best.stamp) > 0)) {
      best = { leaf, stamp };
    }
  }
  return best;
}

function latest(stamps: readonly (string | undefined)[]): string | undefined {
  let max: string | undefined;
  for (const stamp of stamps) if (stamp !== undefined && (max === undefined || stamp > max)) max = stamp;
  return max;
}
