import { badRequest, notFound } from '../core/errors.js';
import type { Query } from './http.js';
import { DESIGN_ACTIONS } from './routes/unimplemented.js';

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
  if (second === '_local' || second === '_local/') {
    if (third === undefined || third === '') throw badRequest(INVALID_LOCAL_ID);
    return localTarget(db, `_local/${third}`, more);
  }
  if (second.startsWith('_local/')) return localTarget(db, second, [third, ...more]);
  if (second === '_design') {
    if (third === undefined || third === '') throw notFound('missing');
    const id = `${second}/${third}`;
    // `_design/{ddoc}/_view/…` and the like name a design document's function, not an attachment.
    if (more[0] !== undefined && DESIGN_ACTIONS.has(more[0])) {
      return { kind: 'db-endpoint', db, endpoint: `${id}/${more.join('/')}` };
    }
    return more.length > 0 ? { kind: 'attachment', db, id, name: more.join('/') } : { kind: 'doc', db, id };
  }
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

/** CouchDB's answers (chttpd_db.erl, db_req) for `/{db}/_local` without an id, and with more after it. */
const INVALID_LOCAL_ID = 'Invalid _local document id.';
const LOCAL_ATTACHMENTS = '_local documents do not accept attachments.';

/**
 * A local document, when nothing follows its id: local documents have no attachments, so a path
 * that goes on is refused rather than read as the document itself (a DELETE would delete it).
 */
function localTarget(db: string, id: string, after: (string | undefined)[]): Target {
  if (after.some((segment) => segment !== undefined)) throw badRequest(LOCAL_ATTACHMENTS);
  return { kind: 'local', db, id };
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
