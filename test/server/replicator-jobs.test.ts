/**
 * The server's replicator: `POST /_replicate` (one-shot, continuous, cancel) and the jobs of the
 * `_replicator` database, with their listings in `/_scheduler/*` and `/_active_tasks`.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '../replication/helpers.js';
import { ADMIN, startServer, type TestServer } from './harness.js';
import { openFeeds } from './http-client.js';

const servers: TestServer[] = [];

afterEach(async () => {
  for (const t of servers.splice(0)) await t.stop();
});

async function start(dataDir?: string): Promise<TestServer> {
  const t = await startServer({
    replicator: { retryInitialMs: 100, retryMaxMs: 500 },
    ...(dataDir ? { dataDir } : {}),
  });
  servers.push(t);
  return t;
}

/** A database URL with the admin's credentials in it. */
function dbUrl(t: TestServer, db: string): string {
  return `${t.url.replace('http://', `http://${ADMIN.name}:${ADMIN.password}@`)}/${db}`;
}

/** A JSON answer; its shape is what the assertions check. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- answers are checked field by field
type Json = any;

async function json(
  t: TestServer,
  path: string,
  init: RequestInit = {},
): Promise<{ status: number; body: Json }> {
  const response = await t.fetch(path, init);
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined };
}

const post = (t: TestServer, path: string, body: unknown) =>
  json(t, path, { method: 'POST', body: JSON.stringify(body) });
const put = (t: TestServer, path: string, body?: unknown) =>
  json(t, path, { method: 'PUT', ...(body === undefined ? {} : { body: JSON.stringify(body) }) });

async function createDb(t: TestServer, name: string, docs: Record<string, unknown>[] = []): Promise<void> {
  expect((await put(t, `/${name}`)).status).toBe(201);
  if (docs.length > 0) expect((await post(t, `/${name}/_bulk_docs`, { docs })).status).toBe(201);
}

async function ids(t: TestServer, db: string): Promise<string[]> {
  const { body } = await json(t, `/${db}/_all_docs`);
  return body.rows.map((row: { id: string }) => row.id);
}

const jobDoc = (t: TestServer, id: string) => json(t, `/_replicator/${id}`).then((r) => r.body);

/** Waits (bounded) until `check` finds something, and returns it. */
async function found<T>(check: () => Promise<T | undefined>, what: string): Promise<T> {
  let value: T | undefined;
  await waitFor(async () => (value = await check()) !== undefined, what);
  return value!;
}

/** A `_replicator` document once its job has reached `state` (completed or failed). */
const jobDocIn = (t: TestServer, id: string, state: 'completed' | 'failed') =>
  found(async () => {
    const doc = await jobDoc(t, id);
    return doc._replication_state === state ? doc : undefined;
  }, `${id} ${state}`);

/**
 * Proves the scheduler has handled every `_replicator` change written so far: it follows that
 * database's feed in order, so once a marker written now has failed (it names no replication, and
 * runs nothing), each change before it was seen and acted upon.
 */
async function schedulerCaughtUp(t: TestServer, marker = 'marker'): Promise<void> {
  expect((await put(t, `/_replicator/${marker}`, { marker: true })).status).toBe(201);
  await jobDocIn(t, marker, 'failed');
}

/**
 * Waits until the server has `n` live feeds open: a job with an HTTP source reads it through a
 * longpoll, counted while it waits, so 0 proves no job reads from this server any longer.
 */
const feedsOpen = (t: TestServer, n: number) =>
  waitFor(async () => (await openFeeds(t)) === n, `${n} open feeds`);

const docsOf = (prefix: string, n: number, extra: Record<string, unknown> = {}) =>
  Array.from({ length: n }, (_, i) => ({ _id: `${prefix}${String(i).padStart(3, '0')}`, n: i, ...extra }));

