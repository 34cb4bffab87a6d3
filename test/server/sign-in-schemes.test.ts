/**
 * Audit of issue 10, lockout and sign-in: failures of every scheme count (Basic and `_session`
 * together for a user, bad JWTs for their address), a lock ends after its configured duration,
 * and Basic, cookie and JWT sign-ins show the same user context in `GET /_session`.
 */
import http from 'node:http';
import { exportSPKI, generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCKED_REASON } from '../../src/server/auth/lockout.js';
import { BASIC, startServer, type TestServer } from './harness.js';

let t: TestServer;
let signEs256: (claims: Record<string, unknown>, subject: string) => Promise<string>;
let counter = 0;
const fresh = (prefix: string) => `${prefix}${++counter}`;
const JWT_SECRET = 'the shared secret of these tests';

const basic = (name: string, password: string) =>
  `Basic ${Buffer.from(`${name}:${password}`).toString('base64')}`;

beforeAll(async () => {
  const { publicKey, privateKey } = await generateKeyPair('ES256');
  signEs256 = (claims, subject) =>
    new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid: 'idp' }).setSubject(subject).sign(privateKey);
  t = await startServer({
    jwt: {
      hmacSecrets: { _default: JWT_SECRET },
      publicKeys: { idp: await exportSPKI(publicKey) },
      rolesClaimPath: 'realm.roles',
    },
  });
});

afterAll(async () => {
  await t?.stop();
});

interface Answer {
  status: number;
  json: Record<string, unknown>;
  setCookie: string | undefined;
}

/** A request from a chosen local address (lockout counts per address). */
function call(
  server: TestServer,
  method: string,
  path: string,
  options: { headers?: Record<string, string>; body?: unknown; from?: string } = {},
): Promise<Answer> {
  const url = new URL(server.url);
  const body = options.body === undefined ? undefined : JSON.stringify(options.body);
  const headers = {
    ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    ...options.headers,
  };
  return new Promise((resolve, reject) => {
    const request = http.request(
      {
        host: url.hostname,
        port: url.port,
        method,
        path,
        localAddress: options.from ?? '127.0.0.1',
        agent: false,
        headers,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const cookie = res.headers['set-cookie']?.[0];
          resolve({
            status: res.statusCode ?? 0,
            json: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>,
            setCookie: cookie,
          });
        });
      },
    );
    request.on('error', reject);
    request.end(body);
  });
}

async function createUser(server: TestServer, name: string, password: string, roles: string[] = []) {
  const res = await call(server, 'PUT', `/_users/org.couchdb.user:${name}`, {
    headers: { authorization: BASIC },
    body: { name, type: 'user', roles, password },
  });
  expect(res.status, JSON.stringify(res.json)).toBe(201);
}

const session = (server: TestServer, headers: Record<string, string>, from?: string) =>
  call(server, 'GET', '/_session', { headers, ...(from ? { from } : {}) });
const login = (server: TestServer, name: string, password: string, from?: string) =>
  call(server, 'POST', '/_session', { body: { name, password }, ...(from ? { from } : {}) });

