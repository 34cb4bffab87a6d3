import type { FastifyRequest } from 'fastify';
import type { GetOptions, NewDoc } from '../../core/api.js';
import { badRequest, notFound, SetteeError } from '../../core/errors.js';
import type { DbContext, Methods } from '../context.js';
import { boolParam, jsonObjectBody, type Query, sendJson, stringArrayParam } from '../http.js';
import {
  MultipartMixedWriter,
  multipartBoundary,
  readMultipartRelatedDoc,
  wantsMultipart,
} from '../multipart.js';

type DocTarget = { id: string };
type AttachmentTarget = { id: string; name: string };

function docId(ctx: DbContext): string {
  return (ctx.target as DocTarget).id;
}

/** `GET|HEAD|PUT|DELETE /{db}/{docid}` (and `_design/…`). */
export const documentMethods: Methods<DbContext> = {
  GET: getDoc,
  HEAD: getDoc,
  PUT: putDoc,
  DELETE: async (ctx) => {
    const result = await ctx.db.remove(docId(ctx), revOf(ctx), { userCtx: ctx.userCtx });
    return sendJson(ctx.reply.header('etag', `"${result.rev}"`), 200, result);
  },
};

async function getDoc(ctx: DbContext): Promise<unknown> {
  const { db, query, request, reply } = ctx;
  const id = docId(ctx);
  const options = readOptions(query);
  if (query.open_revs !== undefined) {
    const revs = query.open_revs === 'all' ? 'all' : stringArrayParam(query, 'open_revs')!;
    const multipart = wantsMultipart(request.headers.accept);
    // As CouchDB (chttpd_db.erl): db_doc_req hands `atts_since` to a read without `open_revs`
    // only, and send_docs_multipart adds `attachments`, so a multipart answer carries every
    // attachment's bytes. Its replicator asks so for each revision with attachments, and
    // writes what it reads as it reads it.
    const { atts_since: _ignored, ...openOptions } = options;
    const results = await db.getOpenRevs(
      id,
      revs,
      multipart ? { ...openOptions, attachments: true } : openOptions,
    );
    if (!multipart) return sendJson(reply, 200, results);
    const writer = new MultipartMixedWriter();
    const parts = results.map((result) =>
      'ok' in result ? writer.docPart(result.ok) : writer.errorPart({ missing: result.missing }),
    );
    return reply
      .code(200)
      .type(writer.contentType)
      .send(Buffer.concat([...parts, writer.end()]));
  }
  const doc = await db.get(id, options);
  const etag = `"${doc._rev}"`;
  if (request.headers['if-none-match'] === etag) return reply.code(304).header('etag', etag).send();
  return sendJson(reply.header('etag', etag), 200, doc);
}

/** The read options of a document GET, from the query string. */
export function readOptions(query: Query): GetOptions {
  const meta = boolParam(query, 'meta');
  return {
    rev: query.rev,
    revs: boolParam(query, 'revs'),
    revs_info: boolParam(query, 'revs_info') ?? meta,
    conflicts: boolParam(query, 'conflicts') ?? meta,
    deleted_conflicts: boolParam(query, 'deleted_conflicts') ?? meta,
    latest: boolParam(query, 'latest'),
    local_seq: boolParam(query, 'local_seq'),
    attachments: boolParam(query, 'attachments'),
    atts_since: stringArrayParam(query, 'atts_since'),
  };
}

async function putDoc(ctx: DbContext): Promise<unknown> {
  const { db, query, reply } = ctx;
  const id = docId(ctx);
  const doc = { ...documentBody(ctx), _id: id };
  const rev = query.rev ?? ifMatch(ctx.request);
  if (rev !== undefined) {
    if (doc._rev !== undefined && doc._rev !== rev) {
      throw badRequest('Document rev from request body and query string have different values');
    }
    doc._rev = rev;
  }
  const newEdits = boolParam(query, 'new_edits') !== false;
  const [result] = await db.bulkDocs([doc], { newEdits, atomic: true, userCtx: ctx.userCtx });
  const ok = result as { ok: true; id: string; rev: string };
  reply.header('etag', `"${ok.rev}"`).header('location', docLocation(ctx.db.name, id));
  return sendJson(reply, query.batch === 'ok' ? 202 : 201, ok);
}

