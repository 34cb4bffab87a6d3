import { randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import type { Doc } from '../../src/core/api.js';
import { SetteeError } from '../../src/core/errors.js';
import {
  encodeMultipartRelated,
  MultipartMixedWriter,
  multipartBoundary,
  parseMultipart,
  readMultipartRelatedDoc,
  wantsMultipart,
} from '../../src/server/multipart.js';

/** Concatenates text (UTF-8) and raw bytes into one body. */
const bytes = (...chunks: (string | Uint8Array)[]) =>
  Buffer.concat(chunks.map((chunk) => (typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk)));

function expectBadRequest(action: () => unknown, reason?: RegExp): SetteeError {
  let thrown: unknown;
  try {
    action();
  } catch (err) {
    thrown = err;
  }
  expect(thrown).toBeInstanceOf(SetteeError);
  const err = thrown as SetteeError;
  expect(err.error).toBe('bad_request');
  expect(err.status).toBe(400);
  if (reason) expect(err.reason).toMatch(reason);
  return err;
}

// Binary with NUL bytes, CR/LF, dashes and a prefix of the boundary in it.
const BLOB = Buffer.from([
  0x00, 0x00, 0x0d, 0x0a, 0x2d, 0x2d, 0x61, 0x62, 0x63, 0x0d, 0x0a, 0x00, 0xff, 0x00,
]);
const NOTES = 'Notes line one\nNotes line two\n'.repeat(20);
const NOTES_GZ = gzipSync(Buffer.from(NOTES, 'utf8'));

const REV = '2-7051cbe5c8faecd085a3fa619e6e6337';
const DOC_JSON =
  `{"_id":"doc1","_rev":"${REV}","_revisions":{"start":2,"ids":["7051cbe5c8faecd085a3fa619e6e6337",` +
  `"967a00dff5e02add41819138abb3284d"]},"value":1,"_attachments":{` +
  `"blob.bin":{"content_type":"application/octet-stream","revpos":1,"digest":"md5-AAAAAAAAAAAAAAAAAAAAAA==",` +
  `"length":${BLOB.length},"follows":true},` +
  `"notes.txt":{"content_type":"text/plain","revpos":2,"digest":"md5-BBBBBBBBBBBBBBBBBBBBBB==",` +
  `"length":${NOTES.length},"follows":true,"encoding":"gzip","encoded_length":${NOTES_GZ.length}},` +
  `"old.txt":{"content_type":"text/plain","revpos":1,"digest":"md5-CCCCCCCCCCCCCCCCCCCCCC==","length":3,"stub":true}}}`;

/** What CouchDB's replicator sends for `PUT /target/doc1?new_edits=false` (protocol.md §4 layout). */
function replicatorBody(boundary: string, eol = '\r\n'): Buffer {
  return bytes(
    `--${boundary}${eol}Content-Type: application/json${eol}${eol}${DOC_JSON}${eol}`,
    `--${boundary}${eol}Content-Disposition: attachment; filename="blob.bin"${eol}`,
    `Content-Type: application/octet-stream${eol}Content-Length: ${BLOB.length}${eol}${eol}`,
    BLOB,
    `${eol}--${boundary}${eol}Content-Disposition: attachment; filename="notes.txt"${eol}`,
    `Content-Type: text/plain${eol}Content-Length: ${NOTES_GZ.length}${eol}Content-Encoding: gzip${eol}${eol}`,
    NOTES_GZ,
    `${eol}--${boundary}--`,
  );
}

const EXPECTED_DOC = {
  _id: 'doc1',
  _rev: REV,
  _revisions: { start: 2, ids: ['7051cbe5c8faecd085a3fa619e6e6337', '967a00dff5e02add41819138abb3284d'] },
  value: 1,
  _attachments: {
    'blob.bin': { content_type: 'application/octet-stream', revpos: 1, data: BLOB.toString('base64') },
    'notes.txt': { content_type: 'text/plain', revpos: 2, data: Buffer.from(NOTES).toString('base64') },
    'old.txt': {
      content_type: 'text/plain',
      revpos: 1,
      digest: 'md5-CCCCCCCCCCCCCCCCCCCCCC==',
      length: 3,
      stub: true,
    },
  },
};

describe('multipartBoundary', () => {
  it('reads quoted and unquoted boundaries', () => {
    expect(multipartBoundary('multipart/related; boundary="abc123"')).toBe('abc123');
    expect(multipartBoundary('multipart/related; boundary=abc123')).toBe('abc123');
    expect(multipartBoundary('multipart/mixed;boundary=abc123;charset=utf-8')).toBe('abc123');
    expect(multipartBoundary('Multipart/Related; type="application/json"; BOUNDARY="a b;c"')).toBe('a b;c');
    expect(multipartBoundary('multipart/mixed; boundary = "x\\"y" ; foo=bar')).toBe('x"y');
  });

  it('is undefined for other types or no boundary', () => {
    expect(multipartBoundary(undefined)).toBeUndefined();
    expect(multipartBoundary('')).toBeUndefined();
    expect(multipartBoundary('application/json')).toBeUndefined();
    expect(multipartBoundary('application/json; boundary=abc')).toBeUndefined();
    expect(multipartBoundary('multipart/related')).toBeUndefined();
    expect(multipartBoundary('multipart/related; boundary=""')).toBeUndefined();
  });
});

describe('wantsMultipart', () => {
  it.each([
    ['multipart/mixed', true],
    ['multipart/related', true],
    ['Multipart/Mixed; q=0.9', true],
    ['text/plain, multipart/mixed', true],
    ['application/json', false],
    ['multipart/mixed, application/json', false],
    ['application/json; q=0.5, multipart/related', false],
    ['*/*', false],
    ['', false],
    [undefined, false],
  ])('%s → %s', (accept, expected) => {
    expect(wantsMultipart(accept)).toBe(expected);
  });
});

describe('parseMultipart', () => {
  it('splits parts, lower-cases header names, ignores preamble and epilogue', () => {
    const body = bytes(
      'This is the preamble.\r\n--xyz\r\n',
      'Content-Type: text/plain\r\nX-Thing:  spaced value \r\n\r\nfirst\r\n',
      '--xyz\r\n\r\nno headers\r\n',
      '--xyz\r\nContent-Type: application/octet-stream\r\n\r\n\r\n',
      '--xyz--\r\nThis is the epilogue.\r\n--xyz\r\nignored\r\n',
    );
    const parts = parseMultipart(body, 'xyz');
    expect(parts).toHaveLength(3);
    expect(parts[0]?.headers).toEqual({ 'content-type': 'text/plain', 'x-thing': 'spaced value' });
    expect(parts[0]?.body.toString()).toBe('first');
    expect(parts[1]?.headers).toEqual({});
    expect(parts[1]?.body.toString()).toBe('no headers');
    expect(parts[2]?.body.length).toBe(0);
  });

  it('accepts bare LF line endings and transport padding', () => {
    const body = bytes('--b \t\nContent-Type: text/plain\n\none\ntwo\n--b\nA: 1\n\n\n--b--');
    const parts = parseMultipart(body, 'b');
    expect(parts.map((p) => p.body.toString())).toEqual(['one\ntwo', '']);
    expect(parts[1]?.headers).toEqual({ a: '1' });
  });

  it('keeps a trailing CR in a bare-LF body when Content-Length says so', () => {
    const body = bytes('--b\nContent-Length: 3\n\nab\r\n--b--');
    expect(parseMultipart(body, 'b')[0]?.body.toString()).toBe('ab\r');
  });

  it('does not split on lines that merely start with the boundary', () => {
    const body = bytes('--b1\r\n\r\nx\r\n--b12\r\n--b1-y\r\n--b1\r\n\r\nz\r\n--b1--');
    expect(parseMultipart(body, 'b1').map((p) => p.body.toString())).toEqual(['x\r\n--b12\r\n--b1-y', 'z']);
  });

  it('returns no parts for a body that is only the closing boundary', () => {
    expect(parseMultipart(bytes('--b--'), 'b')).toEqual([]);
  });

  it('rejects malformed bodies', () => {
    expectBadRequest(() => parseMultipart(bytes('--b\r\n\r\nbody\r\n'), 'b'), /closing boundary/);
    expectBadRequest(() => parseMultipart(bytes('--b\r\n\r\nbody\r\n--b'), 'b'), /closing boundary/);
    expectBadRequest(
      () => parseMultipart(bytes('--b\r\n\r\nbody\r\n--b\r\n\r\nmore'), 'b'),
      /closing boundary/,
    );
    expectBadRequest(() => parseMultipart(bytes('no boundary here'), 'b'), /boundary/);
    expectBadRequest(() => parseMultipart(bytes(''), 'b'), /boundary/);
    expectBadRequest(() => parseMultipart(bytes('--b\r\nnot a header\r\n\r\nx\r\n--b--'), 'b'), /header/);
    expectBadRequest(() => parseMultipart(bytes('--b--'), ''), /boundary/);
  });
});

describe('readMultipartRelatedDoc', () => {
  it('reads a CouchDB replicator PUT ?new_edits=false body (binary + gzip-encoded parts)', () => {
    const doc = readMultipartRelatedDoc(replicatorBody('abc123'), 'multipart/related; boundary="abc123"');
    expect(doc).toEqual(EXPECTED_DOC);
  });

  it('accepts an unquoted boundary', () => {
    const doc = readMultipartRelatedDoc(replicatorBody('0cc6f4c5'), 'multipart/related;boundary=0cc6f4c5');
    expect(doc).toEqual(EXPECTED_DOC);
  });

  it('accepts LF-only line endings', () => {
    const doc = readMultipartRelatedDoc(replicatorBody('lf', '\n'), 'multipart/related; boundary=lf');
    expect(doc).toEqual(EXPECTED_DOC);
  });

  it('takes parts in the order of the follows attachments, not by filename', () => {
    const body = bytes(
      '--B\r\nContent-Type: application/json\r\n\r\n',
      '{"_id":"d","_attachments":{"z":{"content_type":"text/plain","revpos":1,"follows":true},',
      '"10":{"content_type":"text/plain","revpos":1,"follows":true},',
      '"2":{"content_type":"text/plain","revpos":1,"follows":true},',
      '"s":{"content_type":"text/plain","revpos":1,"stub":true,"digest":"md5-x"}}}\r\n',
      '--B\r\nContent-Disposition: attachment; filename="2"\r\n\r\nfor z\r\n',
      '--B\r\nContent-Disposition: attachment; filename="z"\r\n\r\nfor 10\r\n',
      '--B\r\n\r\nfor 2\r\n--B--',
    );
    const doc = readMultipartRelatedDoc(body, 'multipart/related; boundary=B');
    const data = (name: string) => {
      const att = (doc._attachments as Record<string, { data?: string }>)[name];
      return Buffer.from(att?.data ?? '', 'base64').toString();
    };
    expect([data('z'), data('10'), data('2')]).toEqual(['for z', 'for 10', 'for 2']);
    expect((doc._attachments as Record<string, unknown>).s).toEqual({
      content_type: 'text/plain',
      revpos: 1,
      stub: true,
      digest: 'md5-x',
    });
  });

  it('reads an empty attachment and a document without attachments', () => {
    const empty = bytes(
      '--B\r\nContent-Type: application/json\r\n\r\n',
      '{"_id":"e","_attachments":{"empty":{"content_type":"text/plain","revpos":1,"length":0,"follows":true}}}',
      '\r\n--B\r\nContent-Type: text/plain\r\nContent-Length: 0\r\n\r\n\r\n--B--\r\n',
    );
    expect(readMultipartRelatedDoc(empty, 'multipart/related; boundary=B')).toEqual({
      _id: 'e',
      _attachments: { empty: { content_type: 'text/plain', revpos: 1, data: '' } },
    });
    const plain = bytes('--B\r\nContent-Type: application/json\r\n\r\n{"_id":"p","a":[1]}\r\n--B--');
    expect(readMultipartRelatedDoc(plain, 'multipart/related; boundary=B')).toEqual({ _id: 'p', a: [1] });
  });

  it('rejects fewer or more parts than follows attachments', () => {
    const full = replicatorBody('B');
    const cut = full.indexOf('\r\n--B\r\nContent-Disposition: attachment; filename="notes.txt"');
    const short = bytes(full.subarray(0, cut), '\r\n--B--');
    expectBadRequest(
      () => readMultipartRelatedDoc(short, 'multipart/related; boundary=B'),
      /1 attachment part/,
    );
    const long = bytes(full.subarray(0, full.length - '--B--'.length), '--B\r\n\r\nextra\r\n--B--');
    expectBadRequest(
      () => readMultipartRelatedDoc(long, 'multipart/related; boundary=B'),
      /3 attachment part/,
    );
  });

  it('rejects malformed bodies with bad_request', () => {
    const related = 'multipart/related; boundary=B';
    expectBadRequest(
      () => readMultipartRelatedDoc(replicatorBody('B').subarray(0, -'--B--'.length), related),
      /closing boundary/,
    );
    expectBadRequest(
      () =>
        readMultipartRelatedDoc(
          bytes('--B\r\nContent-Type: application/json\r\n\r\n{"_id":\r\n--B--'),
          related,
        ),
      /JSON/,
    );
    expectBadRequest(
      () =>
        readMultipartRelatedDoc(
          bytes('--B\r\nContent-Type: application/json\r\n\r\n[1,2]\r\n--B--'),
          related,
        ),
      /object/,
    );
    expectBadRequest(() => readMultipartRelatedDoc(bytes('--B--'), related), /no document part/);
    expectBadRequest(() => readMultipartRelatedDoc(replicatorBody('B'), 'multipart/related'), /boundary/);
    expectBadRequest(
      () => readMultipartRelatedDoc(replicatorBody('B'), 'application/json'),
      /multipart\/related/,
    );
    const badGzip = bytes(
      '--B\r\nContent-Type: application/json\r\n\r\n',
      '{"_id":"g","_attachments":{"a":{"content_type":"text/plain","revpos":1,"follows":true}}}\r\n',
      '--B\r\nContent-Encoding: gzip\r\n\r\nnot gzip at all\r\n--B--',
    );
    expectBadRequest(() => readMultipartRelatedDoc(badGzip, related), /gzip data for attachment a/);
    const badLength = bytes(
      '--B\r\nContent-Type: application/json\r\n\r\n',
      '{"_id":"g","_attachments":{"a":{"content_type":"text/plain","revpos":1,"follows":true}}}\r\n',
      '--B\r\nContent-Length: 10\r\n\r\nshort\r\n--B--',
    );
    expectBadRequest(() => readMultipartRelatedDoc(badLength, related), /Content-Length/);
  });

  it('reads a 5 MB binary attachment', () => {
    const big = randomBytes(5 * 1024 * 1024);
    big.fill(0, 1000, 5000);
    big.write('\r\n--bigB\r\n--bigB-', 100_000, 'latin1'); // boundary look-alikes inside the data
    const body = bytes(
      '--bigBoundary\r\nContent-Type: application/json\r\n\r\n',
      '{"_id":"big","_rev":"1-abc","_attachments":{"big.bin":{"content_type":"application/octet-stream",',
      `"revpos":1,"length":${big.length},"follows":true}}}\r\n`,
      `--bigBoundary\r\nContent-Type: application/octet-stream\r\nContent-Length: ${big.length}\r\n\r\n`,
      big,
      '\r\n--bigBoundary--\r\n',
    );
    const parts = parseMultipart(body, 'bigBoundary');
    expect(parts).toHaveLength(2);
    expect(parts[1]?.body.equals(big)).toBe(true);
    const doc = readMultipartRelatedDoc(body, 'multipart/related; boundary="bigBoundary"');
    const att = (doc._attachments as Record<string, { data: string }>)['big.bin'];
    expect(Buffer.from(att?.data ?? '', 'base64').equals(big)).toBe(true);
  });
});

const withAttachments: Doc = {
  _id: 'withatts',
  _rev: '3-0123456789abcdef0123456789abcdef',
  _revisions: { start: 3, ids: ['0123456789abcdef0123456789abcdef', 'fedcba9876543210fedcba9876543210'] },
  title: 'héllo "quoted"',
  _attachments: {
    'pic.png': {
      content_type: 'image/png',
      revpos: 2,
      digest: 'md5-3q2+7w==',
      length: BLOB.length,
      data: BLOB.toString('base64'),
    },
    'dir/na"me.txt': {
      content_type: 'text/plain',
      revpos: 3,
      digest: 'md5-abc=',
      data: Buffer.from('text body\r\n--').toString('base64'),
    },
    'kept.txt': { content_type: 'text/plain', revpos: 1, digest: 'md5-kept', length: 4, stub: true },
  },
};

/** `withAttachments` as readMultipartRelatedDoc returns it: data kept, digest/length hints dropped. */
const withAttachmentsRead = {
  ...withAttachments,
  _attachments: {
    'pic.png': { content_type: 'image/png', revpos: 2, data: BLOB.toString('base64') },
    'dir/na"me.txt': {
      content_type: 'text/plain',
      revpos: 3,
      data: Buffer.from('text body\r\n--').toString('base64'),
    },
    'kept.txt': withAttachments._attachments?.['kept.txt'],
  },
};

describe('MultipartMixedWriter', () => {
  it('writes the exact layout for a plain doc, an error and the end', () => {
    const writer = new MultipartMixedWriter('outer');
    expect(writer.contentType).toBe('multipart/mixed; boundary="outer"');
    const doc: Doc = { _id: 'a', _rev: '1-x', n: 1 };
    const body = bytes(
      writer.docPart(doc),
      writer.docPart(doc, { docId: 'a', revId: '1-x' }),
      writer.errorPart({ missing: '2-y' }),
      writer.end(),
    );
    expect(body.toString()).toBe(
      '--outer\r\nContent-Type: application/json\r\n\r\n{"_id":"a","_rev":"1-x","n":1}\r\n' +
        '--outer\r\nContent-Type: application/json\r\nX-Doc-Id: a\r\nX-Rev-Id: 1-x\r\n\r\n' +
        '{"_id":"a","_rev":"1-x","n":1}\r\n' +
        '--outer\r\nContent-Type: application/json; error="true"\r\n\r\n{"missing":"2-y"}\r\n' +
        '--outer--',
    );
  });

  it('round-trips docs, nested attachments and errors through parseMultipart', () => {
    const writer = new MultipartMixedWriter();
    const plain: Doc = { _id: 'plain', _rev: '1-a', list: [1, 'two'] };
    const stubsOnly: Doc = {
      _id: 's',
      _rev: '2-b',
      _attachments: { 'kept.txt': { content_type: 'text/plain', revpos: 1, digest: 'md5-kept', stub: true } },
    };
    const error = { id: 'x', rev: '1-z', error: 'not_found', reason: 'missing' };
    const body = bytes(
      writer.docPart(plain),
      writer.docPart(withAttachments, { docId: 'withatts', revId: withAttachments._rev }),
      writer.docPart(stubsOnly),
      writer.errorPart(error),
      writer.end(),
    );
    const boundary = multipartBoundary(writer.contentType);
    expect(boundary).toBe(writer.boundary);
    const parts = parseMultipart(body, boundary ?? '');
    expect(parts).toHaveLength(4);
    const [first, second, third, fourth] = parts;

    expect(first?.headers['content-type']).toBe('application/json');
    expect(JSON.parse(first?.body.toString() ?? '')).toEqual(plain);

    expect(second?.headers['x-doc-id']).toBe('withatts');
    expect(second?.headers['x-rev-id']).toBe(withAttachments._rev);
    const relatedType = second?.headers['content-type'] ?? '';
    expect(relatedType).toMatch(/^multipart\/related; boundary="[0-9a-f]+"$/);
    expect(readMultipartRelatedDoc(second?.body ?? Buffer.alloc(0), relatedType)).toEqual(
      withAttachmentsRead,
    );

    // The nested layout itself: doc JSON with follows stubs, then one part per attachment.
    const inner = parseMultipart(second?.body ?? Buffer.alloc(0), multipartBoundary(relatedType) ?? '');
    expect(inner).toHaveLength(3);
    expect(inner[0]?.headers).toEqual({ 'content-type': 'application/json' });
    expect(JSON.parse(inner[0]?.body.toString() ?? '')._attachments).toEqual({
      'pic.png': {
        content_type: 'image/png',
        revpos: 2,
        digest: 'md5-3q2+7w==',
        length: BLOB.length,
        follows: true,
      },
      'dir/na"me.txt': {
        content_type: 'text/plain',
        revpos: 3,
        digest: 'md5-abc=',
        length: 13,
        follows: true,
      },
      'kept.txt': withAttachments._attachments?.['kept.txt'],
    });
    expect(inner[1]?.headers).toEqual({
      'content-disposition': 'attachment; filename="pic.png"',
      'content-type': 'image/png',
      'content-length': String(BLOB.length),
    });
    expect(inner[1]?.body.equals(BLOB)).toBe(true);
    expect(inner[2]?.headers['content-disposition']).toBe('attachment; filename="dir/na\\"me.txt"');
    expect(inner[2]?.body.toString()).toBe('text body\r\n--');

    expect(third?.headers['content-type']).toBe('application/json');
    expect(JSON.parse(third?.body.toString() ?? '')).toEqual(stubsOnly);

    expect(fourth?.headers['content-type']).toBe('application/json; error="true"');
    expect(JSON.parse(fourth?.body.toString() ?? '')).toEqual(error);
  });

  it('rejects an invalid boundary', () => {
    expect(() => new MultipartMixedWriter('')).toThrow(TypeError);
    expect(() => new MultipartMixedWriter('bad\r\nboundary')).toThrow(TypeError);
  });
});

describe('encodeMultipartRelated', () => {
  it('round-trips through readMultipartRelatedDoc', () => {
    const { contentType, body } = encodeMultipartRelated(withAttachments);
    expect(contentType).toMatch(/^multipart\/related; boundary="[0-9a-f]+"$/);
    expect(readMultipartRelatedDoc(body, contentType)).toEqual(withAttachmentsRead);
  });

  it('keeps part order for integer-like attachment names', () => {
    const doc: Doc = {
      _id: 'n',
      _rev: '1-a',
      _attachments: {
        b: {
          content_type: 'text/plain',
          revpos: 1,
          digest: 'md5-b',
          data: Buffer.from('B').toString('base64'),
        },
        '7': {
          content_type: 'text/plain',
          revpos: 1,
          digest: 'md5-7',
          data: Buffer.from('seven').toString('base64'),
        },
        '0': {
          content_type: 'text/plain',
          revpos: 1,
          digest: 'md5-0',
          data: Buffer.from('zero').toString('base64'),
        },
      },
    };
    const { contentType, body } = encodeMultipartRelated(doc);
    const read = readMultipartRelatedDoc(body, contentType);
    const atts = read._attachments as Record<string, { data: string }>;
    expect(Buffer.from(atts.b?.data ?? '', 'base64').toString()).toBe('B');
    expect(Buffer.from(atts['7']?.data ?? '', 'base64').toString()).toBe('seven');
    expect(Buffer.from(atts['0']?.data ?? '', 'base64').toString()).toBe('zero');
  });

  it('encodes a doc without attachment data as a single JSON part', () => {
    const doc: Doc = { _id: 'x', _rev: '1-a', _deleted: true };
    const { contentType, body } = encodeMultipartRelated(doc);
    const parts = parseMultipart(body, multipartBoundary(contentType) ?? '');
    expect(parts).toHaveLength(1);
    expect(JSON.parse(parts[0]?.body.toString() ?? '')).toEqual(doc);
    expect(readMultipartRelatedDoc(body, contentType)).toEqual(doc);
  });
});
