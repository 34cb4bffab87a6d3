import { canonicalJson } from '../core/canonical-json.js';
import { ClockDriftError, compareStamps, isStamp, type StampClock } from './hlc.js';
import { ownValue } from '../core/own.js';
import { DEFAULT_STAMP_FIELD } from './resolvers.js';

/**
 * Stamping documents on write: what Settee calls on each local write so that the resolvers have
 * stamps to compare. Stamps live in ordinary body fields (not `_`-prefixed), so they are part of
 * the revision's content and revision ids stay deterministic (protocol.md §1.8).
 */

/** Document field that holds per-field stamps for {@link fieldMerge}, unless told otherwise. */
export const DEFAULT_FIELDS_FIELD = 'settee_fields' as const;

/** Key of a per-field stamp map holding the stamp of the document's latest deletion. */
export const DELETED_KEY = '_deleted';
/** Key of a per-field stamp map holding the stamp of the document's latest (re)creation. */
export const CREATED_KEY = '_created';

/**
 * Per-field stamps: field name → the stamp of the write that last set or removed it, plus the
 * reserved keys {@link DELETED_KEY} and {@link CREATED_KEY} (CouchDB reserves `_` names at the
 * top of a document, so they never clash with a field).
 */
export type FieldStamps = Record<string, string>;

/** A document body as written: any fields, `_deleted: true` for a deletion. */
export type Body = Record<string, unknown>;

/** Options of {@link stampDocument}. */
export interface StampDocumentOptions<F extends string = string> {
  /** The field to write the stamp into. Default `settee_hlc`. */
  field?: F;
  /** The revision being replaced, if any: the new stamp will be greater than its stamp. */
  previous?: Body | null;
}

/**
 * Returns a copy of `doc` with a fresh stamp in `field`, for {@link lastWriterWins} and
 * {@link crdtMerge}. Deletions are stamped too (`{ _deleted: true, settee_hlc: … }`), so that a
 * deletion wins or loses by its stamp like any write.
 *
 * The clock first receives the stamp already in `doc` and in `previous`, so an edit always gets a
 * stamp greater than the version it edits, even from a device whose wall clock is behind. A stamp
 * the clock refuses as too far in the future ({@link ClockDriftError}) is not adopted: the new
 * stamp then comes from the local clock alone.
 *
 * @example
 * await db.put(stampDocument({ ...doc, title: 'New' }, clock));
 */
export function stampDocument<T extends Body, F extends string = typeof DEFAULT_STAMP_FIELD>(
  doc: T,
  clock: StampClock,
  options: StampDocumentOptions<F> = {},
): Stamped<T, NoInfer<F>, string> {
  const field = options.field ?? DEFAULT_STAMP_FIELD;
  const seen = [ownValue(doc, field), options.previous && ownValue(options.previous, field)].filter(isStamp);
  return { ...doc, [field]: nextStamp(clock, seen) } as Stamped<T, F, string>;
}

/** `T` with the stamp field `F` set to a `V`. */
export type Stamped<T, F extends string, V> = Omit<T, F> & Record<F, V>;

/** Options of {@link stampFields}. */
export interface StampFieldsOptions<F extends string = string> {
  /** The field holding the per-field stamps. Default `settee_fields`. */
  field?: F;
}

/**
 * Returns a copy of `next` whose per-field stamps (in `field`) record this write, for
 * {@link fieldMerge}. One stamp is drawn for the write, greater than every stamp already in the
 * map, and given to:
 * - every field whose value changed, appeared or disappeared since `previous` (a removed field
 *   keeps a stamp, so its removal can win over an older concurrent edit);
 * - every field of `next` when it (re)creates the document (`previous` missing or deleted), plus
 *   `_created`; a re-creation drops the stamps of the fields the deletion removed;
 * - `_deleted` when `next` is a deletion (`_deleted: true`); its field stamps stay as they were.
 *
 * Stamps of unchanged fields are kept; the map comes from `previous` when given, else from `next`.
 * A field that is unchanged and has no stamp yet stays unstamped (it then loses to any stamped
 * version of that field).
 */
export function stampFields<T extends Body, F extends string = typeof DEFAULT_FIELDS_FIELD>(
  previous: Body | null | undefined,
  next: T,
  clock: StampClock,
  options: StampFieldsOptions<F> = {},
): Stamped<T, NoInfer<F>, FieldStamps> {
  const field = options.field ?? DEFAULT_FIELDS_FIELD;
  const stamps = new Map(Object.entries(readFieldStamps(ownValue(previous ?? next, field))));
  const creation = !previous || previous._deleted === true;
  const deletion = next._deleted === true;
  const changed = deletion ? [] : changedFields(creation ? {} : previous, next, field);
  if (deletion || creation || changed.length > 0) {
    const stamp = nextStamp(clock, [...stamps.values()]);
    if (creation) forgetDeletedFields(stamps);
    for (const name of changed) stamps.set(name, stamp);
    if (deletion) stamps.set(DELETED_KEY, stamp);
    else if (creation) stamps.set(CREATED_KEY, stamp);
  }
  return { ...next, [field]: Object.fromEntries(stamps) } as Stamped<T, F, FieldStamps>;
}

/**
 * A re-creation over a tombstone drops the stamps of the fields its deletion removed (those not
 * later than `_deleted`), which no longer decide anything: {@link fieldMerge} leaves them out of
 * what it merges, so the re-created document is already what a merge of it with that deletion
 * gives. Kept, they made replicas settle differently: one that knew the document was re-created
 * kept it as written, one that did not merged it with the deletion and wrote a new revision.
 */
function forgetDeletedFields(stamps: Map<string, string>): void {
  const deletedAt = stamps.get(DELETED_KEY);
  if (deletedAt === undefined) return;
  for (const [name, stamp] of stamps) {
    if (!name.startsWith('_') && compareStamps(stamp, deletedAt) <= 0) stamps.delete(name);
  }
}

/** The well-formed stamps of a per-field stamp map; anything else in it is ignored. */
export function readFieldStamps(value: unknown): FieldStamps {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return {};
  return Object.fromEntries(
    Object.entries(value).filter((entry): entry is [string, string] => isStamp(entry[1])),
  );
}

/** User fields (not `_`-prefixed, not the stamp map) whose presence or value differs. */
function changedFields(previous: Body, next: Body, field: string): string[] {
  const names = new Set([...Object.keys(previous), ...Object.keys(next)]);
  const changed: string[] = [];
  for (const name of names) {
    if (name.startsWith('_') || name === field) continue;
    const before = json(ownValue(previous, name));
    const after = json(ownValue(next, name));
    if (before !== after) changed.push(name);
  }
  return changed;
}

function json(value: unknown): string | undefined {
  return value === undefined ? undefined : canonicalJson(value);
}

/**
 * A stamp greater than every stamp in `seen` that the clock accepts: the greatest acceptable one
 * is received (stamps refused as too far ahead are skipped), or the clock just ticks.
 */
function nextStamp(clock: StampClock, seen: readonly string[]): string {
  for (const stamp of [...seen].sort().reverse()) {
    try {
      return clock.receive(stamp);
    } catch (error) {
      if (!(error instanceof ClockDriftError)) throw error;
    }
  }
  return clock.tick();
}
