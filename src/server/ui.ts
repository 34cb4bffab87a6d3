/**
 * The conflict-resolution web page at `/_ui/`: the static files of the repository's `ui/` folder.
 *
 * They are public, like CouchDB's Fauxton: the page holds no data of its own and logs in through
 * `/_session` before it asks for any. Only plain files of the folder with a known type are
 * served; anything else is CouchDB's 404.
 */
import { readFile, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { notFound, SetteeError } from '../core/errors.js';

/** `ui/` beside `src/` and `dist/`: the same relative path from `src/server/` and `dist/server/`. */
const UI_DIR = fileURLToPath(new URL('../../ui/', import.meta.url));

const PREFIX = '/_ui';

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
};

/** Every file comes from this server; no inline scripts, no framing by other sites. */
const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy':
    "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-cache',
};

/** Path segments made of these only: no `..`, no hidden files, no encoded slashes. */
const SAFE_SEGMENT = /^[A-Za-z0-9_-][A-Za-z0-9._-]*$/;

/** Whether a raw request URL addresses the web page (`/_ui`, `/_ui/…`). */
export function isUiPath(rawUrl: string): boolean {
  const pathname = rawUrl.split('?', 1)[0]!;
  return pathname === PREFIX || pathname.startsWith(`${PREFIX}/`);
}

/**
 * Answers a request under `/_ui`: `/_ui` redirects to `/_ui/` (so the page's relative links
 * resolve), `/_ui/` is `index.html`, `/_ui/<file>` a file of the folder.
 */
export async function serveUi(request: FastifyRequest, reply: FastifyReply): Promise<unknown> {
  // Other methods were refused with 405 before their body was read (the server's `admit`).
  const rawUrl = request.raw.url ?? PREFIX;
  const [pathname, query] = splitQuery(rawUrl);
  if (pathname === PREFIX) return reply.code(301).header('location', `${PREFIX}/${query}`).send();
  const file = await resolveFile(pathname.slice(PREFIX.length + 1));
  const body = await readFile(file);
  return reply.code(200).headers(SECURITY_HEADERS).type(CONTENT_TYPES[path.extname(file)]!).send(body);
}

function splitQuery(rawUrl: string): [string, string] {
  const at = rawUrl.indexOf('?');
  return at < 0 ? [rawUrl, ''] : [rawUrl.slice(0, at), rawUrl.slice(at)];
}

/** The file a path below `/_ui/` names, only if it is a regular file inside the folder. */
async function resolveFile(relative: string): Promise<string> {
  const segments = (relative === '' ? 'index.html' : relative).split('/').map(decodeOrMissing);
  if (!segments.every((segment) => SAFE_SEGMENT.test(segment))) throw notFound('missing');
  const candidate = path.join(UI_DIR, ...segments);
  if (CONTENT_TYPES[path.extname(candidate)] === undefined) throw notFound('missing');
  try {
    // Through symlinks too: the real file must still be inside the real folder.
    const [root, real] = await Promise.all([realpath(UI_DIR), realpath(candidate)]);
    if (!real.startsWith(root + path.sep) || !(await stat(real)).isFile()) throw notFound('missing');
    return real;
  } catch (err) {
    if (err instanceof SetteeError) throw err;
    throw notFound('missing');
  }
}

function decodeOrMissing(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw notFound('missing');
  }
}
