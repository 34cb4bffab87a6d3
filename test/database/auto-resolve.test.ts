import { describe, expect, it } from 'vitest';
import type { Doc } from '../../src/core/api.js';
import { compareStamps, isStamp } from '../../src/conflicts/hlc.js';
import { custom, fieldMerge, lastWriterWins, sortLeaves, userFields } from '../../src/conflicts/index.js';
import type { ConflictEvent } from '../../src/database/conflicts/index.js';
import type { Database } from '../../src/database/database.js';
import { replicate } from '../../src/replication/index.js';
import { dbState } from '../replication/helpers.js';
import { expectError, useTempDatabases } from './helpers.js';

const dbs = useTempDatabases();

const T0 = 2_000_000_000_000;

/**
 * Physical clocks the test sets, so which edit is later does not depend on timing: both start at
 * T0, when the shared first version is written.
 */
function clocks() {
  const now = { a: T0, b: T0 };
  return { now, a: () => now.a, b: () => now.b };
}

/** Two replicas that both edited `id` from the same first revision (replicated from `a`). */
async function concurrentEdits(
  a: Database,
  b: Database,
  id: string,
  edits: { a: Record<string, unknown>; b: Record<string, unknown> },
  /** Runs between the first version and the edits (to move clocks). */
  meanwhile: () => void = () => undefined,
): Promise<{ base: Doc }> {
  await a.put({ _id: id, title: 'first', count: 1 });
  await replicate(a, b).done;
  const base = await a.get(id);
  meanwhile();
  await a.put({ ...base, ...edits.a });
  await b.put({ ...(await b.get(id)), ...edits.b });
  return { base };
}

describe('stamping writes with a hybrid logical clock', () => {
  it('stamps puts, edits and deletions, each later than the version it replaces', async () => {
    const db = await dbs.open({ stamping: { node: 'n1' } });
    const first = await db.put({ _id: 'x', v: 1 });
    const one = await db.get('x');
    expect(isStamp(one.settee_hlc)).toBe(true);
    const second = await db.put({ ...one, v: 2 });
    const two = await db.get('x');
    expect(compareStamps(two.settee_hlc as string, one.settee_hlc as string)).toBeGreaterThan(0);
    const removed = await db.remove('x', second.rev);
    const [tombstone] = await db.getOpenRevs('x', [removed.rev]);
    const deleted = (tombstone as { ok: Doc }).ok;
    expect(deleted._deleted).toBe(true);
    expect(compareStamps(deleted.settee_hlc as string, two.settee_hlc as string)).toBeGreaterThan(0);
    expect(first.rev).not.toBe(second.rev);
  });

  it('leaves design documents, local documents and replicated writes as written', async () => {
    const source = await dbs.open();
    await source.put({ _id: 'plain', v: 1 });
    const db = await dbs.open({ stamping: true });
    await db.put({ _id: '_design/app', views: {} });
    await db.putLocal({ _id: '_local/state', v: 1 });
    await replicate(source, db).done;
    expect((await db.get('_design/app')).settee_hlc).toBeUndefined();
    expect((await db.getLocal('_local/state'))?.settee_hlc).toBeUndefined();
    expect(await db.get('plain')).toEqual(await source.get('plain'));
  });

  it('stamps each changed field when per-field stamps are on', async () => {
    const db = await dbs.open({ stamping: { node: 'n1', field: false, fields: true } });
    await db.put({ _id: 'x', title: 'a', body: 'b' });
    const one = await db.get('x');
    const stamps1 = one.settee_fields as Record<string, string>;
    expect(Object.keys(stamps1).sort()).toEqual(['_created', 'body', 'title']);
    expect(one.settee_hlc).toBeUndefined();
    await db.put({ ...one, title: 'changed' });
    const stamps2 = (await db.get('x')).settee_fields as Record<string, string>;
    expect(compareStamps(stamps2.title!, stamps1.title!)).toBeGreaterThan(0);
    expect(stamps2.body).toBe(stamps1.body);
  });

  it('refuses a `_` stamp field', async () => {
    await expect(dbs.open({ stamping: { field: '_hlc' } })).rejects.toThrow(/must be a non-empty name/);
  });

  it('keeps its clock ahead of what it issued across a restart, whatever the wall clock says', async () => {
    let now = 2_000_000_000_000;
    const db = await dbs.open({ stamping: { node: 'n1', now: () => now } });
    await db.put({ _id: 'a' });
    const before = (await db.get('a')).settee_hlc as string;
    now -= 60_000; // the wall clock went back a minute
    const reopened = await dbs.reopen(db, { stamping: { node: 'n1', now: () => now } });
    await reopened.put({ _id: 'b' });
    expect(compareStamps((await reopened.get('b')).settee_hlc as string, before)).toBeGreaterThan(0);
  });
});

