/**
 * A small HTTP client for CouchDB-compatible servers, over the platform's transport (undici's
 * keep-alive pool in Node, `fetch` in browsers) or a given `fetch`.
 *
 * - Credentials go as Basic auth, or (`session: true`) as the `AuthSession` cookie of a
 *   `POST /_session` login, renewed once when a request is answered 401.
 * - Transient failures (connection errors, stalls, 408, 429, 5xx) are retried with exponential
 *   backoff and full jitter, honouring `Retry-After`; the replicator's requests are idempotent,
 *   so repeating one is always safe. Others ask for `idempotent: false`.
 * - A request whose headers or body bytes stop arriving for `timeoutMs` is aborted (a stall) and
 *   counts as transient: a half-dead connection must not hang a replication forever.
 * - Error answers become SetteeErrors (RemoteError); giving up becomes RetriesExhaustedError.
 */
import { encodeBase64 } from '../core/base64.js';
import {
  errorCode,
  IncompleteResponseError,
  PeerUnreachableError,
  RemoteError,
  RetriesExhaustedError,
  remoteError,
  StallTimeoutError,
} from './errors.js';
import { loadJsonParser } from './json-parser.js';
import { defaultTransport, fetchTransport, type Transport, type TransportResponse } from './transport.js';

export interface Credentials {
  username: string;
  password: string;
}

export interface HttpClientOptions {
  /** Credentials; they override any in the URL's userinfo. */
  auth?: Credentials;
  /** Log in with `POST /_session` and send the cookie instead of Basic auth on every request. */
  session?: boolean;
  /** Retries of a transiently failing request (default 5). */
  retries?: number;
  /** Stall timeout: the longest silence allowed while waiting for headers or body bytes (default 30 s). */
  timeoutMs?: number;
  /** Send requests through this `fetch` (to watch or alter them) instead of the platform's transport. */
  fetch?: typeof fetch;
  /** Told of every HTTP request as it is sent, retries included (to count or log them). */
  onRequest?: (request: SentRequest) => void;
  /** First backoff step (default 250 ms), doubled per retry. */
  backoffBaseMs?: number;
  /** Longest wait between two attempts, `Retry-After` included (default 60 s). */
  backoffMaxMs?: number;
}

/** A request on its way out, as `onRequest` sees it. */
export interface SentRequest {
  method: string;
  /** The full URL, without credentials. */
  url: string;
}

export type QueryValue = string | number | boolean | undefined;

export interface HttpRequest {
  method?: string;
  /** Relative to the client's base URL, already percent-encoded (`db/_changes`). */
  path: string;
  query?: Record<string, QueryValue>;
  /** A body sent as JSON. */
  json?: unknown;
  /** A body sent form-encoded. */
  form?: Record<string, string>;
  headers?: Record<string, string>;
  signal?: AbortSignal;
  /** This request's stall timeout, when it differs from the client's (a longpoll's is longer). */
  timeoutMs?: number;
  /** Statuses answered at once as errors although they are normally retried. */
  noRetry?: readonly number[];
  /** false: retry only failures that prove the request never reached the server. Default true. */
  idempotent?: boolean;
  /** false: send no credentials (the login itself). */
  auth?: boolean;
}

const DEFAULTS = { retries: 5, timeoutMs: 30_000, backoffBaseMs: 250, backoffMaxMs: 60_000 };

/** Socket-level failures: the request may or may not have reached the server. */
const NETWORK_CODES = new Set([
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'ECONNABORTED',
  'ENETDOWN',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  // A body cut short of its Content-Length (undici's request; fetch says `terminated`).
  'UND_ERR_RES_CONTENT_LENGTH_MISMATCH',
]);
/** Failures to connect at all: the request never left, and the peer counts as unreachable. */
const CONNECT_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/**
 * A response whose body is read under the stall timer: every chunk that arrives proves the
 * connection alive. Read it once, with `chunks`, `text` or `json`.
 */
export class HttpResponse {
  constructor(
    private readonly raw: TransportResponse,
    private readonly stall: StallTimer,
  ) {}

  get status(): number {
    return this.raw.status;
  }

  /** A response header by its lowercase name. */
  header(name: string): string | undefined {
    return this.raw.header(name);
  }

