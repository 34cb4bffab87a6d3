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
    expect(resolve(['--config', admins]).options.admin).toBe('root:s3cret');
    const both = resolve(['--config', admins, '--admin-file', '/run/secrets/admin']).options;
    expect(both.admin).toBeUndefined();
    expect(both.adminFile).toBe('/run/secrets/admin');
    // The same source: the admin itself wins, as before (--admin over --admin-file).
    expect(resolve(['--admin', 'a:b', '--admin-file', '/x']).options).toMatchObject({
      admin: 'a:b',
      adminFile: undefined,
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
  });

  it('a key or section that is not a setting (a typo is not silently ignored)', () => {
    expect(refusal(['--config', iniFile('[httpd]\nprot = 1\n')])).toMatch(
      /\[httpd\] prot is not a setting; the keys of \[httpd\] are port/,
    );
    expect(refusal(['--config', iniFile('[htpd]\nport = 1\n')])).toMatch(/\[htpd\] is not a section/);
    expect(refusal(['--config', iniFile('port = 1\n')])).toMatch(/"port" outside any section/);
    expect(refusal(['--config', iniFile('[admins]\na = 1\nb = 2\n')])).toMatch(
      /\[admins\] must hold one line/,
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
      '--jwt-secret',
      'hush',
      '--postgres',
      'postgres://settee:pw@db.internal/settee',
    ]);
    const shown = effectiveSettings(options);
    expect(shown.httpd).toMatchObject({ port: '5984', bind_address: '127.0.0.1' });
    expect(shown.admins).toEqual({ root: '***' });
    expect(shown.jwt_auth).toEqual({ secret: '***' });
    expect(shown.postgres).toEqual({ url: 'postgres://settee:***@db.internal/settee' });
    expect(JSON.stringify(shown)).not.toMatch(/s3cret|hush|:pw@/);
  });
});

describe('docs/configuration.md', () => {
  it('lists every setting with its flag, environment variable and file key, as the code has them', () => {
    const text = fs.readFileSync(path.resolve(import.meta.dirname, '../../docs/configuration.md'), 'utf8');
    const rows = [
      ...text.matchAll(/^\| `(--[a-z-]+)[^`]*` \| `\$([A-Z_]+)` \| `\[([a-z_]+)\] ([A-Za-z_]+)` \|/gm),
    ].map((match) => [match[1], match[2], match[3], match[4]]);
    const expected = SERVE_SETTINGS.map((setting) => [
      /--[a-z-]+/.exec(setting.flags)![0],
      setting.env,
      ...setting.ini,
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
