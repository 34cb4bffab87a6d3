/**
 * The settings of `settee serve`: flags, then the environment, then the configuration file, then
 * the defaults; every value checked at start with a message naming where it came from; and the
 * table in docs/configuration.md the same as the code's.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { afterAll, describe, expect, it } from 'vitest';
import type { ServeOptions } from '../../src/cli/serve-options.js';
import { addServeSettings, effectiveSettings, SERVE_SETTINGS } from '../../src/cli/serve-settings.js';
import { serveInChild } from './helpers.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'settee-settings-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function iniFile(text: string): string {
  const file = path.join(dir, `${Math.random().toString(36).slice(2)}.ini`);
  fs.writeFileSync(file, text);
  return file;
}

/** The options `settee serve` would run with, and where each came from. */
function resolve(args: string[], env: Record<string, string> = {}) {
  const program = new Command().exitOverride();
  let options: ServeOptions | undefined;
  const serve = addServeSettings(program.command('serve'), env)
    .exitOverride()
    .configureOutput({ writeErr: () => {} })
    .action((parsed: ServeOptions) => {
      options = parsed;
    });
  program.parse(['serve', ...args], { from: 'user' });
  const source = (key: keyof ServeOptions) => serve.getOptionValueSource(key);
  return { options: options!, source };
}