  async *chunks(): AsyncGenerator<Uint8Array> {
    for await (const chunk of this.raw.body()) {
      this.stall.touch();
      yield chunk;
    }
  }

  /** The body as text, decoded once at the end: decoding chunk by chunk into a growing string costs twice as much. */
  async text(): Promise<string> {
    const chunks: Uint8Array[] = [];
    let length = 0;
    for await (const chunk of this.chunks()) {
      chunks.push(chunk);
      length += chunk.byteLength;
    }
    return new TextDecoder().decode(chunks.length === 1 ? chunks[0] : concatBytes(chunks, length));
  }

  async json<T>(): Promise<T> {
    const text = await this.text();
    try {
      return JSON.parse(text) as T;
    } catch (err) {
      if (await isIncompleteJson(text)) throw new IncompleteResponseError();
      throw err;
    }
  }

  /** Lets go of an unread body, so the connection returns to the pool. */
  discard(): Promise<void> {
    return this.raw.discard();
  }
}

function concatBytes(chunks: readonly Uint8Array[], length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}

/** Whether a JSON text that failed to parse was a valid beginning cut short (vs. not JSON at all). */
export async function isIncompleteJson(text: string): Promise<boolean> {
  if (text.trim() === '') return true;
  const JSONParser = await loadJsonParser();
  const parser = new JSONParser({ keepStack: false });
  parser.onValue = () => {};
  try {
    parser.write(text);
  } catch {
    return false;
  }
  return !parser.isEnded;
}

/** Aborts a request once no progress was seen for `ms`; progress is reported with `touch`. */
class StallTimer {
  private readonly controller = new AbortController();
  private last = Date.now();
  private timer: NodeJS.Timeout | undefined;
  fired = false;

  constructor(readonly ms: number) {
    this.arm(ms);
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  touch(): void {
    this.last = Date.now();
  }

  stop(): void {
    clearTimeout(this.timer);
  }

  // One timer re-armed for the remaining time instead of one per chunk: cheap on big bodies.
  private arm(delay: number): void {
    this.timer = setTimeout(() => {
      const idle = Date.now() - this.last;
      if (idle < this.ms) return this.arm(this.ms - idle);
      this.fired = true;
      this.controller.abort(new StallTimeoutError(this.ms));
    }, delay);
  }
}

/** The HTTP client of one server (the base URL is the server root, where `_session` lives). */
export class HttpClient {
  readonly baseUrl: string;
  private readonly credentials: Credentials | undefined;
  private readonly options: typeof DEFAULTS;
  private readonly transport: Transport;
  private readonly onRequest: ((request: SentRequest) => void) | undefined;
  /** Cookie mode; dropped for Basic when the server has no `_session`. */
  private sessionMode: boolean;
  private cookie: string | undefined;
  private login: Promise<void> | undefined;

  constructor(baseUrl: string, options: HttpClientOptions = {}) {
    const { url, auth } = splitCredentials(baseUrl);
    this.baseUrl = url.replace(/\/+$/, '');
    this.credentials = options.auth ?? auth;
    this.sessionMode = options.session === true && this.credentials !== undefined;
    this.transport = options.fetch ? fetchTransport(options.fetch) : defaultTransport();
    this.onRequest = options.onRequest;
    this.options = {
      retries: options.retries ?? DEFAULTS.retries,
      timeoutMs: options.timeoutMs ?? DEFAULTS.timeoutMs,
      backoffBaseMs: options.backoffBaseMs ?? DEFAULTS.backoffBaseMs,
      backoffMaxMs: options.backoffMaxMs ?? DEFAULTS.backoffMaxMs,
    };
  }

  /** The stall timeout of requests that set none. */
  get timeoutMs(): number {
    return this.options.timeoutMs;
  }

  /** Sends a request and reads its JSON answer. */
  json<T>(request: HttpRequest): Promise<T> {
    return this.request(request, (response) => response.json<T>());
  }

