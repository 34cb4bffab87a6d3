import { ownValue } from '../core/own.js';
import { AddWinsSet, AppendOnlyLog, LwwRegister, PNCounter } from './crdt.js';
import {
  DEFAULT_STAMP_FIELD,
  type Leaf,
  latestLeaf,
  type Resolution,
  type Resolver,
  settle,
  sortLeaves,
  userFields,
} from './resolvers.js';

/** The CRDT kinds a field can be declared as in a {@link crdtMerge} schema. */
export type CrdtKind = 'counter' | 'set' | 'register' | 'append-only';

/** Field name → CRDT kind, e.g. `{ likes: 'counter', tags: 'set', title: 'register' }`. */
export type CrdtSchema = Readonly<Record<string, CrdtKind>>;

/** Options of {@link crdtMerge}. */
export interface CrdtMergeOptions {
  /** The document stamp field that decides the fields the schema does not declare. Default `settee_hlc`. */
  field?: string;
}

interface Kind {
  is(value: unknown): boolean;
  merge(a: unknown, b: unknown): unknown;
}

const KINDS: Readonly<Record<CrdtKind, Kind>> = {
  counter: kind(PNCounter.is, PNCounter.merge),
  set: kind(AddWinsSet.is, AddWinsSet.merge),
  register: kind(LwwRegister.is, LwwRegister.merge),
  'append-only': kind(AppendOnlyLog.is, AppendOnlyLog.merge),
};

/**
 * Merges documents whose fields are declared as CRDT values ({@link PNCounter},
 * {@link AddWinsSet}, {@link LwwRegister}, {@link AppendOnlyLog}).
 *
 * Rules:
 * 1. The document's latest version is chosen exactly as {@link lastWriterWins} does (the greatest
 *    stamp in `field`, a stamped leaf before an unstamped one, then CouchDB's winner order). If
 *    it is a deletion, the document is deleted.
 * 2. Otherwise every declared field is the merge of that field's values in all live leaves;
 *    values not of the declared shape are skipped, and a field no live leaf holds in that shape
 *    is taken as it is in the latest version.
 * 3. Undeclared fields come from the latest version.
 *
 * @example
 * const resolver = crdtMerge({ likes: 'counter', tags: 'set', title: 'register', log: 'append-only' });
 */
export function crdtMerge(schema: CrdtSchema, options: CrdtMergeOptions = {}): Resolver {
  const field = options.field ?? DEFAULT_STAMP_FIELD;
  const declared = Object.entries(schema).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  for (const [name, kindName] of declared) {
    if (!Object.hasOwn(KINDS, kindName)) throw new TypeError(`unknown CRDT kind for ${name}: ${kindName}`);
  }
  return Object.freeze({
    name: 'crdt',
    resolve(leaves: readonly Leaf[]): Resolution {
      const sorted = sortLeaves(leaves);
      const latest = latestLeaf(sorted, field);
      if (!latest) return { kind: 'keep' };
      if (latest.deleted) return settle(sorted, { body: userFields(latest.doc), deleted: true });
      const live = sorted.filter((leaf) => !leaf.deleted);
      const body = new Map(Object.entries(userFields(latest.doc)));
      for (const [name, kindName] of declared) {
        const { is, merge } = KINDS[kindName];
        const values = live.map((leaf) => ownValue(leaf.doc, name)).filter(is);
        // Merging the first value with itself normalizes it even when it is the only one.
        if (values.length > 0) body.set(name, values.reduce(merge, values[0]));
      }
      return settle(sorted, { body: Object.fromEntries(body), deleted: false });
    },
  });
}

function kind<T>(is: (value: unknown) => value is T, merge: (a: T, b: T) => T): Kind {
  return { is, merge: (a, b) => merge(a as T, b as T) };
}
