import PouchDB from 'pouchdb';
import { describe, expect, it } from 'vitest';
import { HybridClock, stampDocument } from '../../src/conflicts/index.js';
import { diffStates, readState } from './compare.js';
import { usePouchServer } from './pouch-harness.js';

// Two real PouchDBs edit the same documents offline and push to a Settee database whose
// resolver is last-writer-wins: the server resolves as the second push arrives, both PouchDBs
// pull the resolution and agree with the server, and further syncs write nothing anywhere.

const env = usePouchServer('settee-pouch-resolver-');
const { local, remote } = env;

async function json(p: string, init: RequestInit = {}): Promise<Record<string, unknown>> {
  const res = await env.t.fetch(p, init);
  expect(res.status, `${init.method ?? 'GET'} ${p}`).toBeLessThan(300);
  return (await res.json()) as Record<string, unknown>;
}

const T0 = 2_000_000_000_000;

/** `doc` with a fresh stamp from `clock`, later than `previous`'s (the version it edits). */
function withStamp(doc: PouchDB.Document, clock: HybridClock, previous?: PouchDB.Document): PouchDB.Document {
  return { ...doc, settee_hlc: stampDocument(doc, clock, { previous }).settee_hlc };
}

describe('PouchDB clients and a Settee server resolving with last-writer-wins', () => {
  it('two PouchDBs edit offline, the server resolves, both end with its single winner and syncs settle', async () => {
    await json('/shop', { method: 'PUT' });
    expect(
      await json('/shop/_resolver', {
        method: 'PUT',
        body: JSON.stringify({ strategy: 'last-writer-wins' }),
      }),
    ).toEqual({ ok: true, resolved: 0 });
    const server = remote('shop');
    const a = local('a');
    const b = local('b');
    // The clients stamp their own writes, as the docs say; a's clock is a minute ahead of b's.
    const now = { a: T0 + 60_000, b: T0 };
    const clock = { a: new HybridClock('pouch-a', () => now.a), b: new HybridClock('pouch-b', () => now.b) };

    await a.bulkDocs([
      withStamp({ _id: 'stamped', title: 'first', price: 1 }, clock.a),
      { _id: 'plain', title: 'first' },
      { _id: 'untouched', title: 'first' },
    ]);
    await a.replicate.to(server);
    await b.replicate.from(server);

    // Offline: b edits `stamped` twice (the longer history, so CouchDB's winner), a once, later.
    for (const title of ['b once', 'b twice']) {
      const onB = await b.get('stamped');
      await b.put(withStamp({ ...onB, title }, clock.b, onB));
    }
    now.a += 1_000;
    const onA = await a.get('stamped');
    await a.put(withStamp({ ...onA, title: 'a, a minute later' }, clock.a, onA));
    // `plain` is edited unstamped on both: CouchDB's order decides.
    await a.put({ ...(await a.get('plain')), title: 'plain from a' });
    await b.put({ ...(await b.get('plain')), title: 'plain from b' });

    expect(await a.replicate.to(server)).toMatchObject({ ok: true, docs_written: 2, doc_write_failures: 0 });
    expect(await b.replicate.to(server)).toMatchObject({ ok: true, docs_written: 2, doc_write_failures: 0 });

    // Resolved on arrival: no conflict left on the server, the later stamp won.
    expect((await json('/shop/_conflicts')).total_rows).toBe(0);
    const stamped = await json('/shop/stamped?conflicts=true');
    expect([stamped.title, stamped._conflicts]).toEqual(['a, a minute later', undefined]);
    const plain = await json('/shop/plain?conflicts=true');
    expect(plain._conflicts).toBeUndefined();
    const history = await json('/shop/_resolutions');
    expect((history.rows as { id: string; by: string }[]).map((row) => [row.id, row.by]).sort()).toEqual([
      ['plain', 'resolver:last-writer-wins'],
      ['stamped', 'resolver:last-writer-wins'],
    ]);

    await a.replicate.from(server);
    await b.replicate.from(server);
    for (const db of [a, b]) {
      for (const expected of [stamped, plain]) {
        const doc = await db.get(expected._id as string, { conflicts: true });
        expect([doc._rev, doc.title, doc._conflicts]).toEqual([expected._rev, expected.title, undefined]);
      }
    }

    // Another round of syncs in both directions writes nothing new on the server.
    const seq = (await json('/shop')).update_seq;
    for (const db of [a, b, a]) {
      const { push, pull } = await PouchDB.sync(db, server);
      expect([push?.docs_written, push?.doc_write_failures, pull?.doc_write_failures]).toEqual([0, 0, 0]);
    }
    expect((await json('/shop')).update_seq).toEqual(seq);
    expect((await json('/shop/_conflicts')).total_rows).toBe(0);

    // All three hold the same documents and revision trees.
    const states = { a: await readState(a), b: await readState(b), server: await readState(server) };
    expect(diffStates(states.a, states.server, { names: ['a', 'server'] })).toEqual([]);
    expect(diffStates(states.b, states.server, { names: ['b', 'server'] })).toEqual([]);
    for (const doc of states.server.values()) expect(doc.conflicts, doc.id).toEqual([]);
  });
});
