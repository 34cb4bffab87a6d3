import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type pg from 'pg';
import PouchDB from 'pouchdb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launch } from '../cli/helpers.js';
import { type DocState, diffStates, readState } from '../interop/compare.js';
import { postgresUrl } from '../storage/postgres-cluster.js';
import { usePostgres } from '../storage/use-postgres.js';
import { waitFor } from '../replication/helpers.js';
import { ADMIN, startServer, type TestServer } from './harness.js';
import { openLive } from './http-client.js';

// Two Settee servers on one PostgreSQL, each with its own data folder, as two machines behind a
// load balancer would run: whatever is written through one is what the other answers with.

const postgres = usePostgres();
let a: TestServer;
let b: TestServer;
let poolOfB: pg.Pool;
let count = 0;
const pouchDir = fs.mkdtempSync(path.join(os.tmpdir(), 'settee-pg-pouch-'));

beforeAll(async () => {
  // One server is given a URL (its pool is its own), the other a pool its owner ends: both shapes.
  a = await startServer({ postgres: postgres.url });
  poolOfB = postgres.pool();
  b = await startServer({ postgres: poolOfB });
});

afterAll(async () => {
  await a?.stop();
  await b?.stop();
  fs.rmSync(pouchDir, { recursive: true, force: true });
});

async function createThroughA(): Promise<string> {
  const name = `shop${++count}`;
  expect((await a.fetch(`/${name}`, { method: 'PUT' })).status).toBe(201);
  return name;
}

async function json(response: Promise<Response>): Promise<Record<string, unknown>> {
  return (await (await response).json()) as Record<string, unknown>;
}

/** A live `_changes` request on B, answered once B's feed is waiting (its headers are flushed then). */
function waitingFeed(db: string, query: string) {
  const auth = `Basic ${Buffer.from(`${ADMIN.name}:${ADMIN.password}`).toString('base64')}`;
  return openLive(b.url, `/${db}/_changes?${query}`, { headers: { authorization: auth } });
}

