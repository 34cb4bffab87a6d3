import { STATUS_CODES } from 'node:http';
import { type Duplex, Readable } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { badRequest, SetteeError, toSetteeError } from '../core/errors.js';

/** The query string as CouchDB clients send it: every value a string (the last one wins). */
export type Query = Record<string, string | undefined>;

/** Parses a JSON request body; an empty body is `undefined` (CouchDB accepts it on some endpoints). */
export function jsonBody(request: FastifyRequest, options: { required?: boolean } = {}): unknown {
  const body = request.body;
  if (body === undefined || body === null || (Buffer.isBuffer(body) && body.length === 0)) {
    if (options.required) throw badRequest('Request body must not be empty');
    return undefined;
  }
  requireJsonType(request);
  refuseTooManyValues(body as Buffer);
  try {
    return JSON.parse((body as Buffer).toString('utf8'));
  } catch {
    throw badRequest('invalid UTF-8 JSON');
  }
}

/** Bodies below this size cannot hold enough values to matter (see refuseTooManyValues). */
const VALUE_SCAN_FROM = 16 * 1024 * 1024;
/** Values a JSON body may hold: a few hundred MB of heap once parsed, at worst. */
const MAX_JSON_VALUES = 8_000_000;

/**
 * A large body of tiny values (`[{},{},…]`: three bytes each, tens of bytes each once parsed)
 * would exhaust the heap in JSON.parse and take the whole server down. Counting the bytes that
 * open or separate values is cheap next to the parse; commas inside strings count too, which
 * only errs on the safe side. Real bodies this large are attachments: long strings, few values.
 */
function refuseTooManyValues(body: Buffer): void {
  if (body.length < VALUE_SCAN_FROM) return;
  let values = 0;
  for (let i = 0; i < body.length; i++) {
    const byte = body[i]; // , { [
    if (byte === 0x2c || byte === 0x7b || byte === 0x5b) values++;
  }
  if (values > MAX_JSON_VALUES) {
    throw new SetteeError('too_large', `the JSON body holds more than ${MAX_JSON_VALUES} values`);
  }
}

/** POST endpoints that take JSON refuse other media types, as CouchDB does. */
export function requireJsonType(request: FastifyRequest): void {
  const type = request.headers['content-type'];
  if (type !== undefined && !/^application\/json\b/i.test(type)) {
    throw new SetteeError('bad_content_type', 'Content-Type must be application/json');
  }
}

/** A JSON object body (`{"docs": …}` and the like). */
export function jsonObjectBody(request: FastifyRequest): Record<string, unknown> {
  const body = jsonBody(request, { required: true });
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw badRequest('Request body must be a JSON object');
  }
  return body as Record<string, unknown>;
}

export function boolParam(query: Query, name: string): boolean | undefined {
  const value = query[name];
  if (value === undefined) return undefined;
  if (value === 'true') return true;
  if (value === 'false') return false;
  throw badRequest(`Invalid boolean parameter: ${name}`);
}

export function intParam(query: Query, name: string): number | undefined {
  const value = query[name];
  if (value === undefined) return undefined;
  if (!/^\d{1,15}$/.test(value)) throw badRequest(`Invalid value for integer parameter: ${name}`);
  return Number(value);
}

/** A JSON-encoded query value (`startkey="abc"`, `open_revs=["1-a"]`). */
export function jsonParam(query: Query, name: string): unknown {
  const value = query[name];
  if (value === undefined) return undefined;
  try {
    return JSON.parse(value);
  } catch {
    throw badRequest(`Invalid JSON in query parameter ${name}`);
  }
}

export function stringArrayParam(query: Query, name: string): string[] | undefined {
  const value = jsonParam(query, name);
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || !value.every((item) => typeof item === 'string')) {
    throw badRequest(`Query parameter ${name} must be a JSON array of strings`);
  }
  return value;
}

export function sendJson(reply: FastifyReply, status: number, body: unknown): FastifyReply {
  return reply
    .code(status)
    .type('application/json')
    .send(`${JSON.stringify(body)}\n`);
}

/** Yielded by a response body's source before it waits: what is buffered goes out now. */
export const FLUSH = Symbol('flush');

/**
 * A 200 listing: `head` (up to and including the opening `[` of its rows), then each row as JSON
 * on its own line as it comes, then `]}` — through sendText, so it goes out in 64 KB writes.
 * Rows the database already serialized (`_bulk_get`'s) come as `{ json }` and are sent as they are.
 */
export function sendRows(
  reply: FastifyReply,
  head: string,
  rows: AsyncIterable<unknown> | { json: AsyncIterable<string> },
): Promise<FastifyReply> {
  const serialized = isSerialized(rows) ? rows.json : mapRows(rows, (row) => JSON.stringify(row));
  const chunks = async function* () {
    yield head;
    let first = true;
    for await (const row of serialized) {
      yield `${first ? '\n' : ',\n'}${row}`;
      first = false;
    }
    yield '\n]}\n';
  };
  return sendText(reply, 200, 'application/json', chunks());
}

