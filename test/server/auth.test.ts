import { pbkdf2Sync } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { SetteeError } from '../../src/core/errors.js';
import {
  Auth,
  type AuthOptions,
  hashAdminPassword,
  parseBasicAuth,
  parseCookies,
  verifyAdminPassword,
} from '../../src/server/auth/index.js';

const ITER = 1000;
const dirs: string[] = [];

afterEach(() => {
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'settee-auth-'));
  dirs.push(dir);
  return dir;
}

const authFile = (dir: string) => path.join(dir, '_settee', 'auth.json');
const readAuthFile = (dir: string) => JSON.parse(fs.readFileSync(authFile(dir), 'utf8'));

function basic(name: string, password: string): string {
  return `Basic ${Buffer.from(`${name}:${password}`).toString('base64')}`;
}

/** `AuthSession=<token>; …` → the `AuthSession=<token>` pair a browser sends back. */
function cookiePair(setCookie: string): string {
  return setCookie.split(';')[0]!;
}

function tokenOf(setCookie: string): string {
  return cookiePair(setCookie).slice('AuthSession='.length);
}

/** A controllable clock in milliseconds. */
function clock(start = 1_700_000_000_000) {
  let now = start;
  return {
    now: () => now,
    advance(seconds: number) {
      now += seconds * 1000;
    },
  };
}

async function open(dir: string, options: AuthOptions = {}): Promise<Auth> {
  return Auth.open(dir, { iterations: ITER, log: () => undefined, ...options });
}

async function rejection(promise: Promise<unknown>): Promise<SetteeError> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(SetteeError);
    return err as SetteeError;
  }
  throw new Error('expected a rejection');
}

async function expectUnauthorized(promise: Promise<unknown>): Promise<void> {
  const err = await rejection(promise);
  expect(err.error).toBe('unauthorized');
  expect(err.status).toBe(401);
  expect(err.reason).toBe('Name or password is incorrect.');
}

describe('hashAdminPassword / verifyAdminPassword', () => {
  it("produces CouchDB 3.4's admin hash format", async () => {
    const hash = await hashAdminPassword('secret', ITER);
    expect(hash).toMatch(/^-pbkdf2:sha256-[0-9a-f]{64},[0-9a-f]{32},1000$/);
  });

  it('defaults to 600000 iterations', async () => {
    const hash = await hashAdminPassword('secret');
    expect(hash.endsWith(',600000')).toBe(true);
  });

  it('derives the key from the salt string as CouchDB does', async () => {
    const hash = await hashAdminPassword('p@ss', ITER);
    const [, derived, salt] = /^-pbkdf2:sha256-([0-9a-f]+),([0-9a-f]+),/.exec(hash)!;
    expect(pbkdf2Sync('p@ss', salt!, ITER, 32, 'sha256').toString('hex')).toBe(derived);
  });

  it('uses a fresh salt for every hash', async () => {
    expect(await hashAdminPassword('same', ITER)).not.toBe(await hashAdminPassword('same', ITER));
  });

  it('verifies the right password and rejects a wrong one', async () => {
    const hash = await hashAdminPassword('correct horse', ITER);
    expect(await verifyAdminPassword('correct horse', hash)).toBe(true);
    expect(await verifyAdminPassword('correct horse ', hash)).toBe(false);
    expect(await verifyAdminPassword('', hash)).toBe(false);
  });

  it('accepts the older sha1 format', async () => {
    const salt = 'a1b2c3d4e5f60718293a4b5c6d7e8f90';
    const derived = pbkdf2Sync('legacy', salt, 10, 20, 'sha1').toString('hex');
    const hash = `-pbkdf2-${derived},${salt},10`;
    expect(await verifyAdminPassword('legacy', hash)).toBe(true);
    expect(await verifyAdminPassword('Legacy', hash)).toBe(false);
  });

  it('accepts an explicit prf other than sha256', async () => {
    const salt = '00112233445566778899aabbccddeeff';
    const derived = pbkdf2Sync('pw', salt, 5, 64, 'sha512').toString('hex');
    expect(await verifyAdminPassword('pw', `-pbkdf2:sha512-${derived},${salt},5`)).toBe(true);
  });

  it.each([
    ['empty', ''],
    ['plain text', 'secret'],
    ['old -hashed- format', '-hashed-abcdef,salt'],
    ['wrong key length', `-pbkdf2:sha256-${'ab'.repeat(20)},salt,10`],
    ['unknown prf', `-pbkdf2:md5-${'ab'.repeat(16)},salt,10`],
    ['zero iterations', `-pbkdf2:sha256-${'ab'.repeat(32)},salt,0`],
    ['non-hex key', `-pbkdf2:sha256-${'zz'.repeat(32)},salt,10`],
  ])('never matches a malformed hash (%s)', async (_what, hash) => {
    expect(await verifyAdminPassword('secret', hash)).toBe(false);
  });
});

