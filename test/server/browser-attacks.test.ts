/**
 * Audit of issue 10, "Defects found when the server was attacked": the cases around the ones
 * security.test.ts reproduces — the other content types and paths of a stored script, the other
 * shapes of a forged request, and uploads refused before their body whoever sends them.
 */
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN, BASIC, startServer, type TestServer } from './harness.js';

const CORS_ORIGIN = 'http://app.example.test:3000';
let t: TestServer;
let cookie = '';

beforeAll(async () => {
  t = await startServer({ corsOrigins: [CORS_ORIGIN] });
  const res = await fetch(`${t.url}/_session`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(ADMIN),
  });
  cookie = res.headers.get('set-cookie')!.split(';')[0]!;
  expect((await t.fetch('/shop', { method: 'PUT' })).status).toBe(201);
  await t.fetch('/shop/_security', {
    method: 'PUT',
    body: JSON.stringify({
      admins: { names: [], roles: [] },
      members: { names: ['nobody-here'], roles: [] },
    }),
  });
});

afterAll(async () => {
  await t?.stop();
});

describe('stored script', () => {
  const SVG = '<svg xmlns="http://www.w3.org/2000/svg"><script>fetch("/_all_dbs")</script></svg>';

  it.each([
    ['an SVG image of a document', '/shop/pic/evil.svg'],
    ['an SVG image of a design document', '/shop/_design/app/evil.svg'],
  ])('%s is served sandboxed, to GET and HEAD, and still as it is', async (_, path) => {
    const put = await fetch(t.url + path, {
      method: 'PUT',
      headers: { authorization: BASIC, 'content-type': 'image/svg+xml' },
      body: SVG,
    });
    expect(put.status).toBe(201);
    for (const method of ['GET', 'HEAD']) {
      const res = await fetch(t.url + path, { method, headers: { authorization: BASIC } });
      expect(res.status, method).toBe(200);
      expect(res.headers.get('content-type'), method).toMatch(/^image\/svg\+xml/);
      expect(res.headers.get('content-security-policy'), method).toBe('sandbox');
      expect(res.headers.get('x-content-type-options'), method).toBe('nosniff');
      expect(await res.text(), method).toBe(method === 'GET' ? SVG : '');
    }
  });
});

describe('cross-site request forgery with the session cookie', () => {
  const post = (headers: Record<string, string>) =>
    fetch(`${t.url}/shop`, { method: 'POST', headers: { cookie, ...headers }, body: '{"a":1}' });

  it('accepts a JSON POST from a configured CORS origin', async () => {
    expect((await post({ 'content-type': 'application/json', origin: CORS_ORIGIN })).status).toBe(201);
  });

  it('refuses a sandboxed page (Origin: null) and a multipart form, and writes nothing', async () => {
    const before = ((await (await t.fetch('/shop')).json()) as { doc_count: number }).doc_count;
    const sandboxed = await post({ 'content-type': 'application/json', origin: 'null' });
    expect(sandboxed.status).toBe(403);
    expect(await sandboxed.json()).toMatchObject({ error: 'forbidden' });
    const form = await post({ 'content-type': 'multipart/form-data; boundary=x' });
    expect(form.status).toBe(415);
    expect(await form.json()).toMatchObject({ error: 'bad_content_type' });
    expect(((await (await t.fetch('/shop')).json()) as { doc_count: number }).doc_count).toBe(before);
  });
});

describe('uploads are answered before their body is read', () => {
  /**
   * Sends the headers and the first kilobyte of a body that never ends (chunked, no length): a
   * server that read bodies before checking credentials would never answer.
   */
  function endlessUpload(authorization: string | undefined): Promise<number> {
    const url = new URL(t.url);
    return new Promise((resolve, reject) => {
      const request = http.request({
        host: url.hostname,
        port: url.port,
        method: 'POST',
        path: '/shop/_bulk_docs',
        headers: {
          'content-type': 'application/json',
          'transfer-encoding': 'chunked',
          ...(authorization ? { authorization } : {}),
        },
      });
      request.on('response', (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
        request.destroy();
      });
      request.on('error', reject);
      request.write('{"docs":['.padEnd(1024, ' '));
    });
  }

  it('from anonymous (401), a wrong password (401) and a signed-in non-member (403)', async () => {
    const name = 'outsider';
    const created = await t.fetch(`/_users/org.couchdb.user:${name}`, {
      method: 'PUT',
      body: JSON.stringify({ name, type: 'user', roles: [], password: 'pw' }),
    });
    expect(created.status).toBe(201);
    expect(await endlessUpload(undefined)).toBe(401);
    expect(await endlessUpload(`Basic ${Buffer.from('outsider:wrong').toString('base64')}`)).toBe(401);
    expect(await endlessUpload(`Basic ${Buffer.from('outsider:pw').toString('base64')}`)).toBe(403);
  });
});