describe('the automatic resolver', () => {
  it('resolves a conflict as replication brings it in: the later write wins, no event, no conflict', async () => {
    const clock = clocks();
    const a = await dbs.open({ stamping: { node: 'a', now: clock.a } });
    const b = await dbs.open({ stamping: { node: 'b', now: clock.b }, resolver: lastWriterWins() });
    await concurrentEdits(
      a,
      b,
      'doc',
      { a: { title: 'from a' }, b: { title: 'from b, a minute later' } },
      () => {
        clock.now.a += 1_000;
        clock.now.b += 60_000;
      },
    );
    const events: ConflictEvent[] = [];
    b.onConflict((event) => events.push(event));
    await replicate(a, b).done;
    const doc = await b.get('doc', { conflicts: true });
    expect(doc.title).toBe('from b, a minute later');
    expect(doc._conflicts).toBeUndefined();
    expect((await b.conflicts()).total_rows).toBe(0);
    expect(events).toEqual([]);
  });

  it('lets every replica resolve the same conflict on its own into the same revision', async () => {
    const clock = clocks();
    const a = await dbs.open({ stamping: { node: 'a', now: clock.a } });
    const b = await dbs.open({ stamping: { node: 'b', now: clock.b } });
    await concurrentEdits(a, b, 'doc', { a: { title: 'later' }, b: { title: 'earlier' } }, () => {
      clock.now.a += 60_000;
      clock.now.b += 1_000;
    });
    await replicate(a, b).done;
    await replicate(b, a).done;
    expect((await a.conflicts()).total_rows).toBe(1);
    expect(await a.setResolver(lastWriterWins())).toBe(1);
    expect(await b.setResolver(lastWriterWins())).toBe(1);
    const before = [(await a.info()).update_seq, (await b.info()).update_seq];
    await replicate(a, b).done;
    await replicate(b, a).done;
    // Nothing new to send: both wrote the very same revisions.
    expect([(await a.info()).update_seq, (await b.info()).update_seq]).toEqual(before);
    expect(await dbState(a)).toEqual(await dbState(b));
    const doc = await a.get('doc', { conflicts: true });
    expect(doc.title).toBe('later');
    expect(doc._conflicts).toBeUndefined();
  });

  it('deletes only the losers when the winner already is the outcome, writing no copy of it', async () => {
    const a = await dbs.open();
    const b = await dbs.open();
    await concurrentEdits(a, b, 'doc', { a: { title: 'from a' }, b: { title: 'from b' } });
    await replicate(b, a).done;
    const winner = await a.get('doc', { conflicts: true });
    expect(winner._conflicts).toHaveLength(1);
    // A replica that holds another's resolution beside its own losing leaf is in this case.
    const winnerStands = custom('winner-stands', (leaves) => ({
      kind: 'merge',
      body: userFields(sortLeaves(leaves)[0]!.doc),
    }));
    expect(await a.setResolver(winnerStands)).toBe(1);
    const resolved = await a.get('doc', { conflicts: true, deleted_conflicts: true });
    expect(resolved._rev).toBe(winner._rev);
    expect(resolved._conflicts).toBeUndefined();
    expect(resolved._deleted_conflicts).toHaveLength(1);
  });

  it('merges concurrent edits of different fields with per-field stamps', async () => {
    const stamping = { field: false as const, fields: true };
    const a = await dbs.open({ stamping: { ...stamping, node: 'a' } });
    const b = await dbs.open({ stamping: { ...stamping, node: 'b' }, resolver: fieldMerge() });
    await concurrentEdits(a, b, 'doc', { a: { title: 'new title' }, b: { count: 2 } });
    await replicate(a, b).done;
    const doc = await b.get('doc', { conflicts: true });
    expect([doc.title, doc.count, doc._conflicts]).toEqual(['new title', 2, undefined]);
  });

  it('keeps the attachments of the version that wins, even a losing leaf’s', async () => {
    const clock = clocks();
    const a = await dbs.open({ stamping: { node: 'a', now: clock.a } });
    const b = await dbs.open({ stamping: { node: 'b', now: clock.b } });
    await a.put({ _id: 'doc', v: 0 });
    await replicate(a, b).done;
    const base = await a.get('doc');
    clock.now.a += 60_000;
    clock.now.b += 1_000;
    const photo = new TextEncoder().encode('the later photo');
    await a.putAttachment('doc', 'photo.txt', base._rev, photo, 'text/plain');
    // b's edit is earlier but has the longer history, so it is CouchDB's winner.
    const edited = await b.put({ ...base, v: 1 });
    await b.put({ ...(await b.get('doc')), _rev: edited.rev, v: 2 });
    await replicate(a, b).done;
    expect((await b.get('doc')).v).toBe(2);
    await b.setResolver(lastWriterWins());
    const doc = await b.get('doc', { conflicts: true });
    expect([doc.v, doc._conflicts]).toEqual([0, undefined]);
    const { data } = await b.getAttachment('doc', 'photo.txt');
    expect(new TextDecoder().decode(data)).toBe('the later photo');
  });

  it.each([
    ['last-writer-wins', lastWriterWins],
    ['field-merge', fieldMerge],
  ] as const)(
    '%s: a later stamped deletion wins over an edit, and a re-creation after it stays',
    async (_name, strategy) => {
      const server = await dbs.open({
        stamping: { node: 'srv', fields: true },
        resolver: strategy(),
        history: true,
      });
      // A plain client (as PouchDB): its writes carry no stamps.
      const client = await dbs.open();
      await server.put({ _id: 'x', v: 1 });
      await replicate(server, client).done;
      const base = await client.get('x');
      await client.put({ ...base, v: 2 }); // offline…
      await server.remove('x', base._rev); // …while the server deletes it
      await replicate(client, server).done;
      await expectError(server.get('x'), 'not_found', 'deleted');
      // The history keeps the edit the deletion won over.
      const { rows } = await server.resolutions({ id: 'x' });
      expect(rows.map((row) => row.losers.map((loser) => JSON.parse(loser.body).v))).toEqual([[2]]);
      await replicate(server, client).done;
      await expectError(client.get('x'), 'not_found', 'deleted');

      // The client's user writes the document again: it extends a tombstone, later than the
      // deletion whatever the stamps say, and must not be deleted by the server's resolver.
      const again = await client.put({ _id: 'x', v: 'again' });
      await replicate(client, server).done;
      expect(await server.get('x')).toMatchObject({ _rev: again.rev, v: 'again' });
      await replicate(server, client).done;
      expect(await client.get('x')).toMatchObject({ _rev: again.rev, v: 'again' });
    },
  );

  it('leaves the conflict open, and the write committed, when a resolver throws', async () => {
    const a = await dbs.open();
    const b = await dbs.open({
      resolver: custom('broken', () => {
        throw new Error('boom');
      }),
    });
    await concurrentEdits(a, b, 'doc', { a: { title: 'a' }, b: { title: 'b' } });
    const events: ConflictEvent[] = [];
    b.onConflict((event) => events.push(event));
    await replicate(a, b).done;
    expect((await b.conflicts()).rows.map((row) => row.id)).toEqual(['doc']);
    expect(events.map((event) => event.id)).toEqual(['doc']);
  });

  it('leaves the conflict open, and the write acknowledged, when the resolution cannot be written', async () => {
    const a = await dbs.open();
    // A merge JSON cannot hold: planning succeeds, writing the resolution throws.
    const b = await dbs.open({
      resolver: custom('unwritable', () => ({ kind: 'merge', body: { n: 1n } as unknown as Doc })),
    });
    await concurrentEdits(a, b, 'doc', { a: { title: 'a' }, b: { title: 'b' } });
    const events: ConflictEvent[] = [];
    b.onConflict((event) => events.push(event));
    expect((await replicate(a, b).done).status).toBe('complete');
    expect((await b.conflicts()).rows.map((row) => row.id)).toEqual(['doc']);
    expect(events.map((event) => event.id)).toEqual(['doc']);
  });
});