describe('parseBasicAuth', () => {
  it('decodes name and password, splitting at the first colon', () => {
    expect(parseBasicAuth(basic('jan', 'a:b:c'))).toEqual({ name: 'jan', password: 'a:b:c' });
    expect(parseBasicAuth(basic('jan', ''))).toEqual({ name: 'jan', password: '' });
    expect(parseBasicAuth(basic('jän', 'pässword'))).toEqual({ name: 'jän', password: 'pässword' });
  });

  it('accepts the scheme in any case', () => {
    const value = Buffer.from('u:p').toString('base64');
    expect(parseBasicAuth(`basic ${value}`)).toEqual({ name: 'u', password: 'p' });
    expect(parseBasicAuth(`BASIC  ${value} `)).toEqual({ name: 'u', password: 'p' });
  });

  it.each([
    ['missing', undefined],
    ['empty', ''],
    ['another scheme', 'Bearer abc.def'],
    ['no value', 'Basic'],
    ['no value with space', 'Basic '],
    ['bad base64', 'Basic !!!notbase64!!!'],
    ['two values', `Basic ${Buffer.from('a:b').toString('base64')} extra`],
    ['no colon', `Basic ${Buffer.from('justaname').toString('base64')}`],
  ])('returns undefined for %s', (_what, header) => {
    expect(parseBasicAuth(header)).toBeUndefined();
  });
});

describe('parseCookies', () => {
  it('parses pairs, trimming spaces and quotes', () => {
    expect(parseCookies('a=1; b = two ;c="quoted"')).toEqual({ a: '1', b: 'two', c: 'quoted' });
  });

  it('keeps values containing =', () => {
    expect(parseCookies('AuthSession=abc==; x=y')).toEqual({ AuthSession: 'abc==', x: 'y' });
  });

  it('keeps the first of repeated names', () => {
    expect(parseCookies('a=1; a=2')).toEqual({ a: '1' });
  });

  it('decodes percent-encoding and survives broken encodings', () => {
    expect(parseCookies('a=x%20y; b=%E0%A4%A')).toEqual({ a: 'x y', b: '%E0%A4%A' });
  });

  it('skips garbage', () => {
    expect(parseCookies(undefined)).toEqual({});
    expect(parseCookies('')).toEqual({});
    expect(parseCookies(';;; =nameless; novalue; ok=1;')).toEqual({ ok: '1' });
  });

  it('is safe with prototype names', () => {
    const cookies = parseCookies('__proto__=x; constructor=y');
    expect(Object.entries(cookies)).toEqual([
      ['__proto__', 'x'],
      ['constructor', 'y'],
    ]);
    expect(({} as Record<string, unknown>).x).toBeUndefined();
  });
});

