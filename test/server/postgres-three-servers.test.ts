/**
 * Three Settee servers on one PostgreSQL, as three machines behind a load balancer: clients of
 * every kind syncing through different servers at once converge to one set of revision trees; a
 * server killed with SIGKILL in the middle of replications loses nothing it acknowledged, and its
 * clients carry on through another server from their checkpoints (the servers share one uuid, so
 * a replication has one id whichever server it goes through); automatic resolvers running on two
 * servers at once write each resolution once. And two things a server must follow from another:
 * a resolver set there, and a database deleted there (its live feeds end).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import PouchDB from 'pouchdb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatStamp, isStamp } from '../../src/conflicts/index.js';
import type { Doc } from '../../src/core/api.js';
import { Database } from '../../src/database/database.js';
import { RemoteDatabase } from '../../src/remote/index.js';
import { replicate, replicationId, sync } from '../../src/replication/index.js';
import { docsOf, type Launched, serveInChild } from '../cli/helpers.js';
import { type DocState, diffStates, readState } from '../interop/compare.js';
import { dbState, peerOver, waitFor } from '../replication/helpers.js';
import { usePostgres } from '../storage/use-postgres.js';
import { ADMIN, BASIC, startServer, type TestServer } from './harness.js';
import { jsonLines, openLive } from './http-client.js';

type Json = Record<string, unknown>;

const AUTH = { username: ADMIN.name, password: ADMIN.password };
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'settee-pg-three-'));
const postgres = usePostgres();
/** Three servers in this process: A, B and C. */
let servers: TestServer[];
const children: Launched[] = [];
const clients: { close(): Promise<unknown> }[] = [];
let count = 0;

beforeAll(async () => {
  servers = [];
  for (let i = 0; i < 3; i++) servers.push(await startServer({ postgres: postgres.url }));
});

