/**
 * `settee serve | head -3`: the program reading the server's JSON lines exits early, closing the
 * pipe. Whatever the server logs afterwards goes nowhere (EPIPE), and must neither crash it nor
 * keep it from stopping on the first SIGTERM.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type Launched, launch, type Outcome } from './helpers.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'settee-serve-pipe-'));
const started: Launched[] = [];
afterAll(() => {
  for (const server of started) if (server.child.exitCode === null) server.child.kill('SIGKILL');
  fs.rmSync(dir, { recursive: true, force: true });
});

/** How long a stop may take before it counts as ignored: the stop itself takes milliseconds. */
const STOP_BOUND_MS = 15_000;

/** The outcome, or `'still running'` once `ms` have passed without an exit. */
function exitWithin(server: Launched, ms: number): Promise<Outcome | 'still running'> {
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<'still running'>((resolve) => {
    timer = setTimeout(() => resolve('still running'), ms);
  });
  return Promise.race([server.exited, bound]).finally(() => clearTimeout(timer));
}

describe('settee serve with its output piped into a program that exits early', { timeout: 60_000 }, () => {
  it('stops on the first SIGTERM with code 0, its later logs dropped quietly', async () => {
    const server = launch(['serve', '--port', '0', '--data', path.join(dir, 'data'), '--admin', 'admin:pw']);
    started.push(server);
    const { stdout } = await server.printed(({ stdout }) => stdout.includes('Ctrl+C'), 'the start-up lines');
    // A request answered: the server is past writing its start-up lines, and logs a line that
    // waits in its buffer.
    expect((await fetch(`${/"url":"([^"]+)"/.exec(stdout)![1]}/`)).status).toBe(200);
    // As `head -3` does once it has its lines: the reading end of the pipe goes away. What the
    // server logs from here on (the request, the stop) can no longer be written anywhere.
    server.child.stdout!.destroy();
    process.kill(server.child.pid!, 'SIGTERM');
    const outcome = await exitWithin(server, STOP_BOUND_MS);
    expect(outcome === 'still running' ? outcome : { code: outcome.code, stderr: outcome.stderr }).toEqual({
      code: 0,
      stderr: '',
    });
  });
});
