/**
 * `_replicator` jobs on several servers sharing one PostgreSQL: each job runs on exactly one
 * server (the one holding its advisory lock), the others list it as pending on that server's
 * node, and when the server running it dies — killed with SIGKILL, or closed — another takes it
 * over from its checkpoint.
 *
 * What CouchDB's cluster shows, for the listings: `_scheduler/jobs` asks every node for the jobs
 * it runs (`rpc:multicall(couch_replicator_scheduler, jobs, [])` in `handle_scheduler_req` of
 * src/couch_replicator/src/couch_replicator_httpd.erl), each with its `node`; a job is never
 * listed as failed by a node that does not run it. Settee's servers do not ask each other: a
 * server lists the jobs it runs, and the document of one another server runs as `pending` on
 * that server's node.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { PostgresLeases } from '../../src/server/leases/postgres.js';
import { docsOf, type Launched, launch } from '../cli/helpers.js';
import { waitFor } from '../replication/helpers.js';
import { usePostgres } from '../storage/use-postgres.js';
import { ADMIN, BASIC, startServer, type TestServer } from './harness.js';

type Json = Record<string, unknown>;

const postgres = usePostgres();
let count = 0;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'settee-pg-jobs-'));
const children: Launched[] = [];
const servers = new Set<TestServer>();

afterAll(async () => {
  for (const child of children) if (child.child.exitCode === null) child.child.kill('SIGKILL');
  await Promise.all(children.map((child) => child.exited));
  // Those a test left running (it failed).
  for (const server of servers) await server.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** A server in this process; `leaseRetryMs`: how often it tries the jobs another server runs. */
async function inProcess(leaseRetryMs: number): Promise<TestServer> {
  const server = await startServer({ postgres: postgres.url, replicator: { leaseRetryMs } });
  servers.add(server);
  return server;
}

async function stop(server: TestServer): Promise<void> {
  servers.delete(server);
  await server.stop();
}

/** `settee serve --postgres` in a child process, to be killed with SIGKILL: its base URL. */
async function child(): Promise<{ launched: Launched; base: string }> {
  const data = path.join(dir, `child${++count}`);
  const admin = `${ADMIN.name}:${ADMIN.password}`;
  const args = ['serve', '--port', '0', '--data', data, '--log-format', 'json', '--admin', admin];
  const launched = launch([...args, '--postgres', postgres.url]);
  children.push(launched);
  const { stdout } = await launched.printed(({ stdout }) => stdout.includes('"url"'), 'its URL');
  const line = stdout.split('\n').find((text) => text.includes('"url"'))!;
  return { launched, base: (JSON.parse(line) as { url: string }).url };
}

async function get(base: string, at: string): Promise<Json> {
  return (await (await fetch(base + at, { headers: { authorization: BASIC } })).json()) as Json;
}