describe('Auth.open: admins and the state file', () => {
  it('generates an admin, announces it once and stores only its hash', async () => {
    const dir = tempDir();
    const log = vi.fn();
    const auth = await open(dir, { log });

    expect(log).toHaveBeenCalledTimes(1);
    const message = String(log.mock.calls[0]![0]);
    const password = /password "([A-Za-z0-9_-]{24})"/.exec(message)?.[1];
    expect(password).toBeDefined();
    expect(message).toContain('"admin"');
    expect(message).toMatch(/not be shown again/);
    expect(auth.adminNames).toEqual(['admin']);

    const text = fs.readFileSync(authFile(dir), 'utf8');
    expect(text).not.toContain(password!);
    const stored = JSON.parse(text);
    expect(Object.keys(stored.admins)).toEqual(['admin']);
    expect(stored.admins.admin).toMatch(/^-pbkdf2:sha256-[0-9a-f]{64},[0-9a-f]{32},1000$/);
    expect(await verifyAdminPassword(password!, stored.admins.admin)).toBe(true);
    expect(stored.secret).toMatch(/^[0-9a-f]{64}$/);
    if (process.platform !== 'win32') {
      expect(fs.statSync(authFile(dir)).mode & 0o777).toBe(0o600);
    }

    const result = await auth.authenticate({ authorization: basic('admin', password!) });
    expect(result).toEqual({ userCtx: { name: 'admin', roles: ['_admin'] }, via: 'basic' });
  });

  it('keeps the generated admin and the secret across restarts, without announcing again', async () => {
    const dir = tempDir();
    const log = vi.fn();
    const first = await open(dir, { log });
    const password = /password "([^"]+)"/.exec(String(log.mock.calls[0]![0]))![1]!;
    const { setCookie } = await first.login('admin', password);
    const before = fs.readFileSync(authFile(dir), 'utf8');

    const second = await open(dir, { log });
    expect(log).toHaveBeenCalledTimes(1);
    expect(fs.readFileSync(authFile(dir), 'utf8')).toBe(before);
    expect((await second.authenticate({ authorization: basic('admin', password) })).via).toBe('basic');
    const viaCookie = await second.authenticate({ cookie: cookiePair(setCookie) });
    expect(viaCookie.userCtx).toEqual({ name: 'admin', roles: ['_admin'] });
    expect(viaCookie.via).toBe('cookie');
  });

  it('lets --admin override the stored admin', async () => {
    const dir = tempDir();
    const log = vi.fn();
    const generated = await open(dir, { log });
    const oldPassword = /password "([^"]+)"/.exec(String(log.mock.calls[0]![0]))![1]!;
    const oldSecret = readAuthFile(dir).secret;
    expect(generated.adminNames).toEqual(['admin']);

    const auth = await open(dir, { admin: 'bob:s3cr:et', log });
    expect(log).toHaveBeenCalledTimes(1);
    expect(auth.adminNames).toEqual(['bob']);
    const stored = readAuthFile(dir);
    expect(Object.keys(stored.admins)).toEqual(['bob']);
    expect(stored.secret).toBe(oldSecret);
    expect(JSON.stringify(stored)).not.toContain('s3cr:et');
    expect(await verifyAdminPassword('s3cr:et', stored.admins.bob)).toBe(true);

    const ok = await auth.authenticate({ authorization: basic('bob', 's3cr:et') });
    expect(ok.userCtx).toEqual({ name: 'bob', roles: ['_admin'] });
    await expectUnauthorized(auth.authenticate({ authorization: basic('admin', oldPassword) }));

    // Without --admin the stored one is used from then on.
    const later = await open(dir, { log });
    expect(later.adminNames).toEqual(['bob']);
    expect(log).toHaveBeenCalledTimes(1);
  });

  it('keeps the stored hash when the same --admin is given again, so sessions survive', async () => {
    const dir = tempDir();
    const first = await open(dir, { admin: 'ann:pw' });
    const before = fs.readFileSync(authFile(dir), 'utf8');
    const { setCookie } = await first.login('ann', 'pw');

    const second = await open(dir, { admin: 'ann:pw' });
    expect(fs.readFileSync(authFile(dir), 'utf8')).toBe(before);
    expect((await second.authenticate({ cookie: cookiePair(setCookie) })).via).toBe('cookie');
  });

  it.each([
    ['no colon', 'justaname'],
    ['empty name', ':password'],
    ['empty password', 'name:'],
    ['empty', ''],
  ])('rejects a malformed admin value (%s) with a clear error', async (_what, admin) => {
    const dir = tempDir();
    await expect(open(dir, { admin })).rejects.toThrow(/name:password/);
    expect(fs.existsSync(authFile(dir))).toBe(false);
  });

  it('refuses a corrupt auth file instead of replacing it', async () => {
    const dir = tempDir();
    fs.mkdirSync(path.join(dir, '_settee'));
    fs.writeFileSync(authFile(dir), '{not json');
    await expect(open(dir)).rejects.toThrow(/auth\.json.*not a valid Settee auth file/);
    fs.writeFileSync(authFile(dir), JSON.stringify({ secret: 'x'.repeat(64), admins: { a: 'plain' } }));
    await expect(open(dir)).rejects.toThrow(/bad hash for admin "a"/);
  });

  it('rejects bad numeric options', async () => {
    await expect(open(tempDir(), { sessionTimeoutSeconds: 0 })).rejects.toThrow(RangeError);
    await expect(open(tempDir(), { iterations: 1.5 })).rejects.toThrow(RangeError);
  });
});

