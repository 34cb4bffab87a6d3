// When and where a version was written, read from its hybrid logical clock stamp (the server's
// src/conflicts/hlc.ts): "<wall ms, 15 digits>-<counter, 4 digits>-<node id>", which sorts as text
// in the clock's order. Pure functions, no DOM.

const STAMP_PATTERN = /^([0-9]{15})-([0-9]{4})-([\x21-\x7e]{1,64})$/;

/** `{ wall, counter, node }` of a well-formed stamp, else null. */
export function parseStamp(value) {
  const match = typeof value === 'string' ? STAMP_PATTERN.exec(value) : null;
  if (!match) return null;
  return { wall: Number(match[1]), counter: Number(match[2]), node: match[3] };
}

/**
 * The latest stamp a version carries in the stamp fields named (the answer's `stamp_fields`):
 * a document stamp (`settee_hlc`) or the newest of its per-field stamps (`settee_fields`);
 * null for a version written without a clock (a plain CouchDB client, a resolution's tombstone).
 */
export function stampOf(doc, fields) {
  let latest = null;
  for (const field of fields) {
    const value = doc && Object.hasOwn(doc, field) ? doc[field] : undefined;
    const candidates = typeof value === 'object' && value !== null ? Object.values(value) : [value];
    for (const candidate of candidates) {
      if (parseStamp(candidate) && (latest === null || candidate > latest)) latest = candidate;
    }
  }
  return latest === null ? null : parseStamp(latest);
}

/** A time as people read it where they are: their language, their time zone. */
export function localTime(ms) {
  return new Date(ms).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
}
