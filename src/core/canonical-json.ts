/**
 * JSON with object keys sorted at every depth, so equal values always serialize to equal text
 * whatever order their keys were built in (revision hashes and replication ids depend on it).
 *
 * Keys sort by UTF-16 code units (`Array.prototype.sort`), integer-like keys included: an object
 * literal would put `"2"` before `"10"`, which is why this writes the text itself rather than
 * handing `JSON.stringify` sorted copies. Everything else is `JSON.stringify`'s: `toJSON`,
 * escapes (lone surrogates as `\udXXX`), non-finite numbers as `null`, members whose value is
 * `undefined`, a function or a symbol left out (`null` in arrays).
 *
 * @throws TypeError for a cycle, a BigInt, or a value that is not JSON at all (`undefined`).
 */
export function canonicalJson(value: unknown): string {
  const text = serialize(value, '', []);
  if (text === undefined) throw new TypeError('value cannot be serialized as JSON');
  return text;
}

function serialize(value: unknown, key: string, ancestors: object[]): string | undefined {
  const json = withToJson(value, key);
  switch (typeof json) {
    case 'string':
      return quote(json);
    case 'number':
      return Number.isFinite(json) ? String(json) : 'null';
    case 'boolean':
      return json ? 'true' : 'false';
    case 'object':
      return json === null ? 'null' : serializeContainer(json, ancestors);
    case 'bigint':
      throw new TypeError('Do not know how to serialize a BigInt');
    default:
      return undefined; // undefined, a function, a symbol
  }
}

function serializeContainer(container: object, ancestors: object[]): string {
  if (ancestors.includes(container)) throw new TypeError('Converting circular structure to JSON');
  ancestors.push(container);
  const text = Array.isArray(container)
    ? serializeArray(container, ancestors)
    : serializeObject(container as Record<string, unknown>, ancestors);
  ancestors.pop();
  return text;
}

// Built by concatenation: it runs for every revision written, and beats building arrays to join.
function serializeArray(array: readonly unknown[], ancestors: object[]): string {
  let text = '[';
  for (let index = 0; index < array.length; index++) {
    if (index > 0) text += ',';
    text += serialize(array[index], String(index), ancestors) ?? 'null';
  }
  return `${text}]`;
}

function serializeObject(object: Record<string, unknown>, ancestors: object[]): string {
  let text = '{';
  for (const key of Object.keys(object).sort()) {
    const member = serialize(object[key], key, ancestors);
    if (member === undefined) continue;
    if (text.length > 1) text += ',';
    text += `${quote(key)}:${member}`;
  }
  return `${text}}`;
}

// What JSON.stringify escapes: control characters, `"`, `\`, and surrogates (when alone).
// eslint-disable-next-line no-control-regex
const NEEDS_ESCAPES = /[\u0000-\u001f"\\\ud800-\udfff]/;

/** A string as JSON; most need no escape, and skip `JSON.stringify`. */
function quote(text: string): string {
  return NEEDS_ESCAPES.test(text) ? JSON.stringify(text) : `"${text}"`;
}

function withToJson(value: unknown, key: string): unknown {
  const toJson = typeof value === 'object' && value !== null && (value as { toJSON?: unknown }).toJSON;
  return typeof toJson === 'function' ? (toJson as (key: string) => unknown).call(value, key) : value;
}
