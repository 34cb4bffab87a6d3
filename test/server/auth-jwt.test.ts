import { createHmac, createPrivateKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import fc from 'fast-check';
import { exportPKCS8, exportSPKI, generateKeyPair, type JWTPayload, SignJWT } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { SetteeError } from '../../src/core/errors.js';
import { type JwtOptions, JwtVerifier, parseBearer, parseClaimPath } from '../../src/server/auth/jwt.js';

const NOW = 1_700_000_000_000;
const NOW_S = NOW / 1000;
const SECRET = 'correct horse battery staple, for HMAC';
const secretBytes = new TextEncoder().encode(SECRET);
const BASE64URL_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

interface Pair {
  /** A KeyObject, not a CryptoKey: a CryptoKey signs with the one algorithm it was made for. */
  privateKey: KeyObject;
  /** The public key, SPKI PEM. */
  pem: string;
}

async function pair(alg: string): Promise<Pair> {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
  return { privateKey: createPrivateKey(await exportPKCS8(privateKey)), pem: await exportSPKI(publicKey) };
}

let rsa: Pair;
let ec256: Pair;
let ec384: Pair;

beforeAll(async () => {
  [rsa, ec256, ec384] = await Promise.all([pair('RS256'), pair('ES256'), pair('ES384')]);
});

const b64 = (value: unknown) =>
  Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

/** Signs any header and payload with HMAC by hand, with any bytes as the key. */
function hmacToken(header: unknown, payload: unknown, key: string | Uint8Array = SECRET): string {
  const input = `${b64(header)}.${b64(payload)}`;
  return `${input}.${createHmac('sha256', key).update(input).digest('base64url')}`;
}

async function sign(
  payload: JWTPayload,
  key: KeyObject | Uint8Array,
  header: { alg: string; kid?: string },
): Promise<string> {
  return new SignJWT(payload).setProtectedHeader(header).sign(key);
}

const claims = (extra: JWTPayload = {}): JWTPayload => ({ sub: 'alice', exp: NOW_S + 3600, ...extra });

function verifier(options: Partial<JwtOptions>): Promise<JwtVerifier> {
  return JwtVerifier.create({ now: () => NOW, ...options });
}

/** The error a verification fails with (the test fails when it does not). */
async function refusal(promise: Promise<unknown>): Promise<SetteeError> {
  const outcome = await promise.then(
    () => new Error('accepted'),
    (err: unknown) => err,
  );
  expect(outcome).toBeInstanceOf(SetteeError);
  expect((outcome as SetteeError).error).toBe('unauthorized');
  expect((outcome as SetteeError).status).toBe(401);
  return outcome as SetteeError;
}

describe('parseBearer', () => {
  it('takes one token after a case-insensitive Bearer scheme', () => {
    expect(parseBearer('Bearer abc.def.ghi')).toBe('abc.def.ghi');
    expect(parseBearer('bearer  abc.def-_~+/=')).toBe('abc.def-_~+/=');
    expect(parseBearer('  BEARER x ')).toBe('x');
  });

  it('refuses other schemes, no token, several tokens and odd characters', () => {
    for (const header of [
      undefined,
      '',
      'Bearer',
      'Bearer ',
      'Basic abc',
      'Bearer a b',
      'Bearer a,b',
      'Bearerabc',
    ]) {
      expect(parseBearer(header)).toBeUndefined();
    }
  });
});

describe('parseClaimPath', () => {
  it('splits at dots and keeps escaped dots, as CouchDB', () => {
    expect(parseClaimPath('_couchdb.roles')).toEqual(['_couchdb', 'roles']);
    expect(parseClaimPath('_couchdb\\.roles')).toEqual(['_couchdb.roles']);
    expect(parseClaimPath('foo.bar\\.zonk.baz\\.buu.roles')).toEqual(['foo', 'bar.zonk', 'baz.buu', 'roles']);
  });

  it('refuses empty keys', () => {
    for (const path of ['', 'a..b', '.a', 'a.']) expect(() => parseClaimPath(path)).toThrow(/empty key/);
  });
});

describe('JwtVerifier.create', () => {
  it('needs a key', async () => {
    await expect(JwtVerifier.create({})).rejects.toThrow(/at least one key/);
  });

  it('refuses unusable keys, naming the kid but not the key', async () => {
    const small = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({
      type: 'spki',
      format: 'pem',
    });
    const ed = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' });
    const cases: [JwtOptions, RegExp][] = [
      [{ publicKeys: { k: 'not a pem' } }, /"k" is not a PEM public key/],
      [{ publicKeys: { k: String(small) } }, /"k" is an RSA key shorter than 2048 bits/],
      [{ publicKeys: { k: String(ed) } }, /"k" is neither an RSA nor an EC key/],
      [{ hmacSecrets: { k: '' } }, /"k" is empty/],
      [{ hmacSecrets: { k: 'base64:***' } }, /"k" is not valid base64/],
      [{ hmacSecrets: { k: SECRET }, rolesClaimPath: 'a..b' }, /empty key/],
      [{ hmacSecrets: { k: SECRET }, clockToleranceSeconds: -1 }, /clockToleranceSeconds/],
    ];
    for (const [options, message] of cases) {
      const err = await JwtVerifier.create(options).then(
        () => new Error('created'),
        (e: Error) => e,
      );
      expect(err.message).toMatch(message);
      expect(err.message).not.toContain('BEGIN');
    }
  });
});

describe('JwtVerifier.verify', () => {
  it('accepts HS256/384/512 with a raw or base64 secret', async () => {
    const raw = await verifier({ hmacSecrets: { _default: SECRET } });
    const base64 = await verifier({
      hmacSecrets: { _default: `base64:${Buffer.from(SECRET).toString('base64')}` },
    });
    for (const alg of ['HS256', 'HS384', 'HS512']) {
      const token = await sign(claims(), secretBytes, { alg });
      expect(await raw.verify(token)).toEqual({ name: 'alice', roles: [] });
      expect(await base64.verify(token)).toEqual({ name: 'alice', roles: [] });
    }
  });

  it('accepts RS256 and PS256 with an RSA key, ES256 with a P-256 key', async () => {
    const jwt = await verifier({ publicKeys: { r: rsa.pem, e: ec256.pem } });
    for (const alg of ['RS256', 'RS512', 'PS256']) {
      expect(await jwt.verify(await sign(claims(), rsa.privateKey, { alg, kid: 'r' }))).toMatchObject({
        name: 'alice',
      });
    }
    expect(
      await jwt.verify(await sign(claims(), ec256.privateKey, { alg: 'ES256', kid: 'e' })),
    ).toMatchObject({
      name: 'alice',
    });
  });

  it('picks the key by kid, _default without one; an unknown kid fails', async () => {
    const jwt = await verifier({ hmacSecrets: { a: 'secret a', b: 'secret b', _default: SECRET } });
    const withKey = (secret: string, kid?: string) =>
      sign(
        claims(),
        new TextEncoder().encode(secret),
        kid === undefined ? { alg: 'HS256' } : { alg: 'HS256', kid },
      );
    expect((await jwt.verify(await withKey('secret a', 'a'))).name).toBe('alice');
    expect((await jwt.verify(await withKey('secret b', 'b'))).name).toBe('alice');
    expect((await jwt.verify(await withKey(SECRET))).name).toBe('alice');
    expect((await refusal(jwt.verify(await withKey('secret a', 'b')))).reason).toMatch(
      /signature is invalid/,
    );
    expect((await refusal(jwt.verify(await withKey('secret a', 'c')))).reason).toMatch(/key id is not known/);
    const noDefault = await verifier({ hmacSecrets: { a: 'secret a' } });
    expect((await refusal(noDefault.verify(await withKey('secret a')))).reason).toMatch(
      /key id is not known/,
    );
  });

  it('lets an HMAC secret and a public key share a kid, told apart by alg', async () => {
    const jwt = await verifier({ hmacSecrets: { k: SECRET }, publicKeys: { k: rsa.pem } });
    expect((await jwt.verify(await sign(claims(), secretBytes, { alg: 'HS256', kid: 'k' }))).name).toBe(
      'alice',
    );
    expect((await jwt.verify(await sign(claims(), rsa.privateKey, { alg: 'RS256', kid: 'k' }))).name).toBe(
      'alice',
    );
  });

  it('refuses an alg that does not fit the key: curve, family', async () => {
    const jwt = await verifier({ publicKeys: { _default: ec256.pem } });
    const es384 = await sign(claims(), ec384.privateKey, { alg: 'ES384' });
    expect((await refusal(jwt.verify(es384))).reason).toBe('Token algorithm ES384 does not fit its key');
    const rs = await sign(claims(), rsa.privateKey, { alg: 'RS256' });
    expect((await refusal(jwt.verify(rs))).reason).toMatch(/does not fit its key/);
  });

  it('refuses an HS256 token signed with the RSA public key as its secret (algorithm confusion)', async () => {
    const forged = hmacToken(
      { alg: 'HS256', typ: 'JWT' },
      claims({ sub: 'admin', '_couchdb.roles': ['_admin'] }),
      rsa.pem,
    );
    // The forgery is sound: a verifier that used the PEM as an HMAC secret would take it.
    const confused = await verifier({ hmacSecrets: { _default: rsa.pem } });
    expect((await confused.verify(forged)).roles).toEqual(['_admin']);

    const jwt = await verifier({ publicKeys: { _default: rsa.pem } });
    expect((await refusal(jwt.verify(forged))).reason).toBe('Token algorithm HS256 does not fit its key');
  });

  it('refuses alg "none", crafted by hand', async () => {
    const jwt = await verifier({ hmacSecrets: { _default: SECRET }, publicKeys: { r: rsa.pem } });
    for (const alg of ['none', 'None', 'NONE']) {
      for (const signature of ['', 'e30']) {
        const token = `${b64({ alg, typ: 'JWT' })}.${b64(claims())}.${signature}`;
        expect((await refusal(jwt.verify(token))).reason).toMatch(/not allowed|not supported/);
      }
    }
  });

  it('refuses a wrong signature and non-canonical signature encodings', async () => {
    const jwt = await verifier({ hmacSecrets: { _default: SECRET } });
    const other = await sign(claims(), new TextEncoder().encode('another secret'), { alg: 'HS256' });
    expect((await refusal(jwt.verify(other))).reason).toBe('Token signature is invalid');

    const token = await sign(claims(), secretBytes, { alg: 'HS256' });
    expect((await jwt.verify(token)).name).toBe('alice');
    // 32 bytes take 43 base64url characters; the last one's two low bits are unused.
    const last = BASE64URL_ALPHABET.indexOf(token.at(-1)!);
    const twin = `${token.slice(0, -1)}${BASE64URL_ALPHABET[last ^ 1]}`;
    const spaced = `${token.slice(0, -4)} ${token.slice(-4)}`;
    for (const variant of [twin, spaced, `${token}=`]) {
      expect((await refusal(jwt.verify(variant))).reason).toBe('Token signature is malformed');
    }
  });

  it('checks exp and nbf against the clock, with the tolerance', async () => {
    const jwt = await verifier({ hmacSecrets: { _default: SECRET } });
    const at = (payload: JWTPayload) => sign(payload, secretBytes, { alg: 'HS256' });
    expect((await refusal(jwt.verify(await at(claims({ exp: NOW_S - 1 }))))).reason).toBe(
      'Token has expired',
    );
    expect((await refusal(jwt.verify(await at(claims({ exp: NOW_S }))))).reason).toBe('Token has expired');
    expect((await refusal(jwt.verify(await at(claims({ nbf: NOW_S + 60 }))))).reason).toBe(
      'Token is not valid yet',
    );
    const stringExp = hmacToken({ alg: 'HS256' }, { sub: 'alice', exp: 'soon' });
    expect((await refusal(jwt.verify(stringExp))).reason).toBe('Token claim "exp" is invalid');
    expect((await jwt.verify(await at(claims({ nbf: NOW_S })))).name).toBe('alice');

    const lenient = await verifier({ hmacSecrets: { _default: SECRET }, clockToleranceSeconds: 30 });
    expect((await lenient.verify(await at(claims({ exp: NOW_S - 10 })))).name).toBe('alice');
    expect((await lenient.verify(await at(claims({ nbf: NOW_S + 10 })))).name).toBe('alice');
  });

  it('enforces required claims', async () => {
    const jwt = await verifier({ hmacSecrets: { _default: SECRET }, requiredClaims: ['exp', 'iat'] });
    const noExp = await sign({ sub: 'alice', iat: NOW_S }, secretBytes, { alg: 'HS256' });
    expect((await refusal(jwt.verify(noExp))).reason).toBe('Token is missing the required claim "exp"');
    const both = await sign(claims({ iat: NOW_S }), secretBytes, { alg: 'HS256' });
    expect((await jwt.verify(both)).name).toBe('alice');
  });

  it('needs a non-empty string sub', async () => {
    const jwt = await verifier({ hmacSecrets: { _default: SECRET } });
    for (const sub of [undefined, '', 42, ['alice']]) {
      const token = hmacToken({ alg: 'HS256' }, { exp: NOW_S + 60, ...(sub === undefined ? {} : { sub }) });
      expect((await refusal(jwt.verify(token))).reason).toBe('Token missing sub claim.');
    }
  });

  it('reads roles at the claim path: CouchDB default, nested, escaped dot', async () => {
    const token = (payload: JWTPayload) => sign(claims(payload), secretBytes, { alg: 'HS256' });
    const byDefault = await verifier({ hmacSecrets: { _default: SECRET } });
    expect((await byDefault.verify(await token({ '_couchdb.roles': ['a', 'b'] }))).roles).toEqual(['a', 'b']);
    // CouchDB's default names one top-level claim; a nested `_couchdb.roles` is not it.
    expect((await byDefault.verify(await token({ _couchdb: { roles: ['a'] } }))).roles).toEqual([]);

    const nested = await verifier({ hmacSecrets: { _default: SECRET }, rolesClaimPath: 'my.nested.roles' });
    expect((await nested.verify(await token({ my: { nested: { roles: ['x'] } } }))).roles).toEqual(['x']);

    const escaped = await verifier({
      hmacSecrets: { _default: SECRET },
      rolesClaimPath: 'foo.bar\\.zonk.roles',
    });
    expect((await escaped.verify(await token({ foo: { 'bar.zonk': { roles: ['y'] } } }))).roles).toEqual([
      'y',
    ]);
    expect((await escaped.verify(await token({ foo: { bar: { zonk: { roles: ['y'] } } } }))).roles).toEqual(
      [],
    );
  });

  it('gives no roles when the path leads nowhere, refuses roles that are not strings', async () => {
    const token = (payload: JWTPayload) => sign(claims(payload), secretBytes, { alg: 'HS256' });
    const jwt = await verifier({ hmacSecrets: { _default: SECRET }, rolesClaimPath: 'app.roles' });
    for (const absent of [{}, { app: 'x' }, { app: ['roles'] }, { app: {} }]) {
      expect((await jwt.verify(await token(absent))).roles).toEqual([]);
    }
    for (const bad of [{ app: { roles: 'admin' } }, { app: { roles: [1] } }, { app: { roles: null } }]) {
      expect((await refusal(jwt.verify(await token(bad)))).reason).toBe(
        'Token roles claim is not an array of strings',
      );
    }
    // Only own properties are followed: a path cannot reach Object.prototype.
    const proto = await verifier({ hmacSecrets: { _default: SECRET }, rolesClaimPath: 'constructor' });
    expect((await proto.verify(await token({}))).roles).toEqual([]);
  });

  describe('property: nothing but the valid token passes, and every refusal is unauthorized', () => {
    let jwt: JwtVerifier;
    let valid: string;

    beforeAll(async () => {
      jwt = await verifier({
        hmacSecrets: { _default: SECRET },
        publicKeys: { rsa: rsa.pem, ec: ec256.pem },
      });
      valid = await sign(claims({ '_couchdb.roles': ['r'] }), secretBytes, { alg: 'HS256' });
    });

    /** `"accepted"`, or the refusal's reason; any other error fails the property. */
    async function outcome(token: string): Promise<string> {
      try {
        await jwt.verify(token);
        return 'accepted';
      } catch (err) {
        if (!(err instanceof SetteeError) || err.error !== 'unauthorized') throw err;
        expect(err.reason).not.toContain(SECRET);
        expect(err.reason).not.toContain('BEGIN');
        return err.reason;
      }
    }

    const base64urlChar = fc.constantFrom(...`${BASE64URL_ALPHABET}.= `.split(''));
    const algName = fc.constantFrom(
      'none',
      'HS256',
      'HS384',
      'HS512',
      'RS256',
      'PS256',
      'ES256',
      'ES384',
      'EdDSA',
      '',
    );

    /** Arbitrary strings and mutations of `token`, as the strings they make (so failures show them). */
    function mutantsOf(token: string): fc.Arbitrary<string> {
      const [header = '', payload = '', signature = ''] = token.split('.');
      const parts = [header, payload, signature];
      return fc.oneof(
        fc.string({ unit: 'binary', maxLength: 200 }),
        fc
          .tuple(fc.nat(token.length - 1), base64urlChar)
          .map(([i, char]) => token.slice(0, i) + char + token.slice(i + 1)),
        fc
          .tuple(fc.nat(token.length), fc.constantFrom(' ', '\n', '\t', '=', '.'))
          .map(([i, char]) => token.slice(0, i) + char + token.slice(i)),
        // Other values for the last character's unused low bits: the same signature bytes.
        fc.integer({ min: 1, max: 63 }).map((bits) => {
          const last = BASE64URL_ALPHABET.indexOf(token.at(-1)!);
          return token.slice(0, -1) + BASE64URL_ALPHABET[last ^ bits];
        }),
        fc
          .constantFrom([1, 0, 2], [0, 2, 1], [2, 1, 0], [1, 2, 0], [2, 0, 1])
          .map((order) => order.map((i) => parts[i]).join('.')),
        fc
          .record({
            alg: algName,
            kid: fc.option(fc.constantFrom('_default', 'rsa', 'ec', 'nope'), { nil: undefined }),
          })
          .map((h) => `${b64(h)}.${payload}.${signature}`),
        fc.jsonValue().map((h) => `${b64(h)}.${payload}.${signature}`),
        fc.nat(token.length - 1).map((n) => token.slice(0, n)),
        fc.string({ maxLength: 8 }).map((tail) => token + tail),
      );
    }

    it('mutated or arbitrary tokens are refused unless they are exactly the valid one', async () => {
      expect(await outcome(valid)).toBe('accepted');
      await fc.assert(
        fc.asyncProperty(mutantsOf(valid), async (token) => {
          const result = await outcome(token);
          if (token === valid) expect(result).toBe('accepted');
          else expect(result).not.toBe('accepted');
        }),
        { numRuns: 400 },
      );
    });

    it('validly signed arbitrary claims are accepted only with a string sub, else refused as unauthorized', async () => {
      await fc.assert(
        fc.asyncProperty(fc.jsonValue(), fc.option(fc.string(), { nil: undefined }), async (value, sub) => {
          const payload =
            typeof value === 'object' && value !== null && !Array.isArray(value)
              ? { ...value, ...(sub === undefined ? {} : { sub }) }
              : value;
          const result = await outcome(hmacToken({ alg: 'HS256' }, payload));
          if (result === 'accepted') {
            expect(typeof (payload as { sub?: unknown }).sub).toBe('string');
          }
        }),
        { numRuns: 200 },
      );
    });
  });
});