describe('the versions of a conflict', () => {
  it('shows the live leaves, the winner first, and their common ancestor until compaction', async () => {
    const a = await dbs.open();
    const b = await dbs.open();
    const { base } = await concurrentEdits(a, b, 'doc', { a: { title: 'a' }, b: { title: 'b' } });
    await replicate(a, b).done;
    const versions = await b.conflictVersions('doc');
    const winner = await b.get('doc', { conflicts: true });
    expect(versions.winner).toBe(winner._rev);
    expect(versions.leaves.map((leaf) => leaf.rev)).toEqual([winner._rev, ...(winner._conflicts ?? [])]);
    expect(versions.leaves.map((leaf) => leaf.doc.title).sort()).toEqual(['a', 'b']);
    expect(versions.ancestor).toEqual({ rev: base._rev, doc: base });
    await b.compact();
    expect((await b.conflictVersions('doc')).ancestor).toBeNull();
  });

  it('has no ancestor for a document without conflicts, and 404s for a missing one', async () => {
    const db = await dbs.open();
    await db.put({ _id: 'x' });
    const versions = await db.conflictVersions('x');
    expect([versions.leaves.length, versions.ancestor]).toEqual([1, null]);
    await expect(db.conflictVersions('nope')).rejects.toMatchObject({ error: 'not_found' });
  });
});

