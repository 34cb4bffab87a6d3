import { afterEach, describe, expect, it } from 'vitest';
import { ADMIN, basicAuth, startServer, type TestServer } from './harness.js';
import { raw } from './http-client.js';

let t: TestServer | undefined;

afterEach(async () => {
  await t?.stop();
  t = undefined;
});

async function start(options: Parameters<typeof startServer>[0] = {}): Promise<TestServer> {
  t = await startServer(options);
  return t;
}

const cookiePair = (setCookie: string | null | undefined) => String(setCookie).split(';')[0]!;

describe('Basic auth', () => {
  // CouchDB names Basic auth its `default` handler: `curl -u foo:… /_session` answers
  // `"info":{"authentication_db":"_users","authentication_handlers":["cookie","default"],"authenticated":"default"}`.
  it('accepts the admin and answers the session as authenticated by the default handler', async () => {
    const s = await start();
    const res = await fetch(`${s.url}/_session`, {
      headers: { authorization: basicAuth('admin', 'secret') },
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      ok: true,
      userCtx: { name: 'admin', roles: ['_admin'] },
      info: {
        authentication_db: '_users',
        authentication_handlers: ['cookie', 'default'],
        authenticated: 'default',
      },
    });
    expect(
      (await fetch(`${s.url}/_all_dbs`, { headers: { authorization: basicAuth('admin', 'secret') } })).status,
    ).toBe(200);
  });

  it('answers a wrong password or an unknown user with 401 and CouchDB’s body, no WWW-Authenticate', async () => {
    const s = await start();
    for (const [name, password] of [
      ['admin', 'wrong'],
      ['nobody', 'secret'],
      ['admin', ''],
    ] as const) {
      const res = await fetch(`${s.url}/_all_dbs`, { headers: { authorization: basicAuth(name, password) } });
      expect(res.status, `${name}:${password}`).toBe(401);
      expect(res.headers.get('www-authenticate')).toBeNull();
      expect(await res.json()).toEqual({ error: 'unauthorized', reason: 'Name or password is incorrect.' });
    }
  });

  it('treats a malformed Authorization header as anonymous', async () => {
    const s = await start();
    for (const header of ['Basic', 'Basic !!!', 'Bearer abc', 'Basic bm9jb2xvbg==']) {
      const res = await fetch(`${s.url}/_all_dbs`, { headers: { authorization: header } });
      expect(res.status, header).toBe(401);
      expect(await res.json()).toMatchObject({ error: 'unauthorized' });
      expect((await fetch(`${s.url}/_up`, { headers: { authorization: header } })).status, header).toBe(200);
    }
  });
});

