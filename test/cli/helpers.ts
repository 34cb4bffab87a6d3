/** Running the real `settee` command line as a child process, and reading what it prints. */
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll } from 'vitest';
import { Database } from '../../src/database/database.js';

const ROOT = path.resolve(import.meta.dirname, '../..');

export interface Outcome {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface Launched {
  child: ChildProcess;
  /** What it printed so far. */
  output: () => Outcome;
  /** Resolves once `check` holds of the output printed so far (checked as output arrives). */
  printed: (check: (output: Outcome) => boolean, what: string) => Promise<Outcome>;
  exited: Promise<Outcome>;
}

/**
 * Starts `settee <args>` from the sources, stdout and stderr piped (so not a terminal); `prefix`
 * runs it through another command (e.g. `setpriv` to run it as another user).
 */
export function launch(args: string[], prefix: readonly string[] = []): Launched {
  const [command, ...commandArgs] = [
    ...prefix,
    process.execPath,
    '--import',
    'tsx',
    'src/cli/main.ts',
    ...args,
  ];
  const child = spawn(command!, commandArgs, {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  const output = (): Outcome => ({ code: child.exitCode, stdout, stderr });
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<Outcome>((resolve) =>
    child.on('close', (code) => resolve({ code, stdout, stderr })),
  );
  const printed = (check: (output: Outcome) => boolean, what: string) =>
    new Promise<Outcome>((resolve, reject) => {
      const test = () => {
        if (!check(output())) return;
        stop();
        resolve(output());
      };
      const ended = () => {
        stop();
        reject(new Error(`settee ${args[0]} exited before it printed ${what}:\n${stdout}\n${stderr}`));
      };
      const stop = () => {
        child.stdout!.off('data', test);
        child.stderr!.off('data', test);
        child.off('close', ended);
      };
      // After the output collectors above, so each chunk is in `output()` when checked.
      child.stdout!.on('data', test);
      child.stderr!.on('data', test);
      child.on('close', ended);
      test();
    });
  return { child, output, printed, exited };
}

/**
 * `settee serve` on a free port with JSON logs and `args` (e.g. `--data`, `--postgres`), once it
 * listens: the process, to stop or kill, and its base URL.
 */
export async function serveInChild(args: string[]): Promise<{ launched: Launched; url: string }> {
  const launched = launch(['serve', '--port', '0', '--log-format', 'json', ...args]);
  const { stdout } = await launched.printed(({ stdout }) => stdout.includes('"url"'), 'its URL');
  const line = stdout.split('\n').find((text) => text.includes('"url"'))!;
  return { launched, url: (JSON.parse(line) as { url: string }).url };
}

/** Runs `settee <args>` to its end. */
export const settee = (...args: string[]): Promise<Outcome> => launch(args).exited;

/** A local database file at `file` holding `docs` (closed again, so the command can open it). */
export async function localFile(file: string, docs: Record<string, unknown>[] = []): Promise<string> {
  const db = await Database.open(file);
  for (let i = 0; i < docs.length; i += 2000) await db.bulkDocs(docs.slice(i, i + 2000));
  await db.close();
  return file;
}

/** `n` documents `{_id: prefix + number, n}`, ids in order. */
export const docsOf = (prefix: string, n: number, extra: Record<string, unknown> = {}) =>
  Array.from({ length: n }, (_, i) => ({ _id: `${prefix}${String(i).padStart(3, '0')}`, n: i, ...extra }));

/**
 * Files of secrets (admins, keys) for a test file, mode 0600 as an operator would keep them, in
 * a temporary folder removed after the file's tests: `const secretFile = useSecretFiles('x');`.
 */
export function useSecretFiles(prefix: string): (name: string, text: string) => string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `settee-${prefix}-`));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  return (name, text) => {
    const file = path.join(dir, name);
    fs.writeFileSync(file, text, { mode: 0o600 });
    return file;
  };
}
