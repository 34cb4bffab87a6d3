/**
 * MIME multipart (RFC 2046) as the CouchDB replicator speaks it (protocol.md §2.6, §2.7, §4):
 *
 * - reading `PUT /db/doc` bodies of type `multipart/related` (doc JSON first, then one part per
 *   attachment marked `"follows": true`, possibly gzip-encoded);
 * - writing `multipart/mixed` responses for `open_revs` and `_bulk_get` (one part per revision; a
 *   revision whose attachments carry data becomes a nested `multipart/related` part);
 * - encoding a whole document with its attachments as `multipart/related` (replicated PUTs).
 *
 * PouchDB never uses any of this; it is only for interop with CouchDB's replicator.
 */
import { randomBytes } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import type { Doc } from '../core/api.js';
import { decodeBase64 } from '../core/base64.js';
import { servableContentType } from '../core/document.js';
import { badRequest } from '../core/errors.js';

export interface MultipartPart {
  /** Header names lower-cased; repeated headers joined with `", "`. */
  headers: Record<string, string>;
  /** The part's bytes (a view into the parsed body, not a copy). */
  body: Buffer;
}

const CR = 0x0d;
const LF = 0x0a;
const DASH = 0x2d;
const SP = 0x20;
const TAB = 0x09;
const CRLF = '\r\n';

// ---------------------------------------------------------------------------------------------
// Content-Type parameters

interface MediaType {
  type: string;
  params: Map<string, string>;
}

/** Splits `type/subtype; a=b; c="d; e"` into a lower-cased type and its parameters (names lower-cased). */
function parseMediaType(value: string): MediaType {
  const params = new Map<string, string>();
  const semi = value.indexOf(';');
  const type = (semi === -1 ? value : value.slice(0, semi)).trim().toLowerCase();
  let i = semi === -1 ? value.length : semi + 1;
  while (i < value.length) {
    const eq = value.indexOf('=', i);
    const nextSemi = value.indexOf(';', i);
    if (eq === -1 || (nextSemi !== -1 && nextSemi < eq)) {
      // A parameter without a value: skip it.
      i = nextSemi === -1 ? value.length : nextSemi + 1;
      continue;
    }
    const name = value.slice(i, eq).trim().toLowerCase();
    let j = eq + 1;
    while (j < value.length && (value[j] === ' ' || value[j] === '\t')) j++;
    let paramValue = '';
    if (value[j] === '"') {
      j++;
      while (j < value.length && value[j] !== '"') {
        if (value[j] === '\\' && j + 1 < value.length) j++;
        paramValue += value[j];
        j++;
      }
      const end = value.indexOf(';', j);
      i = end === -1 ? value.length : end + 1;
    } else {
      const end = value.indexOf(';', j);
      paramValue = value.slice(j, end === -1 ? value.length : end).trim();
      i = end === -1 ? value.length : end + 1;
    }
    if (name && !params.has(name)) params.set(name, paramValue);
  }
  return { type, params };
}

/** The `boundary` parameter (quoted or not) of a `multipart/*` content type; undefined otherwise. */
export function multipartBoundary(contentType: string | undefined): string | undefined {
  if (!contentType) return undefined;
  const { type, params } = parseMediaType(contentType);
  if (!type.startsWith('multipart/')) return undefined;
  const boundary = params.get('boundary');
  return boundary ? boundary : undefined;
}

/** True when `Accept` names `multipart/mixed` or `multipart/related` and not `application/json`. */
export function wantsMultipart(accept: string | undefined): boolean {
  if (!accept) return false;
  let multipart = false;
  for (const range of accept.split(',')) {
    const type = (range.split(';')[0] ?? '').trim().toLowerCase();
    if (type === 'application/json') return false;
    if (type === 'multipart/mixed' || type === 'multipart/related') multipart = true;
  }
  return multipart;
}

// ---------------------------------------------------------------------------------------------
// Parsing