describe('lockout counts the failures of every scheme', () => {
  // CouchDB: src/couch/src/couch_auth_lockout.erl counts failures per {Peer, UserName, UserSalt}
  // (lockout/3) and refuses at `[chttpd_auth_lockout] threshold`, 5 by default
  // (lockout_threshold/0); its 403 reason is the one LOCKED_REASON holds.
  it('Basic and POST /_session failures of one user add up, and lock both ways in', async () => {
    const name = fresh('mixed');
    await createUser(t, name, 'right');
    for (let i = 0; i < 3; i++)
      expect((await session(t, { authorization: basic(name, 'wrong') })).status).toBe(401);
    for (let i = 0; i < 2; i++) expect((await login(t, name, 'wrong')).status).toBe(401);
    const viaLogin = await login(t, name, 'right');
    expect(viaLogin.status).toBe(403);
    expect(viaLogin.json).toEqual({ error: 'forbidden', reason: LOCKED_REASON });
    expect(viaLogin.setCookie).toBeUndefined();
    expect((await session(t, { authorization: basic(name, 'right') })).status).toBe(403);
    // Another user from the same address, and the same user from another address, sign in.
    expect((await session(t, { authorization: BASIC })).status).toBe(200);
    expect((await login(t, name, 'right', '127.0.0.2')).status).toBe(200);
  });

  it('bad JWTs lock JWTs out of their address, not Basic users nor other addresses', async () => {
    const from = '127.0.0.3';
    const forged = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('anyone')
      .sign(new TextEncoder().encode('not the server secret'));
    for (let i = 0; i < 5; i++) {
      expect((await session(t, { authorization: `Bearer ${forged}` }, from)).status).toBe(401);
    }
    const valid = `Bearer ${await signEs256({}, fresh('jwt'))}`;
    const locked = await session(t, { authorization: valid }, from);
    expect(locked.status).toBe(403);
    expect(locked.json.reason).toBe(LOCKED_REASON);
    expect((await session(t, { authorization: valid }, '127.0.0.4')).status).toBe(200);
    expect((await session(t, { authorization: BASIC }, from)).status).toBe(200);
  });

  it('a lock ends after the configured duration', async () => {
    const quick = await startServer({ lockout: { threshold: 2, durationMs: 300 } });
    try {
      const name = fresh('brief');
      await createUser(quick, name, 'right');
      for (let i = 0; i < 2; i++) expect((await login(quick, name, 'wrong')).status).toBe(401);
      expect((await login(quick, name, 'right')).status).toBe(403);
      await expect
        .poll(async () => (await login(quick, name, 'right')).status, { timeout: 10_000 })
        .toBe(200);
    } finally {
      await quick.stop();
    }
  });
});

describe('one user context, however a user signs in', () => {
  it('Basic, the AuthSession cookie and an ES256 JWT with a nested roles claim', async () => {
    const name = fresh('same');
    await createUser(t, name, 'pw', ['till', 'shop-7']);
    const expected = { name, roles: ['till', 'shop-7'] };
    const viaBasic = await session(t, { authorization: basic(name, 'pw') });
    const { setCookie } = await login(t, name, 'pw');
    const viaCookie = await session(t, { cookie: setCookie!.split(';')[0]! });
    // CouchDB: src/docs/src/config/auth.rst, `roles_claim_path` — dots nest, and GET /_session
    // answers "authenticated": "jwt" with the roles found there.
    const token = await signEs256({ realm: { roles: ['till', 'shop-7'] } }, name);
    const viaJwt = await session(t, { authorization: `Bearer ${token}` });
    for (const [answer, handler] of [
      [viaBasic, 'default'],
      [viaCookie, 'cookie'],
      [viaJwt, 'jwt'],
    ] as const) {
      expect(answer.status, handler).toBe(200);
      expect(answer.json.userCtx, handler).toEqual(expected);
      expect((answer.json.info as Record<string, unknown>).authenticated, handler).toBe(handler);
    }
  });
});

describe('sessions end when the password changes', () => {
  it('a user who changes their own password with their cookie ends that cookie and their others', async () => {
    const name = fresh('changer');
    await createUser(t, name, 'old');
    const cookie = (await login(t, name, 'old')).setCookie!.split(';')[0]!;
    const other = (await login(t, name, 'old', '127.0.0.2')).setCookie!.split(';')[0]!;
    const own = await call(t, 'GET', `/_users/org.couchdb.user:${name}`, { headers: { cookie } });
    expect(own.status).toBe(200);
    const changed = await call(t, 'PUT', `/_users/org.couchdb.user:${name}`, {
      headers: { cookie },
      body: { ...own.json, password: 'new' },
    });
    expect(changed.status).toBe(201);
    for (const stale of [cookie, other]) {
      const answer = await session(t, { cookie: stale });
      expect(answer.json.userCtx).toEqual({ name: null, roles: [] });
    }
    expect((await session(t, { authorization: basic(name, 'new') })).json.userCtx).toMatchObject({ name });
  });
});
