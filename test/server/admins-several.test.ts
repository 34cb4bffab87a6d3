/**
 * Several server admins (issue 10: "`--admin` (repeatable)"), as CouchDB's `[admins]` holds
 * several lines: each signs in by Basic and by `POST /_session`, each is `_admin`, each is named
 * by `GET /_session`; a wrong password of one is refused; a name given twice counts once, with the
 * last password; and their hashes are kept across restarts, so cookies outlive a restart.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { authFilePath } from '../../src/server/auth/state-file.js';
import { logIn, sessionWith } from './admins-session.js';
import { basicAuth, startServer, type TestServer } from './harness.js';

const ROOT = { name: 'root', password: 's3cret' };
// Spaces and a comma belong to the password: admins are separated by lines, not by commas.
const OPS = { name: 'ops', password: ' 0ps, pw ' };
const ADMINS = [ROOT, OPS].map(({ name, password }) => `${name}:${password}`);

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});

function dataDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'settee-admins-'));
  dirs.push(dir);
  return dir;
}

/** The admins' hashes the server stored, by name. */
const storedHashes = (dir: string) =>
  (JSON.parse(fs.readFileSync(authFilePath(dir), 'utf8')) as { admins: Record<string, string> }).admins;

async function statusAs(server: TestServer, p: string, name: string, password: string): Promise<number> {
  return (await fetch(server.url + p, { headers: { authorization: basicAuth(name, password) } })).status;
}

describe('several server admins', () => {
  it('each signs in by Basic and by cookie, is _admin, and is named by GET /_session', async () => {
    const dir = dataDir();
    const server = await startServer({ admin: ADMINS, dataDir: dir });
    try {
      for (const { name, password } of [ROOT, OPS]) {
        expect(await statusAs(server, '/_all_dbs', name, password), name).toBe(200);
        const viaBasic = await fetch(`${server.url}/_session`, {
          headers: { authorization: basicAuth(name, password) },
        });
        expect(await viaBasic.json()).toMatchObject({ userCtx: { name, roles: ['_admin'] } });
        const { status, cookie } = await logIn(server.url, name, password);
        expect(status, name).toBe(200);
        expect(await sessionWith(server.url, cookie!)).toMatchObject({
          userCtx: { name, roles: ['_admin'] },
        });
        expect((await fetch(`${server.url}/_all_dbs`, { headers: { cookie: cookie! } })).status).toBe(200);
      }
      expect(Object.keys(storedHashes(dir)).sort()).toEqual(['ops', 'root']);
    } finally {
      await server.stop();
    }
  });

  it("refuses one admin's wrong password, and another's password for it", async () => {
    const server = await startServer({ admin: ADMINS, dataDir: dataDir() });
    try {
      expect(await statusAs(server, '/_all_dbs', OPS.name, OPS.password.trim())).toBe(401);
      expect(await statusAs(server, '/_all_dbs', OPS.name, ROOT.password)).toBe(401);
      expect((await logIn(server.url, ROOT.name, OPS.password)).status).toBe(401);
      // The other admin is not held up by those failures.
      expect(await statusAs(server, '/_all_dbs', ROOT.name, ROOT.password)).toBe(200);
    } finally {
      await server.stop();
    }
  });

  it('takes a name given twice once, with the last password', async () => {
    const dir = dataDir();
    const server = await startServer({ admin: ['ops:old', ...ADMINS], dataDir: dir });
    try {
      expect(await statusAs(server, '/_all_dbs', OPS.name, OPS.password)).toBe(200);
      expect(await statusAs(server, '/_all_dbs', OPS.name, 'old')).toBe(401);
      expect(Object.keys(storedHashes(dir)).sort()).toEqual(['ops', 'root']);
    } finally {
      await server.stop();
    }
  });

  it('keeps their hashes across a restart (cookies stay valid); admins given anew replace them', async () => {
    const dir = dataDir();
    const first = await startServer({ admin: ADMINS, dataDir: dir });
    const { cookie } = await logIn(first.url, OPS.name, OPS.password);
    const before = storedHashes(dir);
    await first.stop({ keepData: true });

    const again = await startServer({ admin: [...ADMINS].reverse(), dataDir: dir });
    try {
      expect(await sessionWith(again.url, cookie!)).toMatchObject({ userCtx: { name: OPS.name } });
      expect(storedHashes(dir)).toEqual(before);
    } finally {
      await again.stop({ keepData: true });
    }

    // Only root now: ops is no admin any more, and its cookie ends with it.
    const fewer = await startServer({ admin: ADMINS[0], dataDir: dir });
    try {
      expect(await statusAs(fewer, '/_all_dbs', OPS.name, OPS.password)).toBe(401);
      expect(await sessionWith(fewer.url, cookie!)).toMatchObject({ userCtx: { name: null } });
      expect(Object.keys(storedHashes(dir))).toEqual([ROOT.name]);
    } finally {
      await fewer.stop();
    }
  });

  it('stores only hashes, never a password', async () => {
    const dir = dataDir();
    const server = await startServer({ admin: ADMINS, dataDir: dir });
    await server.stop({ keepData: true });
    const text = fs.readFileSync(authFilePath(dir), 'utf8');
    expect(text).not.toContain(ROOT.password);
    expect(text).not.toContain(OPS.password.trim());
  });
});
