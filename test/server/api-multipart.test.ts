/**
 * The multipart paths only CouchDB's replicator uses (protocol.md §2.6, §2.7, §4), from fixtures
 * built by hand: multipart/mixed `open_revs` and `_bulk_get` responses, and multipart/related
 * `PUT ?new_edits=false` bodies with binary and gzip-encoded attachment parts.
 */
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { type MultipartPart, multipartBoundary, parseMultipart } from '../../src/server/multipart.js';
import { type TestServer, useServerPerFile } from './harness.js';
import { raw } from './http-client.js';

let t: TestServer;
let db = '';
useServerPerFile(
  (server) => (t = server),
  (name) => (db = name),
);

type Json = Record<string, unknown>;
const HASH_A = 'a'.repeat(32);
const HASH_B = 'b'.repeat(32);
const HASH_C = 'c'.repeat(32);
const HASH_D = 'd'.repeat(32);

// Binary with NUL, CR/LF and dashes, which a sloppy multipart reader would cut.
const BLOB = Buffer.from([0x00, 0x0d, 0x0a, 0x2d, 0x2d, 0x42, 0x0d, 0x0a, 0xff, 0x00, 0x2d]);
const OLD = Buffer.from('old text');
const NOTES = Buffer.from('Notes, line one\nNotes, line two\n'.repeat(40));
const NOTES_GZ = gzipSync(NOTES);
const md5 = (bytes: Buffer) => `md5-${createHash('md5').update(bytes).digest('base64')}`;

/** doc: 1-A (old.txt) → 2-B (old.txt stub, blob.bin); and a conflicting leaf 2-C without attachments. */
async function seed(): Promise<void> {
  const writes = [
    {
      _id: 'doc',
      _rev: `1-${HASH_A}`,
      _revisions: { start: 1, ids: [HASH_A] },
      v: 1,
      _attachments: { 'old.txt': { content_type: 'text/plain', data: OLD.toString('base64') } },
    },
    {
      _id: 'doc',
      _rev: `2-${HASH_B}`,
      _revisions: { start: 2, ids: [HASH_B, HASH_A] },
      v: 2,
      _attachments: {
        'old.txt': { content_type: 'text/plain', revpos: 1, stub: true },
        'blob.bin': { content_type: 'application/octet-stream', revpos: 2, data: BLOB.toString('base64') },
      },
    },
    { _id: 'doc', _rev: `2-${HASH_C}`, _revisions: { start: 2, ids: [HASH_C, HASH_A] }, v: 'c' },
    { _id: 'plain', _rev: `1-${HASH_D}`, _revisions: { start: 1, ids: [HASH_D] }, p: true },
  ];
  const res = await t.fetch(`/${db}/_bulk_docs`, {
    method: 'POST',
    body: JSON.stringify({ docs: writes, new_edits: false }),
  });
  expect(res.status).toBe(201);
  expect(await res.json()).toEqual([]);
}

/** Parses a multipart response, checking its Content-Type. */
function partsOf(contentType: string | undefined, body: Buffer, type = 'multipart/mixed'): MultipartPart[] {
  expect(contentType).toMatch(new RegExp(`^${type};`));
  const boundary = multipartBoundary(contentType);
  expect(boundary).toBeDefined();
  return parseMultipart(body, boundary!);
}

const jsonOf = (part: MultipartPart) => JSON.parse(part.body.toString('utf8')) as Json;

/**
 * CouchDB's multipart `open_revs` answer carries every attachment's bytes: chttpd_db.erl,
 * send_docs_multipart, adds `attachments` and `follows` to the options of every revision it
 * sends, and db_doc_req passes `atts_since` to a read only without `open_revs` (its
 * parse_doc_query keeps it apart from the options handed to fabric:open_revs).
 */
