import { describe, expect, it } from 'vitest';
import {
  DESIGN_PREFIX,
  isLocalId,
  LOCAL_PREFIX,
  parseDocument,
  validateDocId,
} from '../../src/core/document.js';
import { type ErrorName, SetteeError } from '../../src/core/errors.js';

function errorOf(fn: () => unknown): SetteeError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(SetteeError);
    return err as SetteeError;
  }
  throw new Error('expected a SetteeError');
}

function expectError(fn: () => unknown, error: ErrorName, reason?: string | RegExp): void {
  const thrown = errorOf(fn);
  expect(thrown.error).toBe(error);
  expect(thrown.status).toBe(400);
  if (typeof reason === 'string') expect(thrown.reason).toBe(reason);
  else if (reason) expect(thrown.reason).toMatch(reason);
}

describe('parseDocument: shape', () => {
  it.each([
    ['null', null],
    ['undefined', undefined],
    ['a number', 42],
    ['a string', '{"_id":"a"}'],
    ['a boolean', true],
    ['an array', [{ _id: 'a' }]],
    ['an empty array', []],
  ])('rejects %s as a document with bad_request', (_name, input) => {
    expectError(() => parseDocument(input), 'bad_request');
  });

  it('splits a document into what Settee interprets and the body', () => {
    const doc = parseDocument({ _id: 'doc', _rev: '2-b', _deleted: true, a: 1, b: { c: [1, 2] } });
    expect(doc).toEqual({
      id: 'doc',
      rev: '2-b',
      path: { start: 2, hashes: ['b'] },
      deleted: true,
      body: { a: 1, b: { c: [1, 2] } },
      attachments: undefined,
    });
  });

  it('accepts a document without any reserved field', () => {
    expect(parseDocument({})).toEqual({
      id: undefined,
      rev: undefined,
      path: undefined,
      deleted: false,
      body: {},
      attachments: undefined,
    });
  });

  it('keeps the body keys in the order received', () => {
    const doc = parseDocument({ z: 1, _id: 'x', a: 2, m: 3, _rev: '1-a', b: 4 });
    expect(Object.keys(doc.body)).toEqual(['z', 'a', 'm', 'b']);
  });

  it('keeps fields with an underscore that is not leading', () => {
    expect(parseDocument({ a_b: 1, x_: 2 }).body).toEqual({ a_b: 1, x_: 2 });
  });
});

describe('document ids', () => {
  it('accepts ordinary, design and local ids', () => {
    for (const id of ['doc', 'a b', 'ü', '_design/ddoc', '_local/checkpoint', 'with_underscore', '-']) {
      expect(validateDocId(id)).toBe(id);
      expect(parseDocument({ _id: id }).id).toBe(id);
    }
  });

  it.each(['_foo', '_', '_users', '_designs/x', '_design', '_local', '_Design/x', '_all_docs'])(
    'rejects %s with illegal_docid',
    (id) => {
      expectError(
        () => validateDocId(id),
        'illegal_docid',
        'Only reserved document ids may start with underscore.',
      );
      expectError(() => parseDocument({ _id: id }), 'illegal_docid');
    },
  );

  it('rejects a design or local prefix without a name', () => {
    expectError(() => validateDocId(DESIGN_PREFIX), 'illegal_docid');
    expectError(() => validateDocId(LOCAL_PREFIX), 'illegal_docid');
  });

  it.each([
    ['an empty id', ''],
    ['a number', 1],
    ['null', null],
    ['an object', { id: 'a' }],
  ])('rejects %s with a 400', (_name, id) => {
    const error = errorOf(() => parseDocument({ _id: id }));
    expect(error.status).toBe(400);
  });

  it('tells local ids apart', () => {
    expect(isLocalId('_local/x')).toBe(true);
    expect(isLocalId('_design/x')).toBe(false);
    expect(isLocalId('local/x')).toBe(false);
  });
});

