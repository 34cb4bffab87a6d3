/**
 * Hostile credentials against a real server: malformed Basic headers, forged or mangled cookies,
 * bad JWTs (bad signatures, `alg: none`, a key of the wrong type, expired). None may authenticate
 * anyone, and none may make the server answer 500.
 */
import fc from 'fast-check';
import { exportSPKI, generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN, startServer, type TestServer } from './harness.js';

const SECRET = 'the server-side HMAC secret for tokens';
let t: TestServer;
let validCookie = '';
let validToken = '';
let rsaPublicPem = '';

beforeAll(async () => {
  const { publicKey, privateKey } = await generateKeyPair('RS256', { extractable: true });
  rsaPublicPem = await exportSPKI(publicKey);
  t = await startServer({
    jwt: { hmacSecrets: { _default: SECRET }, publicKeys: { rsa: rsaPublicPem } },
    // Every attempt below fails: lockout would turn 401s into 403s, which is not under test here.
    lockout: { threshold: 1_000_000 },
  });
  const res = await fetch(`${t.url}/_session`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(ADMIN),
  });
  validCookie = res.headers.get('set-cookie')!.split(';')[0]!.slice('AuthSession='.length);
  validToken = await new SignJWT({})
    .setProtectedHeader({ alg: 'RS256', kid: 'rsa' })
    .setSubject('admin')
    .setExpirationTime('1h')
    .sign(privateKey);
});

afterAll(async () => {
  await t?.stop();
});

/** `GET /_session` with these headers: its status and who it says the caller is. */
async function session(headers: Record<string, string>): Promise<{ status: number; name: unknown }> {
  const res = await fetch(`${t.url}/_session`, { headers });
  const body = (await res.json()) as { userCtx?: { name?: unknown } };
  return { status: res.status, name: body.userCtx?.name ?? null };
}

function expectNobody(outcome: { status: number; name: unknown }, label: string): void {
  expect(outcome.status, label).toBeLessThan(500);
  expect([200, 401, 403], label).toContain(outcome.status);
  expect(outcome.name, label).toBeNull();
}

const b64url = (value: string | Uint8Array) => Buffer.from(value).toString('base64url');

/** A token with any header and payload, and any signature bytes. */
const craftedToken = fc
  .record({
    alg: fc.constantFrom('none', 'HS256', 'RS256', 'ES256', 'HS512', 'PS256', 'xx'),
    kid: fc.option(fc.constantFrom('rsa', '_default', 'nope', '../etc'), { nil: undefined }),
    sub: fc.option(fc.string(), { nil: undefined }),
    exp: fc.option(fc.integer({ min: -10, max: 2_000_000_000 }), { nil: undefined }),
    signature: fc.uint8Array({ maxLength: 64 }),
  })
  .map(({ alg, kid, sub, exp, signature }) =>
    [
      b64url(JSON.stringify({ alg, ...(kid === undefined ? {} : { kid }) })),
      b64url(JSON.stringify({ sub, exp, _couchdb: { roles: ['_admin'] } })),
      b64url(signature),
    ].join('.'),
  );

describe('hostile credentials never authenticate and never crash the server', () => {
  it('malformed Basic headers', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.string(),
          fc.string().map((s) => `Basic ${s}`),
          fc.string().map((s) => `Basic ${Buffer.from(s).toString('base64')}`),
          fc
            .tuple(fc.string(), fc.string())
            .map(([n, p]) => `Basic ${Buffer.from(`${n}:${p}`).toString('base64')}`),
          fc.string().map((s) => `Basic ${Buffer.from(`admin:${s}`).toString('base64')}`),
        ),
        async (header) => {
          if (header === `Basic ${Buffer.from(`${ADMIN.name}:${ADMIN.password}`).toString('base64')}`) return;
          let outcome;
          try {
            outcome = await session({ authorization: header });
          } catch (error) {
            // fetch itself refuses header values with control characters: nothing reached the server.
            if (error instanceof TypeError) return;
            throw error;
          }
          expectNobody(outcome, header);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('forged and mangled cookies', async () => {
    const mangled = fc
      .tuple(fc.nat({ max: validCookie.length - 1 }), fc.constantFrom('A', 'b', '_', '-', '0'))
      .map(([at, char]) => validCookie.slice(0, at) + char + validCookie.slice(at + 1))
      .filter((cookie) => cookie !== validCookie);
    const forged = fc
      .tuple(fc.string(), fc.stringMatching(/^[0-9A-F]{0,10}$/), fc.uint8Array({ maxLength: 40 }))
      .map(([name, time, mac]) =>
        Buffer.concat([Buffer.from(`${name}:${time}:`), Buffer.from(mac)]).toString('base64url'),
      );
    await fc.assert(
      fc.asyncProperty(fc.oneof(mangled, forged, fc.string()), async (value) => {
        let outcome;
        try {
          outcome = await session({ cookie: `AuthSession=${value}` });
        } catch (error) {
          if (error instanceof TypeError) return;
          throw error;
        }
        expectNobody(outcome, value);
      }),
      { numRuns: 150 },
    );
    // The property holds for a reason: the real cookie does authenticate.
    expect((await session({ cookie: `AuthSession=${validCookie}` })).name).toBe(ADMIN.name);
  });

  it('bad JWTs: forged signatures, alg none, the wrong key type, expired', async () => {
    const mangled = fc
      .tuple(fc.nat({ max: validToken.length - 1 }), fc.constantFrom('A', 'b', '_', '-', '0'))
      .map(([at, char]) => validToken.slice(0, at) + char + validToken.slice(at + 1))
      .filter((token) => token !== validToken);
    await fc.assert(
      fc.asyncProperty(fc.oneof(craftedToken, mangled, fc.string()), async (token) => {
        let outcome;
        try {
          outcome = await session({ authorization: `Bearer ${token}` });
        } catch (error) {
          if (error instanceof TypeError) return;
          throw error;
        }
        expectNobody(outcome, token);
      }),
      { numRuns: 150 },
    );
    const confused = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256', kid: 'rsa' })
      .setSubject('admin')
      .sign(new TextEncoder().encode(rsaPublicPem));
    expectNobody(
      await session({ authorization: `Bearer ${confused}` }),
      'HS256 signed with the RSA public key',
    );
    const expired = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('admin')
      .setExpirationTime(Math.floor(Date.now() / 1000) - 60)
      .sign(new TextEncoder().encode(SECRET));
    expectNobody(await session({ authorization: `Bearer ${expired}` }), 'expired');
    // And the real token does authenticate.
    expect((await session({ authorization: `Bearer ${validToken}` })).name).toBe('admin');
  });
});
