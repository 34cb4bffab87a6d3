/**
 * Audit of issue 10: "Verified credentials are cached (bounded, keyed by a hash of the
 * credentials, dropped when the user document changes)". Checked on a real server through its
 * own counters: PBKDF2 runs (`verifications`) and cache hits.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BASIC, startServer, type TestServer } from './harness.js';

let t: TestServer;

beforeAll(async () => {
  // One iteration: this file counts hashes, it does not need them slow.
  t = await startServer({ passwordIterations: 1 });
});

afterAll(async () => {
  await t?.stop();
});

const stats = () => t.server.services.auth.stats;
const basic = (name: string, password: string) =>
  `Basic ${Buffer.from(`${name}:${password}`).toString('base64')}`;

async function sessionOf(authorization: string): Promise<{ status: number; userCtx: unknown }> {
  const res = await fetch(`${t.url}/_session`, { headers: { authorization } });
  return { status: res.status, userCtx: ((await res.json()) as { userCtx: unknown }).userCtx };
}

async function admin(method: string, path: string, body?: unknown): Promise<Record<string, unknown>> {
  const res = await t.fetch(path, { method, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  expect(res.status, `${method} ${path}`).toBeLessThan(300);
  return (await res.json()) as Record<string, unknown>;
}

/** Resolves once the server has taken in a change of this user's document. */
function heard(name: string): Promise<void> {
  return new Promise((resolve) => {
    const stop = t.server.services.users.onUserChange((changed) => {
      if (changed !== name) return;
      stop();
      resolve();
    });
  });
}

const userDoc = (name: string, roles: string[], password: string) => ({
  _id: `org.couchdb.user:${name}`,
  name,
  type: 'user',
  roles,
  password,
});

describe('the verification cache', () => {
  it('serves a user again without hashing, with the roles their document has now', async () => {
    const path = '/_users/org.couchdb.user:cached';
    await admin('PUT', path, userDoc('cached', ['a'], 'pw'));
    const before = stats().verifications;
    expect((await sessionOf(basic('cached', 'pw'))).userCtx).toEqual({ name: 'cached', roles: ['a'] });
    expect((await sessionOf(basic('cached', 'pw'))).status).toBe(200);
    expect(stats().verifications).toBe(before + 1);

    // New roles, same password: no new hash, and the new roles at once.
    const doc = await admin('GET', path);
    const rolesChanged = heard('cached');
    await admin('PUT', path, { ...doc, roles: ['b'] });
    await rolesChanged;
    expect((await sessionOf(basic('cached', 'pw'))).userCtx).toEqual({ name: 'cached', roles: ['b'] });
    expect(stats().verifications).toBe(before + 1);

    // A new password: the old one is no longer taken from the cache.
    const passwordChanged = heard('cached');
    await admin('PUT', path, { ...(await admin('GET', path)), password: 'new' });
    await passwordChanged;
    expect((await sessionOf(basic('cached', 'pw'))).status).toBe(401);
    expect((await sessionOf(basic('cached', 'new'))).status).toBe(200);

    // Deleted: nothing cached lets them in.
    const deleted = heard('cached');
    const { _rev } = await admin('GET', path);
    await admin('DELETE', `${path}?rev=${String(_rev)}`);
    await deleted;
    expect((await sessionOf(basic('cached', 'new'))).status).toBe(401);
  });

  it('holds at most 1,000 credentials, forgetting the least recently used', async () => {
    const names = Array.from({ length: 1_001 }, (_, i) => `many${i}`);
    const created = await t.fetch('/_users/_bulk_docs', {
      method: 'POST',
      body: JSON.stringify({ docs: names.map((name) => userDoc(name, [], 'pw')) }),
    });
    expect(created.status).toBe(201);
    // The first alone, so that it is surely the oldest entry: requests sent together finish
    // hashing in any order, and the cache takes entries in the order their hashes finish.
    expect((await sessionOf(basic(names[0]!, 'pw'))).status).toBe(200);
    // Then a few at a time: one address gets only a few hashes queued (the rest are told 503).
    for (let i = 1; i < names.length; i += 4) {
      const batch = names.slice(i, i + 4).map((name) => sessionOf(basic(name, 'pw')));
      expect((await Promise.all(batch)).map(({ status }) => status)).toEqual(batch.map(() => 200));
    }
    expect(stats().cacheSize).toBe(1_000);
    // The first name's entry went to make room: it is hashed again; the last one's is not.
    const before = stats().verifications;
    expect((await sessionOf(basic(names.at(-1)!, 'pw'))).status).toBe(200);
    expect(stats().verifications).toBe(before);
    expect((await sessionOf(basic(names[0]!, 'pw'))).status).toBe(200);
    expect(stats().verifications).toBe(before + 1);
  });

  it('never takes a wrong password for the cached right one', async () => {
    // Entries are keyed by an HMAC of name and password (Auth's #cacheKeyOf): a near miss is
    // another key, hashed and refused.
    await admin('PUT', '/_users/org.couchdb.user:keyed', userDoc('keyed', [], 'right'));
    expect((await sessionOf(basic('keyed', 'right'))).status).toBe(200);
    const before = stats().verifications;
    expect((await sessionOf(basic('keyed', 'righ'))).status).toBe(401);
    expect(stats().verifications).toBe(before + 1);
    expect((await sessionOf(BASIC)).status).toBe(200);
  });
});