  /**
   * Sends a request and reads a successful response with `read`; both run inside one attempt,
   * so a connection cut while reading the body is retried like one cut before the headers.
   */
  async request<T>(request: HttpRequest, read: (response: HttpResponse) => Promise<T>): Promise<T> {
    if (request.auth === false) return this.withRetries(request, read);
    await this.ensureSession(request.signal);
    const sent = this.cookie;
    try {
      return await this.withRetries(request, read);
    } catch (err) {
      // A forgotten or expired session: log in again, once, and repeat the request.
      if (!(this.sessionMode && err instanceof RemoteError && err.status === 401)) throw err;
      await this.renewSession(sent, request.signal);
      return this.withRetries(request, read);
    }
  }

  url(request: Pick<HttpRequest, 'path' | 'query'>): string {
    const path = request.path === '' ? '/' : `/${request.path}`;
    const params = Object.entries(request.query ?? {}).filter(([, value]) => value !== undefined);
    // Keys are encoded too: a filter's query_params may name any key.
    const query = params
      .map(([key, value]) => `${encodeURIComponent(key)}=${encodeURIComponent(String(value))}`)
      .join('&');
    return `${this.baseUrl}${path}${query ? `?${query}` : ''}`;
  }

  private async withRetries<T>(
    request: HttpRequest,
    read: (response: HttpResponse) => Promise<T>,
  ): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.attempt(request, read);
      } catch (err) {
        if (request.signal?.aborted) throw request.signal.reason;
        const retryAfter = this.retryable(err, request);
        if (retryAfter === false) throw err;
        if (attempt >= this.options.retries) throw this.gaveUp(request, attempt + 1, err);
        await sleep(this.delay(attempt, retryAfter), request.signal);
      }
    }
  }

  /** One try: send, check the status, read the body, all under one stall timer. */
  private async attempt<T>(request: HttpRequest, read: (response: HttpResponse) => Promise<T>): Promise<T> {
    request.signal?.throwIfAborted();
    const stall = new StallTimer(request.timeoutMs ?? this.options.timeoutMs);
    const signal = request.signal ? AbortSignal.any([request.signal, stall.signal]) : stall.signal;
    let response: HttpResponse | undefined;
    try {
      const url = this.url(request);
      const init = this.init(request);
      this.onRequest?.({ method: init.method, url });
      const raw = await this.transport(url, { ...init, signal });
      stall.touch();
      this.noteCookie(raw);
      response = new HttpResponse(raw, stall);
      if (raw.status < 200 || raw.status > 299) throw await errorOf(response);
      return await read(response);
    } catch (err) {
      if (request.signal?.aborted) throw request.signal.reason;
      throw stall.fired ? new StallTimeoutError(stall.ms) : err;
    } finally {
      stall.stop();
      await response?.discard();
    }
  }

  private init(request: HttpRequest): { method: string; headers: Record<string, string>; body?: string } {
    const headers: Record<string, string> = { accept: 'application/json', ...this.authHeaders(request) };
    let body: string | undefined;
    if (request.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(request.json);
    } else if (request.form !== undefined) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(request.form).toString();
    }
    return { method: request.method ?? 'GET', headers: { ...headers, ...request.headers }, body };
  }

  private authHeaders(request: HttpRequest): Record<string, string> {
    if (request.auth === false || !this.credentials) return {};
    if (this.sessionMode) return this.cookie ? { cookie: `AuthSession=${this.cookie}` } : {};
    const { username, password } = this.credentials;
    return { authorization: `Basic ${encodeBase64(new TextEncoder().encode(`${username}:${password}`))}` };
  }

  /** The retry delay a failure calls for (`undefined`: plain backoff), or false: not transient. */
  private retryable(err: unknown, request: HttpRequest): number | undefined | false {
    if (err instanceof RemoteError) {
      if (request.noRetry?.includes(err.status)) return false;
      if (err.status === 429) return err.retryAfterMs;
      const transient = err.status === 408 || (err.status >= 500 && err.status !== 501);
      return transient && request.idempotent !== false ? err.retryAfterMs : false;
    }
    if (isConnectFailure(err)) return undefined;
    if (request.idempotent === false) return false;
    const transient =
      err instanceof StallTimeoutError || err instanceof IncompleteResponseError || isNetworkFailure(err);
    return transient ? undefined : false;
  }

  /** Full jitter over an exponential ceiling; a server's Retry-After is taken as given (capped). */
  private delay(attempt: number, retryAfterMs: number | undefined): number {
    const { backoffBaseMs, backoffMaxMs } = this.options;
    if (retryAfterMs !== undefined) return Math.min(retryAfterMs, backoffMaxMs);
    return Math.random() * Math.min(backoffMaxMs, backoffBaseMs * 2 ** attempt);
  }

  private gaveUp(request: HttpRequest, attempts: number, cause: unknown): RetriesExhaustedError {
    const url = this.url({ path: request.path });
    return isConnectFailure(cause)
      ? new PeerUnreachableError(url, attempts, cause)
      : new RetriesExhaustedError(url, attempts, cause);
  }

  // --- cookie sessions -----------------------------------------------------------------------

  private async ensureSession(signal: AbortSignal | undefined): Promise<void> {
    if (this.sessionMode && this.cookie === undefined) await this.startLogin(signal);
  }

  /** Logs in again unless another request already replaced the cookie that was refused. */
  private async renewSession(refused: string | undefined, signal: AbortSignal | undefined): Promise<void> {
    if (this.cookie === refused) this.cookie = undefined;
    await this.ensureSession(signal);
  }

  /** One login at a time, shared by every request waiting for it. */
  private startLogin(signal: AbortSignal | undefined): Promise<void> {
    this.login ??= this.logIn().finally(() => {
      this.login = undefined;
    });
    return abortable(this.login, signal);
  }

  private async logIn(): Promise<void> {
    const { username: name, password } = this.credentials!;
    try {
      await this.json({ method: 'POST', path: '_session', form: { name, password }, auth: false });
    } catch (err) {
      // No `_session` endpoint: Basic auth, as CouchDB's replicator falls back to.
      if (err instanceof RemoteError && (err.status === 404 || err.status === 405)) this.sessionMode = false;
      else throw err;
    }
    if (this.cookie === undefined) this.sessionMode = false;
  }

  /** Keeps the cookie a login or a server-side renewal hands out. */
  private noteCookie(response: TransportResponse): void {
    if (!this.sessionMode) return;
    for (const line of response.setCookies()) {
      const match = /^\s*AuthSession=([^;]*)/.exec(line);
      if (match) this.cookie = match[1] ? match[1] : undefined;
    }
  }
}

