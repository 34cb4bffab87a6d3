/**
 * The one log line per request (`--request-log`): every request, none, or a sample — but a
 * response with a server error (5xx) always, since those are the lines an operator looks for.
 * A line holds the method, the path with its query, the status and the time: never a header
 * (credentials, the `AuthSession` cookie) nor a body (`_session` logins, `_replicate` URLs), and
 * query values whose names say they are secrets are replaced by `***`.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';

/** `on`, `off`, or the share of requests to log (0 < rate ≤ 1). */
export type RequestLogSetting = 'on' | 'off' | number;

/** `on`, `off` or a rate such as `0.1`, as written in a flag, the environment or the file; undefined when it is none of them. */
export function parseRequestLog(text: string): RequestLogSetting | undefined {
  const word = text.trim().toLowerCase();
  if (word === 'on' || word === 'off') return word;
  const rate = Number(word);
  return word !== '' && rate > 0 && rate <= 1 ? rate : undefined;
}

/** What one request's line holds. */
export interface RequestLine {
  method: string;
  url: string;
  status: number;
  ms: number;
}

/** Decides, request by request, which ones get a line. */
export class RequestLog {
  /** Log one request in this many (0: none); a rate logs one in round(1/rate), exactly, not at random. */
  private readonly every: number;
  private seen = 0;

  constructor(setting: RequestLogSetting = 'on') {
    if (setting === 'on') this.every = 1;
    else if (setting === 'off') this.every = 0;
    else this.every = Math.max(1, Math.round(1 / setting));
  }

  /** Whether a response with `status` gets its line. Server errors do, and do not use up the sample. */
  wants(status: number): boolean {
    if (status >= 500) return true;
    if (this.every === 0) return false;
    this.seen = (this.seen + 1) % this.every;
    return this.seen === 0;
  }
}

/** The line of an answered request. */
export function requestLine(request: FastifyRequest, reply: FastifyReply): RequestLine {
  return {
    method: request.method,
    url: withoutSecrets(request.url),
    status: reply.statusCode,
    ms: Math.round(reply.elapsedTime * 10) / 10,
  };
}

/**
 * Query parameters whose values are credentials, whatever endpoint they were sent to; a value ends
 * at the next parameter, or at a space when the URL is quoted in a text.
 */
const SECRET_PARAMETER = /([?&](?:password|passwd|pass|pwd|token|access_token|secret|authsession)=)[^&\s]*/gi;

/** The request's path and query, secret query values replaced by `***`. */
export function withoutSecrets(url: string): string {
  return url.includes('?') ? url.replace(SECRET_PARAMETER, '$1***') : url;
}

/** The name and password of a URL written in a text (`https://name:password@host/db`). */
const URL_USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)[^\s/?#@]*@/gi;

/**
 * A text that may quote URLs (a log message: a replication's source, a failed request), without
 * their userinfo and with their secret query values replaced by `***`.
 */
export function textWithoutSecrets(text: string): string {
  return withoutSecrets(text.replace(URL_USERINFO, '$1'));
}
