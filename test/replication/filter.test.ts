/**
 * Replication through a design filter of the source: a JavaScript filter function with
 * `query_params`, and `_view`, over every pair of peers (local, and Settee's server over real
 * HTTP); the replication id follows the function's source text; PouchDB (npm) pulls filtered
 * from Settee's server as it would from CouchDB.
 */
import path from 'node:path';
import PouchDB from 'pouchdb';
import { afterEach, describe, expect, it } from 'vitest';
import type { Database } from '../../src/database/database.js';
import { replicate, replicationId } from '../../src/replication/index.js';
import { allIds, makeTempDir, removeDir } from './helpers.js';
import { BASIC } from '../server/harness.js';
import { AUTH, PAIRS, useSides } from './sides.js';

const sides = useSides();

const BY_TYPE = 'function (doc, req) { return doc.type === req.query.type; }';
const APP = {
  _id: '_design/app',
  filters: { by_type: BY_TYPE },
  views: { sales: { map: 'function (doc) { if (doc.type === "sale") emit(doc._id, null); }' } },
};
const DOCS = [
  { _id: 's1', type: 'sale' },
  { _id: 'r1', type: 'return' },
  { _id: 's2', type: 'sale' },
  { _id: 'x1' },
];
const SALES = { filter: 'app/by_type', query_params: { type: 'sale' } };

async function filled(db: Database): Promise<Database> {
  await db.bulkDocs([APP, ...DOCS]);
  return db;
}

describe.each(PAIRS)('%s', (_, sourceKind, targetKind) => {
  it('a filter function with query_params: the target gets exactly what it passes', async () => {
    const [source, target] = [await filled(await sides.open(sourceKind)), await sides.open(targetKind)];
    const result = await replicate(sides.peer(source), sides.peer(target), SALES).done;
    expect(result.status).toBe('complete');
    expect(await allIds(target)).toEqual(['s1', 's2']);
  });

  it("filter: '_view': the target gets what the view's map emits for", async () => {
    const [source, target] = [await filled(await sides.open(sourceKind)), await sides.open(targetKind)];
    await replicate(sides.peer(source), sides.peer(target), { filter: '_view', view: 'app/sales' }).done;
    expect(await allIds(target)).toEqual(['s1', 's2']);
  });

  it('a live replication goes on filtering the writes that come', async () => {
    const [source, target] = [await filled(await sides.open(sourceKind)), await sides.open(targetKind)];
    const live = replicate(sides.peer(source), sides.peer(target), { ...SALES, live: true });
    await live.idle();
    // Waits for the fact, not for a time: the sale written with the return arrives.
    const arrived = new Promise<void>((resolve) =>
      live.on('change', ({ docs }) => docs.some((doc) => doc._id === 's3') && resolve()),
    );
    await source.bulkDocs([
      { _id: 'r2', type: 'return' },
      { _id: 's3', type: 'sale' },
    ]);
    await arrived;
    live.cancel();
    await live.done;
    expect(await allIds(target)).toEqual(['s1', 's2', 's3']);
  });
});