async function send(base: string, method: string, at: string, body?: unknown): Promise<Json> {
  const response = await fetch(base + at, {
    method,
    headers: { authorization: BASIC, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const answer = (await response.json()) as Json;
  if (response.status >= 300) throw new Error(`${method} ${at}: ${JSON.stringify(answer)}`);
  return answer;
}

const jobsOf = async (base: string) => (await get(base, '/_scheduler/jobs')).jobs as Json[];
/** The jobs of document `docId` that `base` runs (the `_replicator` database holds earlier tests' jobs too). */
const jobsNamed = async (base: string, docId: string) =>
  (await jobsOf(base)).filter((job) => job.doc_id === docId);
const tasksOf = async (base: string) => (await get(base, '/_active_tasks')) as unknown as Json[];
const docCount = async (base: string, db: string) => (await get(base, `/${db}`)).doc_count;

/** A source with `n` documents, an empty target and a continuous job between them, written through `base`. */
async function continuousJob(base: string, n: number) {
  const name = `job${++count}`;
  const source = `${name}-source`;
  const target = `${name}-target`;
  await send(base, 'PUT', `/${source}`);
  await send(base, 'PUT', `/${target}`);
  await send(base, 'POST', `/${source}/_bulk_docs`, { docs: docsOf('old', n) });
  await send(base, 'PUT', `/_replicator/${name}`, { source, target, continuous: true });
  return { name, source, target };
}

/** Waits until the job runs on `base` with every change of its source read and checkpointed. */
async function checkpointedOn(base: string, source: string): Promise<Json> {
  let running: Json | undefined;
  await waitFor(async () => {
    const seq = (await get(base, `/${source}`)).update_seq;
    running = (await jobsOf(base)).find((job) => job.source === source);
    const info = running?.info as Json | undefined;
    return info !== undefined && String(info.checkpointed_source_seq) === String(seq);
  }, `the job of ${source} to checkpoint on ${base}`);
  return running!;
}

describe('_replicator jobs on two servers of one PostgreSQL', { timeout: 90_000 }, () => {
  it('run on exactly one server, and move from a server killed with SIGKILL to the other, from their checkpoint', async () => {
    const first = await child();
    const { name, source, target } = await continuousJob(first.base, 5);
    const running = await checkpointedOn(first.base, source);
    expect(await docCount(first.base, target)).toBe(5);
    // The second server finds the job's lease taken: it lists the document as pending on the
    // first server's node, and runs nothing (no job, no task).
    const second = await inProcess(100);
    let doc: Json = {};
    await waitFor(async () => {
      doc = await get(second.url, `/_scheduler/docs/_replicator/${name}`);
      return doc.state === 'pending';
    }, 'the second server to find the job taken');
    expect(doc.node).toBe(running.node);
    expect(running.node).toMatch(/^settee-[0-9a-f]{8}@/);
    expect(await jobsNamed(second.url, name)).toEqual([]);
    expect((await tasksOf(second.url)).filter((task) => task.doc_id === name)).toEqual([]);
    expect(await jobsNamed(first.base, name)).toHaveLength(1);
    expect((await tasksOf(first.base)).filter((task) => task.doc_id === name)).toHaveLength(1);

    first.launched.child.kill('SIGKILL');
    expect((await first.launched.exited).code).toBeNull();
    // PostgreSQL ended the dead server's lock connection, and with it the job's lock: the second
    // server takes the job at its next try and carries on with the new documents.
    await send(second.url, 'POST', `/${source}/_bulk_docs`, { docs: docsOf('new', 3) });
    const moved = await checkpointedOn(second.url, source);
    expect(await docCount(second.url, target)).toBe(8);
    expect(moved).toMatchObject({ id: running.id, doc_id: name, node: expect.stringMatching(/^settee-/) });
    expect(moved.node).not.toBe(running.node);
    // From the checkpoint: only the three new documents were read, not the five old ones again.
    expect((moved.info as Json).docs_read).toBe(3);
    expect((await get(second.url, `/_scheduler/docs/_replicator/${name}`)).state).toBe('running');
    // Stopped here, so that it takes no job of the next test.
    await stop(second);
  });

  it('move at once from a server that closes, told by its release rather than found by a periodic try', async () => {
    // Both servers try again only every minute: a move within the test's time is the release's notice.
    const first = await inProcess(60_000);
    const { name, source, target } = await continuousJob(first.url, 2);
    await checkpointedOn(first.url, source);
    const second = await inProcess(60_000);
    await waitFor(
      async () => (await get(second.url, `/_scheduler/docs/_replicator/${name}`)).state === 'pending',
      'the second server to find the job taken',
    );
    await stop(first);
    await send(second.url, 'POST', `/${source}/_bulk_docs`, { docs: docsOf('new', 1) });
    const moved = await checkpointedOn(second.url, source);
    expect(await docCount(second.url, target)).toBe(3);
    expect((moved.info as Json).docs_read).toBe(1);
    await stop(second);
  });
});

describe('a _replicator job another server holds', { timeout: 60_000 }, () => {
  it('is listed as pending on its node, and as finished once that server records it so, never run here', async () => {
    const server = await inProcess(100);
    // Another server, as far as PostgreSQL can tell, holds the job's lease before it is written.
    const other = new PostgresLeases(postgres.url);
    try {
      expect(await other.acquire('replication', '_replicator/once')).toBe(true);
      await send(server.url, 'PUT', '/once-source');
      await send(server.url, 'POST', '/once-source/_bulk_docs', { docs: docsOf('a', 2) });
      const job = { source: 'once-source', target: 'once-target', create_target: true };
      const { rev } = await send(server.url, 'PUT', '/_replicator/once', job);
      let listed: Json = {};
      await waitFor(async () => {
        listed = await get(server.url, '/_scheduler/docs/_replicator/once');
        return listed.state === 'pending' && listed.node === other.node;
      }, 'the job to be listed as pending on the other node');
      expect(await jobsNamed(server.url, 'once')).toEqual([]);
      // The other server completes it and writes that into the document, as the holder does.
      const recorded = { _replication_state: 'completed', _replication_state_time: '2026-01-01T00:00:00Z' };
      await send(server.url, 'PUT', '/_replicator/once', { ...job, _rev: rev, ...recorded });
      await waitFor(
        async () => (await get(server.url, '/_scheduler/docs/_replicator/once')).state === 'completed',
        'the job to be listed as completed',
      );
      // Its lease free now, this server still does not run it: it was done.
      await other.release('replication', '_replicator/once');
      expect((await get(server.url, '/_all_dbs')) as unknown as string[]).not.toContain('once-target');
      expect(await jobsNamed(server.url, 'once')).toEqual([]);
    } finally {
      await other.close();
      await stop(server);
    }
  });
});

describe('leases on PostgreSQL', () => {
  it('are held by one server at a time, name their holder, and pass on when it lets them go', async () => {
    const a = new PostgresLeases(postgres.url);
    const b = new PostgresLeases(postgres.url);
    try {
      expect(await a.acquire('compaction', 'shop')).toBe(true);
      expect(await b.acquire('compaction', 'shop')).toBe(false);
      // Another space, another lease: a job and a database of one name do not exclude each other.
      expect(await b.acquire('replication', 'shop')).toBe(true);
      expect(await b.holder('compaction', 'shop')).toBe(a.node);
      // A session lock is re-entrant: the same server asking twice must not get it twice.
      expect(await a.acquire('compaction', 'shop')).toBe(false);
      const told = b.released('compaction', 'shop', 60_000, new AbortController().signal);
      await a.release('compaction', 'shop');
      await told;
      expect(await b.acquire('compaction', 'shop')).toBe(true);
    } finally {
      await a.close();
      await b.close();
    }
  });
});

/** A debug logger whose messages a test waits for. */
function loggedMessages() {
  const messages: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      messages.push((JSON.parse(chunk.toString()) as { msg: string }).msg);
      done();
    },
  });
  const logged = (match: RegExp) => waitFor(() => messages.some((m) => match.test(m)), String(match));
  return { logger: pino({ level: 'debug' }, stream), messages, logged };
}

