import PouchDB from 'pouchdb';
import { describe, expect, it } from 'vitest';
import { waitFor } from '../replication/helpers.js';
import { type DocState, diffStates, readState } from './compare.js';
import { usePouchServer } from './pouch-harness.js';

// PouchDB (Node, leveldb) is the client nobody here wrote: it pushes to, pulls from and syncs
// with a real Settee server, and afterwards both sides must hold the same documents, revision
// trees, conflicts and attachment bytes.

const env = usePouchServer('settee-pouch-');
const { local, remote } = env;

/** A deterministic pseudo-random source (mulberry32). */
function random(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (min: number, max: number) => min + Math.floor(next() * (max - min + 1)),
    text: (length: number) => {
      const alphabet = 'abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789éü€漢😀';
      return Array.from({ length }, () => alphabet[Math.floor(next() * alphabet.length)]).join('');
    },
    /** Random bytes that always include 0x00 and 0xff. */
    bytes: (length: number) => {
      const out = Buffer.alloc(Math.max(2, length));
      for (let i = 0; i < out.length; i++) out[i] = Math.floor(next() * 256);
      out[0] = 0x00;
      out[out.length - 1] = 0xff;
      return out;
    },
    hex: (length: number) => Array.from({ length }, () => Math.floor(next() * 16).toString(16)).join(''),
  };
}
type Random = ReturnType<typeof random>;

function body(rng: Random, n: number): Record<string, unknown> {
  return {
    type: 'item',
    n,
    title: rng.text(rng.int(10, 40)),
    tags: Array.from({ length: rng.int(0, 4) }, () => rng.text(6)),
    nested: { a: rng.int(0, 1000), b: [rng.next() < 0.5, null, rng.int(-5, 5)], c: { d: rng.text(8) } },
    text: rng.text(rng.int(80, 300)),
  };
}

function attachment(data: Buffer, type = 'application/octet-stream'): PouchDB.Attachment {
  return { content_type: type, data: data.toString('base64') };
}

function ok<T extends PouchDB.WriteResult | PouchDB.WriteError>(results: T[]): PouchDB.WriteResult[] {
  const failed = results.filter((result) => 'error' in result);
  expect(failed).toEqual([]);
  return results as PouchDB.WriteResult[];
}

/**
 * Asserts that each state equals the one before it, naming the databases in the differences.
 * `pulled` names the PouchDBs that received attachment data by replication (see `ignoreRevpos`);
 * `pulledLosers` those that pulled losing leaves into documents they held (see
 * `losingAttachmentNamesOnly`: a PouchDB bug, not Settee's).
 */
function expectSame(
  states: Record<string, Map<string, DocState>>,
  pulled: string[] = [],
  pulledLosers: string[] = [],
): void {
  const names = Object.keys(states);
  for (let i = 1; i < names.length; i++) {
    const a = names[i - 1]!;
    const b = names[i]!;
    const options = {
      names: [a, b] as [string, string],
      ignoreRevpos: pulled.includes(a) || pulled.includes(b),
      losingAttachmentNamesOnly: pulledLosers.includes(a) || pulledLosers.includes(b),
    };
    expect(diffStates(states[a]!, states[b]!, options), `${a} vs ${b}`).toEqual([]);
  }
}

const leafCount = (state: Map<string, DocState>) =>
  [...state.values()].reduce((sum, doc) => sum + doc.leaves.length, 0);

/** The winning revision of `id` in `db` (deleted or not), or undefined when `db` lacks the doc. */
async function winnerOf(db: PouchDB, id: string): Promise<{ rev: string; deleted: boolean } | undefined> {
  const [row] = (await db.allDocs({ keys: [id] })).rows;
  if (!row || row.error) return undefined;
  return { rev: row.value.rev, deleted: row.value.deleted === true };
}

/** GET on the Settee server as the admin, parsed as JSON; fails unless 200. */
async function getJson<T>(urlPath: string): Promise<T> {
  const response = await env.t.fetch(urlPath);
  expect(response.status, `GET ${urlPath}`).toBe(200);
  return (await response.json()) as T;
}