describe('POST /_replicate', () => {
  it('one-shot between two databases of the server answers with the session history', async () => {
    const t = await start();
    await createDb(t, 'a', docsOf('d', 25));
    await createDb(t, 'b');
    const { status, body } = await post(t, '/_replicate', { source: dbUrl(t, 'a'), target: dbUrl(t, 'b') });
    expect(status).toBe(200);
    expect(body).toMatchObject({ ok: true, replication_id_version: 4, source_last_seq: 25 });
    expect(body.no_changes).toBeUndefined();
    expect(typeof body.session_id).toBe('string');
    expect(body.history[0]).toMatchObject({
      session_id: body.session_id,
      start_last_seq: 0,
      end_last_seq: 25,
      recorded_seq: 25,
      docs_read: 25,
      docs_written: 25,
      doc_write_failures: 0,
      missing_checked: 25,
      missing_found: 25,
    });
    expect(new Date(body.history[0].start_time).getTime()).not.toBeNaN();
    expect(await ids(t, 'b')).toEqual(await ids(t, 'a'));

    // Again: nothing new since the checkpoint, which stays as it was.
    const again = await post(t, '/_replicate', { source: dbUrl(t, 'a'), target: dbUrl(t, 'b') });
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ ok: true, no_changes: true, source_last_seq: 25 });
    expect(again.body.session_id).toBe(body.session_id);
    expect(again.body.history[0]).toMatchObject({ session_id: body.session_id, recorded_seq: 25 });

    // A new write: a new session, listed before the first.
    await put(t, '/a/later', { v: 1 });
    const third = await post(t, '/_replicate', { source: dbUrl(t, 'a'), target: dbUrl(t, 'b') });
    expect(third.body.no_changes).toBeUndefined();
    expect(third.body.session_id).not.toBe(body.session_id);
    expect(third.body.history[0]).toMatchObject({ start_last_seq: 25, end_last_seq: 26, docs_written: 1 });
    expect(third.body.history[1]).toMatchObject({ session_id: body.session_id, recorded_seq: 25 });
  });

  it('accepts {url, auth} endpoints and bare local names', async () => {
    const t = await start();
    await createDb(t, 'a', docsOf('d', 3));
    await createDb(t, 'b');
    await createDb(t, 'c');
    const source = { url: `${t.url}/a`, auth: { basic: { username: ADMIN.name, password: ADMIN.password } } };
    expect((await post(t, '/_replicate', { source, target: dbUrl(t, 'b') })).status).toBe(200);
    expect(await ids(t, 'b')).toHaveLength(3);
    const header = `Basic ${Buffer.from(`${ADMIN.name}:${ADMIN.password}`).toString('base64')}`;
    const target = { url: `${t.url}/c`, headers: { Authorization: header } };
    expect((await post(t, '/_replicate', { source: 'a', target })).status).toBe(200);
    expect(await ids(t, 'c')).toHaveLength(3);
  });

  it('refuses a missing database with db_not_found, without credentials in the reason', async () => {
    const t = await start();
    await createDb(t, 'a', docsOf('d', 2));
    const missingSource = await post(t, '/_replicate', { source: dbUrl(t, 'nope'), target: dbUrl(t, 'a') });
    expect(missingSource.status).toBe(404);
    expect(missingSource.body).toEqual({ error: 'db_not_found', reason: `could not open ${t.url}/nope` });
    const missingTarget = await post(t, '/_replicate', { source: dbUrl(t, 'a'), target: dbUrl(t, 'b') });
    expect(missingTarget.status).toBe(404);
    expect(missingTarget.body).toEqual({ error: 'db_not_found', reason: `could not open ${t.url}/b` });
    const local = await post(t, '/_replicate', { source: 'nope', target: 'a' });
    expect(local.body).toEqual({ error: 'db_not_found', reason: 'could not open nope' });
    const badPassword = dbUrl(t, 'a').replace(ADMIN.password, 'wrong');
    const unauthorized = await post(t, '/_replicate', { source: badPassword, target: dbUrl(t, 'a') });
    expect(unauthorized.status).toBe(401);
    expect(unauthorized.body.error).toBe('unauthorized');
    expect(JSON.stringify(unauthorized.body)).not.toContain('wrong');
  });

  it('creates the target with create_target', async () => {
    const t = await start();
    await createDb(t, 'a', docsOf('d', 4));
    const body = { source: dbUrl(t, 'a'), target: dbUrl(t, 'fresh'), create_target: true };
    expect((await post(t, '/_replicate', body)).status).toBe(200);
    expect(await ids(t, 'fresh')).toHaveLength(4);
    expect(
      (await post(t, '/_replicate', { source: 'a', target: 'fresh2', create_target: true })).status,
    ).toBe(200);
    expect(await ids(t, 'fresh2')).toHaveLength(4);
  });

  it('filters by doc_ids and by selector, and starts at since_seq', async () => {
    const t = await start();
    await createDb(t, 'a', [...docsOf('red', 3, { color: 'red' }), ...docsOf('blue', 3, { color: 'blue' })]);
    await createDb(t, 'b');
    await createDb(t, 'c');
    await createDb(t, 'd');
    const byIds = await post(t, '/_replicate', { source: 'a', target: 'b', doc_ids: ['red001', 'blue002'] });
    expect(byIds.status).toBe(200);
    expect(await ids(t, 'b')).toEqual(['blue002', 'red001']);
    const bySelector = await post(t, '/_replicate', {
      source: 'a',
      target: 'c',
      selector: { color: 'blue' },
    });
    expect(bySelector.status).toBe(200);
    expect(await ids(t, 'c')).toEqual(['blue000', 'blue001', 'blue002']);
    // The red documents were written first (seqs 1–3).
    const since = await post(t, '/_replicate', { source: 'a', target: 'd', since_seq: 3 });
    expect(since.status).toBe(200);
    expect(await ids(t, 'd')).toEqual(['blue000', 'blue001', 'blue002']);
  });

  it('rejects bad requests with 400', async () => {
    const t = await start();
    await createDb(t, 'a');
    expect((await post(t, '/_replicate', { target: 'a' })).status).toBe(400);
    expect(
      (await post(t, '/_replicate', { source: 'a', target: 'a', doc_ids: ['x'], selector: {} })).status,
    ).toBe(400);
    expect((await post(t, '/_replicate', { source: 'a', target: 'a', filter: 'nonsense' })).status).toBe(400);
    expect((await post(t, '/_replicate', { source: 'ftp://host/db', target: 'a' })).status).toBe(400);
    expect((await post(t, '/_replicate', { source: 'a', target: 'a', doc_ids: 'x' })).status).toBe(400);
  });

  // CouchDB's reasons (couch_replicator_parse.erl, convert_options): a string "true" would
  // otherwise start a one-shot replication the caller believed continuous.
  it('rejects continuous and create_target that are not booleans, starting nothing', async () => {
    const t = await start();
    await createDb(t, 'a', docsOf('d', 2));
    for (const field of ['continuous', 'create_target']) {
      for (const value of ['true', 1, null]) {
        const answer = await post(t, '/_replicate', { source: 'a', target: 'fresh', [field]: value });
        expect(answer).toMatchObject({
          status: 400,
          body: { error: 'bad_request', reason: `parameter \`${field}\` must be a boolean` },
        });
      }
    }
    expect((await json(t, '/fresh')).status).toBe(404);
  });

  it('continuous runs in the background until cancelled with the same body', async () => {
    const t = await start();
    await createDb(t, 'a', docsOf('d', 5));
    await createDb(t, 'b');
    const body = { source: dbUrl(t, 'a'), target: dbUrl(t, 'b'), continuous: true };
    const started = await post(t, '/_replicate', body);
    expect(started.status).toBe(202);
    expect(started.body.ok).toBe(true);
    expect(started.body._local_id).toMatch(/\+continuous$/);
    const id = started.body._local_id;
    await waitFor(async () => (await ids(t, 'b')).length === 5, 'initial docs');

    // The same request again is the same job.
    expect((await post(t, '/_replicate', body)).body._local_id).toBe(id);

    await put(t, '/a/later', { v: 1 });
    await waitFor(async () => (await ids(t, 'b')).includes('later'), 'a new write');

    const jobs = (await json(t, '/_scheduler/jobs')).body;
    expect(jobs.total_rows).toBe(1);
    expect(jobs.jobs[0]).toMatchObject({ id, database: null, doc_id: null, source: `${t.url}/a` });
    const tasks = (await json(t, '/_active_tasks')).body;
    expect(tasks).toHaveLength(1);
    expect(tasks[0]).toMatchObject({ type: 'replication', replication_id: id, continuous: true });
    expect(JSON.stringify([jobs, tasks])).not.toContain(ADMIN.password);

    await feedsOpen(t, 1);
    const cancelled = await post(t, '/_replicate', { ...body, cancel: true });
    expect(cancelled).toEqual({ status: 200, body: { ok: true, _local_id: id } });
    expect((await json(t, '/_scheduler/jobs')).body.total_rows).toBe(0);
    expect(await json(t, '/_active_tasks')).toEqual({ status: 200, body: [] });
    // Unlisted is not stopped: the job's longpoll on `a` must be gone too.
    await feedsOpen(t, 0);
    await put(t, '/a/after-cancel', { v: 1 });
    expect(await ids(t, 'b')).not.toContain('after-cancel');

    const unknown = await post(t, '/_replicate', { ...body, cancel: true });
    expect(unknown.status).toBe(404);
  });

  it('cancels a continuous replication by its id', async () => {
    const t = await start();
    await createDb(t, 'a');
    await createDb(t, 'b');
    const started = await post(t, '/_replicate', { source: 'a', target: 'b', continuous: true });
    const id = started.body._local_id;
    const cancelled = await post(t, '/_replicate', { id, cancel: true });
    expect(cancelled).toEqual({ status: 200, body: { ok: true, _local_id: id } });
  });
});

