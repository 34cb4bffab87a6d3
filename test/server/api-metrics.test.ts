/**
 * The server's metrics — `GET /_node/_local/_stats` in CouchDB's shape, `_prometheus` in
 * Prometheus' text, `_system` — counted against known sequences of requests, and the request log
 * line (`--request-log on|off|RATE`), which never carries a secret.
 *
 * CouchDB's facts these tests hold to: the statistics' names, types and descriptions are those of
 * src/couch/priv/stats_descriptions.cfg and src/couch_replicator/priv/stats_descriptions.cfg;
 * a path after `_stats` picks a part, `null` when it names nothing (couch_stats_httpd.erl,
 * extract_path/2); `_stats` answers GET only (chttpd_node.erl, handle_node_req); longpoll,
 * continuous and eventsource feeds count in `clients_requesting_changes` while they run
 * (chttpd_db.erl, handle_changes_req1); the Prometheus names are `couchdb_` and the path, with
 * `_total` on counters but for the labelled `httpd_request_methods` and `httpd_status_codes`
 * (couch_prometheus_util.erl, couch_to_prom/3 and counter_metric/1); `_system` gives `uptime` in
 * whole seconds and `memory` in bytes (chttpd_node.erl, get_stats/0).
 */
import { Writable } from 'node:stream';
import { type Logger, pino } from 'pino';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { SERVE_SETTINGS } from '../../src/cli/serve-settings.js';
import { parseRequestLog } from '../../src/server/metrics/request-log.js';
import type { ServerOptions } from '../../src/server/app.js';
import { waitFor } from '../replication/helpers.js';
import { ADMIN, BASIC, startServer, type TestServer } from './harness.js';
import { jsonLines, openLive, writeWaiters } from './http-client.js';

const servers: TestServer[] = [];

afterEach(async () => {
  for (const t of servers.splice(0)) await t.stop();
});

async function start(options: Partial<ServerOptions> = {}): Promise<TestServer> {
  const t = await startServer(options);
  servers.push(t);
  return t;
}

/** A JSON answer; its shape is what the assertions check. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- answers are checked field by field
type Json = any;

async function send(t: TestServer, method: string, path: string, body?: unknown): Promise<number> {
  const response = await t.fetch(path, {
    method,
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  await response.arrayBuffer();
  return response.status;
}

async function stats(t: TestServer, path = ''): Promise<Json> {
  const response = await t.fetch(`/_node/_local/_stats${path}`);
  expect(response.status).toBe(200);
  return response.json();
}

/** The value of one line of Prometheus' text, e.g. `couchdb_httpd_status_codes{code="404"}`. */
function sample(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  if (line === undefined) throw new Error(`no ${series} in:\n${text}`);
  return Number(line.slice(series.length + 1));
}

/** A failed login, as a client that knows no password sends it. */
async function failedLogin(t: TestServer): Promise<void> {
  const response = await fetch(`${t.url}/_session`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: ADMIN.name, password: 'not the password' }),
  });
  expect(response.status).toBe(401);
}

