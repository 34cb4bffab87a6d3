/**
 * Reads of a batch of records at once. Every IndexedDB request is a round trip through the
 * browser, and a request for a missing key costs as much as one for a stored key. So a batch is
 * first looked up as one key-only scan of the span its keys cover: the keys of new documents —
 * most of a first pull, most local writes — then cost one request for the whole batch, and
 * records lying next to each other in the store come back in one `getAll`.
 */
import { type IdbKey, type IdbSource, indexedDb, requested } from './idb.js';

/** A document's key, or a revision's [document key, rev]. */
export type RecordKey = string | string[];

/** What `readMany` found. */
export interface ManyRead<T> {
  /** The record at each key asked for, in the order asked (undefined: none). */
  values: (T | undefined)[];
  /**
   * True when the records found are all that the source holds between the first and the last
   * of them: a range over their span reads nothing else.
   */
  adjacent: boolean;
}

// The key-only scan reads at most this many keys per key wanted; a span denser than that (a
// batch of scattered ids in a large database) is read key by key.
const SPAN_KEYS_PER_KEY = 2;

/** The records of `source` at `keys` (any order, repeats allowed), in few requests. */
export async function readMany<T>(source: IdbSource, keys: readonly RecordKey[]): Promise<ManyRead<T>> {
  const { factory, keyRange } = indexedDb();
  const wanted = [...new Map(keys.map((key) => [nameOf(key), key])).values()].sort(factory.cmp.bind(factory));
  const found = new Map<string, T>();
  const fetch = async (at: readonly IdbKey[]) => {
    const rows = await Promise.all(at.map((key) => requested(source.get(key)) as Promise<T | undefined>));
    at.forEach((key, i) => rows[i] !== undefined && found.set(nameOf(key), rows[i]));
  };
  let adjacent = wanted.length <= 1;
  if (wanted.length === 1) await fetch(wanted);
  if (wanted.length > 1) {
    const limit = wanted.length * SPAN_KEYS_PER_KEY;
    const span = await requested(source.getAllKeys(keyRange.bound(wanted[0]!, wanted.at(-1)!), limit));
    const names = new Set(wanted.map(nameOf));
    const stored = span.filter((key) => names.has(nameOf(key)));
    const [first, last] = [span.indexOf(stored[0]!), span.indexOf(stored.at(-1)!)];
    adjacent = span.length < limit && (stored.length === 0 || last - first + 1 === stored.length);
    if (span.length >= limit) await fetch(wanted);
    else if (stored.length > 0 && adjacent) {
      const rows = (await requested(source.getAll(keyRange.bound(stored[0]!, stored.at(-1)!)))) as T[];
      stored.forEach((key, i) => found.set(nameOf(key), rows[i]!));
    } else await fetch(stored);
  }
  return { values: keys.map((key) => found.get(nameOf(key))), adjacent };
}

/** A key as a string: documents' keys and revisions' keys never collide. */
function nameOf(key: IdbKey): string {
  return typeof key === 'string' ? key : JSON.stringify(key);
}
