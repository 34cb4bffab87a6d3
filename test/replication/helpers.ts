import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach } from 'vitest';
import type { Doc, NewDoc, Peer, WriteResult } from '../../src/core/api.js';
import { SetteeError } from '../../src/core/errors.js';
import { Database, type DatabaseOptions } from '../../src/database/database.js';
import type { CheckpointDoc } from '../../src/replication/index.js';

/** A fresh temporary folder; the caller removes it (`removeDir`). */
export function makeTempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'settee-repl-'));
}

export function removeDir(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
}

/**
 * Real SQLite databases in temporary folders, closed and removed after each test:
 * `const dbs = useTempDatabases();` at the top of a file, then `const db = await dbs.open();`.
 */
export function useTempDatabases() {
  const dirs: string[] = [];
  const opened: Database[] = [];
  const paths = new Map<Database, string>();

  afterEach(async () => {
    for (const db of opened.splice(0)) await db.close().catch(() => undefined);
    for (const dir of dirs.splice(0)) removeDir(dir);
    paths.clear();
  });

  const openAt = async (file: string, options: DatabaseOptions = {}): Promise<Database> => {
    const db = await Database.open(file, { durability: 'normal', ...options });
    opened.push(db);
    paths.set(db, file);
    return db;
  };

  return {
    /** A new, empty database in its own temporary folder. */
    async open(options: DatabaseOptions = {}): Promise<Database> {
      const dir = makeTempDir();
      dirs.push(dir);
      return openAt(path.join(dir, 'db.sqlite'), options);
    },
    /** Opens (or creates) the database stored in `file`. */
    openAt,
    /** The SQLite file behind `db`. */
    pathOf(db: Database): string {
      const file = paths.get(db);
      if (!file) throw new Error('not a database opened by this helper');
      return file;
    },
  };
}

/** Writes `count` new documents `<prefix>000`, `<prefix>001`, … in one batch; returns their revs by id. */
export async function fill(
  db: Database,
  count: number,
  prefix = 'doc',
  body: Record<string, unknown> = {},
): Promise<Map<string, string>> {
  const docs: NewDoc[] = Array.from({ length: count }, (_, i) => ({
    _id: `${prefix}${String(i).padStart(3, '0')}`,
    n: i,
    ...body,
  }));
  const results = await db.bulkDocs(docs);
  return revsOf(results);
}

/** Writes `count` documents one write at a time, so each gets its own sequence. */
export async function fillOneByOne(db: Database, count: number, prefix = 'doc'): Promise<void> {
  for (let i = 0; i < count; i++) {
    await db.put({ _id: `${prefix}${String(i).padStart(3, '0')}`, n: i });
  }
}

function revsOf(results: WriteResult[]): Map<string, string> {
  const revs = new Map<string, string>();
  for (const result of results) {
    if ('error' in result) throw new Error(`write of ${result.id} failed: ${result.error}`);
    revs.set(result.id, result.rev);
  }
  return revs;
}

/** Every document id the database knows, deleted ones included, sorted. */
export async function allIds(db: Database): Promise<string[]> {
  const { results } = await db.changes({});
  return results.map((row) => row.id).sort();
}

/** A document's winner as `get` reports it, or `'deleted'` / `'missing'` from the 404. */
export async function winnerOf(db: Database, id: string): Promise<Doc | 'deleted' | 'missing'> {
  try {
    return await db.get(id, { conflicts: true, deleted_conflicts: true });
  } catch (error) {
    if (error instanceof SetteeError && error.status === 404) return error.reason as 'deleted' | 'missing';
    throw error;
  }
}

/**
 * Everything replication must make equal about one document: every leaf (deleted ones too) with
 * its body and ancestry, the winner as `get` reports it with its conflicts, and its ancestry.
 */
export async function docState(db: Database, id: string) {
  const leaves = (await db.getOpenRevs(id, 'all', { revs: true }))
    .map((result) => {
      if (!('ok' in result)) throw new Error(`leaf ${result.missing} of ${id} has no body`);
      const { _attachments, ...doc } = result.ok;
      return { ...doc, attachments: attachmentDigests(_attachments) };
    })
    .sort((a, b) => (a._rev < b._rev ? -1 : a._rev > b._rev ? 1 : 0));
  const winner = await winnerOf(db, id);
  const winnerRevisions =
    typeof winner === 'string' ? undefined : (await db.get(id, { revs: true }))._revisions;
  return { leaves, winner: typeof winner === 'string' ? winner : stripAttachments(winner), winnerRevisions };
}