describe('two servers on one PostgreSQL', () => {
  it('share databases, documents and the server uuid', async () => {
    const db = await createThroughA();
    expect(await json(b.fetch('/_all_dbs'))).toEqual(expect.arrayContaining([db, '_users', '_replicator']));
    const put = await json(a.fetch(`/${db}/apple`, { method: 'PUT', body: JSON.stringify({ price: 3 }) }));
    expect(await json(b.fetch(`/${db}/apple`))).toEqual({ _id: 'apple', _rev: put.rev, price: 3 });
    // An edit through B of what A wrote, then read back through A: B's trees are not stale.
    const edit = await json(
      b.fetch(`/${db}/apple`, { method: 'PUT', body: JSON.stringify({ _rev: put.rev, price: 4 }) }),
    );
    expect(await json(a.fetch(`/${db}/apple`))).toMatchObject({ _rev: edit.rev, price: 4 });
    expect(await json(b.fetch(`/${db}`))).toMatchObject({ doc_count: 1, update_seq: 2 });
    // One uuid for the cluster, as CouchDB's nodes share theirs (GET / answers it).
    const [rootA, rootB] = await Promise.all([json(a.fetch('/')), json(b.fetch('/'))]);
    expect(rootA.uuid).toMatch(/^[0-9a-f]{32}$/);
    expect(rootB.uuid).toBe(rootA.uuid);
  });

  it("forgets B's cached revision tree of a document A edits", async () => {
    const db = await createThroughA();
    let rev = '';
    // Trees of 16 nodes and more are cached: B reads this one, and keeps it.
    for (let i = 0; i < 20; i++) {
      const body = JSON.stringify(rev ? { _rev: rev, n: i } : { n: i });
      rev = (await json(a.fetch(`/${db}/hot`, { method: 'PUT', body }))).rev as string;
    }
    expect(await json(b.fetch(`/${db}/hot?revs=true`))).toMatchObject({ _revisions: { start: 20 } });
    const edited = (await json(a.fetch(`/${db}/hot`, { method: 'PUT', body: JSON.stringify({ _rev: rev }) })))
      .rev as string;
    const read = await json(b.fetch(`/${db}/hot?revs=true&revs_info=true`));
    expect(read._rev).toBe(edited);
    expect(read._revisions).toMatchObject({ start: 21, ids: expect.arrayContaining([edited.slice(3)]) });
    // And B edits on from A's revision: its tree is A's.
    const next = await b.fetch(`/${db}/hot`, { method: 'PUT', body: JSON.stringify({ _rev: edited }) });
    expect(next.status).toBe(201);
  });

  it("follows a revs_limit set through A in B's open database", async () => {
    const db = await createThroughA();
    const limitOnB = async () => (await (await b.fetch(`/${db}/_revs_limit`)).json()) as number;
    expect(await limitOnB()).toBe(1000); // B holds it open from here
    expect((await a.fetch(`/${db}/_revs_limit`, { method: 'PUT', body: '5' })).status).toBe(200);
    // The notice reaches B after A answered: wait for it (bounded), never for a fixed time.
    await waitFor(async () => (await limitOnB()) === 5, 'the revs_limit on B');
    // And B's writes stem by it: six edits through B keep five revisions of history.
    let rev: string | undefined;
    for (let n = 0; n < 6; n++) {
      const body = JSON.stringify(rev ? { _rev: rev, n } : { n });
      rev = (await json(b.fetch(`/${db}/till`, { method: 'PUT', body }))).rev as string;
    }
    const doc = await json(b.fetch(`/${db}/till?revs=true`));
    expect((doc._revisions as { ids: string[] }).ids).toHaveLength(5);
  });

  it("drops B's cached security object when A changes it", async () => {
    const db = await createThroughA();
    expect(await json(b.fetch(`/${db}/_security`))).toMatchObject({ members: { roles: ['_admin'] } });
    const heard = new Promise<void>((resolve) => {
      b.server.services.registry.onSecurityChange((name) => name === db && resolve());
    });
    const security = { admins: { names: [], roles: [] }, members: { names: ['alice'], roles: [] } };
    await a.fetch(`/${db}/_security`, { method: 'PUT', body: JSON.stringify(security) });
    await heard;
    expect(await json(b.fetch(`/${db}/_security`))).toEqual(security);
  });

  it('gives servers starting together on an empty PostgreSQL one uuid', async () => {
    const url = postgresUrl(postgres, await postgres.another());
    // Both migrate, create _users and _replicator and offer a uuid at the same time.
    const servers = await Promise.all([startServer({ postgres: url }), startServer({ postgres: url })]);
    try {
      const [first, second] = await Promise.all(servers.map((server) => json(server.fetch('/'))));
      expect(second!.uuid).toBe(first!.uuid);
    } finally {
      await Promise.all(servers.map((server) => server.stop()));
    }
  });

  it('wakes a longpoll and a continuous feed on B at once when A writes', { timeout: 20_000 }, async () => {
    const db = await createThroughA();
    // Opened on B before the write: B holds the database open and its feeds wait on B's notifier.
    const longpoll = await waitingFeed(db, 'feed=longpoll&since=now&timeout=60000');
    const continuous = await waitingFeed(db, 'feed=continuous&since=now&timeout=60000');
    const started = Date.now();
    await a.fetch(`/${db}/pear`, { method: 'PUT', body: JSON.stringify({ price: 2 }) });
    const answer = JSON.parse(await longpoll.ended) as { results: { id: string }[]; last_seq: number };
    expect(answer.results.map((row) => row.id)).toEqual(['pear']);
    expect(answer.last_seq).toBe(1);
    await continuous.until((text) => text.includes('"pear"'), 15_000);
    continuous.destroy();
    // Far below the 60 s the feeds would wait: they were woken, not timed out.
    expect(Date.now() - started).toBeLessThan(15_000);
  });

  it(
    'listens again after its listening connection is cut, and wakes the feeds with what it missed',
    { timeout: 30_000 },
    async () => {
      const db = await createThroughA();
      const longpoll = await waitingFeed(db, 'feed=longpoll&since=now&timeout=60000');
      const admin = postgres.pool();
      try {
        // The listeners on this file's database only: other files' servers share the cluster.
        const listening = `SELECT pid FROM pg_stat_activity
          WHERE datname = current_database() AND query LIKE 'LISTEN %' AND pid <> pg_backend_pid()`;
        const before = (await admin.query(listening)).rowCount!;
        const cut = await admin.query(`SELECT pg_terminate_backend(pid) FROM (${listening}) AS l`);
        expect(cut.rowCount).toBeGreaterThan(0);
        // Written while no server listens (each waits 0.5 s before it connects again): no one hears it.
        await a.fetch(`/${db}/plum`, { method: 'PUT', body: JSON.stringify({ price: 4 }) });
        const answer = JSON.parse(await longpoll.ended) as { results: { id: string }[] };
        expect(answer.results.map((row) => row.id)).toEqual(['plum']);
        await waitFor(async () => (await admin.query(listening)).rowCount! >= before, 'every listener back');
      } finally {
        await admin.end();
      }
    },
  );

  it(
    'converges a PouchDB pushing through A and one pulling live through B',
    { timeout: 25_000 },
    async () => {
      const db = await createThroughA();
      const remote = (server: TestServer) =>
        new PouchDB(`${server.url}/${db}`, { auth: { username: ADMIN.name, password: ADMIN.password } });
      const writer = new PouchDB(path.join(pouchDir, `writer-${db}`));
      const reader = new PouchDB(path.join(pouchDir, `reader-${db}`));
      const [throughA, throughB] = [remote(a), remote(b)];
      const docs = Array.from({ length: 30 }, (_, i) => ({ _id: `till-${i}`, total: i }));
      const written = await writer.bulkDocs(docs);
      const first = written[0] as PouchDB.WriteResult;
      await writer.put({ _id: 'till-0', _rev: first.rev, total: 100 });
      await writer.remove('till-1', (written[1] as PouchDB.WriteResult).rev);
      const expected: Map<string, DocState> = await readState(writer);
      const differences = async () =>
        diffStates(expected, await readState(reader), { names: ['writer', 'reader'] });
      // The reader follows B's live feed, which only A's writes (through PostgreSQL) can wake.
      const pull = reader.replicate.from(throughB, { live: true, retry: false });
      try {
        const failed = new Promise<never>((_, reject) => pull.on('error', reject));
        // 'paused': the reader has read B's (empty) feed and now waits on it.
        await Promise.race([new Promise((resolve) => pull.once('paused', resolve)), failed]);
        const caughtUp = new Promise<void>((resolve, reject) => {
          pull.on('change', () => void differences().then((diff) => diff.length === 0 && resolve(), reject));
        });
        expect(await writer.replicate.to(throughA)).toMatchObject({ ok: true, docs_written: 30 });
        await Promise.race([caughtUp, failed]);
        expect(await differences()).toEqual([]);
      } finally {
        pull.cancel();
        await Promise.all([writer, reader, throughA, throughB].map((pouch) => pouch.close()));
      }
    },
  );

  it('deletes a database through B: A answers 404, then serves the one B makes again', async () => {
    const db = await createThroughA();
    await a.fetch(`/${db}/kept`, { method: 'PUT', body: '{}' });
    expect((await a.fetch(`/${db}/kept`)).status).toBe(200); // A holds the database open now
    expect((await b.fetch(`/${db}`, { method: 'DELETE' })).status).toBe(200);
    expect(await json(a.fetch(`/${db}`))).toEqual({ error: 'not_found', reason: 'Database does not exist.' });
    expect(await json(a.fetch('/_all_dbs'))).not.toContain(db);
    // Made again through B, it is a new database, which A opens afresh rather than the old one.
    expect((await b.fetch(`/${db}`, { method: 'PUT' })).status).toBe(201);
    await b.fetch(`/${db}/fresh`, { method: 'PUT', body: '{}' });
    expect((await a.fetch(`/${db}/fresh`)).status).toBe(200);
    expect((await a.fetch(`/${db}/kept`)).status).toBe(404);
    expect(await json(a.fetch(`/${db}`))).toMatchObject({ doc_count: 1, update_seq: 1 });
  });
});

