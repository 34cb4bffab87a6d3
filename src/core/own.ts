/**
 * Objects keyed by what a client sent (field names, attachment names, document ids, parameter
 * names): only an object's own properties count. A plain lookup of `constructor` or `toString`
 * finds what every object inherits, and a plain assignment to `__proto__` replaces the object's
 * prototype rather than adding a field; written into an object reached that way, a client's
 * value would land on `Object.prototype`, under every object of the process.
 */

/**
 * `object[key]` when `key` is the object's own property, else `undefined`.
 *
 * @example
 * ownValue({ a: 1 }, 'a'); // 1
 * ownValue({ a: 1 }, 'constructor'); // undefined, not Object
 */
export function ownValue<T>(object: Readonly<Record<string, T>>, key: string): T | undefined {
  return Object.hasOwn(object, key) ? object[key] : undefined;
}