describe('automatic compaction on two servers of one PostgreSQL', { timeout: 60_000 }, () => {
  it('leaves a database to the server holding its compaction lease, and compacts it once that lets go', async () => {
    const log = loggedMessages();
    const server = await startServer({
      postgres: postgres.url,
      logger: log.logger,
      autoCompaction: { ratio: 1, minSlackBytes: 0, delayMs: 0 },
    });
    servers.add(server);
    // Another server compacting `stock`, as far as PostgreSQL can tell.
    const other = new PostgresLeases(postgres.url);
    try {
      expect(await other.acquire('compaction', 'stock')).toBe(true);
      await send(server.url, 'PUT', '/stock');
      const { rev } = await send(server.url, 'PUT', '/stock/apple', { n: 1 });
      // The first revision's body is garbage now: the database is due, but not this server's.
      await send(server.url, 'PUT', '/stock/apple', { _rev: rev, n: 2 });
      await log.logged(/^stock is being compacted by another server$/);
      expect(log.messages.filter((m) => /^compacting stock/.test(m))).toEqual([]);
      await other.release('compaction', 'stock');
      await send(server.url, 'PUT', '/stock/pear', { n: 1 });
      await log.logged(/^compacted stock automatically/);
    } finally {
      await other.close();
      await stop(server);
    }
  });
});