describe('the precedence of settings', () => {
  const file = iniFile(
    '[httpd]\nport = 7000\nbind_address = 0.0.0.0\n[log]\nlevel = warn\n[cors]\norigins = http://a.test, http://b.test\n',
  );

  it.each([
    // [flags, environment, port, its source]
    [[], {}, 7000, 'config'],
    [[], { SETTEE_PORT: '8000' }, 8000, 'env'],
    [['--port', '9000'], { SETTEE_PORT: '8000' }, 9000, 'cli'],
  ] as const)('flags %j and environment %j give port %i (from %s)', (flags, env, port, from) => {
    const { options, source } = resolve(['--config', file, ...flags], env);
    expect(options.port).toBe(port);
    expect(source('port')).toBe(from);
  });

  it('takes the defaults for what nobody set', () => {
    const { options, source } = resolve([]);
    expect(options).toMatchObject({ port: 5984, host: '127.0.0.1', data: './data', logLevel: 'info' });
    expect(source('port')).toBe('default');
  });

  it('reads every kind of value from the file: text, choices, lists, switches, sizes', () => {
    const switches = iniFile(
      '[couch_httpd_auth]\nallow_signup = true\n[chttpd]\nmax_http_request_size = 16MB\n',
    );
    const { options } = resolve(['--config', switches]);
    expect(options).toMatchObject({ allowSignup: true, maxRequestSize: 16 * 1024 * 1024 });
    const first = resolve(['--config', file]).options;
    expect(first).toMatchObject({
      host: '0.0.0.0',
      logLevel: 'warn',
      corsOrigin: ['http://a.test', 'http://b.test'],
    });
  });

  it('takes $SETTEE_CONFIG when no --config is given', () => {
    expect(resolve([], { SETTEE_CONFIG: file }).options.port).toBe(7000);
  });

  it('splits repeatable settings on commas in the environment; repeated flags win over both', () => {
    expect(resolve([], { SETTEE_CORS_ORIGIN: 'http://x.test,http://y.test' }).options.corsOrigin).toEqual([
      'http://x.test',
      'http://y.test',
    ]);
    const flags = ['--config', file, '--cors-origin', 'http://z.test'];
    expect(resolve(flags, { SETTEE_CORS_ORIGIN: 'http://x.test' }).options.corsOrigin).toEqual([
      'http://z.test',
    ]);
  });

  it("reads CouchDB's [admins] NAME = PASSWORD, and a stronger source's admin file outranks it", () => {
    const admins = iniFile('[admins]\nroot = s3cret\n');
    expect(resolve(['--config', admins]).options.admin).toEqual(['root:s3cret']);
    const both = resolve(['--config', admins, '--admin-file', '/run/secrets/admin']).options;
    expect(both.admin).toBeUndefined();
    expect(both.adminFile).toBe('/run/secrets/admin');
    // The same source: the admin itself wins, as before (--admin over --admin-file).
    expect(resolve(['--admin', 'a:b', '--admin-file', '/x']).options).toMatchObject({
      admin: ['a:b'],
      adminFile: undefined,
    });
  });

  it('takes several admins: --admin repeated, lines of $SETTEE_ADMIN, lines of [admins]', () => {
    expect(resolve(['--admin', 'a:1', '--admin', 'b:2']).options.admin).toEqual(['a:1', 'b:2']);
    // Lines, not commas: a password may hold commas, and spaces at its ends.
    expect(resolve([], { SETTEE_ADMIN: 'a:x, y \nb:2\n' }).options.admin).toEqual(['a:x, y ', 'b:2']);
    expect(resolve(['--config', iniFile('[admins]\nroot = s3cret\nops = pa,ss\n')]).options.admin).toEqual([
      'root:s3cret',
      'ops:pa,ss',
    ]);
    // A flag still wins over the others as a whole: its admins replace theirs.
    expect(resolve(['--admin', 'a:1'], { SETTEE_ADMIN: 'b:2' }).options.admin).toEqual(['a:1']);
  });

  it("takes a name written twice in [admins] once, with the last line's password, as CouchDB does", () => {
    // apache/couchdb src/config/src/config.erl: each ini line is inserted in turn into a set
    // keyed by {Section, Key}, so a later value of a key replaces an earlier one.
    const twice = iniFile('[admins]\nroot = first\nops = x\nroot = second\n');
    expect(resolve(['--config', twice]).options.admin).toEqual(['root:second', 'ops:x']);
  });

  it("reads CouchDB 3.4's lockout keys, and ours of before as aliases", () => {
    // apache/couchdb src/couch/src/couch_auth_lockout.erl, lockout_threshold/0: the key is
    // `threshold`; src/docs/src/config/auth.rst: `max_lifetime`, in milliseconds (300000).
    const couch = iniFile('[chttpd_auth_lockout]\nthreshold = 3\nmax_lifetime = 90000\n');
    expect(resolve(['--config', couch]).options).toMatchObject({ lockoutAttempts: 3, lockoutMinutes: 1.5 });
    const ours = iniFile('[chttpd_auth_lockout]\nmax_failures = 4\nminutes = 2\n');
    expect(resolve(['--config', ours]).options).toMatchObject({ lockoutAttempts: 4, lockoutMinutes: 2 });
    expect(() => resolve(['--config', iniFile('[chttpd_auth_lockout]\nthreshold = 3x\n')])).toThrow(
      /\[chttpd_auth_lockout\] threshold: expected a whole number, not "3x"/,
    );
    expect(() =>
      resolve(['--config', iniFile('[chttpd_auth_lockout]\nthreshold = 3\nmax_failures = 4\n')]),
    ).toThrow(/\[chttpd_auth_lockout\] threshold and max_failures set the same thing; keep one/);
    // The flag still wins over the file's CouchDB key.
    expect(resolve(['--config', couch, '--lockout-attempts', '7']).options.lockoutAttempts).toBe(7);
  });

  it("reads CouchDB's lockout mode and max_objects, from the file, the environment and flags", () => {
    // apache/couchdb src/couch/src/couch_auth_lockout.erl, lockout_mode/0: `mode` is off, warn or
    // enforce (the default); src/docs/src/config/auth.rst: `max_objects`, the pairs tracked.
    expect(resolve([]).options).toMatchObject({ lockoutMode: 'enforce', lockoutMaxObjects: 10_000 });
    const couch = iniFile('[chttpd_auth_lockout]\nmode = warn\nmax_objects = 500\n');
    expect(resolve(['--config', couch]).options).toMatchObject({
      lockoutMode: 'warn',
      lockoutMaxObjects: 500,
    });
    expect(resolve(['--config', couch], { SETTEE_LOCKOUT_MODE: 'off' }).options.lockoutMode).toBe('off');
    const flags = ['--config', couch, '--lockout-mode', 'enforce', '--lockout-max-objects', '9'];
    expect(resolve(flags).options).toMatchObject({ lockoutMode: 'enforce', lockoutMaxObjects: 9 });
    expect(effectiveSettings(resolve(['--config', couch]).options).chttpd_auth_lockout).toMatchObject({
      mode: 'warn',
      max_objects: '500',
    });
  });
});

