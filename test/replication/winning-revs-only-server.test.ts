/**
 * `winning_revs_only` in the server's replicator: `POST /_replicate`, `_replicator` documents and
 * their listings, and a PouchDB (npm) that pulls what such a replication wrote. CouchDB's rules,
 * read in its sources:
 *
 * - src/couch_replicator/src/couch_replicator_parse.erl, `convert_options`: the field is read
 *   from `_replicate` bodies and `_replicator` documents alike, and anything but a boolean is
 *   `{bad_request, <<"parameter `winning_revs_only` must be a boolean">>}`.
 * - src/couch_replicator/src/couch_replicator_ids.erl, `replication_id/1`: a job's id is the
 *   base id followed by `+continuous` and `+create_target` only (`maybe_append_options`), so the
 *   option shows in the base id alone (docs: src/docs/src/replication/replicator.rst, "Replicate
 *   Winning Revisions Only": ids and checkpoints differ from the default ones).
 */
import { describe, expect, it } from 'vitest';
import type { Database } from '../../src/database/database.js';
import { replicationId } from '../../src/replication/index.js';
import { usePouchServer } from '../interop/pouch-harness.js';
import { waitFor } from './helpers.js';
import {
  B,
  conflicted,
  expectWinnersOnly,
  fillSource,
  leafRevs,
  SOURCE_IDS,
  winnerWithHistory,
} from './winning-revs-only.fixtures.js';

const env = usePouchServer('settee-wro-');
let count = 0;

/** A JSON answer; its shape is what the assertions check. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- answers are checked field by field
type Json = any;

async function request(
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: Json }> {
  const response = await env.t.fetch(path, {
    method,
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, body: await response.json() };
}

/** A new database of the server, as the server's own Database, and its name. */
async function serverDb(): Promise<{ db: Database; name: string }> {
  const name = `wro-${++count}`;
  return { db: await env.t.server.services.registry.create(name), name };
}

/** A `_replicator` document's body once the job wrote a terminal state into it. */
async function terminalState(docId: string): Promise<Json> {
  let doc: Json;
  await waitFor(async () => {
    doc = (await request('GET', `/_replicator/${docId}`)).body;
    return doc._replication_state === 'completed' || doc._replication_state === 'failed';
  }, `the state of _replicator/${docId}`);
  return doc;
}

describe('POST /_replicate', () => {
  it('replicates only winners; a PouchDB that pulls them has no conflicts and the same winners', async () => {
    const source = await serverDb();
    const target = await serverDb();
    await fillSource(source.db);
    const answer = await request('POST', '/_replicate', {
      source: source.name,
      target: target.name,
      winning_revs_only: true,
    });
    expect(answer).toMatchObject({ status: 200, body: { ok: true, history: [{ docs_written: 5 }] } });
    await expectWinnersOnly(source.db, target.db);

    // PouchDB's own replicator and winner choice, on what the server wrote.
    const pouch = env.local('winners');
    await pouch.replicate.from(env.remote(target.name));
    for (const id of SOURCE_IDS) {
      const winner = await winnerWithHistory(source.db, id);
      const inPouch = await pouch.get(id, { open_revs: 'all' });
      expect(
        inPouch.map((leaf) => ('ok' in leaf ? leaf.ok._rev : leaf.missing)),
        id,
      ).toEqual([winner._rev]);
    }
    const doc = await pouch.get('both-live', { conflicts: true });
    expect(doc).toMatchObject({ _rev: `2-${B}`, v: 'b' });
    expect(doc._conflicts).toBeUndefined();
    await expect(pouch.get('all-deleted')).rejects.toMatchObject({ status: 404, reason: 'deleted' });
  });

  it('refuses a value that is not a boolean with 400, starting nothing', async () => {
    const source = await serverDb();
    const target = await serverDb();
    await fillSource(source.db);
    for (const value of ['true', 1, null]) {
      const answer = await request('POST', '/_replicate', {
        source: source.name,
        target: target.name,
        winning_revs_only: value,
      });
      expect(answer).toEqual({
        status: 400,
        body: { error: 'bad_request', reason: 'parameter `winning_revs_only` must be a boolean' },
      });
    }
    expect((await target.db.info()).doc_count).toBe(0);
    expect((await request('GET', '/_scheduler/jobs')).body.total_rows).toBe(0);
  });

  it('continuous: a job of its own (base id, then +continuous), passing on new winners only', async () => {
    const source = await serverDb();
    const target = await serverDb();
    const body = { source: source.name, target: target.name, continuous: true, winning_revs_only: true };
    const started = await request('POST', '/_replicate', body);
    try {
      expect(started.status).toBe(202);
      const id = (identity: { winning_revs_only?: boolean }) =>
        replicationId(source.db, target.db, identity).then(
          (base) => `${base.replace('_local/', '')}+continuous`,
        );
      expect(started.body._local_id).toBe(await id({ winning_revs_only: true }));
      expect(started.body._local_id).not.toBe(await id({}));
      const jobs = (await request('GET', '/_scheduler/jobs')).body.jobs.map((job: Json) => job.id);
      expect(jobs).toContain(started.body._local_id);

      await conflicted(source.db, 'later');
      const arrived = async () => (await leafRevs(target.db, 'later')).includes(`2-${B}`);
      await waitFor(arrived, 'the winner of a new conflicted document');
      expect(await leafRevs(target.db, 'later')).toEqual([`2-${B}`]);
    } finally {
      expect((await request('POST', '/_replicate', { ...body, cancel: true })).status).toBe(200);
    }
  });
});

describe('_replicator documents', () => {
  it('run a winners-only job under its own replication id', async () => {
    const source = await serverDb();
    const target = await serverDb();
    await fillSource(source.db);
    const docId = `clean-${count}`;
    const created = await request('PUT', `/_replicator/${docId}`, {
      source: source.name,
      target: target.name,
      winning_revs_only: true,
    });
    expect(created.status).toBe(201);
    const doc = await terminalState(docId);
    expect(doc).toMatchObject({ _replication_state: 'completed', _replication_stats: { docs_written: 5 } });
    const base = await replicationId(source.db, target.db, { winning_revs_only: true });
    expect(doc._replication_id).toBe(base.replace('_local/', ''));
    expect(doc._replication_id).not.toBe((await replicationId(source.db, target.db)).replace('_local/', ''));
    await expectWinnersOnly(source.db, target.db);
  });

  it('fail with CouchDB’s reason when the value is not a boolean', async () => {
    const source = await serverDb();
    const target = await serverDb();
    await fillSource(source.db);
    const docId = `bad-${count}`;
    await request('PUT', `/_replicator/${docId}`, {
      source: source.name,
      target: target.name,
      winning_revs_only: 'yes',
    });
    const doc = await terminalState(docId);
    expect(doc._replication_state).toBe('failed');
    expect(doc._replication_state_reason).toContain('parameter `winning_revs_only` must be a boolean');
    expect((await target.db.info()).doc_count).toBe(0);
  });
});
