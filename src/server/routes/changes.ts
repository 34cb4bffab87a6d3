import { Readable } from 'node:stream';
import type { ChangeRow } from '../../core/api.js';
import { badRequest } from '../../core/errors.js';
import type { ChangesFeed, ChangesFeedOptions } from '../../database/changes.js';
import type { Database } from '../../database/database.js';
import { watchMembership } from '../access.js';
import type { DbContext } from '../context.js';
import { feedEnd, HEARTBEAT, withHeartbeats } from '../feeds.js';
import { boolParam, FLUSH, intParam, jsonBody, type Query, sendText, stringArrayParam } from '../http.js';

const MAX_TIMEOUT = 60_000;
type Feed = 'normal' | 'longpoll' | 'continuous' | 'eventsource';
/** The rows of a feed as the response writes them (a longpoll reads its feed more than once). */
type FeedRows = (feed: ChangesFeed) => AsyncIterable<ChangeRow>;

/** How long a longpoll waits, and what ends it early. */
interface Waiting {
  heartbeat: number | undefined;
  timeout: number;
  signal: AbortSignal;
  deleted: AbortSignal;
}

/** `GET|POST /{db}/_changes`: normal, longpoll, continuous and eventsource feeds, streamed. */
export async function changes(ctx: DbContext): Promise<unknown> {
  const { query, request, reply, db } = ctx;
  const feed = feedOf(query.feed);
  const options = feedOptions(ctx);
  if (options.filter !== undefined) options.filter_req = await filterRequest(ctx);
  const asked = query.heartbeat === 'true' ? MAX_TIMEOUT : intParam(query, 'heartbeat');
  // Node's timers fire at once beyond 2^31 ms: cap it (a more frequent heartbeat is harmless).
  const heartbeat = asked === undefined ? undefined : Math.min(asked, MAX_TIMEOUT);
  const timeout = Math.min(intParam(query, 'timeout') ?? MAX_TIMEOUT, MAX_TIMEOUT);
  // The feed ends when the client goes away or the server shuts down.
  const stop = new AbortController();
  // ... or when its reader is no longer allowed to read the database.
  const membership = watchMembership(ctx);
  reply.raw.on('close', () => {
    stop.abort();
    membership.dispose();
  });
  // ... or when its database is deleted, through this server or another.
  const deleted = ctx.services.registry.deletion(db);
  const signal = AbortSignal.any([stop.signal, ctx.services.shutdown, membership.signal, deleted]);
  request.raw.socket.setNoDelay(true);

  const live = feed === 'continuous' || feed === 'eventsource';
  // Opened before the reply, so a bad `since`, selector or limit is a 400 and a missing filter
  // function a 404, rather than a broken 200.
  const first = db.changesFeed(live ? { ...options, live: true, signal } : options);
  await first.prepare();
  // CouchDB counts its longpoll, continuous and eventsource feeds while they run (chttpd_db.erl).
  if (feed !== 'normal') ctx.services.metrics.trackFeed(reply.raw);
  // Live feeds may stay silent until a change: send the headers now so clients see the feed open.
  const flushHeaders = () => reply.raw.headersSent || reply.raw.flushHeaders();
  reply.header('cache-control', 'must-revalidate');
  // With include_docs, each document a written row carries counts as read.
  const rowsOf: FeedRows = (source) => ctx.services.metrics.countingReads(source, options.include_docs);
  if (!live) {
    const poll = pollFeed(db, first, rowsOf, feed === 'longpoll', { heartbeat, timeout, signal, deleted });
    return sendText(reply, 200, 'application/json', poll);
  }
  const rows = rowsOf(first);
  const chunks = liveFeed(first, rows, feed, heartbeat, timeout, () => stop.abort(), flushHeaders, deleted);
  reply.code(200).type(feed === 'eventsource' ? 'text/event-stream' : 'application/json');
  return reply.send(Readable.from(chunks, { objectMode: false }));
}

