import { describe, expect, it } from 'vitest';
import { expectError, useTempDatabases } from './helpers.js';

const dbs = useTempDatabases();

describe('CouchDB errors for requests that cannot match anything', () => {
  it('deleting a document that does not exist is 404 missing, not a conflict', async () => {
    const db = await dbs.open();
    await expectError(db.remove('ghost', '1-967a00dff5e02add41819138abb3284d'), 'not_found', 'missing');
  });

  it('a reversed key range lists no rows (the "No rows can match" error is for views)', async () => {
    // CouchDB 3's `_all_docs` answers 200 with no rows here; its own chttpd_all_docs_range_test
    // says so ("This currently returns 200 with empty rows") while proposing a 400 for later.
    const db = await dbs.open();
    await db.put({ _id: 'a' });
    await db.put({ _id: 'b' });
    expect((await db.allDocs({ startkey: 'b', endkey: 'a' })).rows).toEqual([]);
    expect((await db.allDocs({ startkey: 'a', endkey: 'b', descending: true })).rows).toEqual([]);
    expect((await db.allDocs({ startkey: 'b', endkey: 'a', descending: true })).rows).toHaveLength(2);
  });

  it('keys with a key, startkey or endkey is a query_parse_error (couch_mrview_util.erl, validate_args)', async () => {
    const db = await dbs.open();
    const reason = '`keys` is incompatible with `key`, `start_key` and `end_key`';
    for (const range of [{ key: 'a' }, { startkey: 'a' }, { endkey: 'b' }]) {
      await expectError(db.allDocs({ keys: ['a'], ...range }), 'query_parse_error', reason);
      await expectError(
        (async () => collect(db.localDocsStream({ keys: ['_local/a'], ...range })))(),
        'query_parse_error',
        reason,
      );
    }
    // An empty `keys` asks for nothing, whatever else is given.
    expect((await db.allDocs({ keys: [], key: 'a' })).rows).toEqual([]);
  });

  it('keys with descending lists the keys reversed (fabric_view_all_docs.erl reverses them)', async () => {
    const db = await dbs.open();
    await db.bulkDocs([{ _id: 'a' }, { _id: 'b' }]);
    await db.putLocal({ _id: '_local/a' });
    const { rows } = await db.allDocs({ keys: ['b', 'missing', 'a'], descending: true });
    expect(rows.map((row) => row.key)).toEqual(['a', 'missing', 'b']);
    const locals = await collect(db.localDocsStream({ keys: ['_local/a', '_local/z'], descending: true }));
    expect(locals.map((row) => row.key)).toEqual(['_local/z', '_local/a']);
  });

  it('reading a malformed revision is a bad_request, not a missing document', async () => {
    const db = await dbs.open();
    await db.put({ _id: 'a' });
    await expectError(db.get('a', { rev: 'garbage' }), 'bad_request', 'Invalid rev format');
  });
});

async function collect<T>(rows: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const row of rows) out.push(row);
  return out;
}