describe('the _replicator database', () => {
  it('exists from the start and is admin-only', async () => {
    const t = await start();
    expect((await json(t, '/_replicator')).status).toBe(200);
    const anonymous = await fetch(`${t.url}/_replicator`);
    expect(anonymous.status).toBe(401);
    expect((await fetch(`${t.url}/_scheduler/docs`)).status).toBe(401);
  });

  it('runs a one-shot job and writes completed with its stats into the document, once', async () => {
    const t = await start();
    await createDb(t, 'a', docsOf('d', 12));
    await createDb(t, 'b');
    expect((await put(t, '/_replicator/once', { source: dbUrl(t, 'a'), target: dbUrl(t, 'b') })).status).toBe(
      201,
    );
    const doc = await jobDocIn(t, 'once', 'completed');
    expect(doc._replication_stats).toMatchObject({ docs_read: 12, docs_written: 12, doc_write_failures: 0 });
    expect(doc._replication_stats.checkpointed_source_seq).toBe(12);
    expect(typeof doc._replication_id).toBe('string');
    expect(doc._replication_state_time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(doc._replication_state_reason).toBeUndefined();
    expect(doc._rev).toMatch(/^2-/);
    expect(await ids(t, 'b')).toHaveLength(12);

    const state = (await json(t, '/_scheduler/docs/_replicator/once')).body;
    expect(state).toMatchObject({
      database: '_replicator',
      doc_id: 'once',
      id: doc._replication_id,
      state: 'completed',
      error_count: 0,
      source: `${t.url}/a`,
      target: `${t.url}/b`,
    });
    expect(state.info).toMatchObject({ docs_written: 12 });

    // Writing the state back did not start the job again (a restart would list it anew, not
    // completed, as soon as the scheduler saw the write-back).
    await schedulerCaughtUp(t);
    expect((await jobDoc(t, 'once'))._rev).toBe(doc._rev);
    expect((await json(t, '/_scheduler/jobs')).body.total_rows).toBe(0);
    const listing = (await json(t, '/_scheduler/docs')).body;
    expect(listing).toMatchObject({ total_rows: 2, offset: 0 });
    expect(listing.docs.map((d: { doc_id: string; state: string }) => [d.doc_id, d.state])).toEqual([
      ['marker', 'failed'],
      ['once', 'completed'],
    ]);
  });

  it('lists a continuous job while it runs, without credentials, and cancels it when the doc is deleted', async () => {
    const t = await start();
    await createDb(t, 'a', docsOf('d', 3));
    await createDb(t, 'b');
    const created = await put(t, '/_replicator/live', {
      source: dbUrl(t, 'a'),
      target: { url: `${t.url}/b`, auth: { basic: { username: ADMIN.name, password: ADMIN.password } } },
      continuous: true,
    });
    await waitFor(async () => (await ids(t, 'b')).length === 3, 'initial docs');
    await put(t, '/a/new', { v: 1 });
    await waitFor(async () => (await ids(t, 'b')).includes('new'), 'a new write');

    const jobs = (await json(t, '/_scheduler/jobs')).body;
    expect(jobs).toMatchObject({ total_rows: 1, offset: 0 });
    const [job] = jobs.jobs;
    expect(job).toMatchObject({
      database: '_replicator',
      doc_id: 'live',
      source: `${t.url}/a`,
      target: `${t.url}/b`,
      user: null,
    });
    expect(job.id).toMatch(/\+continuous$/);
    expect(job.info).toMatchObject({
      docs_read: 4,
      docs_written: 4,
      doc_write_failures: 0,
      changes_pending: 0,
    });
    expect(job.history.map((event: { type: string }) => event.type)).toContain('started');
    expect(typeof job.start_time).toBe('string');

    const doc = (await json(t, '/_scheduler/docs/_replicator/live')).body;
    expect(doc).toMatchObject({ state: 'running', id: job.id, error_count: 0, node: expect.any(String) });

    const tasks = (await json(t, '/_active_tasks')).body;
    expect(tasks).toHaveLength(1);
    expect(tasks[0]).toMatchObject({
      type: 'replication',
      replication_id: job.id,
      doc_id: 'live',
      database: '_replicator',
      continuous: true,
      docs_read: 4,
      docs_written: 4,
      doc_write_failures: 0,
      changes_pending: 0,
      progress: 100,
    });
    expect(typeof tasks[0].started_on).toBe('number');
    expect(typeof tasks[0].updated_on).toBe('number');
    expect(JSON.stringify([jobs, doc, tasks])).not.toContain(ADMIN.password);

    // Running states are not written into the document.
    expect((await jobDoc(t, 'live'))._replication_state).toBeUndefined();

    await feedsOpen(t, 1);
    const removed = await json(t, `/_replicator/live?rev=${created.body.rev}`, { method: 'DELETE' });
    expect(removed.status).toBe(200);
    await waitFor(async () => (await json(t, '/_scheduler/jobs')).body.total_rows === 0, 'job removal');
    expect((await json(t, '/_scheduler/docs/_replicator/live')).status).toBe(404);
    await feedsOpen(t, 0);
    await put(t, '/a/after-delete', { v: 1 });
    expect(await ids(t, 'b')).not.toContain('after-delete');
  });

  it('restarts a job when its replication changes, not when other fields change', async () => {
    const t = await start();
    await createDb(t, 'a', docsOf('d', 2));
    await createDb(t, 'b');
    await createDb(t, 'c');
    const first = await put(t, '/_replicator/job', { source: 'a', target: 'b', continuous: true });
    await waitFor(async () => (await ids(t, 'b')).length === 2, 'docs in b');
    const before = (await json(t, '/_scheduler/docs/_replicator/job')).body;

    // An unrelated field: the same job goes on.
    const second = await put(t, '/_replicator/job', {
      _rev: first.body.rev,
      source: 'a',
      target: 'b',
      continuous: true,
      owner: 'me',
    });
    // Once the edit was seen: still running, and not restarted (which would resume from the
    // checkpoint, having read no document yet; start times are whole seconds).
    await schedulerCaughtUp(t);
    expect((await json(t, '/_scheduler/docs/_replicator/job')).body).toMatchObject({
      state: 'running',
      start_time: before.start_time,
      info: { docs_read: 2 },
    });

    // Another target: the job restarts there.
    await put(t, '/_replicator/job', { _rev: second.body.rev, source: 'a', target: 'c', continuous: true });
    await waitFor(async () => (await ids(t, 'c')).length === 2, 'docs in c');
    await put(t, '/a/later', { v: 1 });
    await waitFor(async () => (await ids(t, 'c')).includes('later'), 'a new write in c');
    expect(await ids(t, 'b')).not.toContain('later');
    const jobs = (await json(t, '/_scheduler/jobs')).body;
    expect(jobs.total_rows).toBe(1);
    expect(jobs.jobs[0].target).toBe('c');
  });

  it('fails a second document describing the same replication, and an invalid one', async () => {
    const t = await start();
    await createDb(t, 'a', docsOf('d', 2));
    await createDb(t, 'b');
    const body = { source: dbUrl(t, 'a'), target: dbUrl(t, 'b'), continuous: true };
    await put(t, '/_replicator/first', body);
    await waitFor(
      async () => (await json(t, '/_scheduler/docs/_replicator/first')).body.state === 'running',
      'first running',
    );
    await put(t, '/_replicator/second', body);
    const second = await jobDocIn(t, 'second', 'failed');
    expect(second._replication_state_reason).toMatch(/already started.*first/);
    const listed = (await json(t, '/_scheduler/docs/_replicator/second')).body;
    expect(listed).toMatchObject({ state: 'failed', info: { error: second._replication_state_reason } });
    expect((await json(t, '/_scheduler/docs/_replicator/first')).body.state).toBe('running');

    await put(t, '/_replicator/invalid', { source: dbUrl(t, 'a') });
    const invalid = await jobDocIn(t, 'invalid', 'failed');
    expect(invalid._replication_state_reason).toMatch(/target/);
    // Design documents are not jobs.
    await put(t, '/_replicator/_design/x', { views: {} });
    await schedulerCaughtUp(t);
    const docs = (await json(t, '/_scheduler/docs')).body.docs.map((d: { doc_id: string }) => d.doc_id);
    expect(docs).toEqual(['first', 'invalid', 'marker', 'second']);
  });

  it('shows a job as crashing while its source is missing, and completes it once it appears', async () => {
    const t = await start();
    await createDb(t, 'b');
    await put(t, '/_replicator/waiting', { source: dbUrl(t, 'later'), target: dbUrl(t, 'b') });
    const crashing = await found(async () => {
      const doc = (await json(t, '/_scheduler/docs/_replicator/waiting')).body;
      return doc.state === 'crashing' ? doc : undefined;
    }, 'waiting crashing');
    expect(crashing.error_count).toBeGreaterThanOrEqual(1);
    expect(crashing.info.error).toContain('db_not_found');
    expect(JSON.stringify(crashing)).not.toContain(ADMIN.password);
    expect((await jobDoc(t, 'waiting'))._replication_state).toBeUndefined();

    await createDb(t, 'later', docsOf('d', 3));
    const done = await jobDocIn(t, 'waiting', 'completed');
    expect(done._replication_stats.docs_written).toBe(3);
  });

  it('keeps running a job after a restart of the server on the same data folder', async () => {
    const t = await start();
    await createDb(t, 'a', docsOf('d', 5));
    await createDb(t, 'b');
    await createDb(t, 'c');
    await put(t, '/_replicator/live', { source: 'a', target: 'b', continuous: true });
    await put(t, '/_replicator/once', { source: 'a', target: 'c' });
    await waitFor(async () => (await ids(t, 'b')).length === 5, 'docs in b');
    const completed = await jobDocIn(t, 'once', 'completed');
    await t.stop({ keepData: true });
    servers.splice(servers.indexOf(t), 1);

    const again = await start(t.dataDir);
    await waitFor(
      async () => (await json(again, '/_scheduler/docs/_replicator/live')).body.state === 'running',
      'live running again',
    );
    await put(again, '/a/after-restart', { v: 1 });
    await waitFor(async () => (await ids(again, 'b')).includes('after-restart'), 'a write after restart');
    const job = (await json(again, '/_scheduler/jobs')).body.jobs[0];
    // Resumed from its checkpoint: only the new document was read.
    expect(job.info.docs_read).toBe(1);

    // The finished job is listed, not run again.
    const once = (await json(again, '/_scheduler/docs/_replicator/once')).body;
    expect(once).toMatchObject({ state: 'completed', id: completed._replication_id });
    expect((await jobDoc(again, 'once'))._rev).toBe(completed._rev);
    expect(await ids(again, 'c')).not.toContain('after-restart');
  });
});
