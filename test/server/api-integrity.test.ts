/**
 * Integrity at the edges of the HTTP API (issue 12): revision generations at the limit of what
 * Settee holds exactly, a database creation that fails leaving nothing behind, and attachment
 * content types that HTTP could not carry back, refused on every write path.
 */
import fs from 'node:fs';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { multipartBoundary, parseMultipart } from '../../src/server/multipart.js';
import { fileNameOf } from '../../src/server/registry.js';
import { startServer, TEST_BACKEND, type TestServer, useServerPerFile } from './harness.js';
import { onPostgresDatabase } from './harness-postgres.js';
import { raw } from './http-client.js';

let t: TestServer;
let db = '';
useServerPerFile(
  (server) => (t = server),
  (name) => (db = name),
);

type Json = Record<string, unknown>;
const HASH = 'abcdef0123456789abcdef0123456789';
/** The highest generation Settee holds (MAX_GENERATION in src/core/revision.ts). */
const MAX_GENERATION = Number.MAX_SAFE_INTEGER;
const DATA = Buffer.from('hello').toString('base64');
const inline = (contentType: string) => ({ 'a.txt': { content_type: contentType, data: DATA } });

async function call(method: string, url: string, body?: unknown): Promise<{ status: number; json: Json }> {
  const init =
    body === undefined
      ? { method }
      : { method, body: typeof body === 'string' ? body : JSON.stringify(body) };
  const response = await t.fetch(url, init);
  return { status: response.status, json: (await response.json()) as Json };
}

async function updateSeq(): Promise<unknown> {
  return (await call('GET', `/${db}`)).json.update_seq;
}

describe('revision generations at the limit', () => {
  // CouchDB holds generations of any size (couch_doc.erl, parse_rev/1: list_to_integer, an
  // Erlang bignum). Settee's are numbers, exact up to 2^53 − 1: beyond, an edit got its parent's
  // generation and was acknowledged as a losing sibling. It refuses instead (MAX_GENERATION).
  it('edits up to 2^53 − 1 as the winner, then refuses the next edit and writes nothing', async () => {
    const start = `${MAX_GENERATION - 1}-${HASH}`;
    expect((await call('PUT', `/${db}/m?new_edits=false`, { _id: 'm', _rev: start, v: 0 })).status).toBe(201);

    const first = await call('PUT', `/${db}/m`, { _rev: start, v: 1 });
    expect(first.status).toBe(201);
    expect(first.json.rev).toMatch(new RegExp(`^${MAX_GENERATION}-[0-9a-f]{32}$`));

    const seq = await updateSeq();
    const refused = await call('PUT', `/${db}/m`, { _rev: first.json.rev, v: 2 });
    expect(refused.status).toBe(400);
    expect(refused.json).toEqual({
      error: 'bad_request',
      reason: expect.stringMatching(/highest revision generation/),
    });

    const doc = await call('GET', `/${db}/m?conflicts=true&revs_info=true`);
    expect(doc.json).toMatchObject({ _rev: first.json.rev, v: 1 });
    expect(doc.json._conflicts).toBeUndefined();
    expect(await updateSeq()).toBe(seq);
  });

  it('refuses a deletion, or a _bulk_docs edit, of a revision at the limit, per document', async () => {
    const top = `${MAX_GENERATION}-${HASH}`;
    expect((await call('PUT', `/${db}/top?new_edits=false`, { _id: 'top', _rev: top })).status).toBe(201);
    expect((await call('DELETE', `/${db}/top?rev=${top}`)).status).toBe(400);

    const bulk = await call('POST', `/${db}/_bulk_docs`, {
      docs: [{ _id: 'top', _rev: top }, { _id: 'other' }],
    });
    expect(bulk.status).toBe(201);
    const [edit, other] = bulk.json as unknown as Json[];
    expect(edit).toMatchObject({ id: 'top', error: 'bad_request' });
    expect(other).toMatchObject({ id: 'other', ok: true });
    expect((await call('GET', `/${db}/top`)).json._rev).toBe(top);
  });

  it('refuses a revision id or a _revisions.start beyond 2^53 − 1 and stores nothing', async () => {
    // The case: a 16-digit generation a number cannot hold apart from 2^53.
    const tooHigh = await call('PUT', `/${db}/g?new_edits=false`, {
      _id: 'g',
      _rev: `9007199254740992-${HASH}`,
    });
    expect(tooHigh.status).toBe(400);
    expect(tooHigh.json.error).toBe('bad_request');
    // Sent as JSON text, so that the number is what a peer wrote, not what JavaScript rounds it to.
    const revisions = `{"_id":"g","_revisions":{"start":9007199254740993,"ids":["${HASH}"]}}`;
    expect((await call('PUT', `/${db}/g?new_edits=false`, revisions)).status).toBe(400);
    expect((await call('GET', `/${db}/g`)).status).toBe(404);
    expect(await updateSeq()).toBe(0);

    const diff = await call('POST', `/${db}/_revs_diff`, { g: [`9007199254740992-${HASH}`] });
    expect(diff).toMatchObject({ status: 400, json: { error: 'bad_request' } });
  });
});

