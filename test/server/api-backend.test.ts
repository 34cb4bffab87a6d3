/**
 * The server answers alike on every backend: this file runs in both vitest projects (SQLite and
 * PostgreSQL, see vitest.config.ts), as every api-*.test.ts does. It checks that each project's
 * servers do run on its backend, and holds what running the API tests on PostgreSQL found wrong.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { fileNameOf } from '../../src/server/registry.js';
import { startServer, TEST_BACKEND, type TestServer, useServerPerFile } from './harness.js';
import { onPostgresDatabase } from './harness-postgres.js';

let t: TestServer;
let db = '';
useServerPerFile(
  (server) => (t = server),
  (name) => (db = name),
);

type Json = Record<string, unknown>;

async function call(method: string, url: string, body?: unknown): Promise<{ status: number; json: Json }> {
  const response = await t.fetch(url, {
    method,
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, json: (await response.json()) as Json };
}

/** The names of the databases in the server's PostgreSQL database, read there, not through Settee. */
async function namesInPostgres(url: string): Promise<string[]> {
  const { rows } = await onPostgresDatabase(url, (client) =>
    client.query<{ name: string }>('SELECT name FROM settee.databases'),
  );
  return rows.map((row) => row.name);
}

describe("the harness's servers", () => {
  it(`keep their databases on the project's backend (${TEST_BACKEND})`, async () => {
    const onDisk = fs.existsSync(path.join(t.dataDir, fileNameOf(db)));
    if (TEST_BACKEND === 'sqlite') {
      expect(onDisk).toBe(true);
      expect(t.postgres).toBeUndefined();
    } else {
      expect(onDisk).toBe(false);
      expect(await namesInPostgres(t.postgres!)).toContain(db);
    }
  });

  it('each get a database of their own, and a restart on the same folder finds its data again', async () => {
    let own = await startServer();
    try {
      expect((await own.fetch('/_all_dbs').then((r) => r.json())) as string[]).not.toContain(db);
      expect((await own.fetch('/mine', { method: 'PUT' })).status).toBe(201);
      await own.stop({ keepData: true });
      own = await startServer({ dataDir: own.dataDir });
      expect((await own.fetch('/_all_dbs').then((r) => r.json())) as string[]).toContain('mine');
    } finally {
      await own.stop();
    }
  });
});

describe('what the PostgreSQL run found', () => {
  // The index builder opens a new index for each query that needs it, and so does every server
  // sharing one PostgreSQL: two opening it at once made the second insert of its registry row fail
  // on the unique (db, name), a 500 (src/storage/postgres/indexes.ts `register`).
  it('answers queries arriving together on a new index alike', async () => {
    const docs = Array.from({ length: 20 }, (_, i) => ({ _id: `d${i}`, till: `t${i % 2}`, at: i }));
    const query = { selector: { till: 't1', at: { $gte: 0 } }, sort: [{ till: 'asc' }, { at: 'asc' }] };
    // Several rounds, each on a new database: the race is won or lost by a few milliseconds.
    for (let round = 0; round < 5; round++) {
      const name = `${db}-${round}`;
      expect((await call('PUT', `/${name}`)).status).toBe(201);
      expect((await call('POST', `/${name}/_bulk_docs`, { docs })).status).toBe(201);
      // Creating the index starts its build in the background, as the queries start theirs.
      expect((await call('POST', `/${name}/_index`, { index: { fields: ['till', 'at'] } })).status).toBe(200);
      const answers = await Promise.all(
        Array.from({ length: 3 }, () => call('POST', `/${name}/_find`, query)),
      );
      expect(
        answers.map((answer) => [answer.status, (answer.json.docs as Json[] | undefined)?.length]),
      ).toEqual(Array.from({ length: 3 }, () => [200, 10]));
    }
  });

  // A server closed twice (a second shutdown signal, a test's cleanup after its own close) closes
  // once: on PostgreSQL the second close ended the pool again, which pg refuses by throwing.
  it('closes twice without an error', async () => {
    const own = await startServer();
    await own.server.close();
    await expect(own.stop()).resolves.toBeUndefined();
  });
});