/**
 * A conflicting branch of `doc` (read with `revs: true`), to write with new_edits=false: a sibling
 * of its current leaf with the same ancestry (a second root for a first revision), `extra`
 * revisions longer.
 */
function branch(
  rng: Random,
  doc: PouchDB.Document,
  fields: Record<string, unknown>,
  extra = 0,
): PouchDB.Document {
  const { _revisions, _conflicts, _rev, ...rest } = doc;
  const { start, ids } = _revisions!;
  const added = Array.from({ length: extra + 1 }, () => rng.hex(32));
  const revisions = { start: start + extra, ids: [...added, ...ids.slice(1)] };
  return { ...rest, ...fields, _rev: `${revisions.start}-${added[0]}`, _revisions: revisions };
}

interface Checkpoint {
  _id: string;
  _rev: string;
  session_id: string;
  last_seq: number | string;
  history: { session_id: string; last_seq: number | string }[];
  replicator: string;
  version: number;
}

const localPath = (log: string[], db: string) =>
  log.find((line) => line.startsWith(`PUT /${db}/_local/`))?.slice(`PUT /${db}/`.length);

describe.sequential('PouchDB as a client of Settee', () => {
  it('pushes 10k documents one-shot and pulls them into an empty PouchDB: same docs, trees, conflicts, bytes', async () => {
    const rng = random(10_000);
    const source = local('source');
    const N = 10_000;
    const ids = Array.from({ length: N }, (_, i) => `doc-${String(i).padStart(5, '0')}`);
    const n = (id: string) => Number(id.slice(4));
    /** The bytes last written to each attachment, by `id/name`. */
    const originals = new Map<string, Buffer>();
    const newAttachment = (id: string, name: string, size: number) => {
      const bytes = rng.bytes(size);
      originals.set(`${id}/${name}`, bytes);
      return attachment(bytes, name.endsWith('.png') ? 'image/png' : 'application/octet-stream');
    };
    const write = async (docs: PouchDB.Document[], options?: { new_edits: false }) => {
      const revs = new Map<string, string>();
      for (let i = 0; i < docs.length; i += 1000) {
        const results = ok(await source.bulkDocs(docs.slice(i, i + 1000), options));
        for (const result of results) revs.set(result.id, result.rev);
      }
      return revs;
    };
    const current = new Map<string, PouchDB.Document>();

    // Every 150th document carries 2–4 binary attachments from its first revision.
    const first = ids.map((id): PouchDB.Document => {
      const doc: PouchDB.Document = { _id: id, ...body(rng, n(id)) };
      if (n(id) % 150 === 0) {
        doc._attachments = {};
        for (let a = rng.int(2, 4); a > 0; a--)
          doc._attachments[`att-${a}.bin`] = newAttachment(id, `att-${a}.bin`, rng.int(0, 6000));
      }
      return doc;
    });
    for (const [id, rev] of await write(first)) current.set(id, { ...first[n(id)]!, _rev: rev });

    // Edits: a tenth of the documents once, a thirtieth three times; some add an attachment,
    // some replace one attachment and drop another (the others stay stubs).
    for (let round = 0; round < 3; round++) {
      const edits: PouchDB.Document[] = [];
      for (const id of ids) {
        if (!(round === 0 ? n(id) % 10 === 1 || n(id) % 300 === 0 : n(id) % 30 === 1)) continue;
        const prev = current.get(id)!;
        const doc: PouchDB.Document = { ...body(rng, n(id)), _id: id, _rev: prev._rev!, edit: round };
        // PouchDB keeps an attachment on a stub that names its digest, as read back.
        const stubs = prev._attachments ? { ...(await source.get(id))._attachments } : {};
        if (n(id) % 300 === 0) {
          delete stubs['att-1.bin'];
          stubs['att-2.bin'] = newAttachment(id, 'att-2.bin', rng.int(1, 3000));
        }
        if (n(id) % 200 === 1)
          stubs[`late-${round}.png`] = newAttachment(id, `late-${round}.png`, rng.int(1, 4000));
        if (Object.keys(stubs).length > 0) doc._attachments = stubs;
        edits.push(doc);
      }
      for (const [id, rev] of await write(edits))
        current.set(id, { ...edits.find((d) => d._id === id)!, _rev: rev });
    }

    // Conflicts: 100 documents get a second branch beside their current leaf (some deleted, some
    // with an attachment, some longer, some with two); for some the original leaf is then deleted.
    const conflicted = ids.filter((id) => n(id) % 100 === 3);
    const branches: PouchDB.Document[] = [];
    for (const [k, id] of conflicted.entries()) {
      const doc = await source.get(id, { revs: true });
      const fields: Record<string, unknown> = { branch: k };
      if (k % 4 === 1) fields._deleted = true;
      if (k % 3 === 0)
        fields._attachments = { 'branch.bin': newAttachment(id, 'branch.bin', rng.int(1, 2000)) };
      branches.push(branch(rng, doc, fields, k % 5 === 0 ? 2 : 0));
      if (k % 7 === 0) branches.push(branch(rng, doc, { branch: `${k}b` }, 1));
    }
    await write(branches, { new_edits: false });

    // Deletions: 5% of the documents, plus a few of those with attachments and some conflicted ones.
    const deleted = ids.filter((id) => n(id) % 20 === 7 || n(id) % 300 === 150 || n(id) % 500 === 203);
    await write(deleted.map((id) => ({ _id: id, _rev: current.get(id)!._rev!, _deleted: true })));

    // open_revs=all one by one (slow over HTTP) for the documents with a history, and a sample.
    const interesting = (id: string) =>
      [0, 3, 7].includes(n(id) % 20) || n(id) % 30 === 1 || n(id) % 150 === 0 || n(id) % 200 === 1;
    const sourceState = await readState(source, { openRevs: interesting });
    const leaves = leafCount(sourceState);
    expect(sourceState.size).toBe(N);
    expect(leaves).toBeGreaterThan(N);

    const push = await source.replicate.to(remote('big'));
    expect(push).toMatchObject({ ok: true, status: 'complete', doc_write_failures: 0, docs_written: leaves });
    const target = local('target');
    const pull = await target.replicate.from(remote('big'));
    expect(pull).toMatchObject({ ok: true, status: 'complete', doc_write_failures: 0, docs_written: leaves });

    const states = {
      source: sourceState,
      settee: await readState(remote('big'), { openRevs: interesting, concurrency: 16 }),
      target: await readState(target, { openRevs: interesting }),
    };
    expectSame(states, ['target']);

    // The bytes are the ones written, byte for byte, on every leaf that has them.
    let checked = 0;
    for (const doc of states.settee.values()) {
      for (const leaf of doc.leaves) {
        for (const [name, att] of Object.entries(leaf.attachments)) {
          expect(att.bytes.equals(originals.get(`${doc.id}/${name}`)!), `${doc.id}@${leaf.rev}/${name}`).toBe(
            true,
          );
          checked++;
        }
      }
    }
    expect(checked).toBeGreaterThan(150);
    const alive = [...states.settee.values()].filter((doc) => !doc.deleted).length;
    expect((await getJson<{ doc_count: number }>('/big')).doc_count).toBe(alive);
    expect(alive).toBeLessThan(N * 0.96);
    expect([...states.settee.values()].filter((doc) => doc.conflicts.length > 0).length).toBeGreaterThan(50);
  }, 180_000);

  it('keeps edit conflicts made on two PouchDBs: Settee holds every leaf, picks PouchDB’s winner, and resolutions replicate', async () => {
    const rng = random(3);
    const a = local('a');
    const b = local('b');
    const server = remote('conflicts');
    const id = (i: number) => `c-${String(i).padStart(2, '0')}`;
    const docs = Array.from({ length: 40 }, (_, i): PouchDB.Document => ({
      _id: id(i),
      ...body(rng, i),
      ...(i % 4 === 0 ? { _attachments: { 'x.bin': attachment(rng.bytes(500)) } } : {}),
    }));
    ok(await a.bulkDocs(docs));
    await a.replicate.to(server);
    await b.replicate.from(server);

    // Both edit the same documents from the same revision without syncing in between; B also
    // replaces an attachment where A adds one, and deletes five documents that A edits.
    for (let i = 0; i < 35; i++) {
      const onA = await a.get(id(i));
      const onB = await b.get(id(i));
      if (i % 4 === 0) onA._attachments = { ...onA._attachments, 'y.bin': attachment(rng.bytes(300)) };
      if (i % 4 === 0) onB._attachments = { 'x.bin': attachment(rng.bytes(700)) };
      await a.put({ ...onA, side: 'a', v: i });
      if (i < 30) await b.put({ ...onB, side: 'b', v: -i });
      else await b.remove(id(i), onB._rev!);
    }
    expect(await a.replicate.to(server)).toMatchObject({ ok: true, docs_written: 35, doc_write_failures: 0 });
    expect(await b.replicate.to(server)).toMatchObject({ ok: true, docs_written: 35, doc_write_failures: 0 });

    // Settee keeps both leaves of every contested document.
    for (let i = 0; i < 35; i++) {
      const leaves = await getJson<{ ok: PouchDB.Document }[]>(`/conflicts/${id(i)}?open_revs=all`);
      expect(leaves.map((leaf) => leaf.ok._rev?.slice(0, 2)).sort(), id(i)).toEqual(['2-', '2-']);
      expect(leaves.filter((leaf) => leaf.ok._deleted).length).toBe(i < 30 ? 0 : 1);
    }
    // Settee serves each leaf's own attachment bytes.
    for (let i = 0; i < 30; i += 4) {
      for (const [db, names] of [
        [a, ['x.bin', 'y.bin']],
        [b, ['x.bin']],
      ] as const) {
        const leaf = await db.get(id(i));
        for (const name of names) {
          const served = await env.t.fetch(`/conflicts/${id(i)}/${name}?rev=${leaf._rev}`);
          expect(served.status).toBe(200);
          const bytes = Buffer.from(await served.arrayBuffer());
          expect(bytes.equals(await db.getAttachment(id(i), name)), `${id(i)}@${leaf._rev}/${name}`).toBe(
            true,
          );
        }
      }
    }
    expect(await a.replicate.from(server)).toMatchObject({ ok: true, docs_written: 35 });
    expect(await b.replicate.from(server)).toMatchObject({ ok: true, docs_written: 35 });
    const fresh = local('fresh');
    expect(await fresh.replicate.from(server)).toMatchObject({ ok: true, docs_written: 75 });
    const before = {
      a: await readState(a),
      settee: await readState(server),
      fresh: await readState(fresh),
      b: await readState(b),
    };
    expectSame(before, ['a', 'fresh', 'b'], ['a', 'b']);
    for (const [i, doc] of [...before.settee.values()].entries()) {
      const live = doc.leaves.filter((leaf) => !leaf.deleted).map((leaf) => leaf.rev);
      // CouchDB's and PouchDB's rule: the live leaf with the highest generation, then rev string.
      const expected = live.sort(
        (x, y) => Number.parseInt(y, 10) - Number.parseInt(x, 10) || (x < y ? 1 : -1),
      );
      expect(doc.winner, doc.id).toBe(expected[0]);
      expect(doc.conflicts.length, doc.id).toBe(i < 30 ? 1 : 0);
      expect(doc.leaves.length, doc.id).toBe(i < 35 ? 2 : 1);
    }

    // Resolved on A for ten documents (winner updated, loser deleted), on Settee over HTTP for
    // five; the last fifteen stay open.
    for (let i = 0; i < 10; i++) {
      const { _conflicts, ...winner } = await a.get(id(i), { conflicts: true });
      ok(
        await a.bulkDocs([
          { ...winner, merged: 'on a' },
          { _id: id(i), _rev: _conflicts![0]!, _deleted: true },
        ]),
      );
    }
    for (let i = 10; i < 15; i++) {
      const { _conflicts, ...winner } = await getJson<PouchDB.Document>(`/conflicts/${id(i)}?conflicts=true`);
      const put = await env.t.fetch(`/conflicts/${id(i)}`, {
        method: 'PUT',
        body: JSON.stringify({ ...winner, merged: 'on settee' }),
      });
      expect(put.status).toBe(201);
      const del = await env.t.fetch(`/conflicts/${id(i)}?rev=${_conflicts![0]}`, { method: 'DELETE' });
      expect(del.status).toBe(200);
    }
    expect(await a.replicate.to(server)).toMatchObject({ docs_written: 20 });
    expect(await a.replicate.from(server)).toMatchObject({ docs_written: 10 });
    expect(await b.replicate.from(server)).toMatchObject({ docs_written: 30 });
    expect(await fresh.replicate.from(server)).toMatchObject({ docs_written: 30 });
    const after = {
      a: await readState(a),
      settee: await readState(server),
      fresh: await readState(fresh),
      b: await readState(b),
    };
    expectSame(after, ['a', 'fresh', 'b'], ['a', 'b']);
    for (const [i, doc] of [...after.settee.values()].entries()) {
      expect(doc.conflicts.length, doc.id).toBe(i >= 15 && i < 30 ? 1 : 0);
      if (i < 15) expect(doc.leaves.map((leaf) => leaf.deleted).sort(), doc.id).toEqual([false, true]);
    }
  });

  it('checkpoints in _local on both sides: a repeated push or pull reads nothing, an incremental one only what is new', async () => {
    const rng = random(4);
    const source = local('source');
    const docs = (from: number, count: number) =>
      Array.from({ length: count }, (_, k): PouchDB.Document => ({
        _id: `k-${String(from + k).padStart(4, '0')}`,
        ...body(rng, from + k),
        ...(k % 50 === 0 ? { _attachments: { 'a.bin': attachment(rng.bytes(100)) } } : {}),
      }));
    ok(await source.bulkDocs(docs(0, 500)));

    const log: string[] = [];
    const first = await source.replicate.to(remote('ckpt', log));
    expect(first).toMatchObject({ ok: true, docs_read: 500, docs_written: 500, doc_write_failures: 0 });
    const checkpoint = localPath(log, 'ckpt')!;
    expect(checkpoint).toMatch(/^_local\//);
    const stored = await getJson<Checkpoint>(`/ckpt/${checkpoint}`);
    expect(stored).toMatchObject({
      _id: decodeURIComponent(checkpoint),
      last_seq: first.last_seq,
      replicator: 'pouchdb',
      version: 1,
    });
    expect(stored._rev).toMatch(/^0-\d+$/);
    expect(stored.history[0]).toEqual({ session_id: stored.session_id, last_seq: first.last_seq });
    // PouchDB writes the same checkpoint to its own side.
    const mirrored = await source.get(decodeURIComponent(checkpoint));
    expect(mirrored).toMatchObject({ session_id: stored.session_id, last_seq: first.last_seq });

    // Nothing new: the run starts at the checkpoint and writes nothing.
    log.length = 0;
    const second = await source.replicate.to(remote('ckpt', log));
    expect(second).toMatchObject({ ok: true, docs_read: 0, docs_written: 0, last_seq: first.last_seq });
    expect(log).toContain(`GET /ckpt/${checkpoint}`);
    expect(log.filter((line) => /_revs_diff|_bulk_docs|_bulk_get/.test(line))).toEqual([]);

    // 100 new documents: exactly those are sent.
    ok(await source.bulkDocs(docs(500, 100)));
    log.length = 0;
    const third = await source.replicate.to(remote('ckpt', log));
    expect(third).toMatchObject({ ok: true, docs_read: 100, docs_written: 100, doc_write_failures: 0 });
    const updated = await getJson<Checkpoint>(`/ckpt/${checkpoint}`);
    expect(updated.last_seq).toEqual(third.last_seq);
    expect(updated.session_id).not.toBe(stored.session_id);
    expect(updated.history[0]).toEqual({ session_id: updated.session_id, last_seq: third.last_seq });
    expect(updated.history.map((entry) => entry.session_id)).toContain(stored.session_id);
    expect((await getJson<{ doc_count: number }>('/ckpt')).doc_count).toBe(600);

    // The same for pulls, with Settee's sequences in the checkpoint.
    const target = local('target');
    const pullLog: string[] = [];
    const pulled = await target.replicate.from(remote('ckpt', pullLog));
    expect(pulled).toMatchObject({ ok: true, docs_read: 600, docs_written: 600 });
    expect(pulled.last_seq).toEqual((await getJson<{ update_seq: number | string }>('/ckpt')).update_seq);
    const pullCheckpoint = localPath(pullLog, 'ckpt')!;
    expect(pullCheckpoint).not.toBe(checkpoint);
    expect(await getJson<Checkpoint>(`/ckpt/${pullCheckpoint}`)).toMatchObject({ last_seq: pulled.last_seq });
    pullLog.length = 0;
    const again = await target.replicate.from(remote('ckpt', pullLog));
    expect(again).toMatchObject({ ok: true, docs_read: 0, docs_written: 0, last_seq: pulled.last_seq });
    const since = `since=${encodeURIComponent(String(pulled.last_seq))}`;
    const feeds = pullLog.filter((line) => line.includes('/_changes'));
    expect(feeds.length).toBeGreaterThan(0);
    expect(feeds.filter((line) => !line.includes(since))).toEqual([]);

    const added = await env.t.fetch('/ckpt/_bulk_docs', {
      method: 'POST',
      body: JSON.stringify({ docs: docs(600, 50) }),
    });
    expect(added.status).toBe(201);
    pullLog.length = 0;
    const incremental = await target.replicate.from(remote('ckpt', pullLog));
    expect(incremental).toMatchObject({ ok: true, docs_read: 50, docs_written: 50 });
    expect(pullLog.find((line) => line.includes('/_changes'))).toContain(since);
    expectSame({ target: await readState(target), settee: await readState(remote('ckpt')) }, ['target']);
  });

  it('syncs live, PouchDB ↔ Settee ↔ PouchDB: writes on any side reach the others, then cancels cleanly', async () => {
    const rng = random(5);
    const a = local('a');
    const b = local('b');
    const server = remote('live');
    const numbered = (prefix: string, count: number) =>
      Array.from({ length: count }, (_, i): PouchDB.Document => ({ _id: `${prefix}-${i}`, ...body(rng, i) }));
    ok(await a.bulkDocs(numbered('a', 200)));
    ok(await server.bulkDocs(numbered('s', 200)));

    const problems: unknown[] = [];
    const syncs = [a, b].map((db) => {
      const sync = PouchDB.sync(db, remote('live'), { live: true, retry: true });
      for (const replication of [sync.push, sync.pull])
        replication.on('requestError', (e) => problems.push(e));
      sync.on('denied', (e) => problems.push(e));
      return sync;
    });
    const sides = [a, server, b];
    const counts = () => Promise.all(sides.map(async (db) => (await db.info()).doc_count));
    const everywhere = async (id: string, rev: string) =>
      (await Promise.all(sides.map((db) => winnerOf(db, id)))).every((winner) => winner?.rev === rev);
    await waitFor(
      async () => (await counts()).every((n) => n === 400),
      'the first 400 documents on every side',
    );

    // A write on A reaches B through Settee, attachment bytes included.
    const picture = rng.bytes(3000);
    const fromA = await a.put({ _id: 'from-a', n: 1, _attachments: { 'pic.bin': attachment(picture) } });
    await waitFor(() => everywhere('from-a', fromA.rev), 'from-a everywhere');
    expect((await b.getAttachment('from-a', 'pic.bin')).equals(picture)).toBe(true);

    // An edit and a deletion on B reach A.
    const edited = await b.put({ ...(await b.get('s-3')), edited: 'on b' });
    const removed = await b.remove('a-4', (await b.get('a-4'))._rev!);
    await waitFor(
      async () => (await everywhere('s-3', edited.rev)) && (await everywhere('a-4', removed.rev)),
      'the edit and deletion from B everywhere',
    );
    expect(await winnerOf(a, 'a-4')).toEqual({ rev: removed.rev, deleted: true });

    // A document and then an attachment written over HTTP on Settee reach both PouchDBs.
    const created = await env.t.fetch('/live/from-settee', { method: 'PUT', body: JSON.stringify({ n: 2 }) });
    const { rev } = (await created.json()) as { rev: string };
    const raw = rng.bytes(2000);
    const attached = await env.t.fetch(`/live/from-settee/raw.bin?rev=${rev}`, {
      method: 'PUT',
      body: raw,
      headers: { 'content-type': 'application/octet-stream' },
    });
    expect(attached.status).toBe(201);
    const withAttachment = ((await attached.json()) as { rev: string }).rev;
    await waitFor(() => everywhere('from-settee', withAttachment), 'from-settee everywhere');
    expect((await a.getAttachment('from-settee', 'raw.bin')).equals(raw)).toBe(true);
    expect((await b.getAttachment('from-settee', 'raw.bin')).equals(raw)).toBe(true);

    // Concurrent edits of one document on A and on Settee (a replicated write, so that it cannot
    // lose the race to the sync) become a conflict that every side keeps, with the same winner.
    const base = await a.get('s-7');
    const hash = rng.hex(32);
    const onA = await a.put({ ...base, side: 'a' });
    const branched = await env.t.fetch('/live/s-7?new_edits=false', {
      method: 'PUT',
      body: JSON.stringify({
        ...base,
        side: 'settee',
        _rev: `2-${hash}`,
        _revisions: { start: 2, ids: [hash, base._rev!.slice(2)] },
      }),
    });
    expect(branched.status).toBe(201);
    const winner = onA.rev > `2-${hash}` ? onA.rev : `2-${hash}`;
    const loser = winner === onA.rev ? `2-${hash}` : onA.rev;
    const contested = async () =>
      (await Promise.all(sides.map((db) => db.get('s-7', { conflicts: true })))).every(
        (doc) => doc._rev === winner && doc._conflicts?.length === 1 && doc._conflicts[0] === loser,
      );
    await waitFor(contested, 'the conflict on s-7 everywhere');
    // Resolved on B: the loser is deleted everywhere.
    await b.remove('s-7', loser);
    await waitFor(
      async () =>
        (await Promise.all(sides.map((db) => db.get('s-7', { conflicts: true })))).every(
          (doc) => doc._rev === winner && doc._conflicts === undefined,
        ),
      'the resolution of s-7 everywhere',
    );

    // A burst on both ends at once: 1000 documents on A, 1000 over HTTP on Settee.
    const burst = await env.t.fetch('/live/_bulk_docs', {
      method: 'POST',
      body: JSON.stringify({ docs: numbered('burst-s', 1000) }),
    });
    expect(burst.status).toBe(201);
    ok(await a.bulkDocs(numbered('burst-a', 1000)));
    await waitFor(async () => (await counts()).every((n) => n === 2401), 'the bursts on every side', {
      timeoutMs: 30_000,
    });

    for (const sync of syncs) sync.cancel();
    const results = await Promise.all(syncs);
    for (const result of results) {
      expect(result.push?.status).toBe('cancelled');
      expect(result.pull?.status).toBe('cancelled');
    }
    expect(problems).toEqual([]);
    expectSame(
      {
        a: await readState(a, { openRevs: (id) => !id.startsWith('burst') }),
        settee: await readState(server, { openRevs: (id) => !id.startsWith('burst') }),
        b: await readState(b, { openRevs: (id) => !id.startsWith('burst') }),
      },
      ['a', 'b'],
    );
  }, 90_000);

  it('chains PouchDB → Settee → PouchDB, and edits made at the far end flow back the same way', async () => {
    const rng = random(9);
    const a = local('a');
    const b = local('b');
    const server = remote('chain');
    const id = (i: number) => `k-${String(i).padStart(3, '0')}`;
    ok(
      await a.bulkDocs(
        Array.from({ length: 300 }, (_, i): PouchDB.Document => ({
          _id: id(i),
          ...body(rng, i),
          ...(i % 25 === 0
            ? {
                _attachments: {
                  'one.bin': attachment(rng.bytes(1500)),
                  'two.txt': attachment(rng.bytes(20), 'text/plain'),
                },
              }
            : {}),
        })),
      ),
    );
    const conflicted = [5, 65, 125, 185, 245];
    ok(
      await a.bulkDocs(
        await Promise.all(
          conflicted.map(async (i) => branch(rng, await a.get(id(i), { revs: true }), { branch: i }, 1)),
        ),
        { new_edits: false },
      ),
    );
    for (let i = 19; i < 300; i += 20) await a.remove(id(i), (await a.get(id(i)))._rev!);

    expect(await a.replicate.to(server)).toMatchObject({
      ok: true,
      docs_written: 305,
      doc_write_failures: 0,
    });
    expect(await b.replicate.from(server)).toMatchObject({
      ok: true,
      docs_written: 305,
      doc_write_failures: 0,
    });
    const there = { a: await readState(a), settee: await readState(server), b: await readState(b) };
    expectSame(there, ['b']);
    // PouchDB → PouchDB directly gives the very same copy, attachment revpos included.
    const control = local('control');
    await control.replicate.from(a);
    expect(diffStates(there.b, await readState(control), { names: ['b', 'control'] })).toEqual([]);

    // On B: 15 edits, 8 deletions, 3 new attachments, 2 edits of documents with attachments (one
    // keeps its stubs, one replaces an attachment), 5 conflicts resolved, 10 new documents.
    const writes: PouchDB.Document[] = [];
    for (let i = 0; i < 300; i++) {
      if (i % 20 === 1) writes.push({ ...(await b.get(id(i))), edited: 'on b' });
      if (i % 40 === 2) writes.push({ _id: id(i), _rev: (await b.get(id(i)))._rev!, _deleted: true });
      if (i % 100 === 3) {
        writes.push({ ...(await b.get(id(i))), _attachments: { 'new.bin': attachment(rng.bytes(900)) } });
      }
    }
    writes.push({ ...(await b.get(id(50))), edited: 'stubs kept' });
    const replaced = await b.get(id(75));
    writes.push({
      ...replaced,
      _attachments: { ...replaced._attachments, 'two.txt': attachment(rng.bytes(40), 'text/plain') },
    });
    for (const i of conflicted) {
      const { _conflicts } = await b.get(id(i), { conflicts: true });
      writes.push({ _id: id(i), _rev: _conflicts![0]!, _deleted: true });
    }
    for (let i = 300; i < 310; i++) writes.push({ _id: id(i), ...body(rng, i) });
    ok(await b.bulkDocs(writes));
    expect(writes.length).toBe(43);

    expect(await b.replicate.to(server)).toMatchObject({ ok: true, docs_read: 43, docs_written: 43 });
    expect(await a.replicate.from(server)).toMatchObject({ ok: true, docs_read: 43, docs_written: 43 });
    const back = { a: await readState(a), settee: await readState(server), b: await readState(b) };
    expectSame(back, ['a', 'b']);
    expect([...back.a.values()].filter((doc) => doc.conflicts.length > 0)).toEqual([]);
    expect(back.a.get(id(75))?.leaves[0]?.attachments['two.txt']?.bytes.length).toBe(40);
  });
});