describe('/_session', () => {
  it('answers an anonymous GET with a null user, or 401 when it asks for ?basic=true', async () => {
    const s = await start();
    const forced = await fetch(`${s.url}/_session?basic=true`);
    expect(forced.status).toBe(401);
    expect(((await forced.json()) as { error: string }).error).toBe('unauthorized');
    const res = await fetch(`${s.url}/_session`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      ok: true,
      userCtx: { name: null, roles: [] },
      info: { authentication_db: '_users', authentication_handlers: ['cookie', 'default'] },
    });
  });

  it('logs in with a form-encoded body; the AuthSession cookie works on later requests', async () => {
    const s = await start();
    const res = await fetch(`${s.url}/_session`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `name=${ADMIN.name}&password=${ADMIN.password}`,
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true, name: 'admin', roles: ['_admin'] });
    const setCookie = res.headers.get('set-cookie');
    expect(setCookie).toMatch(/^AuthSession=[A-Za-z0-9_-]+;/);
    expect(setCookie).toMatch(/Path=\//);
    expect(setCookie).toMatch(/HttpOnly/);
    const cookie = cookiePair(setCookie);

    const session = await fetch(`${s.url}/_session`, { headers: { cookie } });
    expect(await session.json()).toMatchObject({
      userCtx: { name: 'admin', roles: ['_admin'] },
      info: { authenticated: 'cookie' },
    });
    const created = await fetch(`${s.url}/withcookie`, { method: 'PUT', headers: { cookie } });
    expect(created.status).toBe(201);
  });

  it('logs in with a JSON body, and with form fields that need decoding', async () => {
    const s = await start({ admin: 'the admin:p@ss+w=rd&more' });
    const json = await fetch(`${s.url}/_session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'the admin', password: 'p@ss+w=rd&more' }),
    });
    expect(json.status).toBe(200);
    expect(await json.json()).toMatchObject({ ok: true, name: 'the admin' });
    const form = await fetch(`${s.url}/_session`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded; charset=UTF-8' },
      body: new URLSearchParams({ name: 'the admin', password: 'p@ss+w=rd&more' }).toString(),
    });
    expect(form.status).toBe(200);
    const cookie = cookiePair(form.headers.get('set-cookie'));
    expect((await fetch(`${s.url}/_all_dbs`, { headers: { cookie } })).status).toBe(200);
  });

  it('answers bad credentials with 401 and no cookie', async () => {
    const s = await start();
    for (const [type, body] of [
      ['application/x-www-form-urlencoded', 'name=admin&password=nope'],
      ['application/json', '{"name":"admin","password":"nope"}'],
      ['application/json', '{"name":"admin"}'],
      ['application/json', '{"name":1,"password":2}'],
      ['application/json', 'null'],
      ['application/x-www-form-urlencoded', ''],
    ] as const) {
      const res = await fetch(`${s.url}/_session`, {
        method: 'POST',
        headers: { 'content-type': type },
        body,
      });
      expect(res.status, body).toBe(401);
      expect(res.headers.get('set-cookie')).toBeNull();
      expect(await res.json()).toMatchObject({ error: 'unauthorized' });
    }
  });

  it('answers malformed login bodies with 400 or 415, never 500', async () => {
    const s = await start();
    const bad = await fetch(`${s.url}/_session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"name":',
    });
    expect(bad.status).toBe(400);
    const wrongType = await fetch(`${s.url}/_session`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: 'name=admin&password=secret',
    });
    expect(wrongType.status).toBe(415);
    const badEncoding = await fetch(`${s.url}/_session`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'name=%E0%A4%A&password=x',
    });
    expect(badEncoding.status).toBe(400);
  });

  it('clears the cookie on DELETE', async () => {
    const s = await start();
    const res = await fetch(`${s.url}/_session`, { method: 'DELETE' });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true });
    expect(res.headers.get('set-cookie')).toMatch(/^AuthSession=;/);
    expect(res.headers.get('set-cookie')).toMatch(/Max-Age=0|Expires=Thu, 01 Jan 1970/);
  });

  it('ignores a garbage or forged cookie (anonymous), so public endpoints still answer', async () => {
    const s = await start();
    for (const cookie of ['AuthSession=garbage', 'AuthSession=YWRtaW46NjAwMDAwMDA6AAAA', 'AuthSession=']) {
      expect((await fetch(`${s.url}/_session`, { headers: { cookie } })).status, cookie).toBe(200);
      const res = await fetch(`${s.url}/_all_dbs`, { headers: { cookie } });
      expect(res.status, cookie).toBe(401);
    }
  });

  it('redirects to ?next= on this server, never to another host', async () => {
    const s = await start();
    const login = (next: string) =>
      raw(s.url, `/_session?next=${next}`, {
        method: 'POST',
        auth: false,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: 'name=admin&password=secret',
      });
    const local = await login(encodeURIComponent('/db/_all_docs?x=1'));
    expect(local.status).toBe(302);
    expect(local.headers.location).toBe('/db/_all_docs?x=1');
    expect(local.headers['set-cookie']?.[0]).toMatch(/^AuthSession=/);
    for (const next of [
      '//evil.example/x',
      '%2F%2Fevil.example',
      'https://evil.example/',
      '/%5Cevil.example',
      '%2F%5Cevil.example',
    ]) {
      const res = await login(next);
      expect(res.status, next).toBe(200);
      expect(res.headers.location, next).toBeUndefined();
    }
  });

  it('redirects to a ?next= with characters a header cannot hold, encoded', async () => {
    const s = await start();
    const res = await raw(s.url, `/_session?next=${encodeURIComponent('/db/été ✓')}`, {
      method: 'POST',
      auth: false,
      headers: { 'content-type': 'application/json' },
      body: '{"name":"admin","password":"secret"}',
    });
    expect(res.status).toBe(302);
    expect(decodeURI(String(res.headers.location))).toBe('/db/été ✓');
    const crlf = await raw(s.url, `/_session?next=${encodeURIComponent('/a\r\nX-Evil: 1')}`, {
      method: 'POST',
      auth: false,
      headers: { 'content-type': 'application/json' },
      body: '{"name":"admin","password":"secret"}',
    });
    expect(crlf.status).toBeLessThan(500);
    expect(crlf.headers['x-evil']).toBeUndefined();
  });
});

