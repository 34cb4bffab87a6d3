/**
 * `settee serve` with several server admins, each way a person gives them: `--admin` repeated,
 * an `--admin-file` of two lines, and a configuration file's `[admins]` of two entries (with
 * CouchDB's `[chttpd_auth_lockout] threshold`). The start-up lines name them, never their
 * passwords, and each signs in.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LOCKED_REASON } from '../../src/server/auth/lockout.js';
import { type Launched, serveInChild } from './helpers.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'settee-serve-admins-'));
const started: Launched[] = [];
afterAll(async () => {
  for (const launched of started) {
    if (launched.child.exitCode !== null) continue;
    launched.child.kill('SIGTERM');
    await launched.exited;
  }
  fs.rmSync(dir, { recursive: true, force: true });
});

function secretFile(name: string, text: string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, text, { mode: 0o600 });
  return file;
}

/** `settee serve` over a data folder of its own: its URL and what it printed once it listens. */
async function serve(name: string, ...args: string[]) {
  const { launched, url } = await serveInChild(['--data', path.join(dir, name), ...args]);
  started.push(launched);
  const { stdout } = await launched.printed(({ stdout }) => stdout.includes('"admin"'), 'the admin line');
  return { url, stdout };
}

async function allDbsAs(url: string, name: string, password: string) {
  const authorization = `Basic ${Buffer.from(`${name}:${password}`).toString('base64')}`;
  const response = await fetch(`${url}/_all_dbs`, { headers: { authorization } });
  return { status: response.status, body: (await response.json()) as unknown };
}

/** The start-up line that names the admins, as JSON. */
function adminLine(stdout: string): { msg: string; admin: string } {
  const line = stdout.split('\n').find((text) => text.includes('"admin"'));
  return JSON.parse(line!) as { msg: string; admin: string };
}

describe('settee serve with several admins', { timeout: 60_000 }, () => {
  it('takes --admin repeated, names both at start, and lets both in', async () => {
    const { url, stdout } = await serve('flags', '--admin', 'root:s3cret', '--admin', 'ops:0ps pw');
    expect(adminLine(stdout)).toMatchObject({
      msg: 'Server admins: "root", "ops" (as configured)',
      admin: 'root,ops',
    });
    expect(stdout).not.toMatch(/s3cret|0ps pw/);
    expect((await allDbsAs(url, 'root', 's3cret')).status).toBe(200);
    expect((await allDbsAs(url, 'ops', '0ps pw')).status).toBe(200);
    expect((await allDbsAs(url, 'ops', 's3cret')).status).toBe(401);
  });

  it('takes an --admin-file of two lines', async () => {
    const file = secretFile('admins', 'root:s3cret\n\nops: 0ps pw \n');
    const { url, stdout } = await serve('file', '--admin-file', file);
    expect(adminLine(stdout).admin).toBe('root,ops');
    expect((await allDbsAs(url, 'root', 's3cret')).status).toBe(200);
    expect((await allDbsAs(url, 'ops', ' 0ps pw ')).status).toBe(200);
    expect((await allDbsAs(url, 'ops', '0ps pw')).status).toBe(401);
  });

  it("takes [admins] of two entries, and CouchDB's lockout threshold, from the config file", async () => {
    const ini = secretFile(
      'settee.ini',
      '[admins]\nroot = s3cret\nops = 0ps\n[chttpd_auth_lockout]\nthreshold = 2\nmax_lifetime = 60000\n',
    );
    const { url } = await serve('config', '--config', ini);
    expect((await allDbsAs(url, 'root', 's3cret')).status).toBe(200);
    expect((await allDbsAs(url, 'ops', '0ps')).status).toBe(200);
    // threshold = 2: two failures lock ops out from this address, even with the right password.
    expect((await allDbsAs(url, 'ops', 'wrong')).status).toBe(401);
    expect((await allDbsAs(url, 'ops', 'wrong')).status).toBe(401);
    expect(await allDbsAs(url, 'ops', '0ps')).toEqual({
      status: 403,
      body: { error: 'forbidden', reason: LOCKED_REASON },
    });
    // Only ops: root signs in as before.
    expect((await allDbsAs(url, 'root', 's3cret')).status).toBe(200);
  });
});
