import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach } from 'vitest';
import { type ServerOptions, SetteeServer } from '../../src/server/app.js';
import { type TestDatabase, TestDatabases } from './harness-postgres.js';

export const ADMIN = { name: 'admin', password: 'secret' };
/** An `Authorization` header signing in as `name` with Basic auth. */
export const basicAuth = (name: string, password: string): string =>
  `Basic ${Buffer.from(`${name}:${password}`).toString('base64')}`;
export const BASIC = basicAuth(ADMIN.name, ADMIN.password);

/**
 * Where `startServer` keeps the databases: SQLite files in the data folder, or, in vitest's
 * `postgres` project (vitest.config.ts sets `SETTEE_TEST_BACKEND`), a PostgreSQL database of the
 * run's cluster (test/global-postgres.ts). A test that checks what only one backend has (a file
 * on disk) asks this, and says why.
 */
export const TEST_BACKEND: 'sqlite' | 'postgres' =
  process.env.SETTEE_TEST_BACKEND === 'postgres' ? 'postgres' : 'sqlite';

/**
 * A running Settee server on a free port of 127.0.0.1, over a fresh temporary data folder and,
 * on the `postgres` backend, a fresh PostgreSQL database.
 */
export interface TestServer {
  server: SetteeServer;
  /** Base URL without credentials, e.g. `http://127.0.0.1:41234`. */
  url: string;
  dataDir: string;
  /** The PostgreSQL database's URL when the harness made one for this server (`TEST_BACKEND` postgres). */
  postgres: string | undefined;
  /** fetch against the server as the admin (Basic auth), JSON content type unless overridden. */
  fetch(path: string, init?: RequestInit): Promise<Response>;
  /** Stops the server; `keepData` leaves the folder (and its PostgreSQL database) for a restart. */
  stop(options?: { keepData?: boolean }): Promise<void>;
}

/**
 * Starts a server. A `postgres` option is used as given; otherwise, on the `postgres` backend, the
 * server gets the database that belongs to its data folder: a new one for a new folder, the same
 * one again for a restart on the folder of a server stopped with `keepData`.
 */
export async function startServer(options: Partial<ServerOptions> = {}): Promise<TestServer> {
  const dataDir = options.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'settee-server-'));
  const postgres = options.postgres === undefined ? await postgresDatabaseOf(dataDir) : undefined;
  const server = await SetteeServer.create({
    admin: `${ADMIN.name}:${ADMIN.password}`,
    passwordIterations: 1000,
    ...options,
    ...(postgres === undefined ? {} : { postgres: postgres.url }),
    dataDir,
    port: 0,
    host: '127.0.0.1',
  });
  const url = await server.listen();
  return {
    server,
    url,
    dataDir,
    postgres: postgres?.url,
    fetch: (p, init = {}) =>
      fetch(url + p, {
        ...init,
        headers: { authorization: BASIC, 'content-type': 'application/json', ...(init.headers ?? {}) },
      }),
    async stop({ keepData = false } = {}) {
      await server.close();
      if (keepData) return;
      fs.rmSync(dataDir, { recursive: true, force: true });
      await postgres?.drop();
    },
  };
}

/** On the `postgres` backend, this file's servers' databases (made when the first one starts). */
let testDatabases: TestDatabases | undefined;

function postgresDatabaseOf(dataDir: string): Promise<TestDatabase> | undefined {
  if (TEST_BACKEND !== 'postgres') return undefined;
  testDatabases ??= TestDatabases.inCluster();
  return testDatabases.of(dataDir);
}

/**
 * One server for a whole test file and a fresh database for each test (starting servers is the
 * slow part). The callbacks hand the file its server and each test's database name.
 */
export function useServerPerFile(
  onServer: (t: TestServer) => void,
  onDatabase: (name: string) => void,
): void {
  let server: TestServer | undefined;
  let count = 0;
  beforeAll(async () => {
    server = await startServer();
    onServer(server);
  });
  beforeEach(async () => {
    const name = `db${++count}`;
    const response = await server!.fetch(`/${name}`, { method: 'PUT' });
    if (response.status !== 201) throw new Error(`creating ${name} answered ${response.status}`);
    onDatabase(name);
  });
  afterAll(async () => {
    await server?.stop();
  });
}
