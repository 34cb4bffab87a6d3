import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Doc } from '../../src/core/api.js';
import type { SetteeError } from '../../src/core/errors.js';
import { collate, compileSelector } from '../../src/core/mango/index.js';
import type { Database } from '../../src/database/database.js';
import type { FindRequestBody } from '../../src/database/queries/mango.js';
import { expectError, useTempDatabases } from './helpers.js';

const dbs = useTempDatabases();

/** Every page of a query, following bookmarks until a page comes back short. */
async function allPages(db: Database, request: FindRequestBody): Promise<Doc[]> {
  const docs: Doc[] = [];
  let bookmark: string | undefined;
  for (let page = 0; page < 1000; page++) {
    const answer = await db.find({ ...request, bookmark });
    docs.push(...(answer.docs as Doc[]));
    if (answer.docs.length < (request.limit ?? 25)) return docs;
    bookmark = answer.bookmark;
  }
  throw new Error('paging did not end');
}

const ids = (docs: readonly { _id?: string }[]) => docs.map((doc) => doc._id);

describe('Database.find with JSON indexes', () => {
  it('answers equality and range on an index, sorted, and says which index through explain', async () => {
    const db = await dbs.open();
    await db.bulkDocs(
      Array.from({ length: 30 }, (_, n) => ({
        _id: `s${String(n).padStart(2, '0')}`,
        till: `t${n % 3}`,
        total: (n * 7) % 17,
      })),
    );
    const { result, id, name } = await db.createIndex({
      index: { fields: ['till', 'total'] },
      ddoc: 'sales',
      name: 'by-till',
    });
    expect({ result, id, name }).toEqual({ result: 'created', id: '_design/sales', name: 'by-till' });
    const request: FindRequestBody = {
      selector: { till: 't1', total: { $gte: 5, $lt: 12 } },
      sort: [{ till: 'asc' }, { total: 'asc' }],
      fields: ['_id', 'total'],
    };
    const { docs, warning } = await db.find(request);
    expect(warning).toBeUndefined();
    const totals = docs.map((doc) => doc.total as number);
    expect(totals).toEqual([...totals].sort((a, b) => a - b));
    expect(totals.every((total) => total >= 5 && total < 12)).toBe(true);
    const expected = Array.from({ length: 30 }, (_, n) => n).filter(
      (n) => n % 3 === 1 && (n * 7) % 17 >= 5 && (n * 7) % 17 < 12,
    );
    expect(docs).toHaveLength(expected.length);
    expect((await db.explain(request)).index).toMatchObject({ ddoc: '_design/sales', name: 'by-till' });
    const descending = await db.find({ ...request, sort: [{ till: 'desc' }, { total: 'desc' }] });
    expect(descending.docs.map((doc) => doc.total)).toEqual([...totals].reverse());
  });

  it('never returns a document that no longer matches, and finds one that now does', async () => {
    const db = await dbs.open();
    await db.createIndex({ index: { fields: ['status'] } });
    const a = await db.put({ _id: 'a', status: 'open' });
    await db.put({ _id: 'b', status: 'closed' });
    expect(ids((await db.find({ selector: { status: 'open' } })).docs)).toEqual(['a']);
    await db.put({ _id: 'a', _rev: a.rev, status: 'closed' });
    const b = await db.get('b');
    await db.put({ ...b, status: 'open' });
    await db.put({ _id: 'c', status: 'open' });
    expect(ids((await db.find({ selector: { status: 'open' } })).docs)).toEqual(['b', 'c']);
    await db.remove('c', (await db.get('c'))._rev);
    expect(ids((await db.find({ selector: { status: 'open' } })).docs)).toEqual(['b']);
    // A tombstone that kept its fields is in the index (for filtered feeds), never in an answer.
    await db.put({ ...(await db.get('b')), _deleted: true });
    expect(ids((await db.find({ selector: { status: 'open' } })).docs)).toEqual([]);
  });

  it('builds a large index in pages: writes and reads go on meanwhile, and it shows as a task', async () => {
    const db = await dbs.open();
    for (let batch = 0; batch < 8; batch++) {
      await db.bulkDocs(Array.from({ length: 1000 }, (_, n) => ({ _id: `b${batch}-${n}`, n })));
    }
    // Creating the index starts its build in the background; the query joins it.
    await db.createIndex({ index: { fields: ['n'] }, ddoc: 'big', name: 'n' });
    let built = false;
    const building = db
      .find({ selector: { n: { $gte: 990 } }, use_index: ['big', 'n'], limit: 1000 })
      .then((answer) => {
        built = true;
        return answer;
      });
    const tasks = db.indexingStatus();
    expect(tasks).toHaveLength(1);
    expect(tasks[0]).toMatchObject({ label: '_design/big', totalChanges: 8001 });
    await db.put({ _id: 'during', n: 995 });
    await db.get('b0-1');
    expect(built).toBe(false);
    const answer = await building;
    expect(answer.warning).toBeUndefined();
    expect(answer.docs.length).toBe(81);
    expect(db.indexingStatus()).toEqual([]);
  });

  it('pages with bookmarks through every match exactly once', async () => {
    const db = await dbs.open();
    await db.bulkDocs(Array.from({ length: 57 }, (_, n) => ({ _id: `d${n}`, group: n % 2, rank: n % 5 })));
    await db.createIndex({ index: { fields: ['group', 'rank'] } });
    const request: FindRequestBody = {
      selector: { group: 1, rank: { $gte: 0 } },
      sort: ['group', 'rank'],
      limit: 4,
    };
    const paged = await allPages(db, request);
    const all = (await db.find({ ...request, limit: 1000 })).docs;
    expect(ids(paged)).toEqual(ids(all));
    expect(new Set(ids(paged)).size).toBe(28);
  });

  it('orders non-ASCII keys by Unicode collation, not by code point', async () => {
    const db = await dbs.open();
    const names = [
      'zebra',
      'Émile',
      'eve',
      'Ève',
      'émile',
      'Zoë',
      'ångström',
      'adam',
      'ä',
      'b',
      'Ωmega',
      '日本',
      'ß',
      'ss',
    ];
    await db.bulkDocs(names.map((name, n) => ({ _id: `p${n}`, name })));
    await db.createIndex({ index: { fields: ['name'] } });
    const found = await db.find({ selector: { name: { $gt: null } }, sort: ['name'], limit: 100 });
    const expected = [...names].sort((a, b) => collate(a, b));
    expect(found.docs.map((doc) => doc.name)).toEqual(expected);
    const reversed = await db.find({
      selector: { name: { $gt: null } },
      sort: [{ name: 'desc' }],
      limit: 100,
    });
    expect(reversed.docs.map((doc) => doc.name)).toEqual([...expected].reverse());
    const range = await db.find({ selector: { name: { $gte: 'e', $lt: 'f' } }, sort: ['name'] });
    expect(range.docs.map((doc) => doc.name)).toEqual(
      expected.filter((n) => collate(n, 'e') >= 0 && collate(n, 'f') < 0),
    );
  });

  it('finds and orders values longer than a key holds (keys are cut, rows re-sorted)', async () => {
    const db = await dbs.open();
    const long = (tail: string) => 'p'.repeat(3000) + tail;
    await db.bulkDocs(['c', 'a', 'b'].map((tail) => ({ _id: tail, path: long(tail) })));
    await db.createIndex({ index: { fields: ['path'] } });
    const sorted = await db.find({ selector: { path: { $gt: null } }, sort: ['path'] });
    expect(ids(sorted.docs)).toEqual(['a', 'b', 'c']);
    expect(ids((await db.find({ selector: { path: long('b') } })).docs)).toEqual(['b']);
  });

  it('keeps an index across a reopen and a compaction: update=false answers from it as stored', async () => {
    let db = await dbs.open();
    await db.bulkDocs(Array.from({ length: 10 }, (_, n) => ({ _id: `k${n}`, n })));
    await db.createIndex({ index: { fields: ['n'] }, ddoc: 'ix', name: 'n' });
    await db.find({ selector: { n: { $gte: 0 } } });
    await db.compact();
    db = await dbs.reopen(db);
    const stale = await db.find({ selector: { n: { $gte: 5 } }, update: false, use_index: ['ix', 'n'] });
    expect(ids(stale.docs)).toEqual(['k5', 'k6', 'k7', 'k8', 'k9']);
    expect((await db.explain({ selector: { n: { $gte: 5 } } })).index).toMatchObject({ name: 'n' });
  });

  it('uses a partial index only when named, and indexes only what its filter admits', async () => {
    const db = await dbs.open();
    await db.bulkDocs([
      { _id: 'a', type: 'sale', total: 5 },
      { _id: 'b', type: 'refund', total: 7 },
      { _id: 'c', type: 'sale', total: 9 },
    ]);
    await db.createIndex({
      index: { fields: ['total'], partial_filter_selector: { type: 'sale' } },
      ddoc: 'p',
      name: 'sales',
    });
    const unnamed = await db.find({ selector: { total: { $gt: 0 } } });
    expect(unnamed.warning).toMatch(/No matching index/);
    expect(ids(unnamed.docs)).toEqual(['a', 'b', 'c']);
    const named = await db.find({ selector: { total: { $gt: 0 } }, use_index: ['p', 'sales'] });
    expect(ids(named.docs)).toEqual(['a', 'c']);
  });

  it('lists and deletes indexes; the design document goes with its last index', async () => {
    const db = await dbs.open();
    await db.createIndex({ index: { fields: ['a'] }, ddoc: 'two', name: 'a' });
    await db.createIndex({ index: { fields: ['b'] }, ddoc: 'two', name: 'b' });
    const listed = await db.getIndexes();
    expect(listed.total_rows).toBe(3);
    expect(listed.indexes.map((index) => index.name)).toEqual(['_all_docs', 'a', 'b']);
    await db.deleteIndex({ ddoc: '_design/two', name: 'a' });
    expect((await db.getIndexes()).indexes.map((index) => index.name)).toEqual(['_all_docs', 'b']);
    await db.deleteIndex({ ddoc: 'two', name: 'b' });
    await expectError(db.get('_design/two'), 'not_found');
    await expectError(db.deleteIndex({ ddoc: 'two', name: 'b' }), 'not_found', 'missing');
    await db.put({ _id: '_design/js', views: {} });
    await expectError(
      db.createIndex({ index: { fields: ['a'] }, ddoc: 'js' }),
      'invalid_ddoc_lang',
      'Existing design doc has an invalid language: <<"javascript">>',
    );
    expect(await db.viewCleanup()).toBeGreaterThanOrEqual(2);
  });

  it('refuses a sort no index serves and bad selectors with CouchDB’s 400s, writing nothing', async () => {
    const db = await dbs.open();
    await db.put({ _id: 'x', a: 1 });
    await expectError(db.find({ selector: { a: 1 }, sort: ['a'] }), 'no_usable_index');
    await expectError(db.find({ selector: { a: { $bogus: 1 } } }), 'bad_request');
    await expectError(db.find({ selector: { a: { $regex: '(' } } }), 'bad_request');
    const badIndex = await db.createIndex({ index: 'till' } as never).catch((error: SetteeError) => error);
    expect(badIndex).toMatchObject({ status: 400 });
    expect((await db.info()).doc_count).toBe(1);
  });

  it('leaves out design documents and returns _conflicts when asked', async () => {
    const db = await dbs.open();
    await db.put({ _id: '_design/x', kind: 'k' });
    await db.bulkDocs([{ _id: 'd', kind: 'k', _rev: '1-aaaa', _revisions: { start: 1, ids: ['aaaa'] } }], {
      newEdits: false,
    });
    await db.bulkDocs([{ _id: 'd', kind: 'k', _rev: '1-bbbb', _revisions: { start: 1, ids: ['bbbb'] } }], {
      newEdits: false,
    });
    const found = await db.find({ selector: { kind: 'k' }, conflicts: true });
    expect(ids(found.docs)).toEqual(['d']);
    expect(found.docs[0]?._conflicts).toEqual(['1-aaaa']);
  });
});