describe('the replication id', () => {
  it("holds the filter function's source text and the query params, in any key order", async () => {
    const [source, target] = [await filled(await sides.open('local')), await sides.open('http')];
    const [from, to] = [sides.peer(source), sides.peer(target)];
    const id = await replicationId(from, to, SALES);
    expect(await replicationId(from, to, { filter: 'app/by_type', query_params: { type: 'sale' } })).toBe(id);
    expect(
      await replicationId(from, to, { filter: 'app/by_type', query_params: { type: 'return' } }),
    ).not.toBe(id);
    expect(await replicationId(from, to)).not.toBe(id);
    // Only whitespace around the code changed: CouchDB trims it (couch_replicator_filters:fetch).
    const app = await source.get('_design/app');
    const spaced = await source.bulkDocs([{ ...app, filters: { by_type: `  ${BY_TYPE}\n` } }]);
    expect(await replicationId(from, to, SALES)).toBe(id);
    await source.bulkDocs([
      {
        ...app,
        _rev: (spaced[0] as { rev: string }).rev,
        filters: { by_type: 'function () { return true; }' },
      },
    ]);
    expect(await replicationId(from, to, SALES)).not.toBe(id);
    // `_view` enters by name, as PouchDB and CouchDB put it.
    const view = await replicationId(from, to, { filter: '_view', view: 'app/sales' });
    expect(await replicationId(from, to, { filter: '_view', view: 'app/other' })).not.toBe(view);
  });

  it('so editing the function starts the replication over instead of resuming its checkpoint', async () => {
    const [source, target] = [await filled(await sides.open('local')), await sides.open('local')];
    await replicate(source, target, SALES).done;
    expect(await allIds(target)).toEqual(['s1', 's2']);
    const app = await source.get('_design/app');
    const widened = 'function (doc, req) { return doc.type === req.query.type || doc.type === "return"; }';
    await source.bulkDocs([{ ...app, filters: { by_type: widened } }]);
    // Resumed from the old checkpoint, it would only read what came after: r1 came before.
    await replicate(source, target, SALES).done;
    expect(await allIds(target)).toEqual(['r1', 's1', 's2']);
  });

  it('cannot be computed without the design document: the replication fails with not_found', async () => {
    const [source, target] = [await sides.open('local'), await sides.open('local')];
    const failed = replicate(source, target, { filter: 'nope/by_type' }).done;
    await expect(failed).rejects.toMatchObject({ error: 'not_found' });
  });
});

describe("the server's replicator", () => {
  /** A database of the server as a `_replicate` endpoint, with the admin's credentials. */
  const endpoint = (db: Database) => ({ url: sides.url(db), auth: { basic: AUTH } });

  /** POST /_replicate on the server that serves `source`, as its admin. */
  async function postReplicate(source: Database, body: Record<string, unknown>): Promise<Response> {
    const url = new URL(sides.url(source));
    return fetch(`${url.origin}/_replicate`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: BASIC },
      body: JSON.stringify(body),
    });
  }

  it('POST /_replicate takes filter with query_params, and _view with the view in query_params (CouchDB’s place)', async () => {
    const source = await filled(await sides.open('http'));
    for (const filter of [SALES, { filter: '_view', query_params: { view: 'app/sales' } }]) {
      const target = await sides.open('http');
      const res = await postReplicate(source, {
        source: endpoint(source),
        target: endpoint(target),
        ...filter,
      });
      expect(res.status, JSON.stringify(filter)).toBe(200);
      expect(await allIds(target)).toEqual(['s1', 's2']);
    }
    const bad = await postReplicate(source, {
      source: endpoint(source),
      target: endpoint(source),
      filter: 'app',
    });
    expect(bad.status).toBe(400);
  });
});

describe('PouchDB pulling from Settee’s server', () => {
  const dirs: string[] = [];
  afterEach(() => dirs.splice(0).forEach(removeDir));

  async function pull(options: PouchDB.ReplicateOptions): Promise<string[]> {
    const source = await filled(await sides.open('http'));
    const dir = makeTempDir();
    dirs.push(dir);
    const device = new PouchDB(path.join(dir, 'device'));
    const server = new PouchDB(sides.url(source), { auth: AUTH });
    try {
      const result = await device.replicate.from(server, options);
      expect(result.ok).toBe(true);
      const { rows } = await device.allDocs();
      return rows.map((row) => row.id);
    } finally {
      await Promise.all([device.close(), server.close()]);
    }
  }

  it("gets exactly the documents of the server's filter function", async () => {
    expect(await pull({ filter: 'app/by_type', query_params: { type: 'sale' } })).toEqual(['s1', 's2']);
  });

  it("gets exactly the documents of the server's _view filter", async () => {
    expect(await pull({ filter: '_view', view: 'app/sales' })).toEqual(['s1', 's2']);
  });
});