describe('Auth.authenticate: Basic', () => {
  it('answers anonymous without credentials', async () => {
    const auth = await open(tempDir(), { admin: 'root:pw' });
    expect(await auth.authenticate({})).toEqual({ userCtx: { name: null, roles: [] }, via: null });
  });

  it('accepts the right credentials', async () => {
    const auth = await open(tempDir(), { admin: 'root:pw' });
    const result = await auth.authenticate({ authorization: basic('root', 'pw') });
    expect(result).toEqual({ userCtx: { name: 'root', roles: ['_admin'] }, via: 'basic' });
    expect(result.setCookie).toBeUndefined();
  });

  it('rejects a wrong password or an unknown name with unauthorized', async () => {
    const auth = await open(tempDir(), { admin: 'root:pw' });
    await expectUnauthorized(auth.authenticate({ authorization: basic('root', 'nope') }));
    await expectUnauthorized(auth.authenticate({ authorization: basic('nobody', 'pw') }));
    await expectUnauthorized(auth.authenticate({ authorization: basic('', 'pw') }));
  });

  it('treats malformed Authorization headers as absent', async () => {
    const auth = await open(tempDir(), { admin: 'root:pw' });
    for (const authorization of ['Basic', 'Basic %%%', 'Bearer token', `Basic ${btoa('nocolon')}`]) {
      expect(await auth.authenticate({ authorization })).toEqual({
        userCtx: { name: null, roles: [] },
        via: null,
      });
    }
  });

  it('lets Basic win over a cookie', async () => {
    const dir = tempDir();
    const auth = await open(dir, { admin: 'root:pw' });
    const { setCookie } = await auth.login('root', 'pw');
    await expectUnauthorized(
      auth.authenticate({ authorization: basic('root', 'wrong'), cookie: cookiePair(setCookie) }),
    );
    const both = await auth.authenticate({ authorization: basic('root', 'pw'), cookie: 'AuthSession=junk' });
    expect(both.via).toBe('basic');
  });

  it('caches successful verifications so repeated Basic auth skips PBKDF2', async () => {
    const dir = tempDir();
    await open(dir, { admin: 'root:pw' });
    const auth = await open(dir); // a fresh process: nothing cached yet
    expect(auth.stats).toEqual({ verifications: 0, cacheHits: 0, cacheSize: 0, failures: 0 });

    await auth.authenticate({ authorization: basic('root', 'pw') });
    expect(auth.stats).toEqual({ verifications: 1, cacheHits: 0, cacheSize: 1, failures: 0 });
    await auth.authenticate({ authorization: basic('root', 'pw') });
    await auth.login('root', 'pw');
    expect(auth.stats).toEqual({ verifications: 1, cacheHits: 2, cacheSize: 1, failures: 0 });

    // Failures are never cached as successes.
    await expectUnauthorized(auth.authenticate({ authorization: basic('root', 'bad') }));
    await expectUnauthorized(auth.authenticate({ authorization: basic('root', 'bad') }));
    expect(auth.stats).toEqual({ verifications: 3, cacheHits: 2, cacheSize: 1, failures: 2 });
  });

  it('shares one PBKDF2 run between concurrent requests with the same credentials', async () => {
    const dir = tempDir();
    await open(dir, { admin: 'root:pw' });
    const auth = await open(dir);
    const results = await Promise.all(
      Array.from({ length: 5 }, () => auth.authenticate({ authorization: basic('root', 'pw') })),
    );
    expect(results.every((r) => r.userCtx.name === 'root')).toBe(true);
    expect(auth.stats.verifications).toBe(1);
  });

  it('is warm right after open with --admin', async () => {
    const auth = await open(tempDir(), { admin: 'root:pw' });
    await auth.authenticate({ authorization: basic('root', 'pw') });
    expect(auth.stats.verifications).toBe(0);
    expect(auth.stats.cacheHits).toBe(1);
  });
});