function stripAttachments(doc: Doc): Doc {
  const { _attachments, ...rest } = doc;
  return { ...rest, ...(_attachments ? { attachments: attachmentDigests(_attachments) } : {}) } as Doc;
}

function attachmentDigests(attachments: Doc['_attachments']): Record<string, string> | undefined {
  if (!attachments) return undefined;
  return Object.fromEntries(Object.entries(attachments).map(([name, att]) => [name, att.digest]));
}

/** The state of every document of a database, keyed by id. */
export async function dbState(db: Database): Promise<Record<string, Awaited<ReturnType<typeof docState>>>> {
  const state: Record<string, Awaited<ReturnType<typeof docState>>> = {};
  for (const id of await allIds(db)) state[id] = await docState(db, id);
  return state;
}

/** A replication's checkpoint document on one peer. */
export async function checkpointOn(db: Database, replicationId: string): Promise<CheckpointDoc | undefined> {
  return (await db.getLocal(replicationId)) as CheckpointDoc | undefined;
}

/**
 * Polls `check` until it returns true, every `intervalMs`, failing after `timeoutMs`: tests wait
 * on facts, never on a fixed sleep.
 */
export async function waitFor(
  check: () => boolean | Promise<boolean>,
  what: string,
  { timeoutMs = 20_000, intervalMs = 10 } = {},
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** True when `db` holds this revision of `id` (as a leaf or in its history). */
export async function hasRev(db: Database, id: string, rev: string): Promise<boolean> {
  return Object.keys(await db.revsDiff({ [id]: [rev] })).length === 0;
}

/** Deterministic bytes of any length, for binary attachments. */
export function bytes(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/**
 * A Peer over a real local database, with some of its methods replaced: to give it a remote
 * peer's habits (reads that reject on abort, a source that refuses checkpoint writes).
 */
export function peerOver(db: Database, overrides: Partial<Peer> = {}): Peer {
  return {
    peerId: () => db.peerId(),
    info: () => db.info(),
    ensureExists: () => db.ensureExists(),
    changes: (options) => db.changes(options),
    revsDiff: (request) => db.revsDiff(request),
    bulkGet: (request, options) => db.bulkGet(request, options),
    bulkDocs: (docs, options) => db.bulkDocs(docs, options),
    getLocal: (id) => db.getLocal(id),
    putLocal: (doc) => db.putLocal(doc),
    ...overrides,
  };
}

/**
 * A target named like a remote database (by server and name, not by its own uuid), which the
 * test destroys and re-creates under the same name while a replication runs. Calls made while
 * it is being re-created wait for the new database.
 */
export function recreatable(first: Database, open: (file: string) => Promise<Database>) {
  let current = first;
  let ready = Promise.resolve();
  const use = async <T>(call: (db: Database) => Promise<T>): Promise<T> => {
    await ready;
    return call(current);
  };
  return {
    get current() {
      return current;
    },
    /** Destroys the database and creates a new, empty one in the same file. */
    recreate(file: string): Promise<void> {
      ready = (async () => {
        const old = (await current.info()).instance_start_time;
        await current.destroy();
        // instance_start_time has a microsecond format but millisecond resolution.
        await waitFor(() => String(Date.now() * 1000) !== old, 'the clock to move');
        current = await open(file);
      })();
      return ready;
    },
    peerId: async () => 'server-uuid/db',
    info: () => use((db) => db.info()),
    ensureExists: () => use((db) => db.ensureExists()),
    changes: (options: Parameters<Peer['changes']>[0]) => use((db) => db.changes(options)),
    revsDiff: (request: Parameters<Peer['revsDiff']>[0]) => use((db) => db.revsDiff(request)),
    bulkGet: (...args: Parameters<Peer['bulkGet']>) => use((db) => db.bulkGet(...args)),
    bulkDocs: (...args: Parameters<Peer['bulkDocs']>) => use((db) => db.bulkDocs(...args)),
    getLocal: (id: string) => use((db) => db.getLocal(id)),
    putLocal: (doc: Parameters<Peer['putLocal']>[0]) => use((db) => db.putLocal(doc)),
  } satisfies Peer & Record<string, unknown>;
}
