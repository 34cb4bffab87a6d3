import { decodeBase64 } from './base64.js';
import { badRequest, docValidation, illegalDocId } from './errors.js';
import { pathFromRevisions, pathLeaf, pathOfRev } from './rev-tree/history.js';
import type { RevPath } from './rev-tree/types.js';
import { parseRev } from './revision.js';

/** An attachment as a writer supplies it: inline data, a stub naming one already stored, or bytes that follow. */
export interface AttachmentInput {
  contentType: string;
  /** Decoded inline data. */
  data?: Uint8Array;
  /** Keep the attachment of this name from an earlier revision. */
  stub?: boolean;
  /** The bytes arrive separately (multipart uploads). */
  follows?: boolean;
  digest?: string;
  revpos?: number;
  length?: number;
}

/** A document split into what Settee interprets and the body it stores and hashes. */
export interface ParsedDoc {
  id: string | undefined;
  rev: string | undefined;
  /** Ancestry from `_revisions`, or the single `_rev`, for replicated writes. */
  path: RevPath | undefined;
  deleted: boolean;
  body: Record<string, unknown>;
  attachments: Map<string, AttachmentInput> | undefined;
}

export const LOCAL_PREFIX = '_local/';
export const DESIGN_PREFIX = '_design/';
/** CouchDB's reason for refusing an id that starts with `_` outside `_design/` and `_local/`. */
export const RESERVED_ID_REASON = 'Only reserved document ids may start with underscore.';

// Reserved fields that readers add and writers may echo back; CouchDB ignores them on input.
const IGNORED_ON_INPUT = new Set(['_conflicts', '_deleted_conflicts', '_revs_info', '_local_seq']);

const LONE_SURROGATE = /\p{Cs}/u;

// What an HTTP header value may hold (RFC 9110 field-value: tab, visible ASCII, space, obs-text)
// and exactly what Node accepts in one: a content type outside it could never be served.
const NOT_IN_HEADER_VALUE = /[^\t\x20-\x7e\x80-\xff]/;

/** True when `value` can be sent as an HTTP header value. */
export function isHeaderValue(value: string): boolean {
  return !NOT_IN_HEADER_VALUE.test(value);
}

/**
 * The `Content-Type` to serve a stored attachment with: versions before content types were
 * checked stored any string, and one HTTP cannot carry is served as bytes rather than a 500.
 */
export function servableContentType(stored: string | undefined): string {
  return stored !== undefined && isHeaderValue(stored) ? stored : 'application/octet-stream';
}

/**
 * Refuses an attachment's content type that HTTP cannot carry (a line break, a character beyond
 * Latin-1): it is the attachment's `Content-Type` when read. CouchDB stores any string
 * (couch_att.erl, `from_json`: `content_type` taken as given); an attachment that can be written
 * but never read back is worse than a refusal, on every write path, replication included.
 */
export function checkContentType(name: string, contentType: string): void {
  if (!isHeaderValue(contentType)) {
    throw badRequest(`Attachment ${name}: content_type must be a valid HTTP header value`);
  }
}

/** Validates a document id: a non-empty string, `_`-prefixed only for `_design/` and `_local/`. */
export function validateDocId(id: unknown): string {
  if (typeof id !== 'string') throw illegalDocId('Document id must be a string');
  if (id.length === 0) throw illegalDocId('Document id must not be empty');
  // A lone surrogate has no UTF-8 form: stored, it would come back as another id.
  if (LONE_SURROGATE.test(id)) throw illegalDocId('Document id must be valid UTF-8');
  if (id.startsWith('_') && !id.startsWith(DESIGN_PREFIX) && !id.startsWith(LOCAL_PREFIX)) {
    throw illegalDocId(RESERVED_ID_REASON);
  }
  if (id === DESIGN_PREFIX || id === LOCAL_PREFIX) throw illegalDocId('Document id is missing its name.');
  return id;
}

export function isDesignId(id: string): boolean {
  return id.startsWith(DESIGN_PREFIX);
}

export function isLocalId(id: string): boolean {
  return id.startsWith(LOCAL_PREFIX);
}