describe('_stats and _prometheus', () => {
  it('count a known sequence of requests exactly, and _prometheus shows the same numbers', async () => {
    const t = await start();
    expect(await send(t, 'PUT', '/shop')).toBe(201);
    const before = await stats(t);

    expect(await send(t, 'PUT', '/shop/apple', { price: 3 })).toBe(201);
    expect(await send(t, 'PUT', '/shop/pear', { price: 2 })).toBe(201);
    expect(await send(t, 'GET', '/shop/apple')).toBe(200);
    expect(await send(t, 'GET', '/shop/pear')).toBe(200);
    expect(await send(t, 'GET', '/shop/_all_docs')).toBe(200);
    expect(await send(t, 'GET', '/shop/plum')).toBe(404);
    await failedLogin(t);
    const after = await stats(t);

    // The first `_stats` request counts once it was answered: it is in `after`, not in `before`.
    const delta = (pick: (s: Json) => { value: number }) => pick(after).value - pick(before).value;
    const couchdb = (s: Json) => s.couchdb;
    expect(delta((s) => couchdb(s).httpd.requests)).toBe(8);
    expect(delta((s) => couchdb(s).httpd_request_methods.GET)).toBe(5);
    expect(delta((s) => couchdb(s).httpd_request_methods.PUT)).toBe(2);
    expect(delta((s) => couchdb(s).httpd_request_methods.POST)).toBe(1);
    expect(delta((s) => couchdb(s).httpd_request_methods.DELETE)).toBe(0);
    expect(delta((s) => couchdb(s).httpd_status_codes['200'])).toBe(4);
    expect(delta((s) => couchdb(s).httpd_status_codes['201'])).toBe(2);
    expect(delta((s) => couchdb(s).httpd_status_codes['404'])).toBe(1);
    expect(delta((s) => couchdb(s).httpd_status_codes['401'])).toBe(1);
    expect(delta((s) => couchdb(s).database_reads)).toBe(2);
    expect(delta((s) => couchdb(s).database_writes)).toBe(2);
    expect(delta((s) => couchdb(s).document_writes)).toBe(2);
    expect(delta((s) => couchdb(s).auth_failures)).toBe(1);
    expect(after.couchdb.request_time.value.n - before.couchdb.request_time.value.n).toBe(8);
    expect(after.couchdb.httpd_request_methods.GET).toMatchObject({
      type: 'counter',
      desc: 'number of HTTP GET requests',
    });
    expect(after.couchdb.open_databases.value).toBeGreaterThanOrEqual(3); // _users, _replicator, shop

    // `_prometheus` reads the same counts; the second `_stats` request is in them too.
    const response = await t.fetch('/_node/_local/_prometheus');
    expect(response.headers.get('content-type')).toBe(Registry.PROMETHEUS_CONTENT_TYPE);
    const text = await response.text();
    const { couchdb: now } = after;
    expect(sample(text, 'couchdb_httpd_requests_total')).toBe(now.httpd.requests.value + 1);
    expect(sample(text, 'couchdb_httpd_request_methods{method="GET"}')).toBe(
      now.httpd_request_methods.GET.value + 1,
    );
    expect(sample(text, 'couchdb_httpd_request_methods{method="PUT"}')).toBe(
      now.httpd_request_methods.PUT.value,
    );
    expect(sample(text, 'couchdb_httpd_status_codes{code="200"}')).toBe(
      now.httpd_status_codes['200'].value + 1,
    );
    expect(sample(text, 'couchdb_httpd_status_codes{code="404"}')).toBe(now.httpd_status_codes['404'].value);
    expect(sample(text, 'couchdb_database_reads_total')).toBe(now.database_reads.value);
    expect(sample(text, 'couchdb_document_writes_total')).toBe(now.document_writes.value);
    expect(sample(text, 'couchdb_auth_failures_total')).toBe(now.auth_failures.value);
    expect(sample(text, 'couchdb_open_databases')).toBe(now.open_databases.value);
    expect(sample(text, 'couchdb_request_time_seconds_count')).toBe(now.request_time.value.n + 1);
    expect(text).toContain('# TYPE couchdb_httpd_requests_total counter');
    expect(text).toContain('# TYPE couchdb_open_databases gauge');
    expect(text).toContain('# TYPE couchdb_request_time_seconds histogram');
  });

  it('count the documents of _bulk_docs and _bulk_get', async () => {
    const t = await start();
    expect(await send(t, 'PUT', '/shop')).toBe(201);
    expect(await send(t, 'PUT', '/shop/apple', {})).toBe(201);
    const before = (await stats(t, '/couchdb')) as Json;
    const docs = [{ _id: 'pear' }, { _id: 'plum' }, { _id: 'apple' }]; // apple: a conflict, not written
    expect(await send(t, 'POST', '/shop/_bulk_docs', { docs })).toBe(201);
    expect(await send(t, 'POST', '/shop/_bulk_get', { docs: docs.map(({ _id }) => ({ id: _id })) })).toBe(
      200,
    );
    const after = (await stats(t, '/couchdb')) as Json;
    expect(after.document_writes.value - before.document_writes.value).toBe(2);
    expect(after.database_writes.value - before.database_writes.value).toBe(1);
    expect(after.database_reads.value - before.database_reads.value).toBe(3);
  });

  it('show a histogram of request times with CouchDB’s figures', async () => {
    const t = await start();
    for (let i = 0; i < 5; i++) expect(await send(t, 'GET', '/_up')).toBe(200);
    const { value, type } = (await stats(t, '/couchdb/request_time')) as Json;
    expect(type).toBe('histogram');
    expect(value.n).toBeGreaterThanOrEqual(5);
    expect(value.min).toBeGreaterThan(0);
    expect(value.min).toBeLessThanOrEqual(value.median);
    expect(value.median).toBeLessThanOrEqual(value.max);
    expect(value.arithmetic_mean).toBeLessThanOrEqual(value.max);
    expect(value.percentile.map(([p]: [number]) => p)).toEqual([50, 75, 90, 95, 99, 999]);
    const counted = value.histogram.reduce((sum: number, [, count]: [number, number]) => sum + count, 0);
    expect(counted).toBe(value.n);
  });

  it('pick a part of _stats by its path, null when the path names nothing, and answer GET only', async () => {
    const t = await start();
    const get = (await stats(t, '/couchdb/httpd_request_methods/GET')) as Json;
    expect(get).toEqual({ value: expect.any(Number), type: 'counter', desc: 'number of HTTP GET requests' });
    expect(await stats(t, '/couchdb/open_databases/value')).toEqual(expect.any(Number));
    expect(await stats(t, '/couchdb/httpd_status_codes/404/desc')).toBe(
      'number of HTTP 404 Not Found responses',
    );
    expect(await stats(t, '/couchdb/no_such_statistic')).toBeNull();
    expect(await stats(t, '/nothing/here/at/all')).toBeNull();
    const post = await t.fetch('/_node/_local/_stats', { method: 'POST', body: '{}' });
    expect(post.status).toBe(405);
    expect(await post.json()).toMatchObject({ error: 'method_not_allowed' });
    expect(post.headers.get('allow')).toBe('GET');
  });

  it('count a live feed while it is open, and no longer once its client is gone', async () => {
    const t = await start();
    expect(await send(t, 'PUT', '/shop')).toBe(201);
    const feeds = async () => ((await stats(t, '/couchdb/httpd/clients_requesting_changes')) as Json).value;
    expect(await feeds()).toBe(0);
    const live = await openLive(t.url, '/shop/_changes?feed=continuous&heartbeat=10000');
    expect(live.status).toBe(200);
    expect(await feeds()).toBe(1);
    // A normal feed is over as soon as it is answered: it is not a client waiting for changes.
    expect(await send(t, 'GET', '/shop/_changes')).toBe(200);
    expect(await feeds()).toBe(1);
    live.destroy();
    await waitFor(async () => (await feeds()) === 0, 'the feed to be counted out');
  });

  it('show the replication jobs by state and the documents they wrote', async () => {
    const t = await start({ replicator: { retryInitialMs: 100, retryMaxMs: 500 } });
    expect(await send(t, 'PUT', '/src')).toBe(201);
    const docs = [{ _id: 'a' }, { _id: 'b' }, { _id: 'c' }];
    expect(await send(t, 'POST', '/src/_bulk_docs', { docs })).toBe(201);
    expect(
      await send(t, 'PUT', '/_replicator/copy', { source: 'src', target: 'dst', create_target: true }),
    ).toBe(201);
    await waitFor(async () => {
      const response = await t.fetch('/_replicator/copy');
      return ((await response.json()) as Json)._replication_state === 'completed';
    }, 'the job to complete');
    const replicator = (await stats(t, '/couch_replicator')) as Json;
    expect(replicator.docs_read.value).toBe(3);
    expect(replicator.docs_written.value).toBe(3);
    expect(replicator.doc_write_failures.value).toBe(0);
    expect(replicator.jobs.completed.value).toBe(1);
    expect(replicator.jobs.running.value).toBe(0);
    expect(replicator.jobs.total.value).toBe(1);
    expect(replicator.jobs.running).toMatchObject({
      type: 'gauge',
      desc: 'replicator scheduler running jobs',
    });
    const text = await (await t.fetch('/_node/_local/_prometheus')).text();
    expect(sample(text, 'couchdb_couch_replicator_docs_written')).toBe(3);
    expect(sample(text, 'couchdb_couch_replicator_jobs_completed')).toBe(1);
  });

  it('are each server’s own when several run in one process', async () => {
    const busy = await start();
    for (let i = 0; i < 3; i++) expect(await send(busy, 'GET', '/_up')).toBe(200);
    const quiet = await start();
    expect(((await stats(quiet, '/couchdb/httpd/requests')) as Json).value).toBe(0);
    expect(((await stats(busy, '/couchdb/httpd/requests')) as Json).value).toBeGreaterThanOrEqual(3);
  });
});

