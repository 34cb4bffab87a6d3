/**
 * `settee serve --tls-cert FILE --tls-key FILE` as people run it: an https:// URL, the files from
 * flags or CouchDB's `[ssl]` section, the certificate read again on SIGHUP (a bad new pair logged
 * and the old one kept), and a one-line start error for a missing, unreadable or mismatched file.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  h1Request,
  h2Connect,
  h2Request,
  jsonOf,
  makeCertificate,
  servedFingerprint,
} from '../server/tls-harness.js';
import { type Launched, launch, type Outcome, serveInChild } from './helpers.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'settee-cli-tls-'));
const first = makeCertificate(dir, 'first');
const renewed = makeCertificate(dir, 'renewed');
const BOTH = Buffer.concat([first.cert, renewed.cert]);
const AUTH = { authorization: `Basic ${Buffer.from('admin:pw').toString('base64')}` };
const started: Launched[] = [];
afterAll(() => {
  for (const server of started) if (server.child.exitCode === null) server.child.kill('SIGKILL');
  fs.rmSync(dir, { recursive: true, force: true });
});

let count = 0;
/** A folder of its own for one server: its data, and copies of the first pair it may overwrite. */
function serverFolder(): { data: string; certFile: string; keyFile: string } {
  const folder = fs.mkdtempSync(path.join(dir, `server${++count}-`));
  const certFile = path.join(folder, 'server.crt');
  const keyFile = path.join(folder, 'server.key');
  fs.copyFileSync(first.certFile, certFile);
  fs.copyFileSync(first.keyFile, keyFile);
  return { data: path.join(folder, 'data'), certFile, keyFile };
}

async function serveTls(args: string[]) {
  const served = await serveInChild(['--admin', 'admin:pw', ...args]);
  started.push(served.launched);
  return served;
}

/** Stops the server with SIGTERM; resolves with how it ended. */
async function stop(launched: Launched): Promise<Outcome> {
  launched.child.kill('SIGTERM');
  return launched.exited;
}

describe('settee serve over TLS', { timeout: 60_000 }, () => {
  it("prints an https:// URL and answers HTTP/1.1 and HTTP/2, configured by CouchDB's [ssl] keys", async () => {
    const { data, certFile, keyFile } = serverFolder();
    const ini = path.join(dir, 'tls.ini');
    fs.writeFileSync(ini, `[ssl]\ncert_file = ${certFile}\nkey_file = ${keyFile}\n`);
    const { launched, url } = await serveTls(['--data', data, '--config', ini]);
    expect(url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(launched.output().stdout).toContain(`"tls_cert":"${certFile}"`);
    expect((await h1Request(url, first.cert, '/')).httpVersion).toBe('1.1');
    const session = await h2Connect(url, first.cert);
    try {
      const config = await h2Request(session, '/_node/_local/_config/ssl', { headers: AUTH });
      // The key's path is shown; its content never is.
      expect(jsonOf(config)).toEqual({ cert_file: certFile, key_file: keyFile });
    } finally {
      session.close();
    }
    const { code, stdout, stderr } = await stop(launched);
    expect(code).toBe(0);
    expect(stdout + stderr).not.toContain('PRIVATE KEY');
  });

  it('serves a renewed certificate after SIGHUP, keeping open connections; a bad pair keeps the old', async () => {
    const { data, certFile, keyFile } = serverFolder();
    const { launched, url } = await serveTls(['--data', data, '--tls-cert', certFile, '--tls-key', keyFile]);
    const open = await h2Connect(url, BOTH);
    try {
      expect(await servedFingerprint(url, [BOTH])).toBe(first.fingerprint);

      fs.copyFileSync(renewed.certFile, certFile);
      fs.copyFileSync(renewed.keyFile, keyFile);
      launched.child.kill('SIGHUP');
      await launched.printed(({ stdout }) => stdout.includes('SIGHUP: serving'), 'the reload');
      expect(await servedFingerprint(url, [BOTH])).toBe(renewed.fingerprint);
      expect((await h2Request(open, '/')).status).toBe(200);

      // A certificate renewed but its key not yet copied: logged, and the renewed pair stays.
      fs.copyFileSync(first.certFile, certFile);
      launched.child.kill('SIGHUP');
      await launched.printed(({ stdout }) => stdout.includes('is kept'), 'the refusal');
      expect(launched.output().stdout).toContain('the key is not the private key of the certificate');
      expect(await servedFingerprint(url, [BOTH])).toBe(renewed.fingerprint);
      expect((await h2Request(open, '/')).status).toBe(200);
    } finally {
      open.close();
    }
    // Still running after both signals (SIGHUP would otherwise end it), and it stops cleanly.
    expect(launched.child.exitCode).toBeNull();
    const { code, stdout } = await stop(launched);
    expect(code).toBe(0);
    expect(stdout).not.toContain('PRIVATE KEY');
  });

  it('stops promptly on SIGTERM with an HTTP/2 session open', async () => {
    const { data, certFile, keyFile } = serverFolder();
    const { launched, url } = await serveTls(['--data', data, '--tls-cert', certFile, '--tls-key', keyFile]);
    const session = await h2Connect(url, first.cert);
    expect((await h2Request(session, '/')).status).toBe(200);
    const closed = new Promise((resolve) => session.once('close', resolve));
    expect((await stop(launched)).code).toBe(0);
    await closed;
  });
});

describe('settee serve refuses TLS settings it cannot use', { timeout: 60_000 }, () => {
  /** It did not start: exit 1, no start-up line, and stderr is exactly `line`. */
  async function expectRefusal(args: string[], line: string): Promise<void> {
    const server = launch([
      'serve',
      '--port',
      '0',
      '--admin',
      'admin:pw',
      '--data',
      serverFolder().data,
      ...args,
    ]);
    started.push(server);
    const outcome = await server.exited;
    expect(outcome.code).toBe(1);
    expect(outcome.stdout).not.toContain('listening');
    expect(outcome.stderr).toBe(`error: cannot start the server: ${line}\n`);
  }

  it('one of the two files without the other, naming the missing one', async () => {
    await expectRefusal(
      ['--tls-cert', first.certFile],
      '--tls-cert ($SETTEE_TLS_CERT, [ssl] cert_file) is set but --tls-key ($SETTEE_TLS_KEY, [ssl] key_file) ' +
        'is not: HTTPS needs the certificate and its private key',
    );
    await expectRefusal(
      ['--tls-key', first.keyFile],
      '--tls-key ($SETTEE_TLS_KEY, [ssl] key_file) is set but --tls-cert ($SETTEE_TLS_CERT, [ssl] cert_file) ' +
        'is not: HTTPS needs the certificate and its private key',
    );
  });

  it('a file that cannot be read', async () => {
    const missing = path.join(dir, 'missing.key');
    await expectRefusal(
      ['--tls-cert', first.certFile, '--tls-key', missing],
      `the TLS key file ${missing} cannot be read: no such file`,
    );
  });

  it("a key that is not the certificate's, or a file that is not PEM", async () => {
    await expectRefusal(
      ['--tls-cert', first.certFile, '--tls-key', renewed.keyFile],
      `the TLS certificate ${first.certFile} and key ${renewed.keyFile} cannot be used: ` +
        'the key is not the private key of the certificate',
    );
    await expectRefusal(
      ['--tls-cert', first.keyFile, '--tls-key', first.keyFile],
      `the TLS certificate ${first.keyFile} and key ${first.keyFile} cannot be used: ` +
        'the certificate is not a PEM certificate (no start line)',
    );
  });
});