function feedOf(value: string | undefined): Feed {
  if (value === undefined || value === 'normal') return 'normal';
  if (value === 'live') return 'continuous';
  if (value === 'longpoll' || value === 'continuous' || value === 'eventsource') return value;
  throw badRequest(`Supported feeds are normal, longpoll, continuous and eventsource, not ${value}`);
}

function feedOptions(ctx: DbContext): ChangesFeedOptions {
  const { query, request } = ctx;
  const style = query.style ?? 'main_only';
  if (style !== 'main_only' && style !== 'all_docs') throw badRequest('style must be main_only or all_docs');
  const body =
    request.method === 'POST' ? (jsonBody(request) as Record<string, unknown> | undefined) : undefined;
  const options: ChangesFeedOptions = {
    since: query.since ?? (request.headers['last-event-id'] as string | undefined),
    limit: intParam(query, 'limit'),
    descending: boolParam(query, 'descending'),
    style,
    include_docs: boolParam(query, 'include_docs'),
    conflicts: boolParam(query, 'conflicts'),
    attachments: boolParam(query, 'attachments'),
  };
  const filter = query.filter;
  if (filter === '_doc_ids') {
    const ids = body?.doc_ids ?? stringArrayParam(query, 'doc_ids');
    if (!Array.isArray(ids) || !ids.every((id) => typeof id === 'string')) {
      throw badRequest('filter=_doc_ids needs a doc_ids array (in the query or the POST body)');
    }
    options.doc_ids = ids;
  } else if (filter === '_selector') {
    options.selector = selectorOf(body);
  } else if (filter === '_design') {
    options.selector = { _id: { $regex: '^_design/' } };
  } else if (filter === '_conflicts') {
    options.conflicts_only = true;
  } else if (filter !== undefined && filter !== '') {
    // `_view` or a design document's `ddoc/name` (the feed refuses other names with CouchDB's
    // reasons); the function finds the request's query parameters in `req.query`.
    Object.assign(options, { filter, view: query.view, query_params: filterQuery(query) });
  }
  return options;
}

/** Query parameters CouchDB hands a filter function as JSON values (chttpd_external:json_query_keys). */
const JSON_QUERY_KEYS = ['key', 'startkey', 'endkey', 'descending'];

/** The request's query parameters as `req.query`: strings, but for CouchDB's JSON-valued keys. */
function filterQuery(query: Query): Record<string, unknown> {
  const parsed: Record<string, unknown> = { ...query };
  for (const key of JSON_QUERY_KEYS) {
    const value = query[key];
    if (value === undefined) continue;
    try {
      parsed[key] = JSON.parse(value);
    } catch {
      throw badRequest(`Query parameter \`${key}\` is not valid JSON`);
    }
  }
  return parsed;
}

/**
 * The rest of CouchDB's request object for a filter function (chttpd_external:json_req_obj):
 * `info`, `method`, `path`, `requested_path`, `raw_path`, `headers`, `peer`, `body` and
 * `userCtx` (`{db, name, roles}`). Left out: `uuid`, `id`, `form`, `cookie`, `secObj`, and the
 * `authorization` and `cookie` headers: a design document's author is a database admin, and
 * must not read the credentials of whoever reads the feed.
 */
async function filterRequest(ctx: DbContext): Promise<Record<string, unknown>> {
  const { request, db, userCtx } = ctx;
  const path = request.url.split('?')[0]!.split('/').filter(Boolean).map(decodeURIComponent);
  const headers = Object.fromEntries(
    Object.entries(request.headers).filter(([name]) => name !== 'authorization' && name !== 'cookie'),
  );
  const body = request.method === 'POST' ? JSON.stringify(jsonBody(request) ?? {}) : 'undefined';
  return {
    info: await db.info(),
    method: request.method,
    path,
    requested_path: path,
    raw_path: request.url,
    headers,
    peer: request.ip,
    body,
    userCtx: { db: db.name, name: userCtx.name, roles: userCtx.roles },
  };
}

/**
 * The selector of `filter=_selector`, refused as CouchDB refuses it (couch_changes.erl,
 * check_selector): absent, or not a JSON object.
 */