/**
 * CouchDB counts `[couchdb, database_reads]` once per `couch_db:open_doc` call (couch_db.erl,
 * open_doc/3; open_doc_revs/3 by the number asked). Listings with `include_docs` open each row's
 * document through it: `_all_docs`, `_design_docs` and views in couch_mrview_util.erl
 * (maybe_load_doc → couch_index_util:load_doc), `_changes` in fabric_rpc.erl (changes rows,
 * load_doc with `deleted`, so a deletion's stub counts too). `_find` reads its documents through a
 * view with `include_docs` on each shard, and mango_cursor_view.erl (view_cb) counts each row
 * whose document it read as `docs_examined`: the documents examined are the documents read. Here
 * a row counts when it carries a document's body: CouchDB's load_doc also counts a `null` row
 * (missing or deleted), whose body no one read.
 */
describe('couchdb.database_reads', () => {
  /** apple, pear, plum (priced 3, 2, 1), the deleted `gone`, and `_design/shop` with a view. */
  async function shop(): Promise<TestServer> {
    const t = await start();
    expect(await send(t, 'PUT', '/shop')).toBe(201);
    const docs = [
      { _id: 'apple', price: 3 },
      { _id: 'pear', price: 2 },
      { _id: 'plum', price: 1 },
      { _id: 'gone', _deleted: true },
      { _id: '_design/shop', views: { by_price: { map: 'function (doc) { emit(doc.price, null); }' } } },
    ];
    expect(await send(t, 'POST', '/shop/_bulk_docs', { docs })).toBe(201);
    return t;
  }

  const reads = async (t: TestServer): Promise<number> =>
    ((await stats(t, '/couchdb/database_reads')) as Json).value;

  /** How many documents `request` counted as read (the `_stats` requests count none). */
  async function readBy(t: TestServer, request: () => Promise<unknown>): Promise<number> {
    const before = await reads(t);
    await request();
    return (await reads(t)) - before;
  }

  const answered = (t: TestServer, method: string, path: string, body?: unknown) => async () =>
    expect(await send(t, method, path, body)).toBe(200);

  it('counts each document _all_docs, POST _all_docs and _design_docs write with include_docs', async () => {
    const t = await shop();
    expect(await readBy(t, answered(t, 'GET', '/shop/_all_docs?include_docs=true'))).toBe(4);
    expect(await readBy(t, answered(t, 'GET', '/shop/_all_docs?include_docs=true&limit=2'))).toBe(2);
    expect(await readBy(t, answered(t, 'GET', '/shop/_all_docs'))).toBe(0);
    // A missing key is an error row and a deleted one a null document: neither read a body.
    const keys = { keys: ['apple', 'nothing', 'gone'] };
    expect(await readBy(t, answered(t, 'POST', '/shop/_all_docs?include_docs=true', keys))).toBe(1);
    expect(await readBy(t, answered(t, 'GET', '/shop/_design_docs?include_docs=true'))).toBe(1);
    expect(await readBy(t, answered(t, 'POST', '/shop/_design_docs', {}))).toBe(0);
  });

  it('counts each document a normal or longpoll _changes feed writes with include_docs', async () => {
    const t = await shop();
    // Five changes: the three fruits, the deletion's stub and the design document.
    expect(await readBy(t, answered(t, 'GET', '/shop/_changes?include_docs=true'))).toBe(5);
    expect(await readBy(t, answered(t, 'GET', '/shop/_changes'))).toBe(0);
    const longpoll = await openLive(t.url, '/shop/_changes?feed=longpoll&since=now&include_docs=true');
    expect(longpoll.status).toBe(200);
    await waitFor(async () => (await writeWaiters(t, 'shop')) === 1, 'the longpoll to wait for a change');
    const counted = readBy(t, async () => {
      expect(await send(t, 'PUT', '/shop/kiwi', { price: 4 })).toBe(201);
      await longpoll.ended;
    });
    expect(await counted).toBe(1);
  });

  it.each([
    ['continuous', (text: string) => jsonLines(text).length],
    ['eventsource', (text: string) => text.split('data: {').length - 1],
  ])('counts each document a %s _changes feed writes with include_docs', async (feed, rows) => {
    const t = await shop();
    const before = await reads(t);
    const live = await openLive(t.url, `/shop/_changes?feed=${feed}&include_docs=true&heartbeat=10000`);
    expect(live.status).toBe(200);
    await live.until((text) => rows(text) === 5);
    expect((await reads(t)) - before).toBe(5);
    const kiwi = readBy(t, async () => {
      expect(await send(t, 'PUT', '/shop/kiwi', { price: 4 })).toBe(201);
      await live.until((text) => rows(text) === 6);
    });
    expect(await kiwi).toBe(1);
    live.destroy();
  });

  it('counts each document a view writes with include_docs, in one query or several', async () => {
    const t = await shop();
    const view = '/shop/_design/shop/_view/by_price';
    expect(await readBy(t, answered(t, 'GET', `${view}?include_docs=true`))).toBe(3);
    expect(await readBy(t, answered(t, 'GET', `${view}?include_docs=true&limit=1`))).toBe(1);
    expect(await readBy(t, answered(t, 'GET', view))).toBe(0);
    const queries = { queries: [{ include_docs: true, limit: 2 }, {}, { include_docs: true, key: 1 }] };
    expect(await readBy(t, answered(t, 'POST', `${view}/queries`, queries))).toBe(3);
  });

  it('counts each document _find examined, shown or not in its execution stats', async () => {
    const t = await shop();
    const find = (body: object) => async () => {
      const response = await t.fetch('/shop/_find', { method: 'POST', body: JSON.stringify(body) });
      expect(response.status).toBe(200);
      return (await response.json()) as Json;
    };
    // Without an index the query examines every live document that is not a design document.
    const cheap = { selector: { price: { $lt: 3 } } };
    let answer: Json;
    expect(await readBy(t, async () => (answer = await find(cheap)()))).toBe(3);
    expect(answer.docs).toHaveLength(2);
    expect(answer.execution_stats).toBeUndefined();
    const withStats = { ...cheap, execution_stats: true };
    expect(await readBy(t, async () => (answer = await find(withStats)()))).toBe(3);
    expect(answer.execution_stats.total_docs_examined).toBe(3);
    // The first match fills the limit: one document examined.
    expect(await readBy(t, find({ selector: { price: { $gte: 0 } }, limit: 1 }))).toBe(1);
    const refused = readBy(t, async () => {
      expect(await send(t, 'POST', '/shop/_find', { ...cheap, execution_stats: 'yes' })).toBe(400);
    });
    expect(await refused).toBe(0);
  });
});