describe('_rev and _revisions', () => {
  it('a _rev alone is the one-node path', () => {
    const doc = parseDocument({ _id: 'a', _rev: '3-abc' });
    expect(doc.rev).toBe('3-abc');
    expect(doc.path).toEqual({ start: 3, hashes: ['abc'] });
  });

  it.each([
    ['no generation', 'abc'],
    ['generation 0', '0-abc'],
    ['an empty hash', '1-'],
    ['an empty generation', '-abc'],
    ['a non-numeric generation', 'x-abc'],
    ['whitespace in the hash', '1-ab c'],
    ['a number', 1],
    ['null', null],
    ['an empty string', ''],
  ])('rejects a _rev with %s as bad_request', (_name, rev) => {
    expectError(() => parseDocument({ _id: 'a', _rev: rev }), 'bad_request', 'Invalid rev format');
  });

  it('turns _revisions into the root-to-leaf path', () => {
    const doc = parseDocument({ _id: 'a', _rev: '3-c', _revisions: { start: 3, ids: ['c', 'b', 'a'] } });
    expect(doc.rev).toBe('3-c');
    expect(doc.path).toEqual({ start: 1, hashes: ['a', 'b', 'c'] });
  });

  it('accepts _revisions without _rev, and in either key order', () => {
    const revisions = { start: 5, ids: ['e', 'd'] };
    expect(parseDocument({ _revisions: revisions }).path).toEqual({ start: 4, hashes: ['d', 'e'] });
    expect(parseDocument({ _revisions: revisions }).rev).toBe('5-e');
    expect(parseDocument({ _revisions: revisions, _rev: '5-e' }).path).toEqual({
      start: 4,
      hashes: ['d', 'e'],
    });
  });

  // CouchDB ignores a `_rev` beside `_revisions` (couch_doc.erl, transfer_fields: "we already
  // got the rev from the _revisions"), in either key order; PouchDB sends such documents.
  it.each([
    ['another hash', '3-x'],
    ['another generation', '2-c'],
    ['an ancestor', '2-b'],
  ])('takes the revision from _revisions when _rev disagrees (%s)', (_name, rev) => {
    const revisions = { start: 3, ids: ['c', 'b', 'a'] };
    for (const doc of [
      { _id: 'a', _rev: rev, _revisions: revisions },
      { _id: 'a', _revisions: revisions, _rev: rev },
    ]) {
      const parsed = parseDocument(doc);
      expect(parsed.rev).toBe('3-c');
      expect(parsed.path).toEqual({ start: 1, hashes: ['a', 'b', 'c'] });
    }
  });

  it.each([
    ['not an object', 'c'],
    ['no ids', { start: 3 }],
    ['empty ids', { start: 3, ids: [] }],
    ['more ids than start', { start: 1, ids: ['b', 'a'] }],
    ['start 0', { start: 0, ids: ['a'] }],
    ['an empty id', { start: 2, ids: ['b', ''] }],
  ])('rejects malformed _revisions (%s) as bad_request', (_name, revisions) => {
    expectError(() => parseDocument({ _id: 'a', _revisions: revisions }), 'bad_request');
  });
});

describe('_deleted', () => {
  it('reads the tombstone flag', () => {
    expect(parseDocument({ _deleted: true }).deleted).toBe(true);
    expect(parseDocument({ _deleted: false }).deleted).toBe(false);
  });

  it.each([['true'], [1], [null]])('rejects a non-boolean _deleted (%j)', (value) => {
    expectError(() => parseDocument({ _deleted: value }), 'doc_validation');
  });
});

