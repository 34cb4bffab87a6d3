/**
 * Native TLS (issue 17): HTTP/1.1 and HTTP/2 on one port, every streaming response over HTTP/2,
 * `Secure` session cookies, a certificate renewed while connections stay open, a shutdown that
 * still ends live feeds and HTTP/2 sessions promptly, and PouchDB replicating over HTTPS.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import type http2 from 'node:http2';
import os from 'node:os';
import path from 'node:path';
import PouchDB from 'pouchdb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SetteeServer } from '../../src/server/app.js';
import { encodeMultipartRelated, multipartBoundary, parseMultipart } from '../../src/server/multipart.js';
import { InvalidTlsError } from '../../src/server/tls.js';
import { ADMIN, BASIC, startServer, type TestServer } from './harness.js';
import {
  h1Request,
  h1Feed,
  h2Connect,
  h2Feed,
  h2Open,
  h2Request,
  jsonOf,
  makeCertificate,
  servedFingerprint,
  silentConnection,
  streamed,
  type TestCertificate,
} from './tls-harness.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'settee-tls-'));
const first = makeCertificate(dir, 'first');
const renewed = makeCertificate(dir, 'renewed');
const JSON_HEADERS = { authorization: BASIC, 'content-type': 'application/json' };

let t: TestServer;
const sessions: http2.ClientHttp2Session[] = [];
beforeAll(async () => {
  t = await startServer({ tls: { cert: first.cert, key: first.key } });
});
afterAll(async () => {
  for (const session of sessions) session.destroy();
  await t?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** An HTTP/2 session to the file's server, trusting both certificates; closed after the file. */
async function connect(url = t.url): Promise<http2.ClientHttp2Session> {
  const session = await h2Connect(url, Buffer.concat([first.cert, renewed.cert]));
  sessions.push(session);
  return session;
}

let count = 0;
/** A new database on the file's server, made over HTTP/2. */
async function newDatabase(session: http2.ClientHttp2Session): Promise<string> {
  const name = `tls${++count}`;
  expect((await h2Request(session, `/${name}`, { method: 'PUT', headers: JSON_HEADERS })).status).toBe(201);
  return name;
}