describe('CORS', () => {
  const ORIGIN = 'http://app.example:8080';

  it('sends no CORS headers by default', async () => {
    const s = await start();
    const res = await fetch(`${s.url}/_up`, { headers: { origin: ORIGIN } });
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
    expect(res.headers.get('access-control-allow-credentials')).toBeNull();
  });

  it('echoes an allowed origin with credentials and Vary: Origin, never *', async () => {
    const s = await start({ corsOrigins: [ORIGIN, 'capacitor://localhost'] });
    for (const origin of [ORIGIN, 'capacitor://localhost']) {
      const res = await s.fetch('/_all_dbs', { headers: { origin } });
      expect(res.status).toBe(200);
      expect(res.headers.get('access-control-allow-origin')).toBe(origin);
      expect(res.headers.get('access-control-allow-credentials')).toBe('true');
      expect(res.headers.get('vary')).toMatch(/Origin/i);
      expect(res.headers.get('access-control-expose-headers')).toMatch(/etag/);
    }
  });

  it('adds CORS headers to error responses too (a browser must be able to read a 401)', async () => {
    const s = await start({ corsOrigins: [ORIGIN] });
    const res = await fetch(`${s.url}/_all_dbs`, { headers: { origin: ORIGIN } });
    expect(res.status).toBe(401);
    expect(res.headers.get('access-control-allow-origin')).toBe(ORIGIN);
    const missing = await s.fetch('/nope', { headers: { origin: ORIGIN } });
    expect(missing.status).toBe(404);
    expect(missing.headers.get('access-control-allow-origin')).toBe(ORIGIN);
  });

  it('answers a preflight OPTIONS with 204 and no auth, on any path', async () => {
    const s = await start({ corsOrigins: [ORIGIN] });
    for (const path of ['/', '/db/_bulk_docs', '/db/doc/att.bin', '/_session', '/nope/_changes']) {
      const res = await raw(s.url, path, {
        method: 'OPTIONS',
        auth: false,
        headers: {
          origin: ORIGIN,
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'content-type, authorization',
        },
      });
      expect(res.status, path).toBe(204);
      expect(res.body.length).toBe(0);
      expect(res.headers['access-control-allow-origin']).toBe(ORIGIN);
      expect(res.headers['access-control-allow-credentials']).toBe('true');
      expect(res.headers['access-control-allow-methods']).toMatch(/POST/);
      const allowed = String(res.headers['access-control-allow-headers']).toLowerCase();
      for (const header of ['content-type', 'authorization', 'accept', 'if-match'])
        expect(allowed).toContain(header);
    }
  });

  it('gives a disallowed origin no CORS headers, on preflights and requests', async () => {
    const s = await start({ corsOrigins: [ORIGIN] });
    for (const origin of ['http://evil.example', `${ORIGIN}/`, 'null', 'http://app.example:8081']) {
      const preflight = await raw(s.url, '/db', {
        method: 'OPTIONS',
        auth: false,
        headers: { origin, 'access-control-request-method': 'GET' },
      });
      expect(preflight.headers['access-control-allow-origin'], origin).toBeUndefined();
      const res = await s.fetch('/_all_dbs', { headers: { origin } });
      expect(res.headers.get('access-control-allow-origin'), origin).toBeNull();
      expect(res.headers.get('access-control-allow-credentials'), origin).toBeNull();
    }
  });

  it('never answers with a wildcard origin', async () => {
    const s = await start({ corsOrigins: ['*'] });
    const res = await s.fetch('/_all_dbs', { headers: { origin: 'http://any.example' } });
    expect(res.headers.get('access-control-allow-origin')).not.toBe('*');
  });

  it('adds CORS headers to a live feed', async () => {
    const s = await start({ corsOrigins: [ORIGIN] });
    await s.fetch('/db', { method: 'PUT' });
    const res = await s.fetch('/db/_changes?feed=eventsource&timeout=10', { headers: { origin: ORIGIN } });
    expect(res.headers.get('access-control-allow-origin')).toBe(ORIGIN);
    await res.text();
  });
});
