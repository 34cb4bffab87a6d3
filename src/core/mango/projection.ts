/**
 * `fields` of a `_find`: the parts of each document to return (mango_fields:extract). Each field
 * is a dotted path (`"a.b"`, `\.` for a literal dot, a number indexing an array); the result has
 * only the fields the document has, nested as in the document. A missing field, or a path through
 * a value that has no such key, is left out. Nothing is added: `_id` only if asked for.
 *
 * @example
 * project({ _id: 'x', a: { b: 1, c: 2 }, d: 3 }, ['a.b', 'd', 'e']); // { a: { b: 1 }, d: 3 }
 */
import { ownValue } from '../own.js';
import { setOwn } from '../set-own.js';
import { isJsonObject } from './mango-errors.js';
import { parseField } from './selector.js';

/** `doc` reduced to `fields`; the whole document when `fields` is `null` (no projection). */
export function project(
  doc: Record<string, unknown>,
  fields: readonly string[] | null,
): Record<string, unknown> {
  if (fields === null) return doc;
  const result: Record<string, unknown> = {};
  for (const field of fields) {
    const path = parseField(field);
    const value = readPath(doc, path);
    if (value !== undefined) writePath(result, path, value);
  }
  return result;
}

/** The value at `path`, or `undefined` when the document has none there (mango_doc:get_field). */
export function readPath(doc: unknown, path: readonly string[]): unknown {
  let value = doc;
  for (const key of path) {
    if (Array.isArray(value)) value = /^(?:0|[1-9]\d*)$/.test(key) ? value[Number(key)] : undefined;
    else if (isJsonObject(value) && Object.hasOwn(value, key)) value = value[key];
    else return undefined;
  }
  return value;
}

/**
 * Sets `value` at `path`, creating the objects on the way (mango_doc:set_field). Own properties
 * only: a document may have a field `__proto__`, and the path must not lead out of the result.
 */
function writePath(target: Record<string, unknown>, path: readonly string[], value: unknown): void {
  let node = target;
  path.forEach((key, depth) => {
    if (depth === path.length - 1) {
      setOwn(node, key, value);
      return;
    }
    const next = ownValue(node, key);
    if (isJsonObject(next)) node = next;
    else {
      const created: Record<string, unknown> = {};
      setOwn(node, key, created);
      node = created;
    }
  });
}