describe('GET open_revs with Accept: multipart/mixed', () => {
  it('sends docs as JSON parts, attachment data as nested multipart/related, missing revs as errors', async () => {
    await seed();
    const openRevs = encodeURIComponent(JSON.stringify([`2-${HASH_B}`, `2-${HASH_C}`, `3-${HASH_D}`]));
    const attsSince = encodeURIComponent(JSON.stringify([`1-${HASH_A}`]));
    const res = await raw(
      t.url,
      `/${db}/doc?revs=true&open_revs=${openRevs}&latest=true&atts_since=${attsSince}`,
      { headers: { accept: 'multipart/mixed' } },
    );
    expect(res.status).toBe(200);
    const parts = partsOf(res.headers['content-type'], res.body);
    expect(parts).toHaveLength(3);

    // 2-B carries blob.bin (revpos 2 > 1): a nested multipart/related, doc JSON first.
    const [related, plain, missing] = parts as [MultipartPart, MultipartPart, MultipartPart];
    const inner = partsOf(related.headers['content-type'], related.body, 'multipart/related');
    expect(inner).toHaveLength(3);
    expect(inner[0]!.headers['content-type']).toMatch(/^application\/json/);
    const doc = jsonOf(inner[0]!);
    expect(doc).toMatchObject({
      _id: 'doc',
      _rev: `2-${HASH_B}`,
      v: 2,
      _revisions: { start: 2, ids: [HASH_B, HASH_A] },
    });
    const atts = doc._attachments as Record<string, Json>;
    expect(atts['blob.bin']).toMatchObject({ follows: true, revpos: 2, length: BLOB.length });
    expect(atts['blob.bin']!.data).toBeUndefined();
    // Older than atts_since, yet its bytes follow too, as CouchDB sends them.
    expect(atts['old.txt']).toMatchObject({ follows: true, revpos: 1, length: OLD.length });
    expect(atts['old.txt']!.stub).toBeUndefined();
    const names = Object.keys(atts);
    const bytesOf = (name: string) => inner[names.indexOf(name) + 1]!;
    expect(bytesOf('blob.bin').body).toEqual(BLOB);
    expect(bytesOf('blob.bin').headers['content-disposition']).toContain('blob.bin');
    expect(bytesOf('old.txt').body).toEqual(OLD);

    expect(plain.headers['content-type']).toMatch(/^application\/json/);
    expect(jsonOf(plain)).toEqual({
      _id: 'doc',
      _rev: `2-${HASH_C}`,
      v: 'c',
      _revisions: { start: 2, ids: [HASH_C, HASH_A] },
    });

    expect(missing.headers['content-type']).toBe('application/json; error="true"');
    expect(jsonOf(missing)).toEqual({ missing: `3-${HASH_D}` });
  });

  it('answers open_revs=all with every leaf, attachments following without atts_since', async () => {
    await seed();
    const res = await raw(t.url, `/${db}/doc?open_revs=all&revs=true`, {
      headers: { accept: 'multipart/mixed' },
    });
    expect(res.status).toBe(200);
    const parts = partsOf(res.headers['content-type'], res.body);
    expect(parts).toHaveLength(2);
    const types = parts.map((part) => part.headers['content-type']!);
    const plain = parts[types.findIndex((type) => type === 'application/json')]!;
    expect(jsonOf(plain)._rev).toBe(`2-${HASH_C}`);
    const related = parts[types.findIndex((type) => type.startsWith('multipart/related'))]!;
    const inner = partsOf(related.headers['content-type'], related.body, 'multipart/related');
    const doc = jsonOf(inner[0]!);
    expect(doc._rev).toBe(`2-${HASH_B}`);
    expect(doc._attachments).toMatchObject({ 'blob.bin': { follows: true }, 'old.txt': { follows: true } });
    expect(inner).toHaveLength(3);
  });

  it('sends every attachment with attachments=true, and latest=true resolves an inner rev', async () => {
    await seed();
    const openRevs = encodeURIComponent(JSON.stringify([`1-${HASH_A}`]));
    const res = await raw(t.url, `/${db}/doc?open_revs=${openRevs}&latest=true&attachments=true`, {
      headers: { accept: 'multipart/mixed, application/octet-stream' },
    });
    expect(res.status).toBe(200);
    const parts = partsOf(res.headers['content-type'], res.body);
    // 1-A has two leaves below it: both come back.
    const revs: string[] = [];
    for (const part of parts) {
      const type = part.headers['content-type']!;
      if (type.startsWith('application/json')) {
        revs.push(jsonOf(part)._rev as string);
        continue;
      }
      const inner = partsOf(type, part.body, 'multipart/related');
      const doc = jsonOf(inner[0]!);
      revs.push(doc._rev as string);
      const names = Object.keys(doc._attachments as Json);
      expect(names.sort()).toEqual(['blob.bin', 'old.txt']);
      expect(inner).toHaveLength(3);
      const bytes = new Map<string, Buffer>();
      const following = Object.entries(doc._attachments as Record<string, Json>).filter(([, a]) => a.follows);
      following.forEach(([name], i) => {
        bytes.set(name, inner[i + 1]!.body);
      });
      expect(bytes.get('blob.bin')).toEqual(BLOB);
      expect(bytes.get('old.txt')).toEqual(OLD);
    }
    expect(revs.sort()).toEqual([`2-${HASH_B}`, `2-${HASH_C}`]);
  });

  it('answers JSON when Accept also names application/json', async () => {
    await seed();
    const res = await raw(t.url, `/${db}/doc?open_revs=all`, {
      headers: { accept: 'multipart/mixed, application/json' },
    });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(Array.isArray(res.json)).toBe(true);
  });

  it('answers open_revs=all on a missing document with 404', async () => {
    const res = await raw(t.url, `/${db}/none?open_revs=all`, { headers: { accept: 'multipart/mixed' } });
    expect(res.status).toBe(404);
    expect(res.json).toMatchObject({ error: 'not_found' });
  });
});

