import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SetteeError } from '../../src/core/errors.js';
import { isIncompleteJson, retryAfterMs } from '../../src/remote/http.js';
import {
  HttpClient,
  IncompleteResponseError,
  isTransientFailure,
  PeerUnreachableError,
  RemoteDatabase,
  RemoteError,
  RetriesExhaustedError,
  StallTimeoutError,
} from '../../src/remote/index.js';
import { Auth } from '../../src/server/auth/index.js';
import { freePort } from '../docs/run-example.js';
import { ADMIN, startServer, type TestServer } from '../server/harness.js';
import {
  type Behavior,
  type FakeServer,
  fail503,
  firstThen,
  json,
  reset,
  stall,
  stallMidBody,
  startFakeServer,
  truncated,
} from './fake-server.js';

const OK = json({ ok: true });
let fake: FakeServer | undefined;

afterEach(async () => {
  await fake?.close();
  fake = undefined;
});

/** The transport the tests of both transports run over: undici's pool, or a given `fetch`. */
let viaFetch: typeof fetch | undefined;

async function client(behave: Behavior, options: ConstructorParameters<typeof HttpClient>[1] = {}) {
  fake = await startFakeServer(behave);
  return new HttpClient(fake.url, { backoffBaseMs: 1, ...(viaFetch ? { fetch: viaFetch } : {}), ...options });
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => expect.unreachable('expected a rejection'),
    (err: unknown) => err,
  );
}

