/**
 * `settee sync --continuous` on a terminal: messages logged above the progress bars must not
 * overwrite them. The command's output stream is a terminal-like stream (the CommandIo seam the
 * real command fills with process.stdout), read back through a small screen model of the
 * escape sequences cli-progress and Node's readline write.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { syncCommand } from '../../src/cli/replicate.js';
import { docsOf, localFile } from './helpers.js';

const ESC = '\u001b';
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'settee-cli-tty-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** A control sequence (ESC [ …) or one character; built from strings, as lint forbids ESC in a regex literal. */
const TOKEN = new RegExp(`${ESC}\\[[?\\d;]*[A-Za-z]|[^${ESC}]`, 'g');
const ESCAPE = new RegExp(`^${ESC}\\[(\\??)(\\d*)([A-Za-z])$`);

/** The lines a terminal shows after `output`: cursor moves, line clears and overwrites applied. */
function screen(output: string): string[] {
  const lines: string[] = [''];
  let row = 0;
  let column = 0;
  const write = (char: string) => {
    const line = lines[row]!.padEnd(column);
    lines[row] = line.slice(0, column) + char + line.slice(column + 1);
    column++;
  };
  for (const token of output.match(TOKEN) ?? []) {
    const escape = ESCAPE.exec(token);
    if (!escape) {
      if (token === '\r') column = 0;
      else if (token === '\n') {
        row++;
        column = 0;
        lines[row] ??= '';
      } else write(token);
      continue;
    }
    const [, privateMode, count, command] = escape;
    if (privateMode) continue; // cursor shown or hidden, line wrapping
    const n = Number(count || '1');
    if (command === 'A') row = Math.max(0, row - n);
    else if (command === 'B') row += n;
    else if (command === 'G') column = n - 1;
    else if (command === 'K') lines[row] = count === '2' ? '' : lines[row]!.slice(0, column);
    else if (command === 'J') lines.splice(row + 1, lines.length, lines[row]!.slice(0, column));
    lines[row] ??= '';
  }
  return lines.map((line) => line.trimEnd()).filter((line) => line !== '');
}

describe('settee sync --continuous on a terminal', { timeout: 60_000 }, () => {
  it('logs "up to date" above the bars, once per direction, and keeps both bars whole', async () => {
    const a = await localFile(path.join(dir, 'a.sqlite'), docsOf('a', 3000));
    // b empty: the pull bar is done and unchanged at once, while the push bar takes several
    // frames; "push: up to date" then moves both bars down a line, and the unchanged one was
    // not drawn again: the push bar took its line, and it vanished.
    const b = await localFile(path.join(dir, 'b.sqlite'));
    let output = '';
    let interrupt: (signal: string) => void = () => undefined;
    const interrupted = new Promise<string>((stop) => (interrupt = stop));
    const stdout = Object.assign(new PassThrough(), { isTTY: true, columns: 120 });
    stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (/push: up to date/.test(output) && /pull: up to date/.test(output)) interrupt('SIGINT');
    });
    const status = await syncCommand(
      a,
      b,
      { continuous: true },
      { stdout, stderr: process.stderr, interrupted },
    );
    expect(status).toBe(0);

    const shown = screen(output);
    const messages = shown.filter((line) => line.includes('up to date'));
    // The pull direction sees every batch the push wrote to b, with nothing new in it: that
    // printed "pull: up to date" again for each batch.
    expect(messages.sort()).toEqual([
      'pull: up to date, waiting for changes',
      'push: up to date, waiting for changes',
    ]);
    // Each bar once, on a line of its own, not overwritten by a message or by the other bar.
    expect(shown.filter((line) => /^push \[=+\] 100% \| /.test(line))).toHaveLength(1);
    expect(shown.filter((line) => /^pull \[/.test(line))).toHaveLength(1);
    expect(shown.filter((line) => /(push|pull) \[.*(push|pull) \[/.test(line))).toEqual([]);
    expect(shown.at(-2)).toMatch(/^push: replication stopped: 3000 docs read, 3000 written, 0 failures in/);
    expect(shown.at(-1)).toMatch(/^pull: replication stopped: 0 docs read, 0 written, 0 failures in/);
  });
});
