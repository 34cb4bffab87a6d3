/**
 * Runs the examples of a guide as a reader would: in a working folder of their own, against
 * Settee's source, with the server they talk to on a free port instead of 5984. Every run is
 * bounded: a child still running at the bound is killed (with its whole process group) and the
 * run fails, unless it was meant to run until it printed something and did.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const ROOT = path.resolve(import.meta.dirname, '../..');
const TSX = pathToFileURL(path.join(ROOT, 'node_modules/tsx/dist/loader.mjs')).href;
const CLI = path.join(ROOT, 'src/cli/main.ts');
const ENTRY = pathToFileURL(path.join(ROOT, 'src/index.ts')).href;

/** The longest one example may run. */
export const EXAMPLE_BOUND_MS = 20_000;

/**
 * `npx settee` runs the CLI's source (the bin is the built one after `npm install`); `curl`
 * fails on an HTTP error status, so an example that claims to work must work.
 */
const SHELL_PRELUDE = `set -eo pipefail
npx() {
  if [ "$1" != settee ]; then echo "an example may run only 'npx settee', not 'npx $1'" >&2; return 127; fi
  shift; node --import "${TSX}" "${CLI}" "$@"
}
curl() { command curl --silent --show-error --fail-with-body "$@"; }
`;

export interface Outcome {
  code: number | null;
  /** stdout and stderr, interleaved as they arrived. */
  output: string;
  /** The `until` text was printed before the child was stopped. */
  reached: boolean;
  timedOut: boolean;
}

/** A guide's working folder: a temporary directory where its examples run, one after another. */
export class Workspace {
  private constructor(readonly dir: string) {}

  /** A fresh folder whose modules are ES modules and resolve packages from the repository. */
  static create(): Workspace {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'settee-docs-'));
    fs.writeFileSync(path.join(dir, 'package.json'), '{ "type": "module" }\n');
    fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
    return new Workspace(dir);
  }

  remove(): void {
    fs.rmSync(this.dir, { recursive: true, force: true });
  }

  /** Writes `code` as the module `name` of this folder and runs it with tsx. */
  runModule(name: string, code: string): Promise<Outcome> {
    fs.writeFileSync(path.join(this.dir, name), fromSource(code));
    return this.spawn(process.execPath, ['--import', TSX, name]);
  }

  /** Runs `script` with bash; with `until`, it runs until it prints that text. */
  runShell(script: string, until?: string): Promise<Outcome> {
    return this.spawn('bash', ['-c', SHELL_PRELUDE + script], until);
  }

  private spawn(command: string, args: string[], until?: string): Promise<Outcome> {
    const child = spawn(command, args, { cwd: this.dir, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    const outcome: Outcome = { code: null, output: '', reached: false, timedOut: false };
    const stopGroup = (signal: NodeJS.Signals) => {
      if (child.exitCode === null && child.signalCode === null) process.kill(-child.pid!, signal);
    };
    const collect = (chunk: Buffer) => {
      outcome.output += chunk.toString();
      if (until !== undefined && !outcome.reached && outcome.output.includes(until)) {
        outcome.reached = true;
        stopGroup('SIGTERM');
      }
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    const bound = setTimeout(() => {
      outcome.timedOut = true;
      stopGroup('SIGKILL');
    }, EXAMPLE_BOUND_MS);
    return new Promise((resolve, reject) => {
      child.on('error', reject);
      child.on('close', (code) => {
        clearTimeout(bound);
        resolve({ ...outcome, code });
      });
    });
  }
}

/** Imports of the `settee` package read Settee's source. */
function fromSource(code: string): string {
  return code.replace(/\bfrom\s+(['"])settee\1/g, `from '${ENTRY}'`);
}

/** The example's server addresses (`127.0.0.1:5984`, `localhost:5984`, `--port 5984`) on `port`. */
export function onPort(code: string, port: number): string {
  return code
    .replace(/\b(?:127\.0\.0\.1|localhost):5984\b/g, `127.0.0.1:${port}`)
    .replace(/--port 5984\b/g, `--port ${port}`);
}

/** A TCP port free on 127.0.0.1 now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