describe.each([
  ['undici (the default)', undefined],
  ['a given fetch', (input: string | URL | Request, init?: RequestInit) => fetch(input, init)],
] as const)('over %s', (_transport, given) => {
  beforeAll(() => {
    viaFetch = given;
  });
  afterAll(() => {
    viaFetch = undefined;
  });

  describe('transient failures', () => {
    it('retries 503 answers with backoff until the server answers', async () => {
      const http = await client(firstThen(3, fail503, OK));
      expect(await http.json({ path: 'db' })).toEqual({ ok: true });
      expect(fake!.requests).toHaveLength(4);
    });

    it('retries 408, 429 and 502', async () => {
      const statuses = [408, 429, 502];
      const http = await client((req, res, n) =>
        n < statuses.length ? json({ error: 'x', reason: 'y' }, statuses[n])(req, res, n) : OK(req, res, n),
      );
      expect(await http.json({ path: 'db' })).toEqual({ ok: true });
      expect(fake!.requests).toHaveLength(4);
    });

    it('retries connection resets', async () => {
      const http = await client(firstThen(2, reset, OK));
      expect(await http.json({ path: 'db' })).toEqual({ ok: true });
      expect(fake!.requests).toHaveLength(3);
    });

    it('retries a request that never answers, once the stall timeout aborts it', async () => {
      const http = await client(firstThen(1, stall, OK), { timeoutMs: 200 });
      const started = Date.now();
      expect(await http.json({ path: 'db' })).toEqual({ ok: true });
      expect(Date.now() - started).toBeGreaterThanOrEqual(190);
      expect(fake!.requests).toHaveLength(2);
    });

    it('retries a body that stops arriving half-way', async () => {
      const http = await client(firstThen(1, stallMidBody, OK), { timeoutMs: 200 });
      expect(await http.json({ path: 'db' })).toEqual({ ok: true });
      expect(fake!.requests).toHaveLength(2);
    });

    it('retries a close-delimited body cut in the middle of its JSON', async () => {
      const http = await client(firstThen(1, truncated, OK));
      expect(await http.json({ path: 'db' })).toEqual({ ok: true });
      expect(fake!.requests).toHaveLength(2);
    });

    it('gives up with RetriesExhaustedError carrying the last failure (retries: 0)', async () => {
      const http = await client(fail503, { retries: 0 });
      const err = await rejection(http.json({ path: 'db' }));
      expect(err).toBeInstanceOf(RetriesExhaustedError);
      expect(err).not.toBeInstanceOf(PeerUnreachableError);
      expect(isTransientFailure(err)).toBe(true);
      const gaveUp = err as RetriesExhaustedError;
      expect(gaveUp.attempts).toBe(1);
      expect(gaveUp.cause).toBeInstanceOf(RemoteError);
      expect((gaveUp.cause as RemoteError).status).toBe(503);
      expect((gaveUp.cause as RemoteError).remoteError).toBe('service_unavailable');
      expect(fake!.requests).toHaveLength(1);
    });

    it('gives up after `retries` retries', async () => {
      const http = await client(reset, { retries: 2 });
      const err = (await rejection(http.json({ path: 'db' }))) as RetriesExhaustedError;
      expect(err).toBeInstanceOf(RetriesExhaustedError);
      expect(err.attempts).toBe(3);
      expect(fake!.requests).toHaveLength(3);
    });

    it('times a silent request out after timeoutMs and gives up with a StallTimeoutError cause', async () => {
      const http = await client(stall, { timeoutMs: 200, retries: 0 });
      const started = Date.now();
      const err = (await rejection(http.json({ path: 'db' }))) as RetriesExhaustedError;
      const elapsed = Date.now() - started;
      expect(err).toBeInstanceOf(RetriesExhaustedError);
      expect(err.cause).toBeInstanceOf(StallTimeoutError);
      expect(elapsed).toBeGreaterThanOrEqual(190);
      expect(elapsed).toBeLessThan(1500);
    });

    it('reports a server that refuses connections as unreachable', async () => {
      const port = await freePort();
      const http = new HttpClient(`http://127.0.0.1:${port}`, { retries: 1, backoffBaseMs: 1 });
      const err = await rejection(http.json({ path: 'db' }));
      expect(err).toBeInstanceOf(PeerUnreachableError);
      expect(err).toBeInstanceOf(RetriesExhaustedError);
      expect((err as PeerUnreachableError).attempts).toBe(2);
    });

    it('honours Retry-After on 503 and 429', async () => {
      for (const status of [503, 429]) {
        const http = await client(
          firstThen(1, json({ error: 'busy', reason: 'wait' }, status, { 'retry-after': '1' }), OK),
        );
        const started = Date.now();
        expect(await http.json({ path: 'db' })).toEqual({ ok: true });
        expect(Date.now() - started).toBeGreaterThanOrEqual(950);
        await fake!.close();
      }
      fake = undefined;
    });

    it('never retries 400, 401, 403, 404, 409, 412 or 413', async () => {
      for (const [status, error] of [
        [400, 'bad_request'],
        [401, 'unauthorized'],
        [403, 'forbidden'],
        [404, 'not_found'],
        [409, 'conflict'],
        [412, 'file_exists'],
        [413, 'too_large'],
      ] as const) {
        const http = await client(json({ error, reason: 'r' }, status));
        const err = (await rejection(http.json({ path: 'db' }))) as RemoteError;
        expect(err).toBeInstanceOf(SetteeError);
        expect([err.status, err.error, err.reason]).toEqual([status, error, 'r']);
        expect(fake!.requests).toHaveLength(1);
        await fake!.close();
      }
      fake = undefined;
    });

    it('does not repeat a non-idempotent request that may have arrived, but does when it cannot have', async () => {
      const http = await client(firstThen(1, fail503, OK));
      const err = await rejection(http.json({ method: 'POST', path: 'db', json: {}, idempotent: false }));
      expect((err as RemoteError).status).toBe(503);
      const port = await freePort();
      const refused = new HttpClient(`http://127.0.0.1:${port}`, { retries: 2, backoffBaseMs: 1 });
      const gaveUp = await rejection(refused.json({ method: 'POST', path: 'db', idempotent: false }));
      expect((gaveUp as RetriesExhaustedError).attempts).toBe(3);
    });

    it('maps unknown error names by status and keeps the name the server sent', async () => {
      const http = await client(json({ error: 'invalid_frobnication', reason: 'bad' }, 400));
      const err = (await rejection(http.json({ path: 'db' }))) as RemoteError;
      expect([err.error, err.status, err.reason, err.remoteError]).toEqual([
        'bad_request',
        400,
        'bad',
        'invalid_frobnication',
      ]);
      expect(err.toJSON()).toEqual({ error: 'bad_request', reason: 'bad' });
    });

    it('turns a non-JSON error body into an error named by its status', async () => {
      const http = await client((_req, res) =>
        res.writeHead(404, { 'content-type': 'text/html' }).end('<h1>no</h1>'),
      );
      const err = (await rejection(http.json({ path: 'db' }))) as RemoteError;
      expect([err.error, err.status]).toEqual(['not_found', 404]);
    });

    it('tells an incomplete JSON text from an invalid one', async () => {
      expect(await isIncompleteJson('{"results":[{"a":')).toBe(true);
      expect(await isIncompleteJson('')).toBe(true);
      expect(await isIncompleteJson('{"a":1}}')).toBe(false);
      expect(await isIncompleteJson('<html>')).toBe(false);
      expect(new IncompleteResponseError()).toBeInstanceOf(Error);
    });

    it('reads Retry-After as seconds or as a date', () => {
      expect(retryAfterMs('2')).toBe(2000);
      expect(retryAfterMs(null)).toBeUndefined();
      expect(retryAfterMs('nonsense')).toBeUndefined();
      const inAMinute = new Date(Date.now() + 60_000).toUTCString();
      expect(retryAfterMs(inAMinute)).toBeGreaterThan(55_000);
    });
  });

  describe('cancellation', () => {
    it('an AbortSignal cancels a request in flight promptly', async () => {
      const http = await client(stall, { timeoutMs: 10_000 });
      const controller = new AbortController();
      const started = Date.now();
      setTimeout(() => controller.abort(), 50);
      const err = await rejection(http.json({ path: 'db', signal: controller.signal }));
      expect((err as Error).name).toBe('AbortError');
      expect(Date.now() - started).toBeLessThan(500);
    });

    it('an AbortSignal cancels the wait between retries', async () => {
      const http = await client(fail503, { backoffBaseMs: 10_000 });
      const controller = new AbortController();
      const started = Date.now();
      setTimeout(() => controller.abort(), 100);
      const err = await rejection(http.json({ path: 'db', signal: controller.signal }));
      expect((err as Error).name).toBe('AbortError');
      expect(Date.now() - started).toBeLessThan(1000);
    });

    it('an already aborted signal sends nothing', async () => {
      const http = await client(OK);
      const err = await rejection(http.json({ path: 'db', signal: AbortSignal.abort() }));
      expect((err as Error).name).toBe('AbortError');
      expect(fake!.requests).toHaveLength(0);
    });
  });

  it('tells onRequest of every request it sends, retries included, without credentials', async () => {
    const sent: { method: string; url: string }[] = [];
    const http = await client(firstThen(1, fail503, OK), {
      auth: { username: 'ann', password: 'secret' },
      onRequest: (request) => sent.push(request),
    });
    await http.json({ method: 'POST', path: 'db/_bulk_docs', json: { docs: [] } });
    expect(sent).toEqual([
      { method: 'POST', url: `${fake!.url}/db/_bulk_docs` },
      { method: 'POST', url: `${fake!.url}/db/_bulk_docs` },
    ]);
    expect(fake!.requests).toEqual(['POST /db/_bulk_docs', 'POST /db/_bulk_docs']);
  });
});

