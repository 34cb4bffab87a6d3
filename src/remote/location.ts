/**
 * Where a replication endpoint points, as the CLI and the server's replicator both take it: a
 * full `scheme://` URL is a remote database; anything else is a local database (a name on the
 * server, a file path on the command line). Each caller words its own messages; what counts as a
 * usable URL and why a database could not be opened is decided here, once.
 */
import { SetteeError } from '../core/errors.js';
import { RetriesExhaustedError } from './errors.js';
import { withoutCredentials } from './http.js';

/**
 * Whether a location is a URL (`scheme://…`) rather than a local database.
 *
 * @example
 * isUrl('https://host/db'); // true
 * isUrl('db'); // false
 */
export function isUrl(location: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(location);
}

/** A location for messages and listings: a URL without its userinfo, a local name or path as it is. */
export function displayLocation(location: string): string {
  return isUrl(location) ? withoutCredentials(location) : location;
}

/** Why a URL cannot name a remote database. */
export type DatabaseUrlProblem = 'invalid_url' | 'unsupported_scheme' | 'no_database';

/** What is wrong with a database URL, or undefined when it is an http(s) URL with a database path. */
export function databaseUrlProblem(url: string): DatabaseUrlProblem | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return 'invalid_url';
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return 'unsupported_scheme';
  if (parsed.pathname.replace(/\/+$/, '') === '') return 'no_database';
  return undefined;
}

/** Why a database could not be opened (or created). */
export type OpenFailure = 'missing' | 'unauthorized' | 'forbidden' | 'unreachable';

/** Classifies an error of opening a database; undefined for anything else (a fault to report as it is). */
export function openFailureOf(error: unknown): OpenFailure | undefined {
  if (error instanceof SetteeError) {
    if (error.status === 404) return 'missing';
    if (error.status === 401) return 'unauthorized';
    if (error.status === 403) return 'forbidden';
  }
  if (error instanceof RetriesExhaustedError) return 'unreachable';
  return undefined;
}
