import { SetteeError } from './errors.js';

/**
 * Anything thrown, as one line for a log or a terminal: a SetteeError as `error: reason`
 * (CouchDB's name first), any other error by its message.
 *
 * @example
 * describeError(notFound('missing')); // 'not_found: missing'
 */
export function describeError(error: unknown): string {
  if (error instanceof SetteeError) return `${error.error}: ${error.reason}`;
  return error instanceof Error ? error.message : String(error);
}