describe('authentication against a Settee server', () => {
  let t: TestServer;
  const creds = { username: ADMIN.name, password: ADMIN.password };

  beforeAll(async () => {
    t = await startServer();
    await t.fetch('/authdb', { method: 'PUT' });
  });

  afterAll(async () => {
    await t?.stop();
  });

  /** A fetch that records `METHOD path [auth-kind]` of each request. */
  function recording(log: string[]): typeof fetch {
    return (input, init) => {
      const headers = new Headers(init?.headers);
      const kind = headers.has('authorization') ? 'basic' : headers.has('cookie') ? 'cookie' : 'none';
      log.push(`${init?.method ?? 'GET'} ${new URL(String(input)).pathname} ${kind}`);
      return fetch(input, init);
    };
  }

  it('sends Basic credentials from the URL', async () => {
    const url = `${t.url.replace('://', `://${ADMIN.name}:${ADMIN.password}@`)}/authdb`;
    const db = new RemoteDatabase(url);
    expect(db.url).toBe(`${t.url}/authdb`);
    expect((await db.info()).db_name).toBe('authdb');
  });

  it('an HttpClient takes credentials from its base URL too', async () => {
    const log: string[] = [];
    const base = t.url.replace('://', `://${ADMIN.name}:${encodeURIComponent(ADMIN.password)}@`);
    const http = new HttpClient(base, { fetch: recording(log) });
    expect(http.baseUrl).toBe(t.url);
    expect(await http.json({ path: 'authdb' })).toMatchObject({ db_name: 'authdb' });
    expect(log).toEqual(['GET /authdb basic']);
  });

  it('sends Basic credentials from the options', async () => {
    const log: string[] = [];
    const db = new RemoteDatabase(`${t.url}/authdb`, { auth: creds, fetch: recording(log) });
    expect((await db.info()).db_name).toBe('authdb');
    expect(log).toEqual(['GET /authdb/ basic']);
  });

  it('without credentials a database answers 401, not retried', async () => {
    const log: string[] = [];
    const db = new RemoteDatabase(`${t.url}/authdb`, { fetch: recording(log) });
    const err = (await rejection(db.info())) as RemoteError;
    expect([err.error, err.status]).toEqual(['unauthorized', 401]);
    expect(log).toHaveLength(1);
  });

  it('bad Basic credentials fail fast, with one request', async () => {
    const log: string[] = [];
    const db = new RemoteDatabase(`${t.url}/authdb`, {
      auth: { username: 'admin', password: 'wrong' },
      fetch: recording(log),
    });
    const err = (await rejection(db.info())) as RemoteError;
    expect([err.error, err.status]).toEqual(['unauthorized', 401]);
    expect(log).toEqual(['GET /authdb/ basic']);
  });

  it('logs in with POST /_session and then sends only the cookie', async () => {
    const log: string[] = [];
    const db = new RemoteDatabase(`${t.url}/authdb`, { auth: creds, session: true, fetch: recording(log) });
    await db.info();
    await db.putLocal({ _id: '_local/s', n: 1 });
    expect(await db.getLocal('_local/s')).toMatchObject({ n: 1 });
    expect(log).toEqual([
      'POST /_session none',
      'GET /authdb/ cookie',
      'PUT /authdb/_local/s cookie',
      'GET /authdb/_local/s cookie',
    ]);
  });

  it('bad credentials under session auth fail fast at the login', async () => {
    const log: string[] = [];
    const db = new RemoteDatabase(`${t.url}/authdb`, {
      auth: { username: 'admin', password: 'wrong' },
      session: true,
      fetch: recording(log),
    });
    const err = (await rejection(db.info())) as RemoteError;
    expect([err.error, err.status]).toEqual(['unauthorized', 401]);
    expect(log).toEqual(['POST /_session none']);
  });

  it('renews the session once when the server no longer knows the cookie', async () => {
    const log: string[] = [];
    const db = new RemoteDatabase(`${t.url}/authdb`, { auth: creds, session: true, fetch: recording(log) });
    await db.info();
    // The server restarts with a new secret: every cookie it issued before is now invalid.
    const otherDir = fs.mkdtempSync(path.join(os.tmpdir(), 'settee-auth-'));
    const original = t.server.services.auth;
    t.server.services.auth = await Auth.open(otherDir, {
      admin: `${ADMIN.name}:${ADMIN.password}`,
      iterations: 1000,
    });
    try {
      expect((await db.info()).db_name).toBe('authdb');
      expect(log).toEqual([
        'POST /_session none',
        'GET /authdb/ cookie',
        'GET /authdb/ cookie',
        'POST /_session none',
        'GET /authdb/ cookie',
      ]);
      // Concurrent requests refused together share one new login.
      t.server.services.auth = original;
      log.length = 0;
      await Promise.all([db.info(), db.info(), db.info()]);
      expect(log.filter((line) => line.startsWith('POST /_session'))).toHaveLength(1);
    } finally {
      t.server.services.auth = original;
      fs.rmSync(otherDir, { recursive: true, force: true });
    }
  });

  it('logs in again after a logout cleared the cookie', async () => {
    const log: string[] = [];
    const http = new HttpClient(t.url, { auth: creds, session: true, fetch: recording(log) });
    await http.json({ path: 'authdb' });
    await http.json({ method: 'DELETE', path: '_session' });
    await http.json({ path: 'authdb' });
    expect(log.filter((line) => line.startsWith('POST /_session'))).toHaveLength(2);
  });

  it('falls back to Basic auth when the server has no _session', async () => {
    const log: string[] = [];
    const noSession: typeof fetch = (input, init) =>
      String(input).endsWith('/_session')
        ? Promise.resolve(new Response('{"error":"not_found","reason":"missing"}', { status: 404 }))
        : recording(log)(input, init);
    const db = new RemoteDatabase(`${t.url}/authdb`, { auth: creds, session: true, fetch: noSession });
    expect((await db.info()).db_name).toBe('authdb');
    expect(log).toEqual(['GET /authdb/ basic']);
  });
});
