import { badRequest, notFound } from '../core/errors.js';
import type { Query } from './http.js';

/** What a request addresses, resolved from its raw path as CouchDB does. */
export type Target =
  | { kind: 'root' }
  | { kind: 'server'; endpoint: string }
  | { kind: 'db'; db: string }
  | { kind: 'db-endpoint'; db: string; endpoint: string }
  | { kind: 'local'; db: string; id: string }
  | { kind: 'doc'; db: string; id: string }
  | { kind: 'attachment'; db: string; id: string; name: string };

/**
 * Splits the raw path at `/` before decoding each segment, so `%2F` stays inside a database
 * name or document id while `_design/x` and `_local/x` arrive with a literal slash; what
 * follows a document id is an attachment name, which may itself contain `/`.
 */
export function resolveTarget(rawUrl: string): Target {
  const path = rawUrl.split('?', 1)[0]!;
  const segments = path.split('/').slice(1).map(decodeSegment);
  if (segments.length > 1 && segments[segments.length - 1] === '') segments.pop();
  const [first, ...rest] = segments;
  if (first === undefined || first === '') return { kind: 'root' };
  if (first.startsWith('_') && first !== '_users' && first !== '_replicator') {
    return { kind: 'server', endpoint: [first, ...rest].join('/') };
  }
  const db = first;
  const [second, third, ...more] = rest;
  if (second === undefined) return { kind: 'db', db };
  if (second === '_local' || second === '_design') {
    if (third === undefined || third === '') throw notFound('missing');
    const id = `${second}/${third}`;
    if (second === '_local') return { kind: 'local', db, id };
    return more.length > 0 ? { kind: 'attachment', db, id, name: more.join('/') } : { kind: 'doc', db, id };
  }
  if (second.startsWith('_local/')) return { kind: 'local', db, id: second };
  if (second.startsWith('_') && !second.startsWith('_design/')) {
    return {
      kind: 'db-endpoint',
      db,
      endpoint: [second, third, ...more].filter((s) => s !== undefined).join('/'),
    };
  }
  const attachment = [third, ...more].filter((s) => s !== undefined);
  return attachment.length > 0
    ? { kind: 'attachment', db, id: second, name: attachment.join('/') }
    : { kind: 'doc', db, id: second };
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw badRequest(`Invalid percent-encoding in path segment: ${segment}`);
  }
}

/** The parsed query of a raw request URL (`{}` without one). */
export function queryOf(rawUrl: string): Query {
  const start = rawUrl.indexOf('?');
  return start < 0 ? {} : parseQuery(rawUrl.slice(start + 1));
}

/** Parses a query string per RFC 3986: `+` stays a plus (CouchDB clients encode spaces as %20). */
export function parseQuery(text: string): Query {
  const query: Query = {};
  for (const pair of text.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const key = eq < 0 ? pair : pair.slice(0, eq);
    const value = eq < 0 ? '' : pair.slice(eq + 1);
    try {
      query[decodeURIComponent(key)] = decodeURIComponent(value);
    } catch {
      throw badRequest(`Invalid percent-encoding in query parameter ${key}`);
    }
  }
  return query;
}
