import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach } from 'vitest';
import { type ServerOptions, SetteeServer } from '../../src/server/app.js';

export const ADMIN = { name: 'admin', password: 'secret' };
export const BASIC = `Basic ${Buffer.from(`${ADMIN.name}:${ADMIN.password}`).toString('base64')}`;

/** A running Settee server on a free port of 127.0.0.1, over a fresh temporary data folder. */
export interface TestServer {
  server: SetteeServer;
  /** Base URL without credentials, e.g. `http://127.0.0.1:41234`. */
  url: string;
  dataDir: string;
  /** fetch against the server as the admin (Basic auth), JSON content type unless overridden. */
  fetch(path: string, init?: RequestInit): Promise<Response>;
  /** Stops the server; `keepData` leaves the folder for a restart. */
  stop(options?: { keepData?: boolean }): Promise<void>;
}

export async function startServer(options: Partial<ServerOptions> = {}): Promise<TestServer> {
  const dataDir = options.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'settee-server-'));
  const server = await SetteeServer.create({
    admin: `${ADMIN.name}:${ADMIN.password}`,
    passwordIterations: 1000,
    ...options,
    dataDir,
    port: 0,
    host: '127.0.0.1',
  });
  const url = await server.listen();
  return {
    server,
    url,
    dataDir,
    fetch: (p, init = {}) =>
      fetch(url + p, {
        ...init,
        headers: { authorization: BASIC, 'content-type': 'application/json', ...(init.headers ?? {}) },
      }),
    async stop({ keepData = false } = {}) {
      await server.close();
      if (!keepData) fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
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
