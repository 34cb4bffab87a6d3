import { describe, it } from 'vitest';
import { expectError, useTempDatabases } from './helpers.js';

const dbs = useTempDatabases();

describe('CouchDB errors for requests that cannot match anything', () => {
  it('deleting a document that does not exist is 404 missing, not a conflict', async () => {
    const db = await dbs.open();
    await expectError(db.remove('ghost', '1-967a00dff5e02add41819138abb3284d'), 'not_found', 'missing');
  });

  it('a reversed key range is a query_parse_error', async () => {
    const db = await dbs.open();
    await db.put({ _id: 'a' });
    await expectError(db.allDocs({ startkey: 'b', endkey: 'a' }), 'query_parse_error');
    await expectError(db.allDocs({ startkey: 'a', endkey: 'b', descending: true }), 'query_parse_error');
  });

  it('reading a malformed revision is a bad_request, not a missing document', async () => {
    const db = await dbs.open();
    await db.put({ _id: 'a' });
    await expectError(db.get('a', { rev: 'garbage' }), 'bad_request', 'Invalid rev format');
  });
});