/**
 * Where a delimiter candidate at `at` (the index of its `--boundary`) leads: `close` for
 * `--boundary--`, `open` with the index just after its line end, or undefined when the bytes there
 * are not a delimiter line (the boundary is only a prefix of a longer line).
 */
function delimiterAt(
  body: Buffer,
  at: number,
  delimiterLength: number,
): { close: true } | { next: number } | undefined {
  const p = at + delimiterLength;
  if (body[p] === DASH && body[p + 1] === DASH) return { close: true };
  let q = p;
  while (body[q] === SP || body[q] === TAB) q++; // transport padding
  if (body[q] === LF) return { next: q + 1 };
  if (body[q] === CR && body[q + 1] === LF) return { next: q + 2 };
  return undefined;
}

/** The next delimiter at or after `from` that starts a line (or the body). */
function findDelimiter(
  body: Buffer,
  delimiter: Buffer,
  from: number,
): { index: number; close: true } | { index: number; next: number } | undefined {
  let search = from;
  for (;;) {
    const index = body.indexOf(delimiter, search);
    if (index === -1) return undefined;
    if (index === 0 || body[index - 1] === LF) {
      const kind = delimiterAt(body, index, delimiter.length);
      if (kind) return { index, ...kind };
    }
    search = index + 1;
  }
}

/** RFC 9110 token characters (names already lower-cased). */
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9a-z]+$/;

function parseHeaders(raw: Buffer): Record<string, string> {
  const headers: Record<string, string> = {};
  if (raw.length === 0) return headers;
  let last: string | undefined;
  for (const line of raw.toString('utf8').split(/\r?\n/)) {
    if (line === '') continue;
    if ((line[0] === ' ' || line[0] === '\t') && last !== undefined) {
      headers[last] = `${headers[last]} ${line.trim()}`; // folded continuation line
      continue;
    }
    const colon = line.indexOf(':');
    const name = colon > 0 ? line.slice(0, colon).trim().toLowerCase() : '';
    if (!HEADER_NAME.test(name)) throw badRequest('Malformed header in multipart body');
    const value = line.slice(colon + 1).trim();
    const previous = headers[name];
    headers[name] = previous === undefined ? value : `${previous}, ${value}`;
    last = name;
  }
  return headers;
}

/**
 * Splits a multipart body into its parts. Tolerates a preamble and an epilogue, CRLF or bare LF
 * line endings and transport padding after delimiters; throws `bad_request` when the opening or
 * closing boundary is missing or a part's headers are malformed. Bodies are views into `body`.
 */
export function parseMultipart(body: Buffer, boundary: string): MultipartPart[] {
  if (!boundary) throw badRequest('Multipart boundary is missing');
  const delimiter = Buffer.from(`--${boundary}`, 'utf8');
  let delim = findDelimiter(body, delimiter, 0);
  if (!delim) throw badRequest('Multipart body does not contain its boundary');
  const parts: MultipartPart[] = [];
  while (!('close' in delim)) {
    const start = delim.next;
    const following = findDelimiter(body, delimiter, start);
    if (!following) throw badRequest('Multipart body has no closing boundary');
    // The line break before a delimiter belongs to the delimiter, not to the part.
    let end = Math.max(start, following.index - 1);
    const strippedCr = end > start && body[end - 1] === CR;
    if (strippedCr) end--;

    // Headers run up to the first empty line; without one, the part is all headers.
    let headerEnd = end;
    let bodyStart = end;
    let p = start;
    while (p < end) {
      const lf = body.indexOf(LF, p);
      if (lf === -1 || lf >= end) break;
      const lineEnd = lf > p && body[lf - 1] === CR ? lf - 1 : lf;
      if (lineEnd === p) {
        headerEnd = p;
        bodyStart = lf + 1;
        break;
      }
      p = lf + 1;
    }
    const headers = parseHeaders(body.subarray(start, headerEnd));
    // With bare-LF framing a part may genuinely end in CR: trust Content-Length to tell.
    if (strippedCr && Number(headers['content-length']) === end + 1 - bodyStart) end++;
    parts.push({ headers, body: body.subarray(Math.min(bodyStart, end), end) });
    delim = following;
  }
  return parts;
}