describe('reserved fields', () => {
  it.each(['_x', '_foo', '_id_', '_revs', '_attachment', '_design', '_local', '_replication', '_accessed'])(
    'rejects the unknown special member %s with doc_validation',
    (key) => {
      expectError(
        () => parseDocument({ _id: 'a', [key]: 1 }),
        'doc_validation',
        `Bad special document member: ${key}`,
      );
    },
  );

  it('keeps _replication_* fields and _access in the body, in order', () => {
    const doc = parseDocument({
      _id: 'rep',
      source: 'a',
      _replication_state: 'completed',
      _replication_id: 'abc',
      _replication_state_time: '2024-01-01T00:00:00Z',
      _replication_stats: { docs_written: 1 },
      _access: ['alice'],
      target: 'b',
    });
    expect(doc.body).toEqual({
      source: 'a',
      _replication_state: 'completed',
      _replication_id: 'abc',
      _replication_state_time: '2024-01-01T00:00:00Z',
      _replication_stats: { docs_written: 1 },
      _access: ['alice'],
      target: 'b',
    });
    expect(Object.keys(doc.body)).toEqual([
      'source',
      '_replication_state',
      '_replication_id',
      '_replication_state_time',
      '_replication_stats',
      '_access',
      'target',
    ]);
  });

  it('ignores what readers add: _conflicts, _deleted_conflicts, _revs_info, _local_seq', () => {
    const doc = parseDocument({
      _id: 'a',
      _rev: '2-b',
      _conflicts: ['2-a'],
      _deleted_conflicts: ['2-c'],
      _revs_info: [{ rev: '2-b', status: 'available' }],
      _local_seq: 7,
      value: 1,
    });
    expect(doc.body).toEqual({ value: 1 });
    expect(doc.rev).toBe('2-b');
  });

  it('does not validate the ignored fields either', () => {
    expect(parseDocument({ _conflicts: 'nonsense' }).body).toEqual({});
  });
});

describe('_attachments', () => {
  it('decodes inline base64 data and defaults the content type', () => {
    const doc = parseDocument({ _attachments: { 'a.txt': { data: 'aGVsbG8=' } } });
    const att = doc.attachments?.get('a.txt');
    expect(att?.contentType).toBe('application/octet-stream');
    expect(new TextDecoder().decode(att?.data)).toBe('hello');
  });

  it('tolerates whitespace in base64, as MIME encoders wrap lines', () => {
    const doc = parseDocument({ _attachments: { a: { content_type: 'text/plain', data: 'aGVs\r\nbG8=' } } });
    expect(new TextDecoder().decode(doc.attachments?.get('a')?.data)).toBe('hello');
    expect(doc.attachments?.get('a')?.contentType).toBe('text/plain');
  });

  it('accepts empty inline data', () => {
    expect(parseDocument({ _attachments: { a: { data: '' } } }).attachments?.get('a')?.data).toEqual(
      new Uint8Array(),
    );
  });

  it.each([
    ['characters outside the alphabet', 'not base64!'],
    ['a length that is not a multiple of 4', 'aGVsbG8'],
    ['padding in the middle', 'aG=sbG8='],
    ['too much padding', 'aGVsbG8==='],
    ['url-safe characters', 'a-_b'],
  ])('rejects base64 data with %s as bad_request', (_name, data) => {
    expectError(() => parseDocument({ _attachments: { 'a.bin': { data } } }), 'bad_request', /base64/);
  });

  it('reads stubs and follows', () => {
    const doc = parseDocument({
      _attachments: {
        stub: { stub: true, content_type: 'text/plain', digest: 'md5-abc', revpos: 2, length: 5 },
        later: { follows: true, content_type: 'image/png', length: 10 },
      },
    });
    expect(doc.attachments?.get('stub')).toEqual({
      contentType: 'text/plain',
      stub: true,
      digest: 'md5-abc',
      revpos: 2,
      length: 5,
    });
    expect(doc.attachments?.get('later')).toEqual({ contentType: 'image/png', follows: true, length: 10 });
  });

  it.each([
    ['not an object', 'x'],
    ['an array', [{ data: '' }]],
    ['null', null],
  ])('rejects _attachments that is %s', (_name, value) => {
    expectError(() => parseDocument({ _attachments: value }), 'bad_request');
  });

  it.each([
    ['an attachment that is not an object', { a: 'aGVsbG8=' }],
    ['an attachment without data, stub or follows', { a: { content_type: 'text/plain' } }],
    ['a non-string content type', { a: { content_type: 5, data: '' } }],
    ['an empty name', { '': { data: '' } }],
    ['a name starting with _', { _a: { data: '' } }],
  ])('rejects %s', (_name, value) => {
    expectError(() => parseDocument({ _attachments: value }), 'bad_request');
  });
});