describe('one port, two protocols', () => {
  it('answers HTTP/1.1 over TLS, negotiated by ALPN, at an https:// URL', async () => {
    expect(t.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const answer = await h1Request(t.url, first.cert, '/');
    expect(answer).toMatchObject({ status: 200, httpVersion: '1.1', alpn: 'http/1.1' });
    expect(jsonOf(answer)).toMatchObject({ couchdb: 'Welcome' });
  });

  it('answers HTTP/2 on the same port', async () => {
    const session = await connect();
    expect(session.alpnProtocol).toBe('h2');
    const answer = await h2Request(session, '/');
    expect(answer.status).toBe(200);
    expect(jsonOf(answer)).toMatchObject({ couchdb: 'Welcome' });
    const page = await h2Request(session, '/_ui/');
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
  });

  it("refuses an unauthorized upload over HTTP/2 with CouchDB's error, and no HTTP/1-only header", async () => {
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on('warning', onWarning);
    try {
      const session = await connect();
      const refused = await h2Request(session, '/anydb/doc', {
        method: 'PUT',
        headers: { 'content-type': 'application/json', 'content-length': '7' },
        body: '{"v":1}',
      });
      expect(refused.status).toBe(401);
      expect(jsonOf(refused)).toMatchObject({ error: 'unauthorized' });
      // The session goes on (HTTP/2 has no `Connection: close`).
      expect((await h2Request(session, '/')).status).toBe(200);
      expect(warnings.map(String)).toEqual([]);
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('refuses a plain-HTTP request rather than answering it in clear', async () => {
    await expect(fetch(t.url.replace('https:', 'http:'))).rejects.toThrow();
  });
});

describe('streaming responses over HTTP/2', () => {
  it('a continuous _changes feed over HTTP/2 receives a write made over HTTP/1.1, and the reverse', async () => {
    const session = await connect();
    const db = await newDatabase(session);
    const feedPath = `/${db}/_changes?feed=continuous&since=now&heartbeat=30000`;
    const fromH2 = await h2Feed(session, feedPath, { authorization: BASIC });
    const put = await h1Request(t.url, first.cert, `/${db}/written-over-h1`, {
      method: 'PUT',
      headers: JSON_HEADERS,
      body: '{"v":1}',
    });
    expect(put.status).toBe(201);
    await fromH2.received('"id":"written-over-h1"');

    const fromH1 = await h1Feed(t.url, first.cert, feedPath, { authorization: BASIC });
    const write = await h2Request(session, `/${db}/written-over-h2`, {
      method: 'PUT',
      headers: JSON_HEADERS,
      body: '{"v":2}',
    });
    expect(write.status).toBe(201);
    await fromH1.received('"id":"written-over-h2"');
    await fromH2.received('"id":"written-over-h2"');
    fromH2.close();
    fromH1.close();
  });

  it('a longpoll feed and an eventsource feed answer over HTTP/2', async () => {
    const session = await connect();
    const db = await newDatabase(session);
    // A longpoll answer's headers wait for its change; an eventsource feed's come at once.
    const polled = streamed(
      h2Open(session, `/${db}/_changes?feed=longpoll&since=now`, { headers: { authorization: BASIC } }),
    );
    const fromEvents = await h2Feed(session, `/${db}/_changes?feed=eventsource&since=now`, {
      authorization: BASIC,
    });
    await h2Request(session, `/${db}/d`, { method: 'PUT', headers: JSON_HEADERS, body: '{}' });
    await polled.ended;
    expect(JSON.parse(polled.text())).toMatchObject({ results: [{ id: 'd' }] });
    await fromEvents.received('"id":"d"');
    expect(fromEvents.text()).toMatch(/^data: /m);
    fromEvents.close();
  });

  it('_all_docs and _bulk_docs with many rows', async () => {
    const session = await connect();
    const db = await newDatabase(session);
    const docs = Array.from({ length: 3000 }, (_, i) => ({ _id: `doc${String(i).padStart(4, '0')}`, i }));
    const bulk = await h2Request(session, `/${db}/_bulk_docs`, {
      method: 'POST',
      headers: JSON_HEADERS,
      body: JSON.stringify({ docs }),
    });
    expect(bulk.status).toBe(201);
    const all = await h2Request(session, `/${db}/_all_docs?include_docs=true`, { headers: JSON_HEADERS });
    expect(all.status).toBe(200);
    const rows = jsonOf(all).rows as { id: string; doc: { i: number } }[];
    expect(rows).toHaveLength(3000);
    expect(rows[2999]).toMatchObject({ id: 'doc2999', doc: { i: 2999 } });
  });

  it('attachments: raw, in a multipart/related upload and in multipart/mixed answers', async () => {
    const session = await connect();
    const db = await newDatabase(session);
    const bytes = randomBytes(300_000);
    const put = await h2Request(session, `/${db}/raw/blob.bin`, {
      method: 'PUT',
      headers: { authorization: BASIC, 'content-type': 'application/octet-stream' },
      body: bytes,
    });
    expect(put.status).toBe(201);
    const read = await h2Request(session, `/${db}/raw/blob.bin`, { headers: { authorization: BASIC } });
    expect(read.status).toBe(200);
    expect(read.body.equals(bytes)).toBe(true);

    const upload = encodeMultipartRelated({
      _id: 'related',
      _attachments: {
        'blob.bin': { content_type: 'application/octet-stream', data: bytes.toString('base64') },
      },
    } as unknown as Parameters<typeof encodeMultipartRelated>[0]);
    const uploaded = await h2Request(session, `/${db}/related`, {
      method: 'PUT',
      headers: { authorization: BASIC, 'content-type': upload.contentType },
      body: upload.body,
    });
    expect(uploaded.status).toBe(201);

    const mixed = await h2Request(session, `/${db}/related?open_revs=all`, {
      headers: { authorization: BASIC, accept: 'multipart/mixed' },
    });
    expect(mixed.status).toBe(200);
    expect(mixed.body.includes(bytes)).toBe(true);
    const bulkGet = await h2Request(session, `/${db}/_bulk_get?revs=true&attachments=true`, {
      method: 'POST',
      headers: { ...JSON_HEADERS, accept: 'multipart/mixed' },
      body: JSON.stringify({ docs: [{ id: 'raw' }, { id: 'related' }] }),
    });
    expect(bulkGet.status).toBe(200);
    const parts = parseMultipart(bulkGet.body, multipartBoundary(String(bulkGet.headers['content-type']))!);
    expect(parts).toHaveLength(2);
    for (const part of parts) expect(part.body.includes(bytes)).toBe(true);
  });
});

describe('session cookies under TLS', () => {
  it('carry Secure without --secure-cookies, over HTTP/1.1 and HTTP/2', async () => {
    const login = {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: ADMIN.name, password: ADMIN.password }),
    };
    const overH1 = await h1Request(t.url, first.cert, '/_session', login);
    expect(overH1.status).toBe(200);
    expect(String(overH1.headers['set-cookie'])).toMatch(/^AuthSession=[^;]+;.*; Secure/);
    const overH2 = await h2Request(await connect(), '/_session', login);
    expect(String(overH2.headers['set-cookie'])).toMatch(/^AuthSession=[^;]+;.*; Secure/);
  });
});

describe('renewing the certificate while the server runs', () => {
  it('new connections see the new certificate; open ones and their live feeds keep working', async () => {
    const server = await startServer({ tls: { cert: first.cert, key: first.key } });
    try {
      const both = [first.cert, renewed.cert];
      expect(await servedFingerprint(server.url, both)).toBe(first.fingerprint);
      const open = await connect(server.url);
      const db = await newDatabase(open);
      const rows = await h2Feed(open, `/${db}/_changes?feed=continuous&since=now`, { authorization: BASIC });

      server.server.replaceCertificate({ cert: renewed.cert, key: renewed.key });

      expect(await servedFingerprint(server.url, both)).toBe(renewed.fingerprint);
      // Only the new certificate is trusted by this client: it connects.
      expect((await h1Request(server.url, renewed.cert, '/')).status).toBe(200);
      // The session opened before goes on: new requests, and its live feed.
      const put = await h2Request(open, `/${db}/after`, { method: 'PUT', headers: JSON_HEADERS, body: '{}' });
      expect(put.status).toBe(201);
      await rows.received('"id":"after"');
      rows.close();
    } finally {
      await server.stop();
    }
  });

  it("refuses a key that is not the certificate's and keeps serving the current pair", async () => {
    const server = await startServer({ tls: { cert: first.cert, key: first.key } });
    try {
      const replace = (pair: { cert: Buffer | string; key: Buffer | string }) => () =>
        server.server.replaceCertificate(pair);
      expect(replace({ cert: renewed.cert, key: first.key })).toThrow(InvalidTlsError);
      expect(replace({ cert: renewed.cert, key: first.key })).toThrow(
        'the key is not the private key of the certificate',
      );
      expect(replace({ cert: 'not a certificate', key: first.key })).toThrow(/not a PEM certificate/);
      expect(replace({ cert: renewed.cert, key: '' })).toThrow(/not a PEM private key/);
      expect(await servedFingerprint(server.url, [first.cert])).toBe(first.fingerprint);
    } finally {
      await server.stop();
    }
  });

  it('a server without TLS has no certificate to replace', async () => {
    const plain = await startServer();
    try {
      expect(() => plain.server.replaceCertificate({ cert: first.cert, key: first.key })).toThrow(
        'the server was not started with TLS',
      );
    } finally {
      await plain.stop();
    }
  });
});

describe('a pair that cannot be served does not start', () => {
  it.each([
    [
      'a key of another certificate',
      (): TestCertificate => ({ ...first, key: renewed.key }),
      /not the private key/,
    ],
    [
      'no certificate at all',
      (): TestCertificate => ({ ...first, cert: Buffer.alloc(0) }),
      /not a PEM certificate/,
    ],
    [
      'the certificate as the key',
      (): TestCertificate => ({ ...first, key: first.cert }),
      /not a PEM private key/,
    ],
  ])('%s', async (_case, pair, reason) => {
    const { cert, key } = pair();
    const dataDir = fs.mkdtempSync(path.join(dir, 'data-'));
    await expect(SetteeServer.create({ dataDir, tls: { cert, key } })).rejects.toThrow(reason);
    // Refused before anything opened: the data folder is untouched.
    expect(fs.readdirSync(dataDir)).toEqual([]);
  });
});

describe('stopping a TLS server', () => {
  it('ends live feeds and closes HTTP/2 sessions and idle HTTP/1.1 connections promptly', async () => {
    const server = await startServer({ tls: { cert: first.cert, key: first.key } });
    const session = await connect(server.url);
    const idleSession = await connect(server.url);
    const db = await newDatabase(session);
    // A live feed over each protocol, an idle keep-alive HTTP/1.1 connection, and handshaken
    // connections that never sent a request.
    const h2Rows = await h2Feed(session, `/${db}/_changes?feed=continuous`, { authorization: BASIC });
    const agent = new https.Agent({ keepAlive: true });
    expect((await h1Request(server.url, first.cert, '/', {}, agent)).status).toBe(200);
    const h1Rows = await h1Feed(server.url, first.cert, `/${db}/_changes?feed=continuous`, {
      authorization: BASIC,
    });
    const silentH1 = await silentConnection(server.url, first.cert, 'http/1.1');
    const silentH2 = await silentConnection(server.url, first.cert, 'h2');
    const idleClosed = new Promise((resolve) => idleSession.once('close', resolve));

    const started = Date.now();
    await server.stop();
    // The sessions' own timeout is minutes, Node's headers timeout a minute.
    expect(Date.now() - started).toBeLessThan(10_000);
    // Each live feed ended with CouchDB's last line.
    await Promise.all([h1Rows.ended, h2Rows.ended]);
    expect(h1Rows.text()).toContain('"last_seq"');
    expect(h2Rows.text()).toContain('"last_seq"');
    await idleClosed;
    expect(silentH1.destroyed || silentH1.readableEnded).toBe(true);
    silentH1.destroy();
    silentH2.destroy();
    agent.destroy();
  });
});

describe('PouchDB over HTTPS', () => {
  it('replicates both ways with a server it trusts by its CA', async () => {
    const agent = new https.Agent({ ca: first.cert });
    const options = {
      auth: { username: ADMIN.name, password: ADMIN.password },
      // PouchDB's fetch in Node is node-fetch, which takes an `agent` for the CA.
      fetch: (url: string, init: PouchDB.FetchOptions) =>
        PouchDB.fetch(url, { ...init, agent } as PouchDB.FetchOptions),
    };
    const remote = new PouchDB(`${t.url}/pouch`, options);
    const local = new PouchDB(path.join(dir, 'pouch-local'));
    const other = new PouchDB(path.join(dir, 'pouch-other'));
    try {
      await local.bulkDocs(Array.from({ length: 50 }, (_, i) => ({ _id: `p${i}`, i })));
      const pushed = await PouchDB.replicate(local, remote);
      expect(pushed).toMatchObject({ ok: true, docs_written: 50 });
      const pulled = await PouchDB.replicate(remote, other);
      expect(pulled).toMatchObject({ ok: true, docs_written: 50 });
      expect((await other.info()).doc_count).toBe(50);
    } finally {
      await Promise.all([remote.close(), local.close(), other.close()]);
      agent.destroy();
    }
  });
});