afterAll(async () => {
  for (const client of clients) await client.close().catch(() => undefined);
  for (const child of children) if (child.child.exitCode === null) child.child.kill('SIGKILL');
  await Promise.all(children.map((child) => child.exited));
  for (const server of servers ?? []) await server.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

const server = (i: number) => servers[i]!;

async function call(base: string, method: string, at: string, body?: unknown) {
  const response = await fetch(base + at, {
    method,
    headers: { authorization: BASIC, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, json: (await response.json()) as Json };
}

async function ok(base: string, method: string, at: string, body?: unknown): Promise<Json> {
  const { status, json } = await call(base, method, at, body);
  if (status >= 300) throw new Error(`${method} ${at}: ${status} ${JSON.stringify(json)}`);
  return json;
}

/** A new database, created through A. */
async function newDb(): Promise<string> {
  const name = `three${++count}`;
  await ok(server(0).url, 'PUT', `/${name}`);
  return name;
}

function localPouch(name: string): PouchDB {
  const pouch = new PouchDB(path.join(dir, `pouch-${name}-${++count}`));
  clients.push(pouch);
  return pouch;
}

function remotePouch(base: string, db: string): PouchDB {
  const pouch = new PouchDB(`${base}/${db}`, { auth: AUTH });
  clients.push(pouch);
  return pouch;
}

async function localSettee(name: string): Promise<Database> {
  const db = await Database.open(path.join(dir, `settee-${name}-${++count}.sqlite`), {
    durability: 'normal',
  });
  clients.push(db);
  return db;
}

/** `retries`: how many times a failed request is tried again before the replication fails. */
const remoteSettee = (base: string, db: string, retries?: number) =>
  new RemoteDatabase(`${base}/${db}`, { auth: AUTH, ...(retries === undefined ? {} : { retries }) });

/** The database as server `i` holds it open: what its routes use. */
const openOn = (i: number, db: string) => server(i).server.services.registry.get(db);

/** Every document's leaves, `id:rev,rev…` sorted: cheap to compare while replicas converge. */
function leafPrint(rows: { id: string; changes: { rev: string }[] }[]): string {
  return rows
    .map((row) => `${row.id}:${row.changes.map((change) => change.rev).sort()}`)
    .sort()
    .join(' ');
}

const setteeLeaves = (db: Database) => db.changes({ style: 'all_docs' }).then((c) => leafPrint(c.results));
const pouchLeaves = (db: PouchDB) => db.changes({ style: 'all_docs' }).then((c) => leafPrint(c.results));

/** `n` own documents of a client, then three of them deleted and three edited. */
async function ownWrites(put: (doc: Json) => Promise<string>, prefix: string, n: number): Promise<void> {
  const revs: string[] = [];
  for (const doc of docsOf(prefix, n, { by: prefix })) revs.push(await put(doc));
  for (let i = 0; i < 3; i++) await put({ _id: docsOf(prefix, n)[i]!._id, _rev: revs[i], _deleted: true });
  for (let i = 3; i < 6; i++) await put({ _id: docsOf(prefix, n)[i]!._id, _rev: revs[i], edited: true });
}

/** What the clients are compared with: a server's state as PouchDB reads it, and as Settee does. */
interface Reference {
  pouch: Map<string, DocState>;
  settee: Awaited<ReturnType<typeof dbState>>;
}

/** A client replica, PouchDB or Settee, that syncs with one server. */
interface Client {
  name: string;
  /** Writes a document, returns its new revision. */
  put(doc: Json): Promise<string>;
  get(id: string): Promise<Json>;
  leaves(): Promise<string>;
  pushOnce(): PromiseLike<unknown>;
  pullOnce(): PromiseLike<unknown>;
  syncLive(): { cancel(): void };
  /** Expects the client to hold exactly the trees of `reference`. */
  expectSame(reference: Reference): Promise<void>;
}

function pouchClient(name: string, base: string, db: string): Client {
  const local = localPouch(name);
  const remote = remotePouch(base, db);
  return {
    name,
    put: async (doc) => (await local.put(doc as PouchDB.Document)).rev,
    get: (id) => local.get(id) as Promise<Json>,
    leaves: () => pouchLeaves(local),
    pushOnce: () => local.replicate.to(remote),
    pullOnce: () => local.replicate.from(remote),
    syncLive: () => PouchDB.sync(local, remote, { live: true, retry: true, batch_size: 20 }),
    expectSame: async (reference) =>
      expect(diffStates(reference.pouch, await readState(local), { names: ['server', name] })).toEqual([]),
  };
}

async function setteeClient(name: string, base: string, db: string): Promise<Client> {
  const local = await localSettee(name);
  const remote = remoteSettee(base, db);
  return {
    name,
    put: async (doc) => (await local.put(doc as Doc)).rev,
    get: (id) => local.get(id) as Promise<Json>,
    leaves: () => setteeLeaves(local),
    pushOnce: () => replicate(local, remote).done,
    pullOnce: () => replicate(remote, local).done,
    syncLive: () => sync(local, remote, { live: true, batch_size: 20 }),
    expectSame: async (reference) => expect(await dbState(local)).toEqual(reference.settee),
  };
}

describe('three servers on one PostgreSQL', { timeout: 60_000 }, () => {
  it('PouchDB and Settee clients syncing through different servers at once converge to the same trees', async () => {
    const db = await newDb();
    const [a, b, c] = [0, 1, 2].map((i) => server(i).url) as [string, string, string];
    const clientsOf = [
      pouchClient('pouch-a', a, db),
      pouchClient('pouch-b', b, db),
      await setteeClient('settee-c', c, db),
      await setteeClient('settee-a', a, db),
    ];
    const [writer] = clientsOf as [Client];
    // Ten shared documents, which every client has before it goes offline.
    for (const doc of docsOf('shared', 10)) await writer.put(doc);
    await writer.pushOnce();
    await Promise.all(clientsOf.slice(1).map((client) => client.pullOnce()));

    // Offline: each client edits every shared document (four branches each), two delete one,
    // and each writes, deletes and edits documents of its own.
    for (const client of clientsOf) {
      for (const { _id } of docsOf('shared', 10)) {
        const current = await client.get(_id);
        const deletes =
          (client.name === 'settee-c' && _id === 'shared000') ||
          (client.name === 'pouch-b' && _id === 'shared001');
        await client.put(
          deletes ? { _id, _rev: current._rev, _deleted: true } : { ...current, by: client.name },
        );
      }
      await ownWrites(client.put, `${client.name}-`, 8);
    }

    // All four sync live, each through its server, while they go on writing.
    const live = clientsOf.map((client) => client.syncLive());
    try {
      await Promise.all(
        clientsOf.map(async (client) => {
          await ownWrites(client.put, `${client.name}-later-`, 6);
          const current = await client.get('shared005');
          await client.put({ ...current, again: client.name });
        }),
      );
      const prints = async () => [
        ...(await Promise.all(clientsOf.map((client) => client.leaves()))),
        ...(await Promise.all(
          [a, b, c].map(async (base) => {
            const { json } = await call(base, 'GET', `/${db}/_changes?style=all_docs`);
            return leafPrint(json.results as { id: string; changes: { rev: string }[] }[]);
          }),
        )),
      ];
      await waitFor(
        async () => new Set(await prints()).size === 1,
        'every client and server to hold the same leaves',
        { timeoutMs: 40_000, intervalMs: 100 },
      );
    } finally {
      for (const handle of live) handle.cancel();
    }

    // The full trees, bodies included: the three servers, read as PouchDB reads them, agree …
    const onServers = await Promise.all([a, b, c].map((base) => readState(remotePouch(base, db))));
    expect(diffStates(onServers[0]!, onServers[1]!, { names: ['A', 'B'] })).toEqual([]);
    expect(diffStates(onServers[0]!, onServers[2]!, { names: ['A', 'C'] })).toEqual([]);
    // … and every client holds the same, read as PouchDB reads it and as Settee does.
    const reference = { pouch: onServers[0]!, settee: await dbState(await openOn(0, db)) };
    for (const client of clientsOf) await client.expectSame(reference);

    // Conflicts and deletions came through: four branches of each shared document …
    const shared = onServers[0]!.get('shared003')!;
    expect(shared.leaves).toHaveLength(4);
    expect(shared.conflicts).toHaveLength(3);
    // … a deleted branch among them, and the deletions of the clients' own documents.
    expect(onServers[0]!.get('shared000')!.leaves.filter((leaf) => leaf.deleted)).toHaveLength(1);
    expect(onServers[0]!.get('settee-c-later-000')!.deleted).toBe(true);
    expect(onServers[0]!.get('pouch-b-003')!.leaves[0]!.body).toMatchObject({ edited: true });
  });
});

/** `settee serve --postgres` in a child process, to be killed with SIGKILL: its base URL. */
async function childServer(): Promise<{ launched: Launched; base: string }> {
  const admin = `${ADMIN.name}:${ADMIN.password}`;
  const data = path.join(dir, `child${++count}`);
  const { launched, url: base } = await serveInChild([
    '--data',
    data,
    '--admin',
    admin,
    '--postgres',
    postgres.url,
  ]);
  children.push(launched);
  return { launched, base };
}

type Written = { id: string; rev: string };

/** Writes documents through `base` one at a time until it stops answering: those it acknowledged. */
async function writeUntilRefused(base: string, db: string, acknowledged: Written[]): Promise<void> {
  for (let i = 0; ; i++) {
    const id = `typed${String(i).padStart(4, '0')}`;
    const answer = await call(base, 'PUT', `/${db}/${id}`, { i }).catch(() => undefined);
    if (answer?.status !== 201) return;
    acknowledged.push({ id, rev: answer.json.rev as string });
  }
}

/** Which of `written` the server at `base` lacks, as `_revs_diff` answers. */
async function missingOn(base: string, db: string, written: readonly Written[]): Promise<Json> {
  const byId: Record<string, string[]> = {};
  for (const { id, rev } of written) (byId[id] ??= []).push(rev);
  return ok(base, 'POST', `/${db}/_revs_diff`, byId);
}

describe('a server killed with SIGKILL in the middle of replications', { timeout: 60_000 }, () => {
  it('loses nothing it acknowledged, and its clients finish through another server from their checkpoints', async () => {
    const db = await newDb();
    const x = await childServer();
    const b = server(1).url;
    const total = 200;
    // A PouchDB client pushes its own documents; a Settee client pulls what was written through B.
    await ok(b, 'POST', `/${db}/_bulk_docs`, { docs: docsOf('seed', total) });
    const pouch = localPouch('pusher');
    const ownDocs = (await pouch.bulkDocs(docsOf('pouch', total))) as Written[];
    const settee = await localSettee('puller');
    // The servers share one uuid: a replication has the same id through any of them.
    const idThroughX = await replicationId(remoteSettee(x.base, db), settee);

    // PouchDB's own source is local: a source that dies under PouchDB 9 leaves a rejection
    // unhandled (`src.info()` after each batch, in pouchdb-replication's finishBatch).
    const push = pouch.replicate.to(remotePouch(x.base, db), { batch_size: 10, retry: false });
    // A client that fails over at once, rather than trying the dead server again for a while.
    // Its writes wait, once 40 documents are in, until X is killed: a pull of 200 would otherwise
    // finish before the push and the direct writes are under way, and no kill would interrupt it.
    let killed!: () => void;
    const kill = new Promise<void>((resolve) => (killed = resolve));
    let written = 0;
    const holding = peerOver(settee, {
      bulkDocs: async (docs, options) => {
        if (written >= 40) await kill;
        written += docs.length;
        return settee.bulkDocs(docs, options);
      },
    });
    const pull = replicate(remoteSettee(x.base, db, 0), holding, { batch_size: 10 });
    const pushed: Written[] = [];
    const typed: Written[] = [];
    let pulled = 0;
    const writing = writeUntilRefused(x.base, db, typed);
    // Killed once both replications are well under way and X has acknowledged direct writes too.
    await new Promise<void>((resolve, reject) => {
      const check = () => pushed.length >= 40 && pulled >= 40 && typed.length >= 5 && resolve();
      push.on('change', ({ docs }: { docs: PouchDB.Document[] }) => {
        pushed.push(...docs.map((doc) => ({ id: doc._id!, rev: doc._rev! })));
        check();
      });
      pull.on('change', (progress) => {
        pulled = progress.docs_written;
        check();
      });
      const early = () => reject(new Error('a replication finished before the kill'));
      void Promise.resolve(push).then(early, () => undefined);
      void pull.done.then(early, () => undefined);
    });
    x.launched.child.kill('SIGKILL');
    expect((await x.launched.exited).code).toBeNull();
    killed();
    const outcome = (replication: PromiseLike<unknown>) =>
      Promise.resolve(replication).then(
        () => 'complete',
        () => 'failed',
      );
    expect([await outcome(push), await outcome(pull.done)]).toEqual(['failed', 'failed']);
    await writing;

    // Before anyone replicates again: B holds every revision X acknowledged.
    expect(await missingOn(b, db, [...pushed, ...typed])).toEqual({});

    // The PouchDB client pushes through B from its checkpoint: not from the start, and not past
    // what B holds of its documents.
    const held = total - Object.keys(await missingOn(b, db, ownDocs)).length;
    expect(held).toBeLessThan(total);
    const resumed = await pouch.replicate.to(remotePouch(b, db), { batch_size: 50 });
    const resumedFrom = total - resumed.docs_read;
    expect(resumedFrom).toBeGreaterThan(0);
    expect(resumedFrom).toBeLessThanOrEqual(held);
    expect(await missingOn(b, db, ownDocs)).toEqual({});

    // The Settee client pulls through B under the same replication id, from its checkpoint, and
    // ends with what B holds.
    const throughB = remoteSettee(b, db);
    expect(await replicationId(throughB, settee)).toBe(idThroughX);
    const { doc_count: docCount } = await ok(b, 'GET', `/${db}`);
    const finished = await replicate(throughB, settee, { batch_size: 50 }).done;
    expect(finished.docs_read).toBeLessThan(docCount as number);
    expect(await dbState(settee)).toEqual(await dbState(await openOn(1, db)));
  });
});

const T0 = 2_000_000_000_000;

/** A replicated branch `2-<digit>…` of `id` under `1-0…`; branch `a` has the later stamp. */
function branch(id: string, digit: 'a' | 'b'): Json {
  return {
    _id: id,
    _rev: `2-${digit.repeat(32)}`,
    _revisions: { start: 2, ids: [digit.repeat(32), '0'.repeat(32)] },
    v: `${id}-${digit}`,
    settee_hlc: formatStamp({ wall: T0 + (digit === 'a' ? 10 : 0), counter: 0, node: digit }),
  };
}

/** Both branches of each of `ids`. */
const bothBranches = (ids: readonly string[]) => ids.flatMap((id) => [branch(id, 'a'), branch(id, 'b')]);

async function replicateIn(base: string, db: string, docs: Json[]): Promise<void> {
  expect(await ok(base, 'POST', `/${db}/_bulk_docs`, { docs, new_edits: false })).toEqual([]);
}

const conflictCount = async (base: string, db: string) =>
  (await ok(base, 'GET', `/${db}/_conflicts`)).total_rows;

describe('automatic resolvers on two servers at once', { timeout: 60_000 }, () => {
  it('write each resolution once: one winner, no extra revision, one history entry', async () => {
    const db = await newDb();
    const [a, b] = [server(0).url, server(1).url];
    const backlog = docsOf('old', 20).map((doc) => doc._id);
    await replicateIn(a, db, bothBranches(backlog));
    for (const base of [a, b]) expect(await conflictCount(base, db)).toBe(20);
    // The same resolver set through A and B at the same moment: both resolve the backlog at once,
    // and between them resolve each document once.
    const answers = await Promise.all(
      [a, b].map((base) => ok(base, 'PUT', `/${db}/_resolver`, { strategy: 'last-writer-wins' })),
    );
    expect(answers.reduce((sum, answer) => sum + (answer.resolved as number), 0)).toBe(20);
    // Then both branches of new documents arrive at the same moment, one through each server.
    const arriving = docsOf('new', 20).map((doc) => doc._id);
    const branchesOf = (digit: 'a' | 'b') => arriving.map((id) => branch(id, digit));
    await Promise.all([replicateIn(a, db, branchesOf('a')), replicateIn(b, db, branchesOf('b'))]);

    const ids = [...backlog, ...arriving];
    const history = await ok(a, 'GET', `/${db}/_resolutions`);
    expect(history.total_rows).toBe(ids.length);
    expect(new Set((history.rows as Json[]).map((row) => row.id)).size).toBe(ids.length);
    for (const base of [a, b]) {
      expect(await conflictCount(base, db)).toBe(0);
      for (const id of ids) {
        // The later branch's content, written once over it, and the other branch closed: no more.
        const leaves = (await ok(base, 'GET', `/${db}/${id}?open_revs=all`)) as unknown as { ok: Json }[];
        const summary = leaves.map(
          ({ ok: doc }) => String(doc._rev).slice(0, 2) + String(doc._deleted ?? doc.v),
        );
        expect(summary.sort(), id).toEqual(['3-true', `3-${id}-a`].sort());
      }
    }
  });
});

describe('what a server follows of another', { timeout: 30_000 }, () => {
  it('applies a resolver set or removed through another server at once, while it holds the database open', async () => {
    const db = await newDb();
    const [a, b] = [server(0).url, server(1).url];
    const onB = await openOn(1, db);
    await ok(a, 'PUT', `/${db}/_resolver`, { strategy: 'last-writer-wins' });
    const applied = () => onB.getResolver()?.name === 'last-writer-wins';
    await waitFor(applied, 'B to apply the resolver set through A', { timeoutMs: 10_000 });
    // B resolves the conflicts that writes through it bring in, and stamps its writes for them.
    await replicateIn(b, db, bothBranches(['one']));
    expect(await conflictCount(b, db)).toBe(0);
    await ok(b, 'PUT', `/${db}/fresh`, { v: 1 });
    expect(isStamp((await ok(b, 'GET', `/${db}/fresh`)).settee_hlc)).toBe(true);

    await ok(a, 'DELETE', `/${db}/_resolver`);
    const dropped = () => onB.getResolver() === undefined;
    await waitFor(dropped, 'B to drop the resolver removed through A', { timeoutMs: 10_000 });
    await replicateIn(b, db, bothBranches(['two']));
    expect(await conflictCount(b, db)).toBe(1);
    await ok(b, 'PUT', `/${db}/plain`, { v: 1 });
    expect((await ok(b, 'GET', `/${db}/plain`)).settee_hlc).toBeUndefined();
  });

  it('ends live feeds with their last sequence when the database is deleted, through another server or itself', async () => {
    // As CouchDB ends them: a database's update listener stops on its `deleted` event
    // (`handle_db_event` in src/fabric/src/fabric_db_update_listener.erl), and the feed then calls
    // back `{stop, LastSeq, Pending}` (`keep_sending_changes` in src/fabric/src/fabric_view_changes.erl),
    // which chttpd writes as the closing line of each feed style.
    const feedOnB = (db: string, query: string) =>
      openLive(server(1).url, `/${db}/_changes?${query}`, { headers: { authorization: BASIC } });
    for (const deleter of [0, 1]) {
      const db = await newDb();
      await ok(server(0).url, 'PUT', `/${db}/apple`, {});
      const continuous = await feedOnB(db, 'feed=continuous&heartbeat=10000');
      const eventsource = await feedOnB(db, 'feed=eventsource&since=now&heartbeat=10000');
      const longpoll = await feedOnB(db, 'feed=longpoll&since=now&timeout=60000');
      await continuous.until((text) => text.includes('"apple"'));
      await ok(server(deleter).url, 'DELETE', `/${db}`);
      const lines = jsonLines(await continuous.ended);
      expect(lines.at(-1), `deleted through ${deleter}`).toEqual({ last_seq: 1, pending: 0 });
      expect(JSON.parse(await longpoll.ended)).toEqual({ results: [], last_seq: 1, pending: 0 });
      expect(await eventsource.ended).toContain('event: last_seq\ndata: {"last_seq":1,"pending":0}\n\n');
    }
  });
});