/** fetch refuses URLs with userinfo: take the credentials out (percent-decoded). */
/** A URL without its userinfo, for messages and listings: credentials never appear in output. */
export function withoutCredentials(location: string): string {
  try {
    return splitCredentials(location).url;
  } catch {
    return location.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/?#]*@/i, '$1');
  }
}

export function splitCredentials(url: string): { url: string; auth?: Credentials } {
  const parsed = new URL(url);
  if (!parsed.username && !parsed.password) return { url };
  const auth = {
    username: decodeURIComponent(parsed.username),
    password: decodeURIComponent(parsed.password),
  };
  parsed.username = '';
  parsed.password = '';
  return { url: parsed.href, auth };
}

async function errorOf(response: HttpResponse): Promise<RemoteError> {
  const text = await response.text().catch(() => '');
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: a proxy's HTML page, an empty body
  }
  return remoteError(response.status, body, retryAfterMs(response.header('retry-after') ?? null));
}

/** `Retry-After`: delay-seconds or an HTTP date. */
export function retryAfterMs(value: string | null): number | undefined {
  if (value === null || value.trim() === '') return undefined;
  if (/^\s*\d+(\.\d+)?\s*$/.test(value)) return Number(value) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

function isConnectFailure(err: unknown): boolean {
  const code = errorCode(err);
  return code !== undefined && CONNECT_CODES.has(code);
}

/** Connection trouble as undici reports it: `fetch failed` / `terminated` with a socket cause. */
function isNetworkFailure(err: unknown): boolean {
  const code = errorCode(err);
  if (code !== undefined && (NETWORK_CODES.has(code) || CONNECT_CODES.has(code))) return true;
  if (!(err instanceof TypeError)) return false;
  return /fetch failed|terminated|socket hang up|other side closed/i.test(err.message);
}

/** Waits `ms`, or rejects with the signal's reason as soon as it aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** A shared promise that one waiter may stop waiting for without cancelling it for the others. */
function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  return new Promise<T>((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