describe('bad settings are refused at start, naming where they came from', () => {
  const refusal = (args: string[], env: Record<string, string> = {}) => {
    try {
      resolve(args, env);
    } catch (error) {
      return (error as Error).message;
    }
    throw new Error('accepted');
  };

  it('a value that does not parse', () => {
    expect(refusal(['--config', iniFile('[httpd]\nport = abc\n')])).toMatch(
      /\[httpd\] port: expected a whole number, not "abc"/,
    );
    expect(refusal([], { SETTEE_PORT: '-1' })).toMatch(/\$SETTEE_PORT: expected a whole number, not "-1"/);
    expect(refusal([], { SETTEE_LOG_LEVEL: 'loud' })).toMatch(
      /\$SETTEE_LOG_LEVEL: expected one of trace, debug/,
    );
    expect(refusal(['--config', iniFile('[couch_peruser]\nenable = maybe\n')])).toMatch(
      /enable: expected true or false/,
    );
    // CouchDB would take an unknown mode as `off` (lockout_mode/0): told at start instead.
    expect(refusal(['--config', iniFile('[chttpd_auth_lockout]\nmode = enforced\n')])).toMatch(
      /\[chttpd_auth_lockout\] mode: expected one of enforce, warn, off, not "enforced"/,
    );
    expect(refusal([], { SETTEE_LOCKOUT_MODE: 'loud' })).toMatch(
      /\$SETTEE_LOCKOUT_MODE: expected one of enforce, warn, off, not "loud"/,
    );
    expect(refusal(['--lockout-mode', 'loud'])).toMatch(/Allowed choices are enforce, warn, off/);
    expect(refusal(['--config', iniFile('[chttpd_auth_lockout]\nmax_objects = 0\n')])).toMatch(
      /\[chttpd_auth_lockout\] max_objects: expected a whole number of at least 1, not "0"/,
    );
    // A lock of no time would make the server fail at start, unclearly.
    expect(refusal(['--lockout-minutes', '0'])).toMatch(/expected a whole number of at least 1/);
    expect(refusal(['--config', iniFile('[chttpd_auth_lockout]\nmax_lifetime = 0\n')])).toMatch(
      /\[chttpd_auth_lockout\] max_lifetime: expected a whole number of at least 1, not "0"/,
    );
  });

  it('a key or section that is not a setting (a typo is not silently ignored)', () => {
    expect(refusal(['--config', iniFile('[httpd]\nprot = 1\n')])).toMatch(
      /\[httpd\] prot is not a setting; the keys of \[httpd\] are port/,
    );
    expect(refusal(['--config', iniFile('[htpd]\nport = 1\n')])).toMatch(/\[htpd\] is not a section/);
    expect(refusal(['--config', iniFile('port = 1\n')])).toMatch(/"port" outside any section/);
    expect(refusal(['--config', iniFile('[admins]\na:b = 1\n')])).toMatch(
      /\[admins\] a:b: expected NAME = PASSWORD, the name without ":"/,
    );
  });

  it('a file that cannot be read', () => {
    expect(refusal(['--config', path.join(dir, 'missing.ini')])).toMatch(
      /cannot read the configuration file .*missing\.ini/,
    );
  });
});

describe('GET /_node/_local/_config shows the settings', () => {
  it('in sections, with secrets hidden and a database URL without its password', () => {
    const { options } = resolve([
      '--admin',
      'root:s3cret',
      '--admin',
      'ops:0ps',
      '--jwt-secret',
      'hush',
      '--postgres',
      'postgres://settee:pw@db.internal/settee',
    ]);
    const shown = effectiveSettings(options);
    expect(shown.httpd).toMatchObject({ port: '5984', bind_address: '127.0.0.1' });
    expect(shown.admins).toEqual({ root: '***', ops: '***' });
    expect(shown.jwt_auth).toEqual({ secret: '***' });
    expect(shown.postgres).toEqual({ url: 'postgres://settee:***@db.internal/settee' });
    expect(JSON.stringify(shown)).not.toMatch(/s3cret|0ps|hush|:pw@/);
  });
});