function isSerialized(rows: object): rows is { json: AsyncIterable<string> } {
  return 'json' in rows;
}

/** Each row of `source` through `map`, as they come. */
export async function* mapRows<T, U>(source: AsyncIterable<T>, map: (item: T) => U): AsyncGenerator<U> {
  for await (const item of source) yield map(item);
}

/** About how much text a streamed response gathers before a write. */
const WRITE_CHUNK = 64 * 1024;

/**
 * Sends the text `source` yields, gathered into writes of about 64 KB rather than a write (and
 * a chunk frame, and a syscall) per row. A body that ends within its first chunk goes out whole,
 * with a Content-Length, in one write; an error before then gets CouchDB's error answer rather
 * than a cut connection. A longer body, or one that yields `FLUSH` (before a wait), streams.
 *
 * @example
 * return sendText(reply, 200, 'application/json', (async function* () { yield '['; yield ']'; })());
 */
export async function sendText(
  reply: FastifyReply,
  status: number,
  type: string,
  source: AsyncIterable<string | typeof FLUSH>,
): Promise<FastifyReply> {
  const chunks = gather(source);
  let first: IteratorResult<{ text: string; ended: boolean }>;
  try {
    first = await chunks.next();
  } catch (error) {
    await chunks.return(undefined);
    throw error;
  }
  reply.code(status).type(type);
  if (first.done || first.value.ended) return reply.send(first.value?.text ?? '');
  return reply.send(Readable.from(continueWith(first.value.text, chunks), { objectMode: false }));
}

async function* continueWith(
  head: string,
  rest: AsyncGenerator<{ text: string; ended: boolean }>,
): AsyncGenerator<string> {
  yield head;
  for await (const chunk of rest) yield chunk.text;
}

/** Joins the parts into chunks; `ended` marks the last one (so a one-chunk body needs no stream). */
async function* gather(
  source: AsyncIterable<string | typeof FLUSH>,
): AsyncGenerator<{ text: string; ended: boolean }> {
  let buffered = '';
  for await (const part of source) {
    if (part === FLUSH) {
      if (buffered !== '') yield { text: buffered, ended: false };
      buffered = '';
      continue;
    }
    buffered += part;
    if (buffered.length >= WRITE_CHUNK) {
      yield { text: buffered, ended: false };
      buffered = '';
    }
  }
  yield { text: buffered, ended: true };
}

/** The error body CouchDB sends, for whatever was thrown. */
export function errorReply(err: unknown): { status: number; body: { error: string; reason: string } } {
  if (err instanceof SetteeError) return { status: err.status, body: err.toJSON() };
  const status = (err as { statusCode?: number }).statusCode;
  const message = err instanceof Error ? err.message : String(err);
  if (status === 413)
    return { status, body: { error: 'too_large', reason: 'the request entity is too large' } };
  if (status === 415) return { status, body: { error: 'bad_content_type', reason: message } };
  if (status === 414) return { status, body: { error: 'too_long', reason: 'the request URI is too long' } };
  if (status !== undefined && status >= 400 && status < 500) {
    return { status, body: { error: 'bad_request', reason: message } };
  }
  const error = toSetteeError(err);
  return { status: error.status, body: error.toJSON() };
}

/** Node's reasons for refusing a request before parsing it through, by error code; others are 400. */
const CLIENT_ERRORS: Readonly<Record<string, { status: number; reason: string }>> = {
  HPE_HEADER_OVERFLOW: { status: 431, reason: 'The request line and headers are too large' },
  ERR_HTTP_REQUEST_TIMEOUT: { status: 408, reason: 'The request did not arrive in time' },
};

/**
 * Answers a request Node's HTTP parser refused (a request line or headers too large, a malformed
 * request, a timeout) before any route saw it: the same error body as every other error, rather
 * than the framework's own, then the connection ends.
 */
export function answerClientError(
  error: Error & { code?: string; rawPacket?: unknown },
  socket: Duplex,
): void {
  // A reset connection has nobody left to answer.
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const known = error.code !== undefined && Object.hasOwn(CLIENT_ERRORS, error.code);
  const { status, reason } = known
    ? CLIENT_ERRORS[error.code!]!
    : { status: 400, reason: `Malformed HTTP request (${error.code ?? error.message})` };
  const { body } = errorReply(Object.assign(new Error(reason), { statusCode: status }));
  const text = `${JSON.stringify(body)}\n`;
  // The answer to a HEAD has the headers of the body it does not send.
  const head =
    Buffer.isBuffer(error.rawPacket) && error.rawPacket.subarray(0, 5).toString('latin1') === 'HEAD ';
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n\r\n${head ? '' : text}`,
    );
  }
  socket.destroy(error);
}