describe('POST /_bulk_get with Accept: multipart/mixed', () => {
  it('answers one part per revision: related with X-Doc-Id/X-Rev-Id, JSON, and errors', async () => {
    await seed();
    const body = {
      docs: [
        { id: 'doc', rev: `2-${HASH_B}`, atts_since: [`1-${HASH_A}`] },
        { id: 'plain' },
        { id: 'none' },
        { id: 'doc', rev: `9-${HASH_D}` },
      ],
    };
    const res = await raw(t.url, `/${db}/_bulk_get?revs=true&latest=true`, {
      method: 'POST',
      headers: { accept: 'multipart/mixed', 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    expect(res.status).toBe(200);
    const parts = partsOf(res.headers['content-type'], res.body);
    expect(parts).toHaveLength(4);
    const [related, plain, none, wrongRev] = parts as [
      MultipartPart,
      MultipartPart,
      MultipartPart,
      MultipartPart,
    ];

    expect(related.headers['x-doc-id']).toBe('doc');
    expect(related.headers['x-rev-id']).toBe(`2-${HASH_B}`);
    const inner = partsOf(related.headers['content-type'], related.body, 'multipart/related');
    const doc = jsonOf(inner[0]!);
    expect(doc).toMatchObject({ _id: 'doc', _rev: `2-${HASH_B}`, _revisions: { start: 2 } });
    expect((doc._attachments as Record<string, Json>)['blob.bin']).toMatchObject({ follows: true });
    expect((doc._attachments as Record<string, Json>)['old.txt']).toMatchObject({ stub: true });
    expect(inner).toHaveLength(2);
    expect(inner[1]!.body).toEqual(BLOB);

    expect(plain.headers['content-type']).toBe('application/json');
    expect(plain.headers['x-doc-id']).toBe('plain');
    expect(jsonOf(plain)).toEqual({
      _id: 'plain',
      _rev: `1-${HASH_D}`,
      p: true,
      _revisions: { start: 1, ids: [HASH_D] },
    });

    expect(none.headers['content-type']).toBe('application/json; error="true"');
    expect(jsonOf(none)).toMatchObject({
      id: 'none',
      rev: 'undefined',
      error: 'not_found',
      reason: 'missing',
    });
    expect(wrongRev.headers['content-type']).toBe('application/json; error="true"');
    expect(jsonOf(wrongRev)).toMatchObject({ id: 'doc', rev: `9-${HASH_D}`, error: 'not_found' });
  });

  it('sends the data of every attachment the entry does not have by atts_since, without ?attachments', async () => {
    // chttpd_db.erl send_docs_multipart_bulk_get: options get `attachments` and `follows`.
    await seed();
    const res = await raw(t.url, `/${db}/_bulk_get`, {
      method: 'POST',
      headers: { accept: 'multipart/mixed', 'content-type': 'application/json' },
      body: JSON.stringify({ docs: [{ id: 'doc', rev: `2-${HASH_B}` }] }),
    });
    const [related] = partsOf(res.headers['content-type'], res.body);
    const inner = partsOf(related!.headers['content-type'], related!.body, 'multipart/related');
    const attachments = jsonOf(inner[0]!)._attachments as Record<string, Json>;
    expect(attachments['blob.bin']).toMatchObject({ follows: true });
    expect(attachments['old.txt']).toMatchObject({ follows: true });
    expect(inner).toHaveLength(3);
  });

  it('sends every leaf of an entry without rev, and an empty request as no parts', async () => {
    await seed();
    const res = await raw(t.url, `/${db}/_bulk_get`, {
      method: 'POST',
      headers: { accept: 'multipart/mixed', 'content-type': 'application/json' },
      body: JSON.stringify({ docs: [{ id: 'doc' }] }),
    });
    const parts = partsOf(res.headers['content-type'], res.body);
    expect(parts.map((part) => part.headers['x-rev-id']).sort()).toEqual([`2-${HASH_B}`, `2-${HASH_C}`]);

    const empty = await raw(t.url, `/${db}/_bulk_get`, {
      method: 'POST',
      headers: { accept: 'multipart/mixed', 'content-type': 'application/json' },
      body: JSON.stringify({ docs: [] }),
    });
    expect(empty.status).toBe(200);
    expect(partsOf(empty.headers['content-type'], empty.body)).toEqual([]);
  });
});

/** A multipart/related body exactly as protocol.md §4 lays it out. */
function relatedBody(
  boundary: string,
  doc: Json,
  attachments: { name: string; type: string; bytes: Buffer; gzip?: boolean }[],
) {
  const chunks: Buffer[] = [
    Buffer.from(`--${boundary}\r\nContent-Type: application/json\r\n\r\n${JSON.stringify(doc)}\r\n`),
  ];
  for (const att of attachments) {
    chunks.push(
      Buffer.from(
        `--${boundary}\r\nContent-Disposition: attachment; filename="${att.name}"\r\n` +
          `Content-Type: ${att.type}\r\nContent-Length: ${att.bytes.length}\r\n` +
          `${att.gzip ? 'Content-Encoding: gzip\r\n' : ''}\r\n`,
      ),
      att.bytes,
      Buffer.from('\r\n'),
    );
  }
  chunks.push(Buffer.from(`--${boundary}--`));
  return Buffer.concat(chunks);
}

describe('PUT ?new_edits=false with Content-Type: multipart/related', () => {
  async function putRelated(path: string, body: Buffer, boundary: string) {
    return raw(t.url, path, {
      method: 'PUT',
      headers: { 'content-type': `multipart/related; boundary="${boundary}"` },
      body,
    });
  }

  it('stores two following attachments (one gzip-encoded) and a stub, keeping revpos', async () => {
    // 1-A holds old.txt; the replicator then sends 2-B with old.txt as a stub and two new parts.
    const first = await t.fetch(`/${db}/_bulk_docs`, {
      method: 'POST',
      body: JSON.stringify({
        new_edits: false,
        docs: [
          {
            _id: 'doc',
            _rev: `1-${HASH_A}`,
            _revisions: { start: 1, ids: [HASH_A] },
            _attachments: { 'old.txt': { content_type: 'text/plain', data: OLD.toString('base64') } },
          },
        ],
      }),
    });
    expect(first.status).toBe(201);

    const doc = {
      _id: 'doc',
      _rev: `2-${HASH_B}`,
      _revisions: { start: 2, ids: [HASH_B, HASH_A] },
      title: 'from the replicator',
      _attachments: {
        'blob.bin': {
          content_type: 'application/octet-stream',
          revpos: 2,
          digest: 'md5-whatever-the-sender-computed==',
          length: BLOB.length,
          follows: true,
        },
        'notes.txt': {
          content_type: 'text/plain',
          revpos: 2,
          digest: 'md5-gzip-digest-from-couchdb=====',
          length: NOTES.length,
          follows: true,
          encoding: 'gzip',
          encoded_length: NOTES_GZ.length,
        },
        'old.txt': {
          content_type: 'text/plain',
          revpos: 1,
          digest: md5(OLD),
          length: OLD.length,
          stub: true,
        },
      },
    };
    const boundary = 'e9a2b94d2d0d8a6b0b3f0c8a9b6c2b71';
    const body = relatedBody(boundary, doc, [
      { name: 'blob.bin', type: 'application/octet-stream', bytes: BLOB },
      { name: 'notes.txt', type: 'text/plain', bytes: NOTES_GZ, gzip: true },
    ]);
    const res = await putRelated(`/${db}/doc?new_edits=false`, body, boundary);
    expect(res.status).toBe(201);
    expect(res.json).toMatchObject({ ok: true, id: 'doc', rev: `2-${HASH_B}` });

    for (const [name, bytes, type] of [
      ['blob.bin', BLOB, 'application/octet-stream'],
      ['notes.txt', NOTES, 'text/plain'],
      ['old.txt', OLD, 'text/plain'],
    ] as const) {
      const att = await raw(t.url, `/${db}/doc/${name}`);
      expect(att.status, name).toBe(200);
      expect(att.headers['content-type'], name).toMatch(new RegExp(`^${type}`));
      expect(att.body, name).toEqual(bytes);
    }
    const stored = (await (await t.fetch(`/${db}/doc`)).json()) as Json;
    expect(stored.title).toBe('from the replicator');
    expect(stored._attachments).toEqual({
      'blob.bin': {
        content_type: 'application/octet-stream',
        revpos: 2,
        digest: md5(BLOB),
        length: BLOB.length,
        stub: true,
      },
      'notes.txt': {
        content_type: 'text/plain',
        revpos: 2,
        digest: md5(NOTES),
        length: NOTES.length,
        stub: true,
      },
      'old.txt': { content_type: 'text/plain', revpos: 1, digest: md5(OLD), length: OLD.length, stub: true },
    });

    // Re-sending the same revision (the replicator may skip _revs_diff) is a silent success.
    const again = await putRelated(`/${db}/doc?new_edits=false`, body, boundary);
    expect(again.status).toBe(201);
  });

  it('accepts an unquoted boundary and an interactive multipart PUT', async () => {
    const boundary = 'abc123';
    const body = relatedBody(
      boundary,
      {
        _attachments: {
          'a.bin': { content_type: 'application/octet-stream', follows: true, length: BLOB.length },
        },
      },
      [{ name: 'a.bin', type: 'application/octet-stream', bytes: BLOB }],
    );
    const res = await raw(t.url, `/${db}/fresh`, {
      method: 'PUT',
      headers: { 'content-type': `multipart/related; boundary=${boundary}` },
      body,
    });
    expect(res.status).toBe(201);
    expect((res.json as Json).rev).toMatch(/^1-/);
    expect((await raw(t.url, `/${db}/fresh/a.bin`)).body).toEqual(BLOB);
  });

  it('refuses a stub the target does not have with 412 missing_stub', async () => {
    const boundary = 'stubby';
    const doc = {
      _rev: `2-${HASH_B}`,
      _revisions: { start: 2, ids: [HASH_B, HASH_A] },
      _attachments: {
        'ghost.txt': { content_type: 'text/plain', revpos: 1, stub: true },
        'a.bin': { content_type: 'application/octet-stream', revpos: 2, follows: true },
      },
    };
    const body = relatedBody(boundary, doc, [
      { name: 'a.bin', type: 'application/octet-stream', bytes: BLOB },
    ]);
    const res = await putRelated(`/${db}/doc?new_edits=false`, body, boundary);
    expect(res.status).toBe(412);
    expect(res.json).toMatchObject({ error: 'missing_stub' });
  });

  it('refuses malformed multipart bodies with 400 and writes nothing', async () => {
    const boundary = 'bnd';
    const doc = {
      _rev: `1-${HASH_A}`,
      _revisions: { start: 1, ids: [HASH_A] },
      _attachments: { 'a.bin': { content_type: 'application/octet-stream', revpos: 1, follows: true } },
    };
    const cases: [string, Buffer, string][] = [
      ['no parts for follows', relatedBody(boundary, doc, []), boundary],
      [
        'too many parts',
        relatedBody(boundary, doc, [
          { name: 'a.bin', type: 'x/y', bytes: BLOB },
          { name: 'b.bin', type: 'x/y', bytes: BLOB },
        ]),
        boundary,
      ],
      [
        'bad gzip',
        relatedBody(boundary, doc, [{ name: 'a.bin', type: 'x/y', bytes: BLOB, gzip: true }]),
        boundary,
      ],
      [
        'no closing boundary',
        Buffer.from(`--${boundary}\r\nContent-Type: application/json\r\n\r\n{}`),
        boundary,
      ],
      ['boundary absent', Buffer.from('just some text'), boundary],
      [
        'bad JSON part',
        Buffer.from(`--${boundary}\r\nContent-Type: application/json\r\n\r\n{nope\r\n--${boundary}--`),
        boundary,
      ],
      [
        'array JSON part',
        Buffer.from(`--${boundary}\r\nContent-Type: application/json\r\n\r\n[]\r\n--${boundary}--`),
        boundary,
      ],
    ];
    for (const [what, body, b] of cases) {
      const res = await putRelated(`/${db}/doc?new_edits=false`, body, b);
      expect(res.status, what).toBe(400);
      expect((res.json as Json).error, what).toBe('bad_request');
    }
    const noBoundary = await raw(t.url, `/${db}/doc`, {
      method: 'PUT',
      headers: { 'content-type': 'multipart/related' },
      body: 'x',
    });
    expect(noBoundary.status).toBe(400);
    expect((await t.fetch(`/${db}/doc`)).status).toBe(404);
  });
});