describe('_system', () => {
  it('shows uptime, memory and the event loop’s delay', async () => {
    const t = await start();
    const response = await t.fetch('/_node/_local/_system');
    expect(response.status).toBe(200);
    const system = (await response.json()) as Json;
    expect(Number.isInteger(system.uptime)).toBe(true);
    expect(system.uptime).toBeGreaterThanOrEqual(0);
    expect(system.uptime).toBeLessThan(process.uptime() + 1);
    const { memory } = system;
    expect(Object.keys(memory).sort()).toEqual([
      'array_buffers',
      'external',
      'heap_total',
      'heap_used',
      'rss',
    ]);
    expect(memory.rss).toBeGreaterThan(memory.heap_used);
    expect(memory.heap_used).toBeLessThanOrEqual(memory.heap_total);
    const delay = system.event_loop_delay;
    for (const key of ['min', 'max', 'mean', 'stddev', 'p50', 'p90', 'p99'])
      expect(delay[key]).toBeGreaterThanOrEqual(0);
    expect(delay.min).toBeLessThanOrEqual(delay.p50);
    expect(delay.p50).toBeLessThanOrEqual(delay.p99);
    expect(delay.p99).toBeLessThanOrEqual(delay.max);
    const text = await (await t.fetch('/_node/_local/_prometheus')).text();
    expect(sample(text, 'couchdb_nodejs_memory_bytes{memory_type="rss"}')).toBeGreaterThan(0);
    expect(sample(text, 'couchdb_uptime_seconds')).toBeGreaterThanOrEqual(0);
  });
});