describe('the history of resolutions', () => {
  it('keeps the losing versions and who resolved them, by hand or by a resolver', async () => {
    const a = await dbs.open();
    const b = await dbs.open({ history: true });
    await concurrentEdits(a, b, 'doc', { a: { title: 'a' }, b: { title: 'b' } });
    await replicate(a, b).done;
    const doc = await b.get('doc', { conflicts: true });
    const loser = doc._conflicts![0]!;
    const loserBody = (await b.get('doc', { rev: loser })).title;
    const resolved = await b.resolve('doc', { merged: { title: 'both' }, losers: [loser], by: 'user:anna' });
    await concurrentEdits(a, b, 'other', { a: { title: 'a' }, b: { title: 'b' } });
    await replicate(a, b).done;
    await b.setResolver(lastWriterWins());
    const { total_rows, rows } = await b.resolutions();
    expect(total_rows).toBe(2);
    expect(rows[0]).toMatchObject({ docId: 'doc', by: 'user:anna', kept: doc._rev, rev: resolved.rev });
    // The merge replaced both versions: the one it was written over and the one it deleted.
    expect(rows[0]!.losers.map((l) => [l.rev, JSON.parse(l.body).title])).toEqual([
      [doc._rev, doc.title],
      [loser, loserBody],
    ]);
    expect(rows[1]).toMatchObject({ docId: 'other', by: 'resolver:last-writer-wins' });
    expect((await b.resolutions({ id: 'other' })).rows.map((row) => row.docId)).toEqual(['other']);
    await b.compact();
    expect((await b.resolutions()).rows).toEqual(rows);
  });

  it('keeps nothing unless asked, and says so rather than answer an empty history', async () => {
    const a = await dbs.open();
    const b = await dbs.open();
    await concurrentEdits(a, b, 'doc', { a: { title: 'a' }, b: { title: 'b' } });
    await replicate(a, b).done;
    expect(await b.setResolver(lastWriterWins())).toBe(1);
    await expectError(b.resolutions(), 'bad_request', /history: true/);
    await expectError(async () => b.resolutionsStream(), 'bad_request', /history: true/);
    await expectError(b.resolutionCount('doc'), 'bad_request', /history: true/);
    // Opened with history, the same file shows that nothing was recorded.
    const kept = await dbs.reopen(b, { history: true });
    expect(await kept.resolutions()).toEqual({ total_rows: 0, rows: [] });
    expect(await kept.resolutionCount()).toBe(0);
  });
});
