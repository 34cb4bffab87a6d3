/**
 * `GET /_node/_local/_logs`: the server's recent warnings and errors, kept from its own log in a
 * bounded ring, newest first, without secrets, for server admins only.
 *
 * Settee's own endpoint: CouchDB 3's node endpoints are `_versions`, `_config`, `_stats`,
 * `_prometheus`, `_system` and `_restart` (chttpd_node.erl, handle_node_req/1), none for its log;
 * CouchDB 1's `GET /_log` (the log file's tail) is gone since 2.0.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { ServerOptions } from '../../src/server/app.js';
import { type RecentEntry, RecentErrors, recordingLogger } from '../../src/server/metrics/recent-errors.js';
import { waitFor } from '../replication/helpers.js';
import { capturedLog } from './captured-log.js';
import { BASIC, startServer, type TestServer } from './harness.js';

const servers: TestServer[] = [];

afterEach(async () => {
  for (const t of servers.splice(0)) await t.stop();
});

/** A server with a database `shop` (made as `authorization`) to send server errors to. */
async function start(options: Partial<ServerOptions> = {}, authorization = BASIC): Promise<TestServer> {
  const t = await startServer(options);
  servers.push(t);
  const created = await fetch(`${t.url}/shop`, { method: 'PUT', headers: { authorization } });
  expect(created.status).toBe(201);
  return t;
}

async function recentLogs(t: TestServer, query = '', authorization = BASIC): Promise<RecentEntry[]> {
  const response = await fetch(`${t.url}/_node/_local/_logs${query}`, { headers: { authorization } });
  expect(response.status).toBe(200);
  return ((await response.json()) as { entries: RecentEntry[] }).entries;
}

/** CouchDB's 501 for purging: a server error, logged at `error` ("request failed") and `warn` (its line). */
async function serverError(t: TestServer, path = '/shop/_purge', authorization = BASIC): Promise<void> {
  const headers = { authorization, 'content-type': 'application/json' };
  const response = await fetch(t.url + path, { method: 'POST', headers, body: '{}' });
  expect(response.status).toBe(501);
  await response.arrayBuffer();
}

/** The request line is written once the answer is sent: wait until the ring has it. */
async function untilKept(t: TestServer, what: (entries: RecentEntry[]) => boolean): Promise<RecentEntry[]> {
  let entries: RecentEntry[] = [];
  await waitFor(async () => what((entries = await recentLogs(t))), 'the recent errors');
  return entries;
}

describe('GET /_node/_local/_logs', () => {
  it('lists a server error with its request’s method, url and status, and the error, newest first', async () => {
    const log = capturedLog();
    const t = await start({ logger: log.logger });
    const before = Date.now();
    await serverError(t, '/shop/_purge?token=tok3n&w=1');
    const entries = await untilKept(t, (found) => found.some((entry) => entry.status === 501));
    // The request line follows the error the handler logged: newest first, it comes first.
    expect(entries).toEqual([
      {
        time: expect.any(String),
        level: 'warn',
        message: 'request',
        method: 'POST',
        url: '/shop/_purge?token=***&w=1',
        status: 501,
      },
      {
        time: expect.any(String),
        level: 'error',
        message: 'request failed',
        error: expect.stringMatching(/purge/i),
      },
    ]);
    expect(Date.parse(entries[0]!.time)).toBeGreaterThanOrEqual(before - 1000);
    expect(await recentLogs(t, '?level=error')).toEqual([entries[1]]);
    expect(await recentLogs(t, '?limit=1')).toEqual([entries[0]]);
    // The server's own output is what it was: every line, the successful PUT's at `info` too.
    const written = log.lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    const requests = written.filter(
      (line) => line.msg === 'request' && !String(line.url).startsWith('/_node/'),
    );
    expect(requests.map((line) => line.status)).toEqual([201, 501]);
    expect(written.some((line) => line.msg === 'request failed')).toBe(true);
    expect(log.lines.join('')).not.toContain('tok3n');
  });

  it('keeps the last 100 entries: the oldest go first', async () => {
    const t = await start();
    // 60 server errors, two entries each, the first one's marked by its path.
    await serverError(t, '/shop/_purge?first=1');
    for (let i = 1; i < 60; i++) await serverError(t);
    const entries = await untilKept(
      t,
      (found) => found.filter((entry) => entry.status === 501).length === 50,
    );
    expect(entries).toHaveLength(100);
    expect(entries.some((entry) => entry.url?.includes('first'))).toBe(false);
    expect(await recentLogs(t, '?limit=7')).toHaveLength(7);
  });

  it('keeps warnings even when the server was given no logger', async () => {
    const t = await start();
    await serverError(t);
    const entries = await untilKept(t, (found) => found.length === 2);
    expect(entries.map((entry) => entry.level)).toEqual(['warn', 'error']);
  });

  it('never keeps the password of a generated admin, which the log shows once', async () => {
    const log = capturedLog();
    const t = await startServer({ logger: log.logger, admin: undefined });
    servers.push(t);
    const messages = log.lines.map((line) => String((JSON.parse(line) as { msg: unknown }).msg));
    const notice = messages.find((message) => message.startsWith('No server admin configured')) ?? '';
    const [, name, password] = /admin "([^"]+)" with password "([^"]+)"/.exec(notice) ?? [];
    expect(password).toBeDefined();
    const admin = `Basic ${Buffer.from(`${name}:${password}`).toString('base64')}`;
    await serverError(t, '/_node/_local/_restart', admin);
    const response = await fetch(`${t.url}/_node/_local/_logs`, { headers: { authorization: admin } });
    expect(response.status).toBe(200);
    const text = await response.text();
    expect(text).toContain('request failed');
    expect(text).not.toContain(password);
  });

  it('refuses a bad level or limit with 400 and answers GET only', async () => {
    const t = await start();
    for (const query of ['?level=info', '?level=', '?limit=-1', '?limit=ten']) {
      const response = await t.fetch(`/_node/_local/_logs${query}`);
      expect(response.status).toBe(400);
      expect(await response.json()).toMatchObject({ error: 'bad_request', reason: expect.any(String) });
    }
    const post = await t.fetch('/_node/_local/_logs', { method: 'POST', body: '{}' });
    expect(post.status).toBe(405);
    await post.arrayBuffer();
  });

  it('is for server admins: anonymous 401, and not the _metrics role, which reads _stats', async () => {
    const t = await start();
    const watcher = { name: 'watcher', password: 'pw', type: 'user', roles: ['_metrics'] };
    const put = { method: 'PUT', body: JSON.stringify(watcher) };
    expect((await t.fetch('/_users/org.couchdb.user:watcher', put)).status).toBe(201);
    const anonymous = await fetch(`${t.url}/_node/_local/_logs`);
    expect(anonymous.status).toBe(401);
    expect(await anonymous.json()).toMatchObject({ error: 'unauthorized' });
    const authorization = `Basic ${Buffer.from('watcher:pw').toString('base64')}`;
    const refused = await fetch(`${t.url}/_node/_local/_logs`, { headers: { authorization } });
    expect(refused.status).toBe(403);
    expect(await refused.json()).toMatchObject({ error: 'forbidden' });
    const stats = await fetch(`${t.url}/_node/_local/_stats`, { headers: { authorization } });
    expect(stats.status).toBe(200);
    await stats.arrayBuffer();
    expect(await recentLogs(t)).toEqual([]);
  });
});

