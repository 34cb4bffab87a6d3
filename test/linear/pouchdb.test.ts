/**
 * A linear database on a Settee server (`PUT /{db}?revisions=linear`), replicating with PouchDB
 * (npm `pouchdb`, a client no one here wrote): edits pushed by two PouchDBs apart are settled at
 * once by most edits (no conflict stays on the server, the loser is in `_resolutions`), and after
 * pulling every PouchDB shows the server's versions.
 */
import { describe, expect, it } from 'vitest';
import { usePouchServer } from '../interop/pouch-harness.js';

const env = usePouchServer('settee-linear-pouch-');

async function json(response: Response): Promise<Record<string, unknown>> {
  return (await response.json()) as Record<string, unknown>;
}

describe('the revisions option of PUT /{db}', () => {
  it('creates a linear database, shown by GET /{db}; a bad value is refused and creates nothing', async () => {
    // CouchDB answers a bad creation option with 400 bad_request and creates nothing
    // (chttpd_db.erl `create_db_req` parses its options before `fabric:create_db`).
    const bad = await env.t.fetch('/nope?revisions=flat', { method: 'PUT' });
    expect(bad.status).toBe(400);
    expect(await json(bad)).toEqual({ error: 'bad_request', reason: 'revisions must be "tree" or "linear"' });
    expect((await env.t.fetch('/nope')).status).toBe(404);

    expect((await env.t.fetch('/lin?revisions=linear', { method: 'PUT' })).status).toBe(201);
    expect(await json(await env.t.fetch('/lin'))).toMatchObject({
      db_name: 'lin',
      revisions: 'linear',
      revs_limit: 100,
    });
    expect((await env.t.fetch('/plain', { method: 'PUT' })).status).toBe(201);
    expect(await json(await env.t.fetch('/plain'))).not.toHaveProperty('revisions');
  });
});

describe('PouchDB ↔ a linear Settee database', () => {
  it('settles edits made apart by most edits, keeps the loser in the history, and PouchDBs follow', async () => {
    await env.t.fetch('/shop?revisions=linear', { method: 'PUT' });
    const server = env.remote('shop');
    const a = env.local('a');
    const b = env.local('b');
    const first = await a.put({ _id: 'apple', price: 3 });
    await a.replicate.to(server);
    await b.replicate.from(server);

    let edited = await a.put({ _id: 'apple', _rev: first.rev, price: 4 });
    edited = await a.put({ _id: 'apple', _rev: edited.rev, price: 5 });
    await b.put({ _id: 'apple', _rev: first.rev, price: 9 });
    await b.replicate.to(server);
    await a.replicate.to(server);

    const onServer = await json(await env.t.fetch('/shop/apple?conflicts=true'));
    expect(onServer).toEqual({ _id: 'apple', _rev: edited.rev, price: 5 });
    const history = await json(await env.t.fetch('/shop/_resolutions'));
    expect(history).toMatchObject({ total_rows: 1, rows: [{ id: 'apple', by: 'linear:most-edits-wins' }] });

    for (const pouch of [a, b]) {
      await pouch.replicate.from(server);
      expect(await pouch.get('apple')).toMatchObject({ _rev: edited.rev, price: 5 });
    }
  });

  it('a deletion and re-creation in PouchDB continue the line on the server', async () => {
    await env.t.fetch('/notes?revisions=linear', { method: 'PUT' });
    const server = env.remote('notes');
    const pouch = env.local('notes');
    const written = await pouch.put({ _id: 'n', text: 'one' });
    const gone = await pouch.remove('n', written.rev);
    const back = await pouch.put({ _id: 'n', text: 'two' });
    await pouch.replicate.to(server);
    const doc = await json(await env.t.fetch('/notes/n?revs=true'));
    expect(doc).toMatchObject({ _rev: back.rev, text: 'two', _revisions: { start: 3 } });
    expect(gone.rev.startsWith('2-')).toBe(true);
  });
});
