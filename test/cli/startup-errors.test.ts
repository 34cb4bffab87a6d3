/**
 * `settee serve` over a data folder it cannot use says so in one line, before it listens, and
 * exits non-zero (issue 12): before, SQLite's codes surfaced instead — a read-only folder as
 * "in use by another process", a read-only file as "disk I/O error" — naming no folder.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type Launched, launch, type Outcome } from './helpers.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'settee-startup-'));
// Another user must reach the folders below (see `asAnotherUser`).
fs.chmodSync(dir, 0o755);
const started: Launched[] = [];
afterAll(() => {
  for (const server of started) if (server.child.exitCode === null) server.child.kill('SIGKILL');
  fs.rmSync(dir, { recursive: true, force: true });
});

/**
 * Permissions do not stop root, and these tests may run as root: then the server runs as the
 * unprivileged user `nobody` (setpriv, util-linux), which the folders' modes do stop.
 */
const asAnotherUser: readonly string[] =
  process.getuid?.() === 0 ? ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'] : [];

function serve(data: string, prefix: readonly string[] = []): Launched {
  const server = launch(['serve', '--port', '0', '--data', data, '--admin', 'admin:pw'], prefix);
  started.push(server);
  return server;
}

/** It did not start: exit 1, no start-up line, and stderr is exactly `line` — no stack. */
function expectRefusal(outcome: Outcome, line: string): void {
  expect(outcome.code).toBe(1);
  expect(outcome.stdout).not.toContain('listening');
  expect(outcome.stderr).toBe(`error: cannot start the server: ${line}\n`);
}

describe('settee serve: a data folder it cannot use', { timeout: 120_000 }, () => {
  it('names a data folder that cannot be created, or that is a file', async () => {
    const file = path.join(dir, 'file.txt');
    fs.writeFileSync(file, 'not a folder');
    const under = path.join(file, 'data');
    expectRefusal(
      await serve(under).exited,
      `the data folder ${under} cannot be created: a part of the path is a file, not a folder`,
    );
    expectRefusal(await serve(file).exited, `the data folder ${file} is a file, not a folder`);
  });

  it('names a data folder that cannot be written', async () => {
    const readOnly = path.join(dir, 'read-only');
    fs.mkdirSync(readOnly, { mode: 0o555 });
    expectRefusal(
      await serve(readOnly, asAnotherUser).exited,
      `the data folder ${readOnly} cannot be written: permission denied`,
    );
    expect(fs.readdirSync(readOnly)).toEqual([]);
  });

  it('names a database file in it that cannot be written', async () => {
    const data = path.join(dir, 'read-only-file');
    fs.mkdirSync(data, { mode: 0o777 });
    fs.chmodSync(data, 0o777); // whatever the umask took away
    const users = path.join(data, '_users.sqlite');
    fs.writeFileSync(users, '', { mode: 0o444 });
    expectRefusal(
      await serve(data, asAnotherUser).exited,
      `the data folder ${data} cannot be written: ${users}: permission denied`,
    );
  });

  it('says the folder is in use when another settee serve holds it', async () => {
    const data = path.join(dir, 'shared');
    const first = serve(data);
    await first.printed(({ stdout }) => stdout.includes('Settee is listening'), 'its first line');
    expectRefusal(
      await serve(data).exited,
      `the data folder ${data} is in use by another process (another \`settee serve\`?); stop it, or choose another --data`,
    );
    // The first one is unharmed.
    expect(first.child.exitCode).toBe(null);
  });
});
