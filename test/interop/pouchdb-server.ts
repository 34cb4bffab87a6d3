/**
 * pouchdb-server (from npm) for a test file, in a temporary folder, on 127.0.0.1.
 *
 * pouchdb-server cannot be told to pick a port and say which (`--port 0` is read as "no port
 * given", and with `PORT=0` it listens on one but logs `:0`): it is given a port found free,
 * which another process may take before it binds. Then it prints "Port N is already in use" and
 * exits, and it is started again on another port. Meanwhile the other process may answer HTTP on
 * that port (another test file's server): the server is up only once `GET /` answers with the
 * uuid written into its config.json beforehand, which no other server has.
 *
 * @example
 * const server = await startPouchServer();
 * const db = new RemoteDatabase(`${server.url}/shop`);
 * // …
 * await server.stop();
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { waitFor } from '../replication/helpers.js';
import { freePort } from '../docs/run-example.js';

const BIN = path.resolve(import.meta.dirname, '../../node_modules/pouchdb-server/bin/pouchdb-server');
/** Ports tried before giving up: each is lost only to another process binding it first. */
const MAX_ATTEMPTS = 5;
/** What pouchdb-server prints (then exits) when its port is taken (lib/index.js, `EADDRINUSE`). */
const PORT_TAKEN = /Port \d+ is already in use/;

export interface PouchServer {
  /** Its base URL, `http://127.0.0.1:<port>`. */
  url: string;
  /** Ends the process and removes its folder. */
  stop(): Promise<void>;
}

/** pouchdb-server's port was taken before it could listen there. */
class PortTakenError extends Error {
  override name = 'PortTakenError';
}

/**
 * Starts pouchdb-server in a new temporary folder (its config.json and log.txt go to its working
 * directory) and resolves once it answers; a port taken meanwhile is replaced by another.
 */
export async function startPouchServer(): Promise<PouchServer> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'settee-pouchdb-server-'));
  const uuid = randomUUID();
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ couchdb: { uuid } }));
  try {
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      try {
        const child = await launch(dir, port, uuid);
        return { url: urlOf(port), stop: () => stop(child, dir) };
      } catch (error) {
        if (!(error instanceof PortTakenError)) throw error;
        if (attempt === MAX_ATTEMPTS) {
          throw new Error(`pouchdb-server lost the race for a port ${MAX_ATTEMPTS} times`, { cause: error });
        }
      }
    }
  } catch (error) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

const urlOf = (port: number) => `http://127.0.0.1:${port}`;

/** Spawns pouchdb-server on `port`; resolves once it answers as itself, or kills it and throws. */
async function launch(dir: string, port: number, uuid: string): Promise<ChildProcess> {
  // Its stdout only repeats log.txt; stderr says why it stopped (-n would hide that: it crashes
  // on a taken port without saying so).
  const child = spawn(process.execPath, [BIN, '--port', String(port), '--dir', dir], {
    cwd: dir,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  // 'close' comes once stderr is read to its end, so the reason it printed is known.
  let closed = false;
  child.once('close', () => (closed = true));
  const url = urlOf(port);
  const answers = async () => {
    if (closed) throw exitError(port, child, stderr);
    return answersAs(url, uuid);
  };
  try {
    await waitFor(answers, `pouchdb-server to answer at ${url}`, { timeoutMs: 30_000 });
    return child;
  } catch (error) {
    await kill(child);
    throw error;
  }
}

function exitError(port: number, child: ChildProcess, stderr: string): Error {
  const how = `pouchdb-server on port ${port} exited (${child.exitCode ?? child.signalCode})`;
  if (PORT_TAKEN.test(stderr)) return new PortTakenError(`${how}: the port was taken`);
  return new Error(`${how} before it answered:\n${stderr}`);
}

/** True once `url` answers as the pouchdb-server whose config holds `uuid`. */
async function answersAs(url: string, uuid: string): Promise<boolean> {
  try {
    // Bounded: whatever else took the port might accept and never answer.
    const response = await fetch(url, { signal: AbortSignal.timeout(5_000) });
    const body = (await response.json()) as { uuid?: unknown };
    return body.uuid === uuid;
  } catch {
    return false;
  }
}

async function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  process.kill(child.pid, 'SIGKILL');
  await exited;
}

async function stop(child: ChildProcess, dir: string): Promise<void> {
  await kill(child);
  fs.rmSync(dir, { recursive: true, force: true });
}