/** Parses and validates a document as written by a client; throws CouchDB's error for bad input. */
export function parseDocument(input: unknown): ParsedDoc {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw badRequest('Document must be a JSON object');
  }
  const doc: ParsedDoc = {
    id: undefined,
    rev: undefined,
    path: undefined,
    deleted: false,
    body: {},
    attachments: undefined,
  };
  let revisions: unknown;
  for (const [key, value] of Object.entries(input)) {
    // JSON has no undefined: a field set to undefined is a field not given.
    if (value === undefined) continue;
    if (!key.startsWith('_') || key.startsWith('_replication_') || key === '_access') {
      doc.body[key] = value;
    } else if (key === '_id') doc.id = validateDocId(value);
    else if (key === '_rev') {
      if (typeof value !== 'string') throw badRequest('Invalid rev format');
      doc.rev = value;
    } else if (key === '_deleted') doc.deleted = parseDeleted(value);
    else if (key === '_revisions') revisions = value;
    else if (key === '_attachments') doc.attachments = parseAttachments(value);
    else if (!IGNORED_ON_INPUT.has(key)) throw docValidation(`Bad special document member: ${key}`);
  }
  assertJsonBody(doc.body, input);
  // Local documents have no history: their `0-N` revision is checked where they are stored.
  if (doc.id !== undefined && isLocalId(doc.id)) return doc;
  if (doc.rev !== undefined) parseRev(doc.rev);
  if (revisions !== undefined) {
    // `_revisions` names the revision; a `_rev` beside it is ignored, as CouchDB does
    // (couch_doc.erl, transfer_fields) and PouchDB's replicator relies on.
    doc.path = pathFromRevisions(revisions);
    doc.rev = pathLeaf(doc.path);
  } else if (doc.rev !== undefined) doc.path = pathOfRev(doc.rev);
  return doc;
}

/**
 * Refuses what JSON cannot hold, which only the embedded API can be handed (a parsed body never
 * holds it): a BigInt, or an object inside itself. Either would make the write fail half-way, as a
 * TypeError. Functions, symbols and `undefined` follow JSON's rule: the field is not written.
 * Iterative, so a body nested deeper than the stack is left to fail where it is hashed, as before.
 *
 * @param input the document as given, which a field may also point back to
 */
function assertJsonBody(body: Record<string, unknown>, input: object): void {
  const enclosing = new Set<object>([input]);
  const stack: ({ value: unknown; path: string } | { leaving: object })[] = Object.entries(body)
    .reverse()
    .map(([key, value]) => ({ value, path: key }));
  while (stack.length > 0) {
    const item = stack.pop()!;
    if ('leaving' in item) {
      enclosing.delete(item.leaving);
      continue;
    }
    const { value, path } = item;
    if (typeof value === 'bigint')
      throw badRequest(`Document field ${path} is a BigInt, which JSON cannot hold`);
    if (typeof value !== 'object' || value === null) continue;
    // What a `toJSON` gives is written in its place (a Date's string): that is what must be JSON.
    if ('toJSON' in value && typeof value.toJSON === 'function') {
      stack.push({ value: value.toJSON() as unknown, path });
      continue;
    }
    if (enclosing.has(value)) {
      throw badRequest(`Document field ${path} refers to an object that contains it (a circular structure)`);
    }
    enclosing.add(value);
    stack.push({ leaving: value });
    for (const [key, child] of Object.entries(value).reverse())
      stack.push({ value: child, path: `${path}.${key}` });
  }
}

function parseDeleted(value: unknown): boolean {
  if (typeof value !== 'boolean') throw docValidation('_deleted must be a boolean');
  return value;
}

function parseAttachments(value: unknown): Map<string, AttachmentInput> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw badRequest('_attachments must be an object');
  }
  const attachments = new Map<string, AttachmentInput>();
  for (const [name, att] of Object.entries(value)) attachments.set(name, parseAttachment(name, att));
  return attachments;
}

function parseAttachment(name: string, att: unknown): AttachmentInput {
  if (name.length === 0) throw badRequest('Attachment name must not be empty');
  if (name.startsWith('_'))
    throw badRequest(`Attachment name '${name}' starts with prohibited character '_'`);
  if (typeof att !== 'object' || att === null || Array.isArray(att)) {
    throw badRequest(`Attachment ${name} must be an object`);
  }
  const fields = att as Record<string, unknown>;
  const contentType = fields.content_type ?? 'application/octet-stream';
  if (typeof contentType !== 'string') throw badRequest(`Attachment ${name}: content_type must be a string`);
  const result: AttachmentInput = { contentType };
  if (typeof fields.revpos === 'number' && Number.isInteger(fields.revpos)) result.revpos = fields.revpos;
  if (typeof fields.digest === 'string') result.digest = fields.digest;
  if (typeof fields.length === 'number') result.length = fields.length;
  if (typeof fields.data === 'string') result.data = decodeBase64(fields.data, `attachment ${name}`);
  else if (fields.stub === true) result.stub = true;
  else if (fields.follows === true) result.follows = true;
  else throw badRequest(`Attachment ${name} needs data, stub or follows`);
  // A stub's type is not written (the stored one is kept): an attachment stored by an earlier
  // version with such a type can still be carried along by echoing its stub.
  if (!result.stub) checkContentType(name, contentType);
  return result;
}