/**
 * The `Location` of a document, percent-encoded: a raw id may hold characters a header cannot
 * carry (Node throws on anything beyond Latin-1). `_design/` keeps its slash, as clients send it.
 */
export function docLocation(db: string, id: string): string {
  const path = id.startsWith('_design/')
    ? `_design/${encodeURIComponent(id.slice(8))}`
    : encodeURIComponent(id);
  return `/${encodeURIComponent(db)}/${path}`;
}

/** A document body: JSON, or multipart/related with its attachments following. */
function documentBody(ctx: DbContext): NewDoc {
  const { request } = ctx;
  const type = request.headers['content-type'] ?? '';
  const size = Buffer.isBuffer(request.body) ? request.body.length : 0;
  if (/^multipart\/related/i.test(type)) {
    if (!multipartBoundary(type)) throw badRequest('multipart/related needs a boundary');
    return readMultipartRelatedDoc(request.body as Buffer, type) as NewDoc;
  }
  if (size > ctx.services.maxDocumentSize) throw new SetteeError('document_too_large', docId(ctx));
  return jsonObjectBody(request) as NewDoc;
}

function ifMatch(request: FastifyRequest): string | undefined {
  const value = request.headers['if-match'];
  return typeof value === 'string' ? value.replace(/^"|"$/g, '') : undefined;
}

function revOf(ctx: DbContext): string {
  const rev = ctx.query.rev ?? ifMatch(ctx.request);
  if (rev === undefined) throw new SetteeError('conflict', 'Document update conflict.');
  return rev;
}

/** `GET|HEAD|PUT|DELETE /{db}/{docid}/{attachment}`: attachments as raw bytes. */
export const attachmentMethods: Methods<DbContext> = {
  GET: getAttachment,
  HEAD: getAttachment,
  PUT: async (ctx) => {
    const { id, name } = ctx.target as AttachmentTarget;
    const body = Buffer.isBuffer(ctx.request.body) ? ctx.request.body : Buffer.alloc(0);
    const type = ctx.request.headers['content-type'] ?? 'application/octet-stream';
    const rev = ctx.query.rev ?? ifMatch(ctx.request);
    const result = await ctx.db.putAttachment(id, name, rev, new Uint8Array(body), type, {
      userCtx: ctx.userCtx,
    });
    return sendJson(ctx.reply.header('etag', `"${result.rev}"`), 201, result);
  },
  DELETE: async (ctx) => {
    const { id, name } = ctx.target as AttachmentTarget;
    const result = await ctx.db.removeAttachment(id, name, revOf(ctx), { userCtx: ctx.userCtx });
    return sendJson(ctx.reply, 200, result);
  },
};

/**
 * Attachments are data, never pages of this server: an HTML or SVG attachment opened in a
 * browser must not run script in the server's origin, where it would act with the reader's
 * session. A sandboxed document has an opaque origin; nosniff stops types being guessed.
 */
const ATTACHMENT_HEADERS = {
  'content-security-policy': 'sandbox',
  'x-content-type-options': 'nosniff',
};

async function getAttachment(ctx: DbContext): Promise<unknown> {
  const { id, name } = ctx.target as AttachmentTarget;
  const { data, contentType, digest } = await ctx.db.getAttachment(id, name, { rev: ctx.query.rev });
  const etag = `"${digest}"`;
  if (ctx.request.headers['if-none-match'] === etag) return ctx.reply.code(304).header('etag', etag).send();
  return ctx.reply
    .code(200)
    .header('etag', etag)
    .headers(ATTACHMENT_HEADERS)
    .type(contentType)
    .send(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
}

/** `/{db}/_local/{id}`: local documents, never replicated. */
export const localMethods: Methods<DbContext> = {
  GET: async (ctx) => {
    const doc = await ctx.db.getLocal(docId(ctx));
    if (!doc) throw notFound('missing');
    return sendJson(ctx.reply, 200, doc);
  },
  PUT: async (ctx) => {
    const body = jsonObjectBody(ctx.request);
    const { _revisions: _ignored, ...doc } = body;
    const rev = ctx.query.rev ?? (doc._rev as string | undefined);
    const result = await ctx.db.putLocal({ ...doc, _id: docId(ctx), ...(rev ? { _rev: rev } : {}) });
    return sendJson(ctx.reply, 201, result);
  },
  DELETE: async (ctx) => sendJson(ctx.reply, 200, await ctx.db.removeLocal(docId(ctx))),
};