describe('Auth: cookie sessions', () => {
  it('logs in and issues a CouchDB-shaped AuthSession cookie', async () => {
    const time = clock();
    const auth = await open(tempDir(), { admin: 'root:pw', now: time.now });
    const { userCtx, setCookie } = await auth.login('root', 'pw');
    expect(userCtx).toEqual({ name: 'root', roles: ['_admin'] });
    expect(setCookie).toMatch(
      /^AuthSession=[A-Za-z0-9_-]+; Version=1; Max-Age=600; Path=\/; HttpOnly; SameSite=Lax$/,
    );
    const raw = Buffer.from(tokenOf(setCookie), 'base64url');
    const hexTime = Math.floor(time.now() / 1000)
      .toString(16)
      .toUpperCase();
    expect(raw.subarray(0, `root:${hexTime}:`.length).toString()).toBe(`root:${hexTime}:`);
    expect(raw.length).toBe(`root:${hexTime}:`.length + 32); // raw HMAC-SHA256
  });

  it('rejects bad credentials at login', async () => {
    const auth = await open(tempDir(), { admin: 'root:pw' });
    await expectUnauthorized(auth.login('root', 'PW'));
    await expectUnauthorized(auth.login('ghost', 'pw'));
  });

  it('authenticates with the cookie until it expires', async () => {
    const time = clock();
    const auth = await open(tempDir(), { admin: 'root:pw', now: time.now, sessionTimeoutSeconds: 100 });
    const { setCookie } = await auth.login('root', 'pw');
    const cookie = `other=1; ${cookiePair(setCookie)}`;

    const fresh = await auth.authenticate({ cookie });
    expect(fresh).toEqual({ userCtx: { name: 'root', roles: ['_admin'] }, via: 'cookie' });

    time.advance(99);
    expect((await auth.authenticate({ cookie })).via).toBe('cookie');
    time.advance(1);
    expect(await auth.authenticate({ cookie })).toEqual({ userCtx: { name: null, roles: [] }, via: null });
  });

  it('renews the cookie once 10% of the lifetime has passed', async () => {
    const time = clock();
    const auth = await open(tempDir(), { admin: 'root:pw', now: time.now, sessionTimeoutSeconds: 100 });
    const { setCookie } = await auth.login('root', 'pw');

    time.advance(10);
    const early = await auth.authenticate({ cookie: cookiePair(setCookie) });
    expect(early.via).toBe('cookie');
    expect(early.setCookie).toBeUndefined();

    time.advance(1);
    const renewed = await auth.authenticate({ cookie: cookiePair(setCookie) });
    expect(renewed.via).toBe('cookie');
    expect(renewed.setCookie).toMatch(/^AuthSession=[A-Za-z0-9_-]+; Version=1; Max-Age=100;/);
    expect(tokenOf(renewed.setCookie!)).not.toBe(tokenOf(setCookie));

    // The renewed cookie outlives the original one.
    time.advance(95);
    expect((await auth.authenticate({ cookie: cookiePair(setCookie) })).via).toBeNull();
    const later = await auth.authenticate({ cookie: cookiePair(renewed.setCookie!) });
    expect(later.via).toBe('cookie');
  });

  it('ignores tampered or garbage tokens', async () => {
    const time = clock();
    const dir = tempDir();
    const auth = await open(dir, { admin: 'root:pw', now: time.now });
    await open(dir, { admin: 'root:pw' }); // same file; nothing changes
    const token = tokenOf((await auth.login('root', 'pw')).setCookie);
    const raw = Buffer.from(token, 'base64url');
    const anonymous = { userCtx: { name: null, roles: [] }, via: null };

    const flipped = Buffer.from(raw);
    flipped[flipped.length - 1]! ^= 1;
    const macPart = raw.subarray(raw.indexOf(0x3a, 5) + 1);
    const hexTime = raw.subarray(5, raw.indexOf(0x3a, 5)).toString();
    const extended = Buffer.concat([
      Buffer.from(`root:${(Number.parseInt(hexTime, 16) + 10_000).toString(16).toUpperCase()}:`),
      macPart,
    ]);
    const renamed = Buffer.concat([Buffer.from(`toor:${hexTime}:`), macPart]);

    for (const bad of [
      flipped.toString('base64url'),
      extended.toString('base64url'),
      renamed.toString('base64url'),
      token.slice(0, -4),
      'garbage',
      '!!!',
      Buffer.from('root:zz:abc').toString('base64url'),
      Buffer.from('root').toString('base64url'),
      '',
    ]) {
      expect(await auth.authenticate({ cookie: `AuthSession=${bad}` })).toEqual(anonymous);
    }
    expect((await auth.authenticate({ cookie: `AuthSession=${token}` })).via).toBe('cookie');
  });

  it('does not accept a cookie signed with another secret', async () => {
    const a = await open(tempDir(), { admin: 'root:pw' });
    const b = await open(tempDir(), { admin: 'root:pw' });
    const { setCookie } = await a.login('root', 'pw');
    expect((await b.authenticate({ cookie: cookiePair(setCookie) })).via).toBeNull();
  });

  it('invalidates old cookies when the password changes', async () => {
    const dir = tempDir();
    const before = await open(dir, { admin: 'root:old' });
    const { setCookie } = await before.login('root', 'old');
    expect((await before.authenticate({ cookie: cookiePair(setCookie) })).via).toBe('cookie');

    const after = await open(dir, { admin: 'root:new' });
    expect((await after.authenticate({ cookie: cookiePair(setCookie) })).via).toBeNull();
    await expectUnauthorized(after.login('root', 'old'));
    const fresh = await after.login('root', 'new');
    expect((await after.authenticate({ cookie: cookiePair(fresh.setCookie) })).via).toBe('cookie');
  });

  it('clears the cookie on logout, and ends the sessions of the user who logs out', async () => {
    const auth = await open(tempDir(), { admin: 'root:pw' });
    const { setCookie, userCtx } = await auth.login('root', 'pw');
    expect((await auth.authenticate({ cookie: cookiePair(setCookie) })).via).toBe('cookie');
    const clear = await auth.logout(userCtx);
    // The old cookie, kept by an attacker or another tab, no longer works.
    expect((await auth.authenticate({ cookie: cookiePair(setCookie) })).via).toBeNull();
    expect(clear).toMatch(/^AuthSession=; Version=1;/);
    expect(clear).toContain('Max-Age=0');
    expect(clear).toContain('Path=/');
    expect(parseCookies(cookiePair(clear)).AuthSession).toBe('');
    expect((await auth.authenticate({ cookie: cookiePair(clear) })).via).toBeNull();
  });
});

describe('server admins', () => {
  it('have the _admin role, and nobody else does', async () => {
    const auth = await open(tempDir(), { admin: 'root:pw' });
    expect((await auth.authenticate({ authorization: basic('root', 'pw') })).userCtx).toEqual({
      name: 'root',
      roles: ['_admin'],
    });
    expect((await auth.authenticate({})).userCtx.roles).toEqual([]);
  });
});