/** Runs `work` on the PostgreSQL database of a server the harness started on that backend. */
function onPostgres<T>(server: TestServer, work: (client: pg.Client) => Promise<T>): Promise<T> {
  return onPostgresDatabase(server.postgres!, work);
}

/**
 * Makes the creation of database `name` fail midway, after its storage was made, as a full disk
 * does (one cannot be had in a test without root and a small file system); returns what lifts
 * the fault. SQLite: a folder where the rollback journal must go makes SQLite fail writing the
 * new file's first pages (SQLITE_CANTOPEN, as SQLITE_FULL would), and it fails for root too.
 * PostgreSQL: a trigger refuses the new database's first metadata row (its security object)
 * after its row in `settee.databases` was inserted.
 */
async function failCreationOf(name: string): Promise<() => Promise<void>> {
  if (TEST_BACKEND === 'sqlite') {
    const blocker = path.join(t.dataDir, `${fileNameOf(name)}-journal`);
    fs.mkdirSync(blocker);
    return async () => fs.rmdirSync(blocker);
  }
  await onPostgres(t, (client) =>
    client.query(`
      CREATE FUNCTION settee.test_full_disk() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
        IF (SELECT name FROM settee.databases WHERE db = NEW.db) = ${pg.escapeLiteral(name)}
        THEN RAISE EXCEPTION 'could not extend file: No space left on device'; END IF;
        RETURN NEW;
      END $$;
      CREATE TRIGGER test_full_disk BEFORE INSERT ON settee.meta
        FOR EACH ROW EXECUTE FUNCTION settee.test_full_disk();`),
  );
  return async () => {
    await onPostgres(t, (client) => client.query('DROP FUNCTION settee.test_full_disk CASCADE'));
  };
}

/** Whether anything of database `name` is stored: its file, or its rows (by name, or orphaned). */
async function anythingStoredOf(name: string): Promise<boolean> {
  if (TEST_BACKEND === 'sqlite') return fs.existsSync(path.join(t.dataDir, fileNameOf(name)));
  const { rows } = await onPostgres(t, (client) =>
    client.query<{ left: boolean }>(
      `SELECT EXISTS (SELECT 1 FROM settee.databases WHERE name = $1)
           OR EXISTS (SELECT 1 FROM settee.meta WHERE db NOT IN (SELECT db FROM settee.databases)) AS left`,
      [name],
    ),
  );
  return rows[0]!.left;
}

describe('a failed database creation', () => {
  const faults: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const lift of faults.splice(0)) await lift().catch(() => undefined);
  });

  it('leaves nothing: not listed, not found, and a later PUT creates it', async () => {
    const lift = await failCreationOf('newdb');
    faults.push(lift);

    const failed = await call('PUT', '/newdb');
    expect(failed.status).toBe(500);
    expect(failed.json).toMatchObject({ error: 'unknown_error', reason: expect.any(String) });
    expect((await call('GET', '/_all_dbs')).json).not.toContain('newdb');
    expect((await call('GET', '/newdb')).status).toBe(404);
    expect(await anythingStoredOf('newdb')).toBe(false);

    await faults.pop()!();
    expect((await call('PUT', '/newdb')).status).toBe(201);
    expect((await call('GET', '/_all_dbs')).json).toContain('newdb');
    expect((await call('DELETE', '/newdb')).status).toBe(200);
  });
});

const BAD_TYPES = ['text/plain\nX-Injected: yes', 'text/plain; name="\u0100"'];

