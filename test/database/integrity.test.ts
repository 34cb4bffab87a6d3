/**
 * The embedded API refuses what a JavaScript caller can hand it but JSON cannot hold, with
 * CouchDB's 400-class errors instead of a TypeError half-way through a write (issue 12).
 */
import { describe, expect, it } from 'vitest';
import type { NewDoc } from '../../src/core/api.js';
import type { Database } from '../../src/database/database.js';
import { expectError, rev, useTempDatabases } from './helpers.js';

const dbs = useTempDatabases();

/** Nothing was written: no document, no sequence. */
async function expectEmpty(db: Database): Promise<void> {
  const info = await db.info();
  expect(info.doc_count).toBe(0);
  expect(info.update_seq).toBe(0);
}

/** A document that contains itself, two levels down. */
function circular(): NewDoc {
  const doc: Record<string, unknown> = { _id: 'loop', name: 'x' };
  doc.inner = { back: doc };
  return doc as NewDoc;
}

describe('documents JSON cannot hold', () => {
  // Over HTTP a body was parsed from JSON, so neither can arrive there; CouchDB's answer to a
  // body that is not a JSON document is bad_request (couch_doc.erl, from_json_obj/2).
  it('refuses a circular document from put and bulkDocs, and writes nothing', async () => {
    const db = await dbs.open();
    await expectError(db.put(circular()), 'bad_request', /inner\.back .*circular/);
    await expectError(db.bulkDocs([{ _id: 'fine' }, circular()]), 'bad_request', /circular/);
    await expectError(db.bulkDocs([circular()], { newEdits: false }), 'bad_request', /circular/);
    await expectEmpty(db);
  });

  it('refuses a BigInt anywhere in a document, and writes nothing', async () => {
    const db = await dbs.open();
    await expectError(
      db.put({ _id: 'big', n: 10n } as NewDoc),
      'bad_request',
      'Document field n is a BigInt, which JSON cannot hold',
    );
    await expectError(
      db.bulkDocs([{ _id: 'fine' }, { _id: 'deep', list: [1, { n: 2n }] } as NewDoc]),
      'bad_request',
      /list\.1\.n is a BigInt/,
    );
    await expectError(db.putLocal({ _id: '_local/big', n: 1n } as NewDoc), 'bad_request', /BigInt/);
    await expectEmpty(db);
    expect(await db.getLocal('_local/big')).toBeUndefined();
  });

  it('still takes an object met twice (not a cycle) and what toJSON turns into JSON', async () => {
    const db = await dbs.open();
    const shared = { x: 1 };
    const when = new Date(0);
    await db.put({ _id: 'ok', a: shared, b: shared, when });
    expect(await db.get('ok')).toMatchObject({ a: { x: 1 }, b: { x: 1 }, when: '1970-01-01T00:00:00.000Z' });
  });
});

describe('putAttachment with arguments its types do not allow', () => {
  it.each([
    ['null data', null, 'text/plain', /data must be a Uint8Array/],
    ['string data', 'hello', 'text/plain', /data must be a Uint8Array/],
    ['a content type that is not a string', new Uint8Array([1]), null, /content_type must be a string/],
  ])('refuses %s with bad_request, not a TypeError', async (_what, data, type, reason) => {
    const db = await dbs.open();
    const put = db.putAttachment('doc', 'a.txt', undefined, data as Uint8Array, type as string);
    await expectError(put, 'bad_request', reason);
    await expectEmpty(db);
  });

  it('refuses a null attachment name and a bad document id', async () => {
    const db = await dbs.open();
    await expectError(
      db.putAttachment('doc', null as unknown as string, undefined, new Uint8Array(), 'text/plain'),
      'bad_request',
    );
    await expectError(
      db.putAttachment('_bad', 'a.txt', undefined, new Uint8Array(), 'text/plain'),
      'illegal_docid',
    );
    await expectEmpty(db);
  });
});

describe('attachment content types that are not HTTP header values', () => {
  const REASON = 'Attachment a.txt: content_type must be a valid HTTP header value';
  const BAD = ['text/plain\r\nSet-Cookie: x=1', 'text/\u0000plain', 'text/plain; name="\u4e2d"'];
  const inline = (type: string) => ({ 'a.txt': { content_type: type, data: 'aGVsbG8=' } });

  it.each(BAD)('refuses %j from putAttachment, put and replicated bulkDocs', async (type) => {
    const db = await dbs.open();
    await expectError(
      db.putAttachment('doc', 'a.txt', undefined, new Uint8Array([1]), type),
      'bad_request',
      REASON,
    );
    await expectError(db.put({ _id: 'doc', _attachments: inline(type) }), 'bad_request', REASON);
    const replicated = { _id: 'doc', _rev: rev(1, 'a'), _attachments: inline(type) };
    await expectError(db.bulkDocs([replicated], { newEdits: false }), 'bad_request', REASON);
    await expectEmpty(db);
  });

  it('takes any type HTTP can carry, Latin-1 and parameters included', async () => {
    const db = await dbs.open();
    const type = 'text/plain; charset=latin1; name="caf\u00e9"\t';
    const { rev: written } = await db.putAttachment(
      'doc',
      'a.txt',
      undefined,
      new Uint8Array([104, 105]),
      type,
    );
    expect(written).toMatch(/^1-/);
    expect((await db.getAttachment('doc', 'a.txt')).contentType).toBe(type);
  });
});
