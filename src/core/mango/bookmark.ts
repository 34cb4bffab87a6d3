/**
 * `_find` bookmarks: an opaque string naming the last row a page returned, so the next page
 * resumes right after it. CouchDB packs the row's index key and document id
 * (mango_json_bookmark:create, `{startkey, startkey_docid}` as base64url of an Erlang term) and
 * resumes the scan there, skipping that row; ours is base64url of the JSON `{"key", "id"}`.
 *
 * @example
 * const bookmark = encodeBookmark({ key: ['till-1', 12], id: 'sale-9' });
 * decodeBookmark(bookmark); // { key: ['till-1', 12], id: 'sale-9' }
 */
import { decodeBase64, encodeBase64 } from '../base64.js';
import { isJsonObject, mangoError } from './mango-errors.js';

/** Where a page ended: the last row's index key and document id. */
export interface Bookmark {
  readonly key: unknown;
  readonly id: string;
}

/** The opaque bookmark string for the last row of a page. */
export function encodeBookmark(bookmark: Bookmark): string {
  const bytes = new TextEncoder().encode(JSON.stringify({ key: bookmark.key, id: bookmark.id }));
  return encodeBase64(bytes).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/**
 * The row a bookmark names.
 *
 * @throws `invalid_bookmark` ("Invalid bookmark value: " and the bookmark as JSON, as
 *   mango_error.erl words it) when the string is not one of ours.
 */
export function decodeBookmark(text: string): Bookmark {
  try {
    const base64 = text.replace(/-/g, '+').replace(/_/g, '/');
    const padded = base64.padEnd(base64.length + ((4 - (base64.length % 4)) % 4), '=');
    const bytes = decodeBase64(padded, 'bookmark');
    const value: unknown = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
    if (isJsonObject(value) && 'key' in value && typeof value.id === 'string') {
      return { key: value.key, id: value.id };
    }
  } catch {
    // Any failure to unpack is the client's bad bookmark, reported below.
  }
  throw mangoError('invalid_bookmark', `Invalid bookmark value: ${JSON.stringify(text)}`);
}
