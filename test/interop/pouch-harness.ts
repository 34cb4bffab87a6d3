import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import PouchDB from 'pouchdb';
import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest';
import { ADMIN, startServer, type TestServer } from '../server/harness.js';

/**
 * A Settee server for the file and PouchDB databases for each test: on leveldb in a temporary
 * folder (`local`), or PouchDB's HTTP adapter on a database of the server (`remote`). Every
 * PouchDB is closed and the folder removed after each test; the server stops after the file.
 */
export function usePouchServer(prefix: string) {
  let server: TestServer | undefined;
  let tmp = '';
  const opened: PouchDB[] = [];

  beforeAll(async () => {
    server = await startServer();
  });
  // Stopping closes every database, some with 10k documents: allow for a loaded machine.
  afterAll(async () => {
    await server?.stop();
  }, 60_000);
  beforeEach(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  });
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((db) => db.close()));
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  const current = (): TestServer => {
    if (!server) throw new Error('the server starts in beforeAll');
    return server;
  };
  const track = (db: PouchDB): PouchDB => {
    opened.push(db);
    return db;
  };

  return {
    /** The server (once the file's setup has run). */
    get t(): TestServer {
      return current();
    },
    /** A PouchDB on leveldb in this test's temporary folder. */
    local(name: string): PouchDB {
      return track(new PouchDB(path.join(tmp, name)));
    },
    /** PouchDB's HTTP adapter on a Settee database; `log` records each request as `METHOD url`. */
    remote(name: string, log?: string[]): PouchDB {
      const { url } = current();
      return track(
        new PouchDB(`${url}/${name}`, {
          auth: { username: ADMIN.name, password: ADMIN.password },
          ...(log
            ? {
                fetch: (target, options) => {
                  log.push(`${options.method ?? 'GET'} ${target.slice(url.length)}`);
                  return PouchDB.fetch(target, options);
                },
              }
            : {}),
        }),
      );
    },
  };
}
