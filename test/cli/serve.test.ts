/**
 * `settee serve` as a person starts it: the start-up lines arrive while it runs (not when a log
 * buffer fills), the generated admin password works, a lost one is reset as docs/cli.md says,
 * and a server that cannot start says why in one line.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startServer } from '../server/harness.js';
import { type Launched, launch, type Outcome } from './helpers.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'settee-serve-'));
const started: Launched[] = [];
afterAll(async () => {
  for (const server of started) if (server.child.exitCode === null) server.child.kill('SIGKILL');
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Starts `settee serve` on a free port; `logFormat` json unless given. */
function serve(data: string, ...args: string[]): Launched {
  const server = launch(['serve', '--port', '0', '--data', data, ...args]);
  started.push(server);
  return server;
}

interface LogLine {
  level: number;
  msg: string;
  [field: string]: unknown;
}

const jsonLines = (stdout: string): LogLine[] =>
  stdout
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as LogLine);

/** The field `name` of the first JSON line that has it. */
const field = (stdout: string, name: string): string | undefined =>
  jsonLines(stdout).find((line) => typeof line[name] === 'string')?.[name] as string | undefined;

/** Stops the server by its pid, as Ctrl+C would. */
async function stop(server: Launched): Promise<Outcome> {
  process.kill(server.child.pid!, 'SIGINT');
  return server.exited;
}

async function sessionOf(url: string, name: string, password: string): Promise<number> {
  const authorization = `Basic ${Buffer.from(`${name}:${password}`).toString('base64')}`;
  return (await fetch(`${url}/_session`, { headers: { authorization } })).status;
}

describe('settee serve: the first start', { timeout: 150_000 }, () => {
  it('prints where it listens, the web page and the generated admin at once, as JSON lines when piped', async () => {
    const data = path.join(dir, 'first');
    const server = serve(data);
    // Before the fix these lines sat in a 4 KB log buffer: nothing arrived until ~28 requests.
    const { stdout } = await server.printed(
      ({ stdout }) => stdout.includes('"password"'),
      'the admin password',
    );
    const url = field(stdout, 'url')!;
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(field(stdout, 'ui')).toBe(`${url}/_ui/`);
    expect(field(stdout, 'admin')).toBe('admin');
    expect(field(stdout, 'saved')).toBe(path.join(data, '_settee', 'auth.json'));
    const password = field(stdout, 'password')!;
    const announced = jsonLines(stdout).find((line) => line.password === password)!;
    expect(announced.msg).toContain(`name "admin", password "${password}"`);
    expect(await sessionOf(url, 'admin', password)).toBe(200);
    expect(await sessionOf(url, 'admin', 'wrong')).toBe(401);
    expect((await fetch(`${url}/_ui/`)).status).toBe(200);
    const outcome = await stop(server);
    expect(outcome.code).toBe(0);
    expect(outcome.stderr).toBe('');

    // Restarted, it names the stored admin and shows no password.
    const again = serve(data);
    const restarted = await again.printed(({ stdout }) => stdout.includes('"saved"'), 'the admin line');
    expect(restarted.stdout).not.toContain(password);
    expect(
      jsonLines(restarted.stdout).some((line) => /Server admin: "admin" \(stored in/.test(line.msg)),
    ).toBe(true);
    await stop(again);

    // The reset of docs/cli.md: start once with --admin; later starts without it keep it.
    const reset = serve(data, '--admin', 'admin:new-password');
    await reset.printed(({ stdout }) => stdout.includes('(as configured)'), 'the admin line');
    await stop(reset);
    const after = serve(data);
    const { stdout: afterOut } = await after.printed(
      ({ stdout }) => stdout.includes('"saved"'),
      'the admin line',
    );
    const afterUrl = field(afterOut, 'url')!;
    expect(await sessionOf(afterUrl, 'admin', 'new-password')).toBe(200);
    expect(await sessionOf(afterUrl, 'admin', password)).toBe(401);
    await stop(after);
  });

  it('prints plain lines with --log-format pretty, and request lines only at the level asked', async () => {
    const data = path.join(dir, 'pretty');
    const server = serve(data, '--log-format', 'pretty', '--admin', 'admin:pw');
    const { stdout } = await server.printed(({ stdout }) => stdout.includes('Ctrl+C'), 'the start-up lines');
    const url = /^Settee is listening on (http:\/\/\S+)$/m.exec(stdout)?.[1];
    expect(url).toBeDefined();
    expect(stdout).toContain(`Web page: ${url}/_ui/\n`);
    expect(stdout).toContain('Server admin: "admin" (as configured)\n');
    expect(stdout).not.toContain('{"level"');
    await fetch(`${url}/`);
    // A request line reads as one: method, path, status, time.
    await server.printed(({ stdout }) => /GET \/ 200 \(\d+(\.\d+)? ms\)/.test(stdout), 'the request line');
    await stop(server);

    const quiet = serve(data, '--log-level', 'warn');
    const { stdout: quietOut } = await quiet.printed(
      ({ stdout }) => stdout.includes('Ctrl+C'),
      'the start-up lines',
    );
    await fetch(`${field(quietOut, 'url')}/`);
    const outcome = await stop(quiet);
    // Start-up lines print at any level; info lines (requests, the stop) do not.
    expect(jsonLines(outcome.stdout).map((line) => line.msg)).not.toContain('request');
    expect(outcome.stdout).not.toContain('SIGINT');
  });

  it('says in one line why it cannot start: a port in use, a bad --log-level', async () => {
    const other = await startServer();
    try {
      const port = new URL(other.url).port;
      const busy = await launch(['serve', '--port', port, '--data', path.join(dir, 'busy')]).exited;
      expect(busy.code).toBe(1);
      expect(busy.stderr).toBe(
        `error: cannot listen: 127.0.0.1:${port}: another program listens there already; choose another --port or stop it\n`,
      );
    } finally {
      await other.stop();
    }
    const badLevel = await launch(['serve', '--log-level', 'loud']).exited;
    expect(badLevel.code).not.toBe(0);
    expect(badLevel.stderr).toMatch(/--log-level.*loud.*trace, debug, info, warn, error, fatal, silent/s);
  });
});