describe('who may read the metrics', () => {
  const ENDPOINTS = [
    '/_node/_local/_stats',
    '/_node/_local/_stats/couchdb',
    '/_node/_local/_prometheus',
    '/_node/_local/_system',
  ];
  const basic = (name: string) => `Basic ${Buffer.from(`${name}:pw`).toString('base64')}`;

  it('server admins and users with the _metrics role; anonymous 401, other users 403', async () => {
    const t = await start();
    for (const [name, roles] of [
      ['watcher', ['_metrics']],
      ['plain', ['sales']],
    ] as const) {
      const user = { name, password: 'pw', type: 'user', roles };
      expect(await send(t, 'PUT', `/_users/org.couchdb.user:${name}`, user)).toBe(201);
    }
    for (const path of ENDPOINTS) {
      const anonymous = await fetch(t.url + path);
      expect(anonymous.status).toBe(401);
      expect(await anonymous.json()).toMatchObject({ error: 'unauthorized' });
      const plain = await fetch(t.url + path, { headers: { authorization: basic('plain') } });
      expect(plain.status).toBe(403);
      expect(await plain.json()).toMatchObject({ error: 'forbidden' });
      const watcher = await fetch(t.url + path, { headers: { authorization: basic('watcher') } });
      expect(watcher.status).toBe(200);
      await watcher.arrayBuffer();
      expect((await fetch(t.url + path, { headers: { authorization: BASIC } })).status).toBe(200);
    }
    // The role reads the metrics and nothing more.
    const dbs = await fetch(`${t.url}/_all_dbs`, { headers: { authorization: basic('watcher') } });
    expect(dbs.status).toBe(403);
    const config = await fetch(`${t.url}/_node/_local/_config`, {
      headers: { authorization: basic('watcher') },
    });
    expect(config.status).toBe(403);
  });
});

