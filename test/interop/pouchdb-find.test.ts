/**
 * PouchDB's own `pouchdb-find` plugin, and its built-in map/reduce `query`, pointed at a Settee
 * server over HTTP: the client nobody here wrote gets what pouchdb-find's documentation
 * (pouchdb.com/api.html#create_index … #explain_index, #query_database) promises its caller.
 */
import { createRequire } from 'node:module';
import PouchDB from 'pouchdb';
import { describe, expect, it } from 'vitest';
import { usePouchServer } from './pouch-harness.js';

// pouchdb-find ships no types: loaded as the CommonJS plugin it is.
const findPlugin: unknown = createRequire(import.meta.url)('pouchdb-find');
(PouchDB as unknown as { plugin(plugin: unknown): void }).plugin(findPlugin);

type Json = Record<string, unknown>;
type Fields = (string | Record<string, 'asc' | 'desc'>)[];

/** What pouchdb-find and map/reduce add to a PouchDB. */
interface QueryingPouch {
  bulkDocs(docs: Json[]): Promise<unknown>;
  createIndex(request: { index: { fields: Fields; name?: string; ddoc?: string } }): Promise<Json>;
  getIndexes(): Promise<{ total_rows: number; indexes: Json[] }>;
  find(request: Json): Promise<{ docs: Json[]; warning?: string; bookmark?: string }>;
  explain(request: Json): Promise<Json>;
  deleteIndex(index: Json): Promise<Json>;
  put(doc: Json): Promise<unknown>;
  query(view: string, options?: Json): Promise<{ total_rows?: number; offset?: number; rows: Json[] }>;
}

const { remote } = usePouchServer('settee-pouch-find-');
const open = (name: string) => remote(name) as unknown as QueryingPouch;

const PEOPLE = [
  { _id: 'p1', name: 'Ada', age: 36, city: 'London' },
  { _id: 'p2', name: 'Grace', age: 85, city: 'New York' },
  { _id: 'p3', name: 'Alan', age: 41, city: 'London' },
  { _id: 'p4', name: 'Barbara', age: 52, city: 'Boston' },
];

describe('pouchdb-find against Settee', () => {
  it('createIndex answers created, then exists; getIndexes lists it after _all_docs', async () => {
    const db = open('find-index');
    const index = { index: { fields: ['city', 'age'], name: 'by-city', ddoc: 'people' } };
    expect(await db.createIndex(index)).toMatchObject({ result: 'created' });
    expect(await db.createIndex(index)).toMatchObject({ result: 'exists' });
    const { indexes } = await db.getIndexes();
    expect(indexes).toEqual([
      expect.objectContaining({
        ddoc: null,
        name: '_all_docs',
        type: 'special',
        def: { fields: [{ _id: 'asc' }] },
      }),
      expect.objectContaining({
        ddoc: '_design/people',
        name: 'by-city',
        type: 'json',
        def: expect.objectContaining({ fields: [{ city: 'asc' }, { age: 'asc' }] }),
      }),
    ]);
  });

  it('find with selector, sort, fields, limit and skip uses the index', async () => {
    const db = open('find-query');
    await db.bulkDocs(PEOPLE);
    await db.createIndex({ index: { fields: ['city', 'age'] } });
    const query = {
      selector: { city: 'London', age: { $gt: 0 } },
      sort: [{ city: 'desc' }, { age: 'desc' }],
    };
    const all = await db.find({ ...query, fields: ['_id', 'name'] });
    expect(all.docs).toEqual([
      { _id: 'p3', name: 'Alan' },
      { _id: 'p1', name: 'Ada' },
    ]);
    expect(all.warning).toBeUndefined();
    expect((await db.find({ ...query, fields: ['name'], limit: 1, skip: 1 })).docs).toEqual([
      { name: 'Ada' },
    ]);
    const whole = await db.find({ selector: { city: 'Boston' } });
    expect(whole.docs).toEqual([expect.objectContaining({ _id: 'p4', _rev: expect.any(String), age: 52 })]);
  });

  it('find without a usable index still answers, with the warning', async () => {
    const db = open('find-scan');
    await db.bulkDocs(PEOPLE);
    const { docs, warning } = await db.find({ selector: { age: { $gte: 50 } } });
    expect(docs.map((doc) => doc._id).sort()).toEqual(['p2', 'p4']);
    expect(warning).toMatch(/no matching index/i);
  });

  it('find errors reach the caller as CouchDB’s (status, name)', async () => {
    const db = open('find-errors');
    await db.bulkDocs(PEOPLE);
    await expect(db.find({ selector: { age: { $gt: 1 } }, sort: ['age'] })).rejects.toMatchObject({
      status: 400,
      error: 'no_usable_index',
    });
  });

  it('explain names the index and the key range it would read', async () => {
    const db = open('find-explain');
    await db.createIndex({ index: { fields: ['age'], name: 'age', ddoc: 'ages' } });
    const plan = await db.explain({ selector: { age: { $gt: 40 } } });
    expect(plan).toMatchObject({
      dbname: 'find-explain',
      index: { ddoc: '_design/ages', name: 'age', type: 'json' },
      selector: { age: { $gt: 40 } },
    });
    expect(plan.mrargs).toMatchObject({ start_key: [40], end_key: [{}] });
  });

  it('deleteIndex takes an index from getIndexes, and the index is gone', async () => {
    const db = open('find-delete');
    await db.createIndex({ index: { fields: ['name'], name: 'by-name', ddoc: 'names' } });
    const { indexes } = await db.getIndexes();
    expect(await db.deleteIndex(indexes[1]!)).toEqual({ ok: true });
    expect((await db.getIndexes()).indexes.map((index) => index.name)).toEqual(['_all_docs']);
    await expect(db.deleteIndex(indexes[1]!)).rejects.toMatchObject({ status: 404 });
  });
});

describe('PouchDB’s query against Settee’s views', () => {
  it('map rows with total_rows and offset; reduce with group_level; keys', async () => {
    const db = open('pouch-views');
    await db.bulkDocs(PEOPLE);
    await db.put({
      _id: '_design/people',
      views: {
        by_city: { map: 'function (doc) { emit([doc.city, doc.age], doc.age); }', reduce: '_count' },
      },
    });
    const mapped = await db.query('people/by_city', {
      reduce: false,
      startkey: ['London'],
      endkey: ['London', {}],
    });
    expect(mapped).toMatchObject({ total_rows: 4, offset: 1 });
    expect(mapped.rows.map((row) => row.id)).toEqual(['p1', 'p3']);
    const grouped = await db.query('people/by_city', { group_level: 1 });
    expect(grouped.rows).toEqual([
      { key: ['Boston'], value: 1 },
      { key: ['London'], value: 2 },
      { key: ['New York'], value: 1 },
    ]);
    const keyed = await db.query('people/by_city', {
      reduce: false,
      keys: [['New York', 85]],
      include_docs: true,
    });
    expect(keyed.rows).toEqual([
      expect.objectContaining({ id: 'p2', doc: expect.objectContaining({ name: 'Grace' }) }),
    ]);
    await expect(db.query('people/nope')).rejects.toMatchObject({ status: 404 });
  });
});