function selectorOf(body: Record<string, unknown> | undefined): Record<string, unknown> {
  const selector = body?.selector;
  if (selector === undefined) throw badRequest('Selector must be specified in POST payload');
  if (typeof selector !== 'object' || selector === null || Array.isArray(selector)) {
    throw badRequest('Selector error: expected a JSON object');
  }
  return selector as Record<string, unknown>;
}

/**
 * normal and longpoll: one JSON object; longpoll waits for a first change when there is none,
 * until the timeout, or for as long as it takes when heartbeats keep the connection alive (CouchDB).
 */
async function* pollFeed(
  db: Database,
  feed: ChangesFeed,
  rowsOf: FeedRows,
  longpoll: boolean,
  { heartbeat, timeout, signal, deleted }: Waiting,
): AsyncGenerator<string | typeof FLUSH> {
  yield '{"results":[\n';
  let sent = 0;
  for await (const row of rowsOf(feed)) yield `${sent++ > 0 ? ',\n' : ''}${JSON.stringify(row)}`;
  const deadline = heartbeat === undefined ? Date.now() + timeout : Number.POSITIVE_INFINITY;
  while (longpoll && sent === 0 && !signal.aborted) {
    // A write may have landed while the empty scan was running: look again before waiting.
    let woke: 'change' | 'heartbeat' | 'timeout' = 'change';
    if (db.updateSeq() <= feed.lastSeq) {
      yield FLUSH; // the headers go out now, so the client sees the feed open while it waits
      woke = await wakeOrBeat(db, signal, heartbeat, deadline);
    }
    if (woke === 'timeout') break;
    if (woke === 'heartbeat') {
      yield '\n';
      continue;
    }
    // The same feed reads on from where it got to, with the filter function it started with.
    for await (const row of rowsOf(feed)) yield `${sent++ > 0 ? ',\n' : ''}${JSON.stringify(row)}`;
  }
  const end = await feedEnd(feed, deleted);
  yield `\n],\n"last_seq":${end.last_seq},"pending":${end.pending}}\n`;
}

/** Waits for a write, a heartbeat interval or the deadline, whichever comes first. */
async function wakeOrBeat(
  db: Database,
  signal: AbortSignal,
  heartbeat: number | undefined,
  deadline: number,
): Promise<'change' | 'heartbeat' | 'timeout'> {
  const wait = new AbortController();
  const both = AbortSignal.any([signal, wait.signal]);
  const untilDeadline = Math.max(0, deadline - Date.now());
  const ms = heartbeat === undefined ? untilDeadline : Math.min(heartbeat, untilDeadline);
  let timer: NodeJS.Timeout | undefined;
  const timed = new Promise<'heartbeat' | 'timeout'>((resolve) => {
    timer = setTimeout(() => resolve(ms === untilDeadline ? 'timeout' : 'heartbeat'), ms);
  });
  const result = await Promise.race([db.nextChange(both).then(() => 'change' as const), timed]);
  clearTimeout(timer);
  wait.abort();
  return signal.aborted ? 'timeout' : result;
}

/** continuous and eventsource: a line (or event) per change, heartbeats, a final last_seq. */
async function* liveFeed(
  feed: ChangesFeed,
  rows: AsyncIterable<ChangeRow>,
  style: 'continuous' | 'eventsource',
  heartbeat: number | undefined,
  timeout: number,
  end: () => void,
  started: () => void,
  deleted: AbortSignal,
): AsyncGenerator<string> {
  started();
  for await (const item of withHeartbeats<ChangeRow>(rows, heartbeat, timeout, end)) {
    if (item === HEARTBEAT) yield style === 'continuous' ? '\n' : 'event: heartbeat\ndata: \n\n';
    else if (style === 'continuous') yield `${JSON.stringify(item)}\n`;
    else yield `data: ${JSON.stringify(item)}\nid: ${item.seq}\n\n`;
  }
  const last = await feedEnd(feed, deleted);
  yield style === 'continuous'
    ? `${JSON.stringify(last)}\n`
    : `event: last_seq\ndata: ${JSON.stringify(last)}\n\n`;
}