describe('settee serve --postgres', { timeout: 30_000 }, () => {
  it('joins the servers on that PostgreSQL, names it without its password, and stops cleanly', async () => {
    const db = await createThroughA();
    const url = `postgresql://${postgres.user}:hunter2@/${postgres.database}?host=${encodeURIComponent(postgres.socketDir)}`;
    const data = path.join(pouchDir, 'cli-data');
    const server = launch([
      'serve',
      '--port',
      '0',
      '--data',
      data,
      '--log-format',
      'json',
      '--postgres',
      url,
    ]);
    try {
      const { stdout } = await server.printed(({ stdout }) => stdout.includes('"password"'), 'the admin');
      const fields = Object.assign(
        {},
        ...stdout
          .trim()
          .split('\n')
          .map((line) => JSON.parse(line)),
      ) as Record<string, string>;
      expect(fields.postgres).toBe(
        `postgresql://${postgres.user}:***@/${postgres.database}?host=${encodeURIComponent(postgres.socketDir)}`,
      );
      expect(stdout).not.toContain('hunter2');
      const [ours, theirs] = await Promise.all([json(a.fetch('/')), json(fetch(fields.url!))]);
      expect(theirs.uuid).toBe(ours.uuid);
      // Its admin (generated: none was given) is its own; the databases are everyone's.
      const auth = `Basic ${Buffer.from(`admin:${fields.password}`).toString('base64')}`;
      expect(await json(fetch(`${fields.url}/_all_dbs`, { headers: { authorization: auth } }))).toContain(db);
    } finally {
      server.child.kill('SIGINT');
    }
    // Its pool and its listening connection closed: it exits by itself, with status 0.
    expect((await server.exited).code).toBe(0);
  });

  it('refuses a --postgres that is not a postgres:// URL, in one line', async () => {
    const outcome = await launch([
      'serve',
      '--port',
      '0',
      '--data',
      path.join(pouchDir, 'bad'),
      '--postgres',
      'mysql://x',
    ]).exited;
    expect(outcome.code).toBe(1);
    expect(outcome.stderr).toBe(
      'error: cannot start the server: expected a postgres://… URL for the PostgreSQL, not "mysql://x"\n',
    );
  });
});
