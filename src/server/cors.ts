import type { FastifyReply, FastifyRequest } from 'fastify';

const ALLOW_METHODS = 'GET, PUT, POST, HEAD, DELETE, COPY';
const ALLOW_HEADERS =
  'accept, authorization, content-type, origin, referer, x-csrf-token, if-match, destination, x-requested-with, x-couch-full-commit, last-event-id';
const EXPOSE_HEADERS =
  'content-type, cache-control, accept-ranges, etag, server, x-couch-request-id, x-couch-update-newrev';

/**
 * CORS for browser clients such as PouchDB, which send credentials on every request: an
 * allowed origin is echoed (never `*`, which browsers refuse with credentials). Returns
 * 'preflight' when the request was a preflight the caller should answer with no body.
 */
export function applyCors(
  request: FastifyRequest,
  reply: FastifyReply,
  origins: ReadonlySet<string>,
): 'preflight' | 'simple' {
  const origin = request.headers.origin;
  const preflight =
    request.method === 'OPTIONS' && request.headers['access-control-request-method'] !== undefined;
  if (origin !== undefined && origins.has(origin)) {
    reply
      .header('access-control-allow-origin', origin)
      .header('access-control-allow-credentials', 'true')
      .header('vary', 'Origin');
    if (preflight) {
      reply
        .header('access-control-allow-methods', ALLOW_METHODS)
        .header('access-control-allow-headers', ALLOW_HEADERS)
        .header('access-control-max-age', '600');
    } else {
      reply.header('access-control-expose-headers', EXPOSE_HEADERS);
    }
  }
  return preflight ? 'preflight' : 'simple';
}