describe('docs/configuration.md', () => {
  it('lists every setting with its flag, environment variable and file key, as the code has them', () => {
    const text = fs.readFileSync(path.resolve(import.meta.dirname, '../../docs/configuration.md'), 'utf8');
    // The file column: the key, then its aliases, each in backquotes ("(or `max_failures`)").
    const rows = [
      ...text.matchAll(/^\| `(--[a-z-]+)[^`]*` \| `\$([A-Z_]+)` \| `\[([a-z_]+)\] ([A-Za-z_]+)`([^|]*)\|/gm),
    ].map((match) => [
      match[1],
      match[2],
      match[3],
      match[4],
      [...match[5]!.matchAll(/`([a-z_]+)`/g)].map((m) => m[1]),
    ]);
    const expected = SERVE_SETTINGS.map((setting) => [
      /--[a-z-]+/.exec(setting.flags)![0],
      setting.env,
      ...setting.ini,
      (setting.iniAliases ?? []).map(({ key }) => key),
    ]);
    expect(rows).toEqual(expected);
  });
});

describe('settee serve --config, end to end', () => {
  it('runs with the file, flags winning, and shows the settings at /_node/_local/_config', async () => {
    const data = path.join(dir, 'data');
    const file = iniFile(
      `[httpd]\nport = 1\n[admins]\nroot = s3cret\n[cors]\norigins = http://a.test\n[couchdb]\ndatabase_dir = ${data}\n`,
    );
    // `--port 0` (from serveInChild) wins over the file's port 1, which no test may bind.
    const { launched, url } = await serveInChild(['--config', file]);
    try {
      const auth = { authorization: `Basic ${Buffer.from('root:s3cret').toString('base64')}` };
      const get = async (p: string, init: RequestInit = {}) => {
        const response = await fetch(url + p, { ...init, headers: auth });
        return { status: response.status, body: (await response.json()) as unknown };
      };
      const all = await get('/_node/_local/_config');
      expect(all.status).toBe(200);
      expect(all.body).toMatchObject({
        httpd: { port: '0' },
        admins: { root: '***' },
        cors: { origins: 'http://a.test' },
        couchdb: { database_dir: data },
        log: { format: 'json' },
      });
      expect(JSON.stringify(all.body)).not.toContain('s3cret');
      expect(await get('/_node/_local/_config/cors')).toEqual({
        status: 200,
        body: { origins: 'http://a.test' },
      });
      expect(await get('/_node/_local/_config/httpd/port')).toEqual({ status: 200, body: '0' });
      // chttpd_node.erl: a key that is not set is `{not_found, unknown_config_value}`.
      expect(await get('/_node/_local/_config/httpd/nothing')).toEqual({
        status: 404,
        body: { error: 'not_found', reason: 'unknown_config_value' },
      });
      const put = await get('/_node/_local/_config/httpd/port', { method: 'PUT', body: '"8080"' });
      expect(put.status).toBe(405);
      expect(put.body).toMatchObject({ error: 'method_not_allowed' });
      // Only server admins see it.
      expect((await fetch(`${url}/_node/_local/_config`)).status).toBe(401);
    } finally {
      launched.child.kill('SIGTERM');
      await launched.exited;
    }
  });
});

describe('settee serve with [chttpd_auth_lockout] mode = warn, end to end', () => {
  it('lets the right password in past the threshold, logs a warning, and shows the mode', async () => {
    const file = iniFile(
      `[admins]\nroot = s3cret\n[couchdb]\ndatabase_dir = ${path.join(dir, 'warn-data')}\n` +
        '[chttpd_auth_lockout]\nmode = warn\nthreshold = 1\nmax_objects = 100\n',
    );
    const { launched, url } = await serveInChild(['--config', file]);
    try {
      const signIn = async (password: string) =>
        (await fetch(`${url}/_session`, { headers: { authorization: basicOf('root', password) } })).status;
      expect(await signIn('wrong')).toBe(401); // the threshold: `enforce` would refuse from here on
      expect(await signIn('wrong')).toBe(401);
      expect(await signIn('s3cret')).toBe(200);
      await launched.printed(
        ({ stdout }) =>
          /"level":40.*authentication failure threshold reached for user \\"root\\"/.test(stdout),
        'the lockout warning',
      );
      const config = await fetch(`${url}/_node/_local/_config/chttpd_auth_lockout`, {
        headers: { authorization: basicOf('root', 's3cret') },
      });
      expect(await config.json()).toMatchObject({ mode: 'warn', max_objects: '100', threshold: '1' });
    } finally {
      launched.child.kill('SIGTERM');
      await launched.exited;
    }
  });
});

function basicOf(name: string, password: string): string {
  return `Basic ${Buffer.from(`${name}:${password}`).toString('base64')}`;
}
