import { canonicalJson } from '../core/canonical-json.js';

/**
 * CRDT field helpers: JSON values stored in ordinary document fields whose `merge` is
 * commutative, associative and idempotent, so merging the versions of a field held by any set of
 * leaves, in any order and any grouping, gives one result. {@link crdtMerge} uses them to resolve
 * conflicts; applications use them to write the fields.
 *
 * Every function returns a new value and never mutates its arguments. `merge` returns a
 * normalized value (sorted entries), so merging a value with itself yields the same JSON.
 */

// ---------------------------------------------------------------------------------------------
// Counters
// ---------------------------------------------------------------------------------------------

/**
 * A PN-counter: per-replica totals of increments (`p`) and decrements (`n`); the value is
 * Σp − Σn. A counter only ever incremented (`n` empty) is a G-counter. Each replica must change
 * only its own entry — use the replica's node id.
 */
export interface PNCounter {
  p: Record<string, number>;
  n: Record<string, number>;
}

function emptyCounter(): PNCounter {
  return { p: {}, n: {} };
}

/** Adds `by` (default 1; negative to decrement) to `replica`'s entry. */
function increment(counter: PNCounter, replica: string, by = 1): PNCounter {
  if (!Number.isFinite(by)) throw new RangeError(`cannot increment by ${by}`);
  const side = by >= 0 ? 'p' : 'n';
  const held = Object.hasOwn(counter[side], replica) ? counter[side][replica]! : 0;
  return { ...counter, [side]: { ...counter[side], [replica]: held + Math.abs(by) } };
}

function counterValue(counter: PNCounter): number {
  return sum(counter.p) - sum(counter.n);
}

/** Entry by entry, the greater total: each replica's entry only grows. */
function mergeCounters(a: PNCounter, b: PNCounter): PNCounter {
  return { p: maxEntries(a.p, b.p), n: maxEntries(a.n, b.n) };
}

function isCounter(value: unknown): value is PNCounter {
  return isRecord(value) && isTotals(value.p) && isTotals(value.n);
}

/** PN-counter operations. @example `doc.likes = PNCounter.increment(doc.likes, clock.node)` */
export const PNCounter = Object.freeze({
  empty: emptyCounter,
  increment,
  value: counterValue,
  merge: mergeCounters,
  is: isCounter,
});

// ---------------------------------------------------------------------------------------------
// Add-wins set
// ---------------------------------------------------------------------------------------------

/**
 * An add-wins (observed-remove) set. Every add carries a unique tag; a remove removes the tags it
 * has seen for the value, so an add concurrent with a remove — whose tag the remove never saw —
 * survives. Removed tags are kept (`removed`), which is what makes merging order-free; they grow
 * with the number of removals.
 */
export interface AddWinsSet<T = unknown> {
  /** Live elements: tag → value. */
  adds: Record<string, T>;
  /** Tags removed, sorted. */
  removed: string[];
}

function emptySet<T = unknown>(): AddWinsSet<T> {
  return { adds: {}, removed: [] };
}

/**
 * Adds `value` under `tag`, which must be unique across all replicas (a fresh `clock.tick()`
 * stamp is). Reusing a removed tag adds nothing.
 */
function add<T>(set: AddWinsSet<T>, value: T, tag: string): AddWinsSet<T> {
  return mergeSets(set, { adds: { [tag]: value }, removed: [] });
}

/** Removes `value` as far as this replica has seen it (every tag it holds for the value). */
function remove<T>(set: AddWinsSet<T>, value: T): AddWinsSet<T> {
  const key = canonicalJson(value);
  const tags = Object.keys(set.adds).filter((tag) => canonicalJson(set.adds[tag]) === key);
  return mergeSets(set, { adds: {}, removed: tags });
}

/** The distinct values (by JSON equality), sorted by their canonical JSON. */
function setValues<T>(set: AddWinsSet<T>): T[] {
  const byKey = new Map<string, T>();
  for (const value of Object.values(set.adds)) byKey.set(canonicalJson(value), value);
  return [...byKey.keys()].sort().map((key) => byKey.get(key)!);
}

function has<T>(set: AddWinsSet<T>, value: T): boolean {
  const key = canonicalJson(value);
  return Object.values(set.adds).some((element) => canonicalJson(element) === key);
}

/**
 * The union of the adds minus the union of the removed tags. If two replicas misused one tag for
 * different values, the value with the smaller canonical JSON is kept, on every replica alike.
 */
