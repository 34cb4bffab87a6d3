/**
 * Assigning what a client named (a field, a key) to a plain object: see `own.ts`. Apart from
 * `ownValue` so that a page loads it only with the queries that use it.
 */

/**
 * Sets `object[key]` as an own enumerable property, whatever the key: `__proto__` becomes a
 * field like any other, as JSON.parse makes it.
 *
 * @example
 * const doc = {};
 * setOwn(doc, '__proto__', { x: 1 });
 * JSON.stringify(doc); // '{"__proto__":{"x":1}}'
 */
export function setOwn<T>(object: Record<string, T>, key: string, value: T): void {
  if (key !== '__proto__') object[key] = value;
  else Object.defineProperty(object, key, { value, enumerable: true, writable: true, configurable: true });
}