describe('recordingLogger', () => {
  it('writes every line to the given logger’s output as that logger would, and keeps warn and above', () => {
    const plain = capturedLog('debug');
    const teed = capturedLog('debug');
    const recent = new RecentErrors();
    const log = recordingLogger(teed.logger, recent);
    for (const logger of [plain.logger, log]) {
      logger.debug('looking');
      logger.info({ db: 'shop' }, 'opened');
      logger.warn('slow disk');
      logger.error({ err: new Error('boom') }, 'compaction failed');
    }
    const withoutTime = (line: string) => line.replace(/"time":\d+,/, '');
    expect(teed.lines.map(withoutTime)).toEqual(plain.lines.map(withoutTime));
    expect(recent.list().map(({ level, message, error }) => ({ level, message, error }))).toEqual([
      { level: 'error', message: 'compaction failed', error: 'boom' },
      { level: 'warn', message: 'slow disk', error: undefined },
    ]);
  });

  it('keeps only what the logger’s level lets through', () => {
    const recent = new RecentErrors();
    const log = recordingLogger(capturedLog('error').logger, recent);
    log.warn('not written, so not kept');
    log.fatal('down');
    expect(recent.list().map((entry) => entry.level)).toEqual(['fatal']);
    expect(recent.list('error').map((entry) => entry.message)).toEqual(['down']);
  });

  it('holds at most its capacity, newest first', () => {
    const recent = new RecentErrors(3);
    const log = recordingLogger(undefined, recent);
    for (let i = 1; i <= 5; i++) log.warn(`warning ${i}`);
    expect(recent.list().map((entry) => entry.message)).toEqual(['warning 5', 'warning 4', 'warning 3']);
    expect(recent.list('warn', 2)).toHaveLength(2);
  });

  it('hides the credentials of URLs in messages and secret query values', () => {
    const recent = new RecentErrors();
    const log = recordingLogger(undefined, recent);
    log.warn('replication of https://bob:s3cret@example.com/db?access_token=tok3n stopped: gone');
    log.error({ method: 'GET', url: '/db/_all_docs?password=hunter2&limit=1', status: 500 }, 'request');
    const [request, replication] = recent.list();
    expect(replication!.message).toBe('replication of https://example.com/db?access_token=*** stopped: gone');
    expect(request!.url).toBe('/db/_all_docs?password=***&limit=1');
    expect(JSON.stringify(recent.list())).not.toMatch(/s3cret|tok3n|hunter2|bob/);
  });
});
