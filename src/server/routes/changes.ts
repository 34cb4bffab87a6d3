import { Readable } from 'node:stream';
import type { ChangeRow } from '../../core/api.js';
import { badRequest, SetteeError } from '../../core/errors.js';
import type { ChangesFeed, ChangesFeedOptions } from '../../database/changes.js';
import type { Database } from '../../database/database.js';
import { watchMembership } from '../access.js';
import type { DbContext } from '../context.js';
import { HEARTBEAT, withHeartbeats } from '../feeds.js';
import { boolParam, FLUSH, intParam, jsonBody, sendText, stringArrayParam } from '../http.js';

const MAX_TIMEOUT = 60_000;
type Feed = 'normal' | 'longpoll' | 'continuous' | 'eventsource';

/** `GET|POST /{db}/_changes`: normal, longpoll, continuous and eventsource feeds, streamed. */
export async function changes(ctx: DbContext): Promise<unknown> {
  const { query, request, reply, db } = ctx;
  const feed = feedOf(query.feed);
  const options = feedOptions(ctx);
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
  const signal = AbortSignal.any([stop.signal, ctx.services.shutdown, membership.signal]);
  request.raw.socket.setNoDelay(true);

  const live = feed === 'continuous' || feed === 'eventsource';
  // Opened before the reply, so a bad `since`, selector or limit is a 400 rather than a broken 200.
  const first = db.changesFeed(live ? { ...options, live: true, signal } : options);
  // Live feeds may stay silent until a change: send the headers now so clients see the feed open.
  const flushHeaders = () => reply.raw.headersSent || reply.raw.flushHeaders();
  reply.header('cache-control', 'must-revalidate');
  if (!live) {
    const poll = pollFeed(db, first, options, feed === 'longpoll', heartbeat, timeout, signal);
    return sendText(reply, 200, 'application/json', poll);
  }
  const chunks = liveFeed(first, feed, heartbeat, timeout, () => stop.abort(), flushHeaders);
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
  } else if (filter === '_view' || filter?.includes('/')) {
    // A design document's filter function (`ddoc/name`) or a view's map: both need design code.
    throw new SetteeError('not_implemented', `Filter ${filter} is not implemented in Settee yet.`);
  } else if (filter !== undefined) {
    throw badRequest(`filter ${filter} is not supported: use _doc_ids, _selector, _design or _conflicts`);
  }
  return options;
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
  first: ChangesFeed,
  options: ChangesFeedOptions,
  longpoll: boolean,
  heartbeat: number | undefined,
  timeout: number,
  signal: AbortSignal,
): AsyncGenerator<string | typeof FLUSH> {
  yield '{"results":[\n';
  let feed = first;
  let sent = 0;
  for await (const row of feed) yield `${sent++ > 0 ? ',\n' : ''}${JSON.stringify(row)}`;
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
    feed = db.changesFeed({ ...options, since: feed.lastSeq });
    for await (const row of feed) yield `${sent++ > 0 ? ',\n' : ''}${JSON.stringify(row)}`;
  }
  yield `\n],\n"last_seq":${feed.lastSeq},"pending":${await feed.pending()}}\n`;
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
  style: 'continuous' | 'eventsource',
  heartbeat: number | undefined,
  timeout: number,
  end: () => void,
  started: () => void,
): AsyncGenerator<string> {
  started();
  for await (const item of withHeartbeats<ChangeRow>(feed, heartbeat, timeout, end)) {
    if (item === HEARTBEAT) yield style === 'continuous' ? '\n' : 'event: heartbeat\ndata: \n\n';
    else if (style === 'continuous') yield `${JSON.stringify(item)}\n`;
    else yield `data: ${JSON.stringify(item)}\nid: ${item.seq}\n\n`;
  }
  const last = { last_seq: feed.lastSeq, pending: await feed.pending() };
  yield style === 'continuous'
    ? `${JSON.stringify(last)}\n`
    : `event: last_seq\ndata: ${JSON.stringify(last)}\n\n`;
}
