// Comparing the versions of a conflicted document, field by field. Pure functions of the
// `GET /{db}/_resolve/{id}` answer: no DOM here, so they can be tested outside a browser.

// Bookkeeping the server adds to a revision, not what people wrote: never compared or merged.
// Attachments are compared on their own (compareAttachments): they follow the kept version.
const HIDDEN_FIELDS = new Set([
  '_id',
  '_rev',
  '_revisions',
  '_revs_info',
  '_conflicts',
  '_deleted_conflicts',
  '_local_seq',
  '_deleted',
  '_attachments',
]);

/**
 * The fields people edit: a document without its bookkeeping, nor the clock stamps named in
 * `stamps` (the answer's `stamp_fields`), which a merge carries over from the kept version.
 */
export function bodyOf(doc, stamps = new Set()) {
  const body = {};
  for (const [field, value] of Object.entries(doc ?? {})) {
    if (!HIDDEN_FIELDS.has(field) && !stamps.has(field)) setField(body, field, value);
  }
  return body;
}

/** The clock stamps of a version (see bodyOf), to carry over into a merge that continues it. */
export function stampsOf(doc, stamps) {
  return Object.fromEntries(Object.entries(doc ?? {}).filter(([field]) => stamps.has(field)));
}

/** JSON equality, whatever the order of keys (replicas may write the same object differently). */
export function sameValue(a, b) {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const keysA = Object.keys(a);
  const keysB = Object.keys(b);
  if (keysA.length !== keysB.length) return false;
  return keysA.every((key) => Object.hasOwn(b, key) && sameValue(a[key], b[key]));
}

/** Names people can say: Version A, B, … Z, then 27, 28, … */
export function labelOf(index) {
  return index < 26 ? String.fromCharCode(65 + index) : String(index + 1);
}

/**
 * One row per field that any version or the ancestor has, in the order the winner lists them:
 * `{ path, field, values, base, differs, changed, contested }`. `path` is the field's keys from
 * the top (`['address', 'zip']`) and `field` their dotted name (`address.zip`): an object field
 * is compared key by key when every version that has it holds an object with keys, so a
 * changed zip code is one row, not the whole address. Anything else — a list, a value that is an
 * object in one version and not in another — is compared whole: list items have no identity to
 * match them by once their number differs. `values[i]` is version i's value (undefined when it
 * lacks the field); `changed[i]` whether it differs from the ancestor's `base` (all false
 * without an ancestor); `contested` whether a person has to choose (versions changed it in
 * different ways, or there is no ancestor to tell who changed it).
 */
export function compareVersions(leaves, ancestor, stamps = new Set()) {
  const bodies = leaves.map((leaf) => bodyOf(leaf.doc, stamps));
  const base = ancestor ? bodyOf(ancestor.doc, stamps) : undefined;
  return fieldPaths([...bodies, base]).map((path) => {
    const values = bodies.map((body) => valueAt(body, path));
    const baseValue = valueAt(base, path);
    const differs = values.some((value) => !sameValue(value, values[0]));
    const changed = values.map((value) => base !== undefined && !sameValue(value, baseValue));
    const changes = distinct(values.filter((_, i) => changed[i]));
    const contested = differs && (base === undefined || changes.length > 1);
    return { path, field: nameOf(path), values, base: baseValue, differs, changed, contested };
  });
}

/** The paths compared (see compareVersions) of the objects `values` hold at `prefix`. */
function fieldPaths(values, prefix = []) {
  const records = values.filter(isRecord);
  const keys = [...new Set(records.flatMap((record) => Object.keys(record)))];
  return keys.flatMap((key) => {
    const inner = records.map((record) => ownValue(record, key));
    const present = inner.filter((value) => value !== undefined);
    const path = [...prefix, key];
    return present.every(hasKeys) ? fieldPaths(present, path) : [path];
  });
}

/** `address.zip`: the name of a field inside objects, as people read it. */
export function nameOf(path) {
  return path.join('.');
}

/** The value at `path` inside `body` (own fields only), or undefined. */
export function valueAt(body, path) {
  let value = body;
  for (const key of path) value = isRecord(value) ? ownValue(value, key) : undefined;
  return value;
}

function isRecord(value) {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function hasKeys(value) {
  return isRecord(value) && Object.keys(value).length > 0;
}

function ownValue(record, key) {
  return Object.hasOwn(record, key) ? record[key] : undefined;
}

function distinct(values) {
  return values.filter((value, i) => values.findIndex((other) => sameValue(other, value)) === i);
}

/**
 * The attachments of each version (stubs or undefined), whether they differ, and which versions
 * changed them since the ancestor: `{ stubs, differs, changed }`. Compared by name and digest.
 */
export function compareAttachments(leaves, ancestor) {
  const stubs = leaves.map((leaf) => leaf.doc._attachments);
  const digests = stubs.map(digestsOf);
  const base = ancestor ? digestsOf(ancestor.doc._attachments) : undefined;
  return {
    stubs,
    differs: digests.some((digest) => !sameValue(digest, digests[0])),
    changed: digests.map((digest) => base !== undefined && !sameValue(digest, base)),
  };
}

function digestsOf(byName) {
  return Object.fromEntries(Object.entries(byName ?? {}).map(([name, stub]) => [name, stub.digest]));
}

/**
 * The merged body a person starts from: the winner's, except for a field that versions changed
 * since the ancestor all in the same way — that change is taken (a three-way merge). Contested
 * fields keep the winner's value until the person picks one.
 */
export function suggestMerge(rows) {
  let merged = {};
  for (const row of rows) {
    const changedIndex = row.changed.findIndex(Boolean);
    const take = !row.contested && changedIndex >= 0 ? changedIndex : 0;
    if (row.values[take] !== undefined) merged = withValue(merged, row.path, row.values[take]);
  }
  return merged;
}

/**
 * A copy of `merged` with the field at `path` set to `value`, or removed when `value` is
 * undefined; the objects on the way are copied (or created), never changed in place.
 */
export function withValue(merged, path, value) {
  const [key, ...rest] = path;
  const copy = { ...merged };
  if (rest.length > 0) {
    const inner = ownValue(merged, key);
    setField(copy, key, withValue(isRecord(inner) ? inner : {}, rest, value));
  } else if (value === undefined) delete copy[key];
  else setField(copy, key, value);
  return copy;
}

/**
 * Sets an own field, whatever its name: `object[field] = value` with a field named `__proto__`
 * would set the object's prototype instead, and the merge would lose that field.
 */
function setField(object, field, value) {
  Object.defineProperty(object, field, { value, enumerable: true, writable: true, configurable: true });
}

/** The indexes of the versions whose value the merged body has for this row. */
export function sourcesOf(row, merged) {
  const value = valueAt(merged, row.path);
  return row.values.flatMap((candidate, i) => (sameValue(candidate, value) ? [i] : []));
}

/**
 * Rows for every field of `merged` too, so fields typed in the JSON editor show in the table: a
 * field neither compared nor inside a field compared whole.
 */
export function withMergedFields(rows, merged, versionCount) {
  const covered = (path) => rows.some((row) => row.path.every((key, i) => path[i] === key));
  const extra = fieldPaths([merged])
    .filter((path) => !covered(path))
    .map((path) => ({
      path,
      field: nameOf(path),
      values: Array(versionCount).fill(undefined),
      base: undefined,
      differs: false,
      changed: Array(versionCount).fill(false),
      contested: false,
    }));
  return [...rows, ...extra];
}
