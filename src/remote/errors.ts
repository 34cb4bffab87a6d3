/**
 * The errors of talking to a remote peer. A server's `{error, reason}` answer becomes a
 * SetteeError (a RemoteError, which keeps the real HTTP status); a request that kept failing
 * transiently ends in a RetriesExhaustedError (PeerUnreachableError when the server could not
 * even be connected to), whose `cause` is the last failure.
 */
import { ERROR_STATUS, type ErrorName, SetteeError } from '../core/errors.js';

/** `remoteError` of an answer that named no error: `http_` and its status. */
const HTTP_STATUS_PREFIX = 'http_';

/**
 * An error answer of a remote server, as a SetteeError carrying the status it was sent with.
 * Its `name` is the error name the server sent (`timeout`, …, as PouchDB's HTTP errors have it),
 * or the catalogue's `error` when the answer named none.
 */
export class RemoteError extends SetteeError {
  /** The HTTP status the server answered with (may differ from the catalogue's, e.g. 503). */
  override readonly status: number;
  /** The `error` name the server sent, even when it is not in Settee's catalogue. */
  readonly remoteError: string;
  /** From `Retry-After`, when the server sent one. */
  readonly retryAfterMs: number | undefined;

  constructor(error: ErrorName, reason: string, status: number, remoteError: string, retryAfterMs?: number) {
    super(error, reason);
    this.name = remoteError.startsWith(HTTP_STATUS_PREFIX) ? error : remoteError;
    this.status = status;
    this.remoteError = remoteError;
    this.retryAfterMs = retryAfterMs;
  }
}

/** Catalogue names by status, for error names Settee does not know (CouchDB's `timeout`, …). */
const NAME_BY_STATUS: Record<number, ErrorName> = {
  400: 'bad_request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  405: 'method_not_allowed',
  409: 'conflict',
  412: 'precondition_failed',
  413: 'too_large',
  414: 'too_long',
  415: 'bad_content_type',
};

/** `{error, reason}` + status → a RemoteError; a known name is kept, an unknown one maps by status. */
export function remoteError(status: number, body: unknown, retryAfterMs?: number): RemoteError {
  const { error, reason } = (typeof body === 'object' && body !== null ? body : {}) as Record<
    string,
    unknown
  >;
  const remoteName = typeof error === 'string' ? error : `${HTTP_STATUS_PREFIX}${status}`;
  const known = Object.hasOwn(ERROR_STATUS, remoteName) ? (remoteName as ErrorName) : undefined;
  const name = known ?? NAME_BY_STATUS[status] ?? 'unknown_error';
  const text =
    typeof reason === 'string' ? reason : typeof body === 'string' && body ? body : `HTTP ${status}`;
  return new RemoteError(name, text, status, remoteName, retryAfterMs);
}

/** A request whose response headers or body stopped arriving for longer than its stall timeout. */
export class StallTimeoutError extends Error {
  constructor(readonly timeoutMs: number) {
    super(`no response data for ${timeoutMs} ms`);
    this.name = 'StallTimeoutError';
  }
}

/** A response body that ended before its JSON document did (a cut connection, a truncating proxy). */
export class IncompleteResponseError extends Error {
  constructor(message = 'the response ended in the middle of its JSON body') {
    super(message);
    this.name = 'IncompleteResponseError';
  }
}

/** A request that kept failing transiently until its retries ran out; `cause` is the last failure. */
export class RetriesExhaustedError extends Error {
  constructor(
    readonly url: string,
    readonly attempts: number,
    override readonly cause: unknown,
  ) {
    super(`gave up on ${url} after ${attempts} attempt(s): ${describe(cause)}`, { cause });
    this.name = 'RetriesExhaustedError';
  }
}

/** Retries ran out and the last attempt could not even connect: the peer is down or offline. */
export class PeerUnreachableError extends RetriesExhaustedError {
  constructor(url: string, attempts: number, cause: unknown) {
    super(url, attempts, cause);
    this.name = 'PeerUnreachableError';
  }
}

/**
 * Whether an error from a remote peer is worth trying again later (as a whole operation): a
 * request gave up on transient failures. Permanent answers (401, 403, 404, …) are not.
 */
export function isTransientFailure(err: unknown): boolean {
  return err instanceof RetriesExhaustedError;
}

function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const code = errorCode(err);
  return code ? `${err.message} (${code})` : err.message;
}

/** The first `code` along an error's cause chain (undici wraps socket errors in `fetch failed`). */
export function errorCode(err: unknown): string | undefined {
  for (let e = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
  }
  return undefined;
}