function mergeSets<T>(a: AddWinsSet<T>, b: AddWinsSet<T>): AddWinsSet<T> {
  const removed = [...new Set([...a.removed, ...b.removed])].sort();
  const gone = new Set(removed);
  const adds = new Map<string, T>();
  for (const source of [a.adds, b.adds]) {
    for (const [tag, value] of Object.entries(source)) {
      if (gone.has(tag)) continue;
      const held = adds.get(tag);
      if (!adds.has(tag) || canonicalJson(value) < canonicalJson(held)) adds.set(tag, value);
    }
  }
  return { adds: sortedRecord(adds), removed };
}

function isSet(value: unknown): value is AddWinsSet {
  return (
    isRecord(value) &&
    isRecord(value.adds) &&
    Array.isArray(value.removed) &&
    value.removed.every((tag) => typeof tag === 'string')
  );
}

/** Add-wins set operations. @example `doc.tags = AddWinsSet.add(doc.tags, 'urgent', clock.tick())` */
export const AddWinsSet = Object.freeze({
  empty: emptySet,
  add,
  remove,
  values: setValues,
  has,
  merge: mergeSets,
  is: isSet,
});

// ---------------------------------------------------------------------------------------------
// Last-writer-wins register
// ---------------------------------------------------------------------------------------------

/** A value with the stamp of the write that set it; the greater stamp wins. */
export interface LwwRegister<T = unknown> {
  value: T;
  stamp: string;
}

function register<T>(value: T, stamp: string): LwwRegister<T> {
  return { value, stamp };
}

/** The register with the greater stamp; on equal stamps, the value with the greater canonical JSON. */
function mergeRegisters<T>(a: LwwRegister<T>, b: LwwRegister<T>): LwwRegister<T> {
  if (a.stamp !== b.stamp) return a.stamp > b.stamp ? a : b;
  return canonicalJson(a.value) >= canonicalJson(b.value) ? a : b;
}

function isRegister(value: unknown): value is LwwRegister {
  return isRecord(value) && typeof value.stamp === 'string' && Object.hasOwn(value, 'value');
}

/** LWW register operations. @example `doc.title = LwwRegister.of('Draft', clock.tick())` */
export const LwwRegister = Object.freeze({ of: register, merge: mergeRegisters, is: isRegister });

// ---------------------------------------------------------------------------------------------
// Append-only records
// ---------------------------------------------------------------------------------------------

/** One record of an append-only list: a unique id, the stamp of its writing, any other fields. */
export interface LogEntry {
  id: string;
  stamp: string;
  [field: string]: unknown;
}

/** Appends an entry (or several); an entry whose id is already there is not added twice. */
function append<E extends LogEntry>(log: readonly E[], ...entries: E[]): E[] {
  return mergeLogs(log, entries);
}

/**
 * The union of two lists by id, sorted by stamp then id. Entries are never edited, so two entries
 * with one id are the same; if they differ anyway, the one with the greater canonical JSON is
 * kept on every replica alike.
 */
function mergeLogs<E extends LogEntry>(a: readonly E[], b: readonly E[]): E[] {
  const byId = new Map<string, E>();
  for (const entry of [...a, ...b]) {
    const held = byId.get(entry.id);
    if (!held || canonicalJson(entry) > canonicalJson(held)) byId.set(entry.id, entry);
  }
  return [...byId.values()].sort((x, y) => compareText(x.stamp, y.stamp) || compareText(x.id, y.id));
}

function isLog(value: unknown): value is LogEntry[] {
  return (
    Array.isArray(value) &&
    value.every((entry) => isRecord(entry) && typeof entry.id === 'string' && typeof entry.stamp === 'string')
  );
}

/** Append-only record operations. @example `doc.log = AppendOnlyLog.append(doc.log, { id, stamp, text })` */
export const AppendOnlyLog = Object.freeze({ append, merge: mergeLogs, is: isLog });

// ---------------------------------------------------------------------------------------------

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isTotals(value: unknown): value is Record<string, number> {
  return (
    isRecord(value) &&
    Object.values(value).every((n) => typeof n === 'number' && Number.isFinite(n) && n >= 0)
  );
}

function maxEntries(a: Record<string, number>, b: Record<string, number>): Record<string, number> {
  const out = new Map(Object.entries(a));
  for (const [key, n] of Object.entries(b)) out.set(key, Math.max(out.get(key) ?? 0, n));
  return sortedRecord(out);
}

/** Sums in key order, so the floating-point result does not depend on insertion order. */
function sum(totals: Record<string, number>): number {
  return Object.keys(totals)
    .sort()
    .reduce((total, key) => total + totals[key]!, 0);
}

/** A record with sorted keys; `Object.fromEntries` keeps a `__proto__` key an own field. */
function sortedRecord<T>(entries: ReadonlyMap<string, T>): Record<string, T> {
  return Object.fromEntries([...entries].sort(([x], [y]) => compareText(x, y)));
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