/** Random documents over a few fields with values of every JSON type, some missing. */
const value = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.integer({ min: -5, max: 5 }),
  fc.constantFrom('a', 'B', 'b', 'é', 'e', 'ab', '', 'Z'),
  fc.array(fc.integer({ min: 0, max: 2 }), { maxLength: 2 }),
);
const docArb = fc.record({ x: value, y: value }, { requiredKeys: [] });
const operand = fc.oneof(value, fc.constantFrom(0, 'b'));
const condition = fc.oneof(
  operand.map((v) => ({ $eq: v })),
  operand.map((v) => ({ $gt: v })),
  operand.map((v) => ({ $gte: v })),
  operand.map((v) => ({ $lt: v })),
  operand.map((v) => ({ $lte: v })),
  fc.tuple(operand, operand).map(([lo, hi]) => ({ $gte: lo, $lte: hi })),
);
const selectorArb = fc.oneof(
  condition.map((x) => ({ x })),
  fc.tuple(operand, condition).map(([x, y]) => ({ x, y })),
);

describe('Database.find: an index never changes the answer', () => {
  it('gives the same documents with and without each index, in index order when sorted', async () => {
    const db = await dbs.open();
    await db.createIndex({ index: { fields: ['x', 'y'] }, ddoc: 'xy', name: 'xy' });
    await db.createIndex({ index: { fields: ['x'] }, ddoc: 'x', name: 'x' });
    await fc.assert(
      fc.asyncProperty(fc.array(docArb, { maxLength: 25 }), selectorArb, async (bodies, selector) => {
        // Each run starts from the documents of the run before, deleted (the indexes stay).
        const existing = await db.allDocs({ startkey: 'd', endkey: 'd\uffff' });
        await db.bulkDocs(
          existing.rows.flatMap((row) =>
            row.value ? [{ _id: row.key, _rev: row.value.rev, _deleted: true }] : [],
          ),
        );
        await db.bulkDocs(bodies.map((body, n) => ({ _id: `d${String(n).padStart(2, '0')}`, ...body })));
        const matcher = compileSelector(selector);
        const expected = bodies
          .map((body, n) => ({ _id: `d${String(n).padStart(2, '0')}`, ...body }))
          .filter((doc) => matcher.matches(doc))
          .map((doc) => doc._id);
        const scan = await db.find({ selector, limit: 1000, use_index: '_all_docs' as never });
        // Unsorted, the planner may still read an index: the same documents, in its order.
        expect(ids(scan.docs).sort()).toEqual(expected);
        for (const index of ['x', 'xy']) {
          const fields = index === 'x' ? ['x'] : ['x', 'y'];
          // The index holds only documents with all its fields: require them, as a sort does.
          const narrowed = {
            ...selector,
            ...Object.fromEntries(fields.filter((f) => !(f in selector)).map((f) => [f, { $exists: true }])),
          };
          const withIndex = await db.find({
            selector: narrowed,
            sort: fields,
            limit: 1000,
            use_index: [index, index],
          });
          const narrowedMatcher = compileSelector(narrowed);
          const want = bodies
            .map((body, n) => ({ _id: `d${String(n).padStart(2, '0')}`, ...body }))
            .filter((doc) => narrowedMatcher.matches(doc))
            .sort(
              (a, b) =>
                collate(
                  fields.map((f) => (a as Record<string, unknown>)[f]),
                  fields.map((f) => (b as Record<string, unknown>)[f]),
                ) || (a._id < b._id ? -1 : 1),
            )
            .map((doc) => doc._id);
          expect(ids(withIndex.docs)).toEqual(want);
        }
      }),
      { numRuns: 60 },
    );
  });
});