/** The request lines a server logs, as JSON objects; `next` waits for one that matches. */
function capturedRequests(): {
  logger: Logger;
  raw: string[];
  lines: Json[];
  next: (match: (line: Json) => boolean) => Promise<void>;
} {
  const raw: string[] = [];
  const lines: Json[] = [];
  const waiting: { match: (line: Json) => boolean; resolve: () => void }[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      const text = chunk.toString();
      raw.push(text);
      const line = JSON.parse(text) as Json;
      if (line.msg === 'request') lines.push(line);
      for (const w of waiting.filter((w) => w.match(line))) w.resolve();
      done();
    },
  });
  const next = (match: (line: Json) => boolean) =>
    lines.some(match) ? Promise.resolve() : new Promise<void>((resolve) => waiting.push({ match, resolve }));
  return { logger: pino({ level: 'debug' }, stream), raw, lines, next };
}

describe('request logs', () => {
  /** A server error (CouchDB's 501 for purging), whose line is written whatever the setting. */
  const serverError = async (t: TestServer, log: ReturnType<typeof capturedRequests>) => {
    expect(await send(t, 'POST', '/shop/_purge', {})).toBe(501);
    await log.next((line) => line.status === 501);
  };

  async function serverWith(requestLog: ServerOptions['requestLog']) {
    const log = capturedRequests();
    const t = await start({ logger: log.logger, ...(requestLog === undefined ? {} : { requestLog }) });
    expect(await send(t, 'PUT', '/shop')).toBe(201);
    // A server error is logged whatever the setting: once its line is in, so are the earlier ones.
    await serverError(t, log);
    log.lines.length = 0;
    log.raw.length = 0;
    return { t, log };
  }

  it('logs one line per request by default: method, path, status and time', async () => {
    const { t, log } = await serverWith(undefined);
    expect(await send(t, 'GET', '/shop/nothing?revs=true')).toBe(404);
    await log.next((line) => line.status === 404);
    expect(log.lines).toEqual([
      expect.objectContaining({
        method: 'GET',
        url: '/shop/nothing?revs=true',
        status: 404,
        ms: expect.any(Number),
      }),
    ]);
  });

  it('logs none when off, but for server errors', async () => {
    const { t, log } = await serverWith('off');
    for (let i = 0; i < 3; i++) expect(await send(t, 'GET', '/shop')).toBe(200);
    await serverError(t, log);
    expect(log.lines.map((line) => line.status)).toEqual([501]);
    expect(log.lines[0].level).toBe(40); // warn: it shows at every level an operator runs with
  });

  it('logs one request in 1/rate when sampled, and every server error', async () => {
    const { t, log } = await serverWith(0.25);
    for (let i = 0; i < 8; i++) expect(await send(t, 'GET', '/shop')).toBe(200);
    await serverError(t, log);
    await serverError(t, log);
    expect(log.lines.map((line) => line.status)).toEqual([200, 200, 501, 501]);
  });

  it('never logs a password, a Basic credential or a session cookie', async () => {
    const { t, log } = await serverWith('on');
    const login = await fetch(`${t.url}/_session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: ADMIN.name, password: ADMIN.password }),
    });
    expect(login.status).toBe(200);
    const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
    const cookieValue = cookie.split('=')[1]!;
    expect(cookieValue.length).toBeGreaterThan(10);
    const withCookie = await fetch(`${t.url}/shop`, { headers: { cookie } });
    expect(withCookie.status).toBe(200);
    const leaky = await t.fetch('/shop/_all_docs?password=hunter2&limit=1&token=tok3n');
    expect(leaky.status).toBe(200);
    await log.next((line) => typeof line.url === 'string' && line.url.startsWith('/shop/_all_docs'));
    expect(log.lines.map((line) => line.url)).toEqual([
      '/_session',
      '/shop',
      '/shop/_all_docs?password=***&limit=1&token=***',
    ]);
    const everything = log.raw.join('');
    for (const secret of [ADMIN.password, 'hunter2', 'tok3n', cookieValue, BASIC.slice('Basic '.length)]) {
      expect(everything).not.toContain(secret);
    }
  });

  it('is set by on, off or a share between 0 and 1, anything else refused at start', () => {
    expect(parseRequestLog('on')).toBe('on');
    expect(parseRequestLog(' OFF ')).toBe('off');
    expect(parseRequestLog('0.1')).toBe(0.1);
    expect(parseRequestLog('1')).toBe(1);
    for (const bad of ['0', '-0.5', '1.5', 'sometimes', '', 'NaN'])
      expect(parseRequestLog(bad)).toBeUndefined();
    const row = SERVE_SETTINGS.find((setting) => setting.key === 'requestLog')!;
    expect(row).toMatchObject({ env: 'SETTEE_REQUEST_LOG', ini: ['log', 'requests'], defaultValue: 'on' });
    expect(row.parse!('0.5')).toBe(0.5);
    expect(() => row.parse!('2')).toThrow(/on, off or a share between 0 and 1/);
  });
});
