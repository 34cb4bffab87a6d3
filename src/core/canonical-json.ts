import { configure } from 'safe-stable-stringify';

const stringify = configure({ deterministic: true, circularValue: TypeError, bigint: false });

/**
 * JSON with object keys sorted at every depth, so equal values always serialize to equal text
 * whatever order their keys were built in (revision hashes and replication ids depend on it).
 */
export function canonicalJson(value: unknown): string {
  const text = stringify(value);
  if (text === undefined) throw new TypeError('value cannot be serialized as JSON');
  return text;
}
