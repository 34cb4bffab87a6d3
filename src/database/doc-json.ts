/**
 * Documents read only to be sent as JSON. A server answering `_bulk_get` would otherwise parse
 * each stored body into an object and serialize it straight back: here the body stays the JSON
 * text it is stored as, and is spliced into the document's text after its `_` fields.
 */
import type { BulkGetResponse, Doc } from '../core/api.js';

/** The body's stored JSON text, on a document read with `rawBody` (JSON.stringify skips symbols). */
const RAW_BODY = Symbol('settee.rawBody');

type RawBodyDoc = Doc & { [RAW_BODY]?: string };

/** A document whose body fields are left as the stored JSON text, for `docJson`. */
export function rawBodyDoc(id: string, rev: string, body: string): Doc {
  const doc: RawBodyDoc = { _id: id, _rev: rev };
  doc[RAW_BODY] = body;
  return doc;
}

/** A document's JSON text. A body left as stored text goes in as it is (stored bodies are `{…}`). */
export function docJson(doc: Doc): string {
  const meta = JSON.stringify(doc);
  const body = (doc as RawBodyDoc)[RAW_BODY];
  if (body === undefined || body === '{}') return meta;
  return `${meta.slice(0, -1)},${body.slice(1)}`;
}

/** One `_bulk_get` result as JSON text, its documents through `docJson`. */
export function bulkGetResultJson(result: BulkGetResponse['results'][number]): string {
  const docs = result.docs.map((found) =>
    'ok' in found ? `{"ok":${docJson(found.ok)}}` : JSON.stringify(found),
  );
  // `id` is left out, as JSON.stringify would, for an entry that named none.
  const id = result.id === undefined ? '' : `"id":${JSON.stringify(result.id)},`;
  return `{${id}"docs":[${docs.join(',')}]}`;
}