// ---------------------------------------------------------------------------------------------
// PUT multipart/related → document with inline attachments

const INDEX_LIKE = /^(?:0|[1-9][0-9]*)$/;

/**
 * The keys of the top-level `_attachments` object in the order they appear in `text` (already
 * known to be valid JSON). Needed because JavaScript objects list integer-like keys first, while
 * the parts follow the JSON text.
 */
function attachmentNamesInTextOrder(text: string): string[] {
  let i = 0;
  const skipWhitespace = () => {
    while (i < text.length && (text[i] === ' ' || text[i] === '\t' || text[i] === '\n' || text[i] === '\r'))
      i++;
  };
  const readString = (): string => {
    const start = i;
    i++;
    while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
    i++;
    return JSON.parse(text.slice(start, i)) as string;
  };
  const skipValue = () => {
    skipWhitespace();
    const c = text[i];
    if (c === '"') {
      readString();
    } else if (c === '{' || c === '[') {
      let depth = 0;
      do {
        const d = text[i];
        if (d === '"') {
          readString();
          continue;
        }
        if (d === '{' || d === '[') depth++;
        else if (d === '}' || d === ']') depth--;
        i++;
      } while (depth > 0 && i < text.length);
    } else {
      while (i < text.length && !',}] \t\r\n'.includes(text[i] ?? '')) i++;
    }
  };
  /** Walks an object's members, calling `member` with `i` at each value (which it must consume). */
  const eachMember = (member: (key: string) => void) => {
    skipWhitespace();
    i++; // '{'
    for (;;) {
      skipWhitespace();
      if (i >= text.length || text[i] === '}') {
        i++;
        return;
      }
      if (text[i] === ',') {
        i++;
        continue;
      }
      const key = readString();
      skipWhitespace();
      i++; // ':'
      skipWhitespace();
      member(key);
    }
  };

  let names: string[] = [];
  eachMember((key) => {
    if (key === '_attachments' && text[i] === '{') {
      const found: string[] = [];
      eachMember((name) => {
        found.push(name);
        skipValue();
      });
      names = found; // JSON.parse keeps the last duplicate; so do we
    } else {
      skipValue();
    }
  });
  return [...new Set(names)];
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * Reads a `multipart/related` document body (`PUT /db/doc`): the first part is the JSON document;
 * each attachment marked `"follows": true` takes its bytes from the following parts, in the order
 * those attachments appear in `_attachments` (part filenames are not trusted). gzip-encoded parts
 * are decoded. Returns the document with base64 `data` in place of `follows` (and without the
 * `length`, `digest`, `encoding`, `encoded_length` hints of those attachments).
 */
export function readMultipartRelatedDoc(body: Buffer, contentType: string): Record<string, unknown> {
  const { type } = parseMediaType(contentType);
  const boundary = multipartBoundary(contentType);
  if (type !== 'multipart/related' || !boundary) {
    throw badRequest('Content-Type must be multipart/related with a boundary');
  }
  const [first, ...rest] = parseMultipart(body, boundary);
  if (!first) throw badRequest('Multipart/related body has no document part');
  const firstType = first.headers['content-type'];
  if (firstType !== undefined && parseMediaType(firstType).type !== 'application/json') {
    throw badRequest('The first part of a multipart/related document must be application/json');
  }

  const text = first.body.toString('utf8');
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw badRequest('invalid UTF-8 JSON in the document part of the multipart/related body');
  }
  if (!isObject(doc)) throw badRequest('Document must be a JSON object');

  const attachments = doc._attachments;
  const atts = isObject(attachments) ? attachments : {};
  let names = Object.keys(atts);
  if (names.some((name) => INDEX_LIKE.test(name))) names = attachmentNamesInTextOrder(text);
  const following = names.filter((name) => {
    const att = atts[name];
    return isObject(att) && att.follows === true;
  });
  if (following.length !== rest.length) {
    throw badRequest(
      `Multipart/related body has ${rest.length} attachment part(s) but the document marks ` +
        `${following.length} attachment(s) "follows"`,
    );
  }
  if (following.length === 0) return doc;

  const result: Record<string, unknown> = { ...atts };
  following.forEach((name, index) => {
    const att = atts[name] as Record<string, unknown>;
    const part = rest[index] as MultipartPart;
    let bytes = part.body;

    const declared = part.headers['content-length'];
    if (declared !== undefined && /^\d+$/.test(declared.trim()) && Number(declared) !== bytes.length) {
      throw badRequest(
        `Attachment part for ${name} has Content-Length ${declared.trim()} but ${bytes.length} bytes`,
      );
    }
    const headerEncoding = (part.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
    const jsonEncoding = typeof att.encoding === 'string' ? att.encoding.toLowerCase() : 'identity';
    for (const encoding of [headerEncoding, jsonEncoding]) {
      if (encoding !== 'identity' && encoding !== 'gzip' && encoding !== 'x-gzip') {
        throw badRequest(`Unsupported encoding ${encoding} for attachment ${name}`);
      }
    }
    if (headerEncoding !== 'identity' || jsonEncoding !== 'identity') {
      try {
        bytes = gunzipSync(bytes);
      } catch {
        throw badRequest(`Invalid gzip data for attachment ${name}`);
      }
    }

    const {
      follows: _follows,
      length: _length,
      digest: _digest,
      encoding: _encoding,
      encoded_length: _encodedLength,
      stub: _stub,
      ...kept
    } = att;
    result[name] = { ...kept, data: bytes.toString('base64') };
  });
  return { ...doc, _attachments: result };
}

// ---------------------------------------------------------------------------------------------
// Writing

const BOUNDARY_CHARS = /^[0-9A-Za-z'()+_,\-./:=? ]{0,69}[0-9A-Za-z'()+_,\-./:=?]$/;

const randomBoundary = () => randomBytes(16).toString('hex');

/** A header value safe on one line (names and ids may hold any character). */
const headerValue = (value: string) => value.replace(/[\r\n]/g, ' ').replaceAll('\u0000', ' ');
const quoted = (value: string) => `"${headerValue(value).replace(/["\\]/g, '\\$&')}"`;

function headerBlock(headers: [string, string][]): string {
  return `${headers.map(([name, value]) => `${name}: ${headerValue(value)}${CRLF}`).join('')}${CRLF}`;
}

interface FollowingAttachment {
  name: string;
  contentType: string;
  bytes: Buffer;
}

/** Splits `doc` into its JSON (inline attachments turned into `follows`) and those attachments' bytes. */
function splitAttachments(doc: Doc): { json: Buffer; following: FollowingAttachment[] } {
  const atts = doc._attachments;
  const following: FollowingAttachment[] = [];
  if (atts) {
    const rewritten: Record<string, unknown> = {};
    for (const [name, att] of Object.entries(atts)) {
      if (typeof att?.data !== 'string') {
        rewritten[name] = att;
        continue;
      }
      const decoded = decodeBase64(att.data, name);
      const bytes = Buffer.from(decoded.buffer, decoded.byteOffset, decoded.byteLength);
      const contentType = servableContentType(att.content_type);
      const stub: Record<string, unknown> = {
        content_type: att.content_type ?? contentType,
        revpos: att.revpos,
      };
      if (att.digest !== undefined) stub.digest = att.digest;
      stub.length = bytes.length;
      stub.follows = true;
      rewritten[name] = stub;
      following.push({ name, contentType, bytes });
    }
    if (following.length > 0) {
      return { json: Buffer.from(JSON.stringify({ ...doc, _attachments: rewritten }), 'utf8'), following };
    }
  }
  return { json: Buffer.from(JSON.stringify(doc), 'utf8'), following };
}

/** A `multipart/related` body: the doc JSON, then one part per following attachment (§4 layout). */
function relatedBody(json: Buffer, following: FollowingAttachment[]): { boundary: string; body: Buffer } {
  let boundary = randomBoundary();
  // 128 random bits never collide in practice; checking costs one scan and makes it certain.
  while ([json, ...following.map((att) => att.bytes)].some((bytes) => bytes.includes(boundary))) {
    boundary = randomBoundary();
  }
  const chunks: Buffer[] = [
    Buffer.from(`--${boundary}${CRLF}${headerBlock([['Content-Type', 'application/json']])}`, 'utf8'),
    json,
  ];
  for (const att of following) {
    const headers = headerBlock([
      ['Content-Disposition', `attachment; filename=${quoted(att.name)}`],
      ['Content-Type', att.contentType],
      ['Content-Length', String(att.bytes.length)],
    ]);
    chunks.push(Buffer.from(`${CRLF}--${boundary}${CRLF}${headers}`, 'utf8'), att.bytes);
  }
  chunks.push(Buffer.from(`${CRLF}--${boundary}--`, 'utf8'));
  return { boundary, body: Buffer.concat(chunks) };
}

/**
 * A whole document as a `multipart/related` body: its JSON first (attachments with inline `data`
 * turned into `"follows": true` stubs), then one part per such attachment with the raw bytes.
 */
export function encodeMultipartRelated(doc: Doc): { contentType: string; body: Buffer } {
  const { json, following } = splitAttachments(doc);
  const { boundary, body } = relatedBody(json, following);
  return { contentType: `multipart/related; boundary="${boundary}"`, body };
}

/**
 * Builds a `multipart/mixed` response (`open_revs`, `_bulk_get`) part by part: write each returned
 * Buffer to the response, then `end()`.
 */
export class MultipartMixedWriter {
  readonly boundary: string;

  constructor(boundary: string = randomBoundary()) {
    if (!BOUNDARY_CHARS.test(boundary)) throw new TypeError(`Invalid multipart boundary: ${boundary}`);
    this.boundary = boundary;
  }

  get contentType(): string {
    return `multipart/mixed; boundary="${this.boundary}"`;
  }

  private part(headers: [string, string][], body: Buffer): Buffer {
    return Buffer.concat([
      Buffer.from(`--${this.boundary}${CRLF}${headerBlock(headers)}`, 'utf8'),
      body,
      Buffer.from(CRLF, 'utf8'),
    ]);
  }

  /**
   * One revision: `application/json` when no attachment carries inline `data`, else a nested
   * `multipart/related` part (doc JSON with `follows` stubs, then the attachments' bytes).
   * `ids` adds the `X-Doc-Id`/`X-Rev-Id` headers `_bulk_get` sends.
   */
  docPart(doc: Doc, ids: { docId?: string; revId?: string } = {}): Buffer {
    const idHeaders: [string, string][] = [];
    if (ids.docId !== undefined) idHeaders.push(['X-Doc-Id', ids.docId]);
    if (ids.revId !== undefined) idHeaders.push(['X-Rev-Id', ids.revId]);
    const { json, following } = splitAttachments(doc);
    if (following.length === 0) return this.part([['Content-Type', 'application/json'], ...idHeaders], json);
    const related = relatedBody(json, following);
    return this.part(
      [['Content-Type', `multipart/related; boundary="${related.boundary}"`], ...idHeaders],
      related.body,
    );
  }

  /** An error entry (`{"missing": rev}` for open_revs, `{"id"?, "rev", "error", "reason"}` for _bulk_get). */
  errorPart(body: Record<string, unknown>): Buffer {
    return this.part(
      [['Content-Type', 'application/json; error="true"']],
      Buffer.from(JSON.stringify(body), 'utf8'),
    );
  }

  /** The closing delimiter. */
  end(): Buffer {
    return Buffer.from(`--${this.boundary}--`, 'utf8');
  }
}