describe('attachment content types HTTP cannot carry', () => {
  // CouchDB keeps content_type as given (couch_att.erl, from_json/2), and so did Settee: such an
  // attachment was stored and its GET answered 500, as Node refuses the header. Refused on write.

  async function expectRefused(response: { status: number; json: Json }): Promise<void> {
    expect(response.status).toBe(400);
    expect(response.json).toEqual({
      error: 'bad_request',
      reason: 'Attachment a.txt: content_type must be a valid HTTP header value',
    });
    expect(await updateSeq()).toBe(0);
  }

  it.each(BAD_TYPES)('refuses %j inline in PUT and _bulk_docs, replicated or not', async (type) => {
    await expectRefused(await call('PUT', `/${db}/d`, { _attachments: inline(type) }));
    await expectRefused(
      await call('POST', `/${db}/_bulk_docs`, { docs: [{ _id: 'd', _attachments: inline(type) }] }),
    );
    const replicated = { _id: 'd', _rev: `1-${HASH}`, _attachments: inline(type) };
    await expectRefused(await call('PUT', `/${db}/d?new_edits=false`, replicated));
    await expectRefused(await call('POST', `/${db}/_bulk_docs`, { docs: [replicated], new_edits: false }));
  });

  it.each(BAD_TYPES)('refuses %j in a multipart/related PUT', async (type) => {
    const doc = { _attachments: { 'a.txt': { content_type: type, follows: true, length: 5 } } };
    const body = [
      '--B\r\nContent-Type: application/json\r\n\r\n',
      JSON.stringify(doc),
      '\r\n--B\r\n\r\nhello\r\n--B--',
    ].join('');
    const response = await raw(t.url, `/${db}/d`, {
      method: 'PUT',
      headers: { 'content-type': 'multipart/related; boundary="B"' },
      body,
    });
    await expectRefused({ status: response.status, json: response.json as Json });
  });

  it('takes a Content-Type header as HTTP delivers it (Latin-1 included) and serves it back', async () => {
    // Node's HTTP parser answers 400 itself to control characters in a header, so what reaches
    // the route is a valid header value; bytes above 0x7f arrive as Latin-1 characters.
    const type = 'text/plain; name="caf\u00e9"';
    const put = await raw(t.url, `/${db}/d/a.txt`, {
      method: 'PUT',
      headers: { 'content-type': type },
      body: 'hello',
    });
    expect(put.status).toBe(201);
    const get = await raw(t.url, `/${db}/d/a.txt`);
    expect(get.status).toBe(200);
    // The same bytes come back (Node's client sends this string as UTF-8, read here as Latin-1).
    expect(Buffer.from(get.headers['content-type']!, 'latin1')).toEqual(Buffer.from(type));
  });
});

describe('an attachment stored by an earlier version with a content type HTTP cannot carry', () => {
  let own: TestServer | undefined;
  afterEach(async () => {
    await own?.stop();
    own = undefined;
  });

  // Before, a type beyond Latin-1 made the GET a 500 (Node refuses the header); a line break
  // happened to be replaced by the framework. Both are served as bytes now.
  it.each(BAD_TYPES)('with type %j is served as application/octet-stream, not as a 500', async (type) => {
    own = await startServer();
    expect((await own.fetch('/old', { method: 'PUT' })).status).toBe(201);
    const body = JSON.stringify({ _attachments: inline('text/plain') });
    expect((await own.fetch('/old/d', { method: 'PUT', body })).status).toBe(201);
    const dataDir = own.dataDir;
    await own.stop({ keepData: true });

    // What an earlier version wrote: the same metadata, with the type as it was given.
    await rewriteStoredAttachments(own, 'old', JSON.stringify(type).slice(1, -1));

    own = await startServer({ dataDir });
    const doc = (await (await own.fetch('/old/d')).json()) as {
      _rev: string;
      _attachments: Record<string, Json>;
    };
    expect(doc._attachments['a.txt']!.content_type).toBe(type);
    const get = await raw(own.url, '/old/d/a.txt');
    expect(get.status).toBe(200);
    expect(get.headers['content-type']).toBe('application/octet-stream');
    expect(get.text).toBe('hello');
    // So is the part that carries it in a multipart open_revs answer, as CouchDB's replicator reads.
    const openRevs = await raw(
      own.url,
      `/old/d?open_revs=${encodeURIComponent(JSON.stringify([doc._rev]))}`,
      {
        headers: { accept: 'multipart/mixed' },
      },
    );
    expect(openRevs.status).toBe(200);
    const [related] = parseMultipart(openRevs.body, multipartBoundary(openRevs.headers['content-type'])!);
    const inner = parseMultipart(related!.body, multipartBoundary(related!.headers['content-type'])!);
    expect(inner[1]!.headers['content-type']).toBe('application/octet-stream');
    expect(inner[1]!.body.toString()).toBe('hello');

    // The document stays editable: its stub, echoed back as read, keeps the attachment.
    const edit = await own.fetch('/old/d', { method: 'PUT', body: JSON.stringify({ ...doc, v: 2 }) });
    expect(edit.status).toBe(201);
    expect((await raw(own.url, '/old/d/a.txt')).text).toBe('hello');
  });
});

/**
 * Puts `escaped` (JSON string content) where `text/plain` is in the stored attachment metadata of
 * database `name` of a stopped server, as an earlier version would have stored it: in the `docs`
 * table of its SQLite file, or in `settee.revs` of its PostgreSQL database (both keep the
 * metadata as JSON text in a column `atts`).
 */
async function rewriteStoredAttachments(stopped: TestServer, name: string, escaped: string): Promise<void> {
  if (TEST_BACKEND === 'sqlite') {
    const file = new BetterSqlite3(path.join(stopped.dataDir, fileNameOf(name)));
    file.prepare(`UPDATE docs SET atts = replace(atts, 'text/plain', ?)`).run(escaped);
    file.close();
    return;
  }
  await onPostgres(stopped, (client) =>
    client.query(
      `UPDATE settee.revs SET atts = replace(atts, 'text/plain', $1)
        WHERE db = (SELECT db FROM settee.databases WHERE name = $2)`,
      [escaped, name],
    ),
  );
}
