import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type {
  AllDocsOptions,
  AllDocsResponse,
  AllDocsRow,
  BulkDocsOptions,
  BulkGetOptions,
  BulkGetRequest,
  BulkGetResponse,
  ChangesResponse,
  DbInfo,
  Doc,
  GetOptions,
  LocalDoc,
  NewDoc,
  OpenRevsResult,
  Peer,
  PeerChangesOptions,
  RevsDiffRequest,
  UserContext,
  WriteContext,
  RevsDiffResponse,
  WriteOk,
  WriteResult,
} from '../core/api.js';
import { encodeBase64 } from '../core/base64.js';
import { DESIGN_PREFIX, isLocalId, type ParsedDoc, parseDocument, validateDocId } from '../core/document.js';
import { badRequest, notFound, toSetteeError } from '../core/errors.js';
import { isRev, parseRev } from '../core/revision.js';
import type { Resolver } from '../conflicts/resolvers.js';
import { SqliteStorage, type SqliteStorageOptions } from '../storage/sqlite/sqlite-storage.js';
import { conflictRevs } from '../storage/records.js';
import type { DocRecord, ResolutionRecord, Storage, StoredResolution } from '../storage/types.js';
import { allDocsRows } from './all-docs.js';
import { ChangesFeed, type ChangesFeedOptions } from './changes.js';
import {
  type ConflictEvent,
  type ConflictRow,
  type ConflictsOptions,
  type ConflictsResponse,
  checkResolveOptions,
  conflictRows,
  planResolution,
  type ResolveOptions,
  type ResolveResult,
} from './conflicts.js';
import { LocalDocs } from './local-docs.js';
import { SerialQueue, WriteNotifier } from './notifier.js';
import { bulkGetResultJson } from './doc-json.js';
import { bulkGet, revsDiff } from './peer-reads.js';
import { DocReader } from './reader.js';
import { TreeCache } from './trees.js';
import {
  type ConflictVersions,
  conflictVersions,
  contenders,
  historyEntry,
  planAutomaticResolution,
  type ResolutionResult,
  readLeaves,
} from './resolution.js';
import { Stamper, type StampingOptions } from './stamping.js';
import { applyWriteHook, type WriteHook } from './write-hook.js';
import { type Committed, type EditOptions, requirePath, WriteBatch } from './writer.js';

export interface DatabaseOptions {
  /** The database's name, as `info().db_name` reports it. */
  name?: string;
  /** revs_limit for a new database (default 1000); an existing one keeps its own. */
  revsLimit?: number;
  /**
   * Stamp every interactive write with a hybrid logical clock, in ordinary body fields, for the
   * resolvers that compare stamps (see `setStamping`). Off by default: bodies stay as written.
   */
  stamping?: StampingOptions | boolean;
  /** Resolve conflicts automatically as writes bring them in (see `setResolver`). */
  resolver?: Resolver;
  /** Keep the losing versions of every resolved conflict, readable with `resolutions()`. */
  history?: boolean;
}

/** Options of `resolutions()`: which history entries, oldest first unless `descending`. */
export interface ResolutionsOptions {
  /** Only this document's resolutions. */
  id?: string;
  /** Only entries after this `seq` (before it when `descending`). */
  since?: number;
  descending?: boolean;
  limit?: number;
}

/** Documents resolved when a resolver is set, the whole backlog of conflicts included. */
const SWEEP_PAGE = 100;

/** Edits and history entries that travel with a batch of writes. */
interface BatchExtras {
  /** How each document (by input position) is written; default: stamped when stamping is on. */
  edits?: readonly EditOptions[];
  /** The history entries to store with the batch, given the results of its writes. */
  history?: (results: readonly WriteResult[]) => readonly ResolutionRecord[];
}

const DEFAULT_REVS_LIMIT = 1000;

/**
 * A CouchDB-compatible document database over any Storage: revision trees, conflicts, the
 * changes feed, local documents and attachments. It is a replication Peer.
 *
 * @example
 * const db = await Database.open('./data/shop.sqlite');
 * const { rev } = await db.put({ _id: 'apple', price: 3 });
 * await db.put({ _id: 'apple', _rev: rev, price: 4 });
 */
export class Database implements Peer {
  readonly name: string;
  private readonly trees: TreeCache;
  private readonly reader: DocReader;
  private readonly local: LocalDocs;
  private readonly writes = new SerialQueue();
  private readonly notifier = new WriteNotifier();
  private readonly conflictListeners = new Set<(event: ConflictEvent) => void>();
  private stamper: Stamper | undefined;
  private resolver: Resolver | undefined;
  private keepHistory = false;
  private writeHook: WriteHook | undefined;
  private designCache: Promise<Doc[]> | undefined;
  private seq = 0;
  private revsLimit = DEFAULT_REVS_LIMIT;
  private uuid = '';
  private instanceStartTime = '';

  private constructor(
    readonly storage: Storage,
    name: string,
  ) {
    this.name = name;
    this.trees = new TreeCache(storage);
    this.reader = new DocReader(storage, this.trees, () => this.revsLimit);
    this.local = new LocalDocs(storage);
  }

  /** Opens (creating if needed) a database stored in one SQLite file. */
  static async open(path: string, options: DatabaseOptions & SqliteStorageOptions = {}): Promise<Database> {
    mkdirSync(dirname(path), { recursive: true });
    return Database.fromStorage(new SqliteStorage(path, options), options.name ?? path, options);
  }

  /** A database over any Storage backend. */
  static async fromStorage(storage: Storage, name: string, options: DatabaseOptions = {}): Promise<Database> {
    const db = new Database(storage, name);
    await db.init(options);
    return db;
  }

  private async init(options: DatabaseOptions): Promise<void> {
    const { storage } = this;
    this.uuid = await this.metaOrDefault('uuid', () => randomHex());
    this.instanceStartTime = await this.metaOrDefault('instance_start_time', () => String(Date.now() * 1000));
    const limit = await this.metaOrDefault('revs_limit', () =>
      String(options.revsLimit ?? DEFAULT_REVS_LIMIT),
    );
    this.revsLimit = Number(limit);
    this.seq = (await storage.stats()).updateSeq;
    if (options.stamping) await this.setStamping(options.stamping);
    this.keepHistory = options.history === true;
    if (options.resolver) await this.setResolver(options.resolver);
  }

  private async metaOrDefault(key: string, make: () => string): Promise<string> {
    const existing = await this.storage.getMeta(key);
    if (existing !== undefined) return existing;
    const value = make();
    await this.storage.setMeta(key, value);
    return value;
  }

  async info(): Promise<DbInfo> {
    const stats = await this.storage.stats();
    return {
      db_name: this.name,
      doc_count: stats.docCount,
      doc_del_count: stats.deletedCount,
      update_seq: stats.updateSeq,
      purge_seq: 0,
      sizes: { file: stats.fileSize, external: stats.activeSize, active: stats.activeSize },
      instance_start_time: this.instanceStartTime,
      compact_running: false,
      uuid: this.uuid,
      revs_limit: this.revsLimit,
    };
  }

  /** Creates or updates one document; throws a SetteeError (`conflict`, `bad_request`, …) on failure. */
  async put(doc: NewDoc, options: { newEdits?: boolean } & WriteContext = {}): Promise<WriteOk> {
    if (doc?._id === undefined) throw badRequest('Document must have an _id');
    const [result] = await this.bulkDocs([doc], { ...options, atomic: true });
    return result as WriteOk;
  }

  /** Creates a document with a generated id. */
  async post(doc: NewDoc, context: WriteContext = {}): Promise<WriteOk> {
    return this.put({ ...doc, _id: doc._id ?? randomHex() }, context);
  }

  /** Deletes a document: writes a tombstone as a child of `rev`. */
  async remove(id: string, rev: string, context: WriteContext = {}): Promise<WriteOk> {
    if (isLocalId(id)) return this.removeLocal(id);
    const [record] = await this.storage.getDocs([validateDocId(id)]);
    if (!record) throw notFound('missing');
    return this.put({ _id: id, _rev: rev, _deleted: true }, context);
  }

  /**
   * Writes many documents. With `newEdits` (the default) each gets a new revision or a
   * `conflict` error; with `newEdits: false` revisions are stored as given, as replication
   * does. Every valid document is written and each failure reported, in input order; with
   * `atomic`, any failure writes nothing and is thrown.
   */
  async bulkDocs(docs: NewDoc[], options: BulkDocsOptions = {}): Promise<WriteResult[]> {
    if (!Array.isArray(docs)) throw badRequest('POST body must include `docs` parameter.');
    const newEdits = options.newEdits !== false;
    let parsed = docs.map((doc) => parseOrError(doc, newEdits));
    if (!newEdits) {
      // CouchDB rejects the whole request when a replicated document does not name its revision.
      for (const doc of parsed) if (!(doc instanceof Error) && !isLocalId(doc.id)) requirePath(doc);
    }
    // Outside the write queue: a validation function may take its time without holding up others.
    // The revisions it judges against are immutable; a write whose parent moved on still conflicts.
    if (this.writeHook) parsed = await this.runWriteHook(docs, parsed, newEdits, options.userCtx);
    if (options.atomic) {
      const failure = parsed.find((doc) => doc instanceof Error);
      if (failure) throw failure;
    }
    return this.writes.run(async () => {
      const { results, written } = await this.writeBatch(parsed, newEdits, options.atomic === true);
      await this.afterWrite(written);
      return results;
    });
  }

  private runWriteHook(
    docs: readonly NewDoc[],
    parsed: readonly ((ParsedDoc & { id: string }) | Error)[],
    newEdits: boolean,
    userCtx: UserContext | undefined,
  ): Promise<((ParsedDoc & { id: string }) | Error)[]> {
    const reads = {
      tree: (id: string) => this.reader.tree(id),
      revision: (id: string, rev: string) => this.get(id, { rev }).catch(() => null),
    };
    return applyWriteHook(this.writeHook!, docs, parsed, { userCtx, newEdits }, reads, (doc) =>
      parseOrError(doc, newEdits),
    );
  }

  /**
   * Sets the rules every write of a document must pass (see `WriteHook`): the server's
   * validation functions and system databases. Local documents are not subject to it.
   */
  setWriteHook(hook: WriteHook | undefined): void {
    this.writeHook = hook;
  }

  /**
   * The design documents (winning, not deleted), with their bodies; read once and cached until
   * a write touches one.
   */
  async designDocs(): Promise<readonly Doc[]> {
    if (!this.designCache) {
      const reading = this.readDesignDocs();
      this.designCache = reading;
      reading.catch(() => {
        if (this.designCache === reading) this.designCache = undefined;
      });
    }
    return this.designCache;
  }

  private async readDesignDocs(): Promise<Doc[]> {
    const docs: Doc[] = [];
    const rows = this.allDocsStream({
      startkey: DESIGN_PREFIX,
      endkey: `${DESIGN_PREFIX}\ufff0`,
      include_docs: true,
    });
    for await (const row of rows) if (row.doc) docs.push(row.doc);
    return docs;
  }

  private async writeBatch(
    parsed: ((ParsedDoc & { id: string }) | Error)[],
    newEdits: boolean,
    atomic: boolean,
    extras: BatchExtras = {},
  ): Promise<{ results: WriteResult[]; written: Committed[] }> {
    const batch = new WriteBatch(this.storage, this.trees, this.revsLimit);
    await batch.load(parsed.flatMap((doc) => (doc instanceof Error || isLocalId(doc.id) ? [] : [doc.id])));
    const results: WriteResult[] = [];
    const localWrites: (() => Promise<void>)[] = [];
    for (const [index, doc] of parsed.entries()) {
      try {
        if (doc instanceof Error) throw doc;
        if (isLocalId(doc.id)) {
          const planned = await this.local.plan(doc);
          localWrites.push(planned.write);
          results.push(planned.result);
        } else if (newEdits) {
          results.push(await batch.edit(doc, extras.edits?.[index] ?? this.editOptions(doc.id)));
        } else results.push(await batch.replicate(requirePath(doc)));
      } catch (err) {
        const error = toSetteeError(err);
        if (atomic) throw error;
        const id = doc instanceof Error ? idOf(doc) : doc.id;
        results.push({
          id,
          ...(doc instanceof Error || !doc.rev ? {} : { rev: doc.rev }),
          ...error.toJSON(),
        });
      }
    }
    const written = await batch.commit(extras.history?.(results));
    for (const write of localWrites) await write();
    if (written.some(({ id }) => id.startsWith(DESIGN_PREFIX))) this.designCache = undefined;
    if (written.length > 0) {
      this.seq = written[written.length - 1]!.seq;
      this.notifier.notify();
    }
    return { results, written };
  }

  /** Design documents are application code, not data: they are never stamped. */
  private editOptions(id: string): EditOptions {
    return this.stamper && !id.startsWith('_design/') ? { stamper: this.stamper } : {};
  }

  /**
   * After a batch is committed (still in its turn of the write queue): the resolver resolves the
   * documents the batch left conflicted, then `onConflict` hears of those newly conflicted that
   * are still conflicted.
   */
  private async afterWrite(written: readonly Committed[]): Promise<void> {
    const resolved = new Set<string>();
    if (this.resolver) {
      // Deleted leaves too: a stamped deletion may be the latest write (a resolution's own
      // tombstones are unstamped and never win, so resolved documents stay as they are).
      for (const { record } of written) {
        if (record.leaves.length < 2) continue;
        if (await this.resolveAutomatically(record.id, this.resolver)) resolved.add(record.id);
      }
    }
    for (const { record, newlyConflicted } of written) {
      if (newlyConflicted && !resolved.has(record.id))
        this.emitConflict({ id: record.id, winner: record.winner, conflicts: conflictRevs(record) });
    }
  }

  /**
   * Applies `resolver` to one document, in the caller's turn of the write queue. True when it
   * wrote a resolution. Whatever goes wrong — the resolver throws, its merge cannot be written —
   * leaves the conflict open: the write that brought the conflict in is committed already and
   * must not look failed.
   */
  private async resolveAutomatically(id: string, resolver: Resolver): Promise<boolean> {
    try {
      const [record] = await this.storage.getDocs([id]);
      if (!record || record.leaves.length < 2) return false;
      const tree = await this.reader.tree(id);
      const leaves = contenders(await readLeaves(this.reader, record, tree), tree);
      if (leaves.length < 2) return false;
      const plan = planAutomaticResolution(id, leaves, resolver);
      if (!plan) return false;
      const merged = plan.writes.at(-1)!.doc;
      await this.writeResolution(
        record,
        plan.writes.map(({ doc }) => doc),
        plan.writes.map(({ options }) => options),
        { kept: plan.kept, losers: plan.losers, result: merged._deleted ? null : merged },
        `resolver:${resolver.name}`,
      );
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Writes a resolution as one atomic batch — the merged body (if any) last — with its history
   * entry when history is kept. Returns the document's revision afterwards.
   */
  private async writeResolution(
    record: DocRecord,
    docs: readonly NewDoc[],
    edits: EditOptions[],
    resolution: { kept: string; losers: readonly string[]; result: ResolutionResult },
    by: string,
  ): Promise<string> {
    const parsed = docs.map((doc) => parseOrError(doc, true));
    const failure = parsed.find((doc) => doc instanceof Error);
    if (failure) throw failure;
    const { kept, result } = resolution;
    const revOf = (results: readonly WriteResult[]) => (result === undefined ? kept : lastRev(results));
    const entry = this.keepHistory
      ? await historyEntry(this.storage, { docId: record.id, ...resolution, by })
      : undefined;
    const { results } = await this.writeBatch(parsed, true, true, {
      edits,
      history: entry && ((results) => [entry(revOf(results))]),
    });
    return revOf(results);
  }

  /** A resolution by hand is a write like any other: the hook may refuse it (not change it). */
  private async checkResolution(docs: readonly NewDoc[], userCtx: UserContext | undefined): Promise<void> {
    const parsed = docs.map((doc) => parseOrError(doc, true));
    const checked = await this.runWriteHook(docs, parsed, true, userCtx);
    checked.forEach((doc, i) => {
      if (doc instanceof Error) throw doc;
      if (doc !== parsed[i]) throw badRequest('A resolution cannot be changed by the write rules');
    });
  }

  private emitConflict(event: ConflictEvent): void {
    for (const listener of [...this.conflictListeners]) {
      try {
        listener(event);
      } catch {
        // The write is committed: a failing listener must not make it look failed.
      }
    }
  }

  /**
   * Calls `listener` after each write that leaves a document newly conflicted — one with no
   * other live leaf than its winner before, and some after (a replicated branch, typically).
   * A document that gains a further branch while already conflicted fires no new event, nor
   * does one that the database's resolver resolved at once.
   * Exceptions thrown by a listener are ignored. Returns a function that unsubscribes.
   */
  onConflict(listener: (event: ConflictEvent) => void): () => void {
    const registered = (event: ConflictEvent) => listener(event);
    this.conflictListeners.add(registered);
    return () => {
      this.conflictListeners.delete(registered);
    };
  }

  /**
   * Stamps every interactive write from now on with this replica's hybrid logical clock (`true`
   * for the defaults: the document's stamp in `settee_hlc`, no per-field stamps), or stops (`false`).
   * Replicated writes keep the stamps their writer gave them; design documents are not stamped.
   */
  async setStamping(options: StampingOptions | boolean): Promise<void> {
    if (options === false) {
      this.stamper = undefined;
      return;
    }
    const settings = options === true ? {} : options;
    const last = this.stamper?.clock.last ?? (await this.storage.getMeta('hlc_last'));
    this.stamper = new Stamper({
      ...settings,
      node: settings.node ?? this.uuid,
      last: settings.last ?? last,
    });
  }

  /**
   * Resolves conflicts automatically with `resolver` (null: stop): every conflicted document now,
   * then each one a write leaves conflicted, in the same turn of the write queue — a replication
   * batch that brings in a conflict returns with it resolved. Resolutions are written unstamped,
   * so replicas holding the same leaves write the same revisions. Returns how many documents the
   * backlog sweep resolved.
   */
  async setResolver(resolver: Resolver | null): Promise<number> {
    this.resolver = resolver ?? undefined;
    if (!resolver) return 0;
    let resolved = 0;
    let startkey: string | undefined;
    for (;;) {
      const page = await this.conflicts({ startkey, limit: SWEEP_PAGE });
      for (const row of page.rows) {
        if (await this.writes.run(() => this.resolveAutomatically(row.id, resolver))) resolved++;
      }
      const last = page.rows[page.rows.length - 1];
      if (!last || page.rows.length < SWEEP_PAGE) return resolved;
      // The next id in raw code-point order: rows left conflicted are not visited twice.
      startkey = `${last.id}\u0000`;
    }
  }

  /** The resolver set with `setResolver`, if any. */
  getResolver(): Resolver | undefined {
    return this.resolver;
  }

  /**
   * The conflicted documents, by id (use `limit` on big databases, or `conflictsStream`),
   * from an index kept by every write: `total_rows` counts them all.
   */
  async conflicts(options: ConflictsOptions = {}): Promise<ConflictsResponse> {
    const rows: ConflictRow[] = [];
    for await (const row of this.conflictsStream(options)) rows.push(row);
    return { total_rows: await this.storage.countConflicts(), rows };
  }

  /** The conflicted documents as a stream, for databases of any size. */
  conflictsStream(options: ConflictsOptions = {}): AsyncIterable<ConflictRow> {
    return conflictRows(this.storage, options);
  }

  /**
   * A document's live versions side by side, and their common ancestor when this replica still
   * holds it: what a person needs to resolve the conflict (a three-way merge).
   */
  async conflictVersions(id: string): Promise<ConflictVersions> {
    if (isLocalId(validateDocId(id))) throw badRequest('Local documents have no conflicts');
    const [record] = await this.storage.getDocs([id]);
    if (!record) throw notFound('missing');
    const stamps = [this.stamper?.field, this.stamper?.fieldsField].filter((field) => field !== undefined);
    return conflictVersions(this.reader, record, await this.reader.tree(id), stamps);
  }

  /**
   * Resolves a document's conflict in one atomic write: the merged body as a child of the kept
   * leaf (the winner by default), a tombstone under every other live leaf. It replicates like
   * any edit. Pass the `losers` you saw: if the leaves changed since, it throws `conflict` and
   * writes nothing. The merged body is stamped when stamping is on; the tombstones never are.
   *
   * @example
   * const doc = await db.get('apple', { conflicts: true });
   * await db.resolve('apple', { merged: { ...doc, price: 5 }, keep: doc._rev, losers: doc._conflicts });
   */
  async resolve(
    id: string,
    options: ResolveOptions = {},
    context: WriteContext = {},
  ): Promise<ResolveResult> {
    if (isLocalId(validateDocId(id))) throw badRequest('Local documents have no conflicts');
    checkResolveOptions(options);
    // Read and written in one turn of the write queue: no write can slip in between the check
    // of the leaves and the batch.
    return this.writes.run(async () => {
      const [record] = await this.storage.getDocs([id]);
      if (!record) throw notFound('missing');
      const plan = planResolution(record, options);
      if (plan.docs.length === 0) return { ok: true, id, rev: plan.keep, deleted: [] };
      const merges = options.merged !== undefined;
      const edits = plan.docs.map((_, i) =>
        merges && i === plan.docs.length - 1 ? this.editOptions(id) : {},
      );
      const merged = merges ? plan.docs.at(-1)! : undefined;
      const result = merged && (merged._deleted ? null : merged);
      const resolution = { kept: plan.keep, losers: plan.losers, result };
      if (this.writeHook) await this.checkResolution(plan.docs, context.userCtx);
      const rev = await this.writeResolution(record, plan.docs, edits, resolution, options.by ?? 'user');
      return { ok: true, id, rev, deleted: plan.losers };
    });
  }

  /** Resolved conflicts as history kept them (with the `history` option), oldest first. */
  async resolutions(
    options: ResolutionsOptions = {},
  ): Promise<{ total_rows: number; rows: StoredResolution[] }> {
    const rows: StoredResolution[] = [];
    for await (const row of this.resolutionsStream(options)) rows.push(row);
    return { total_rows: await this.storage.countResolutions(options.id), rows };
  }

  /** Resolved conflicts as a stream; bad options throw here, before the first row. */
  resolutionsStream(options: ResolutionsOptions = {}): AsyncIterable<StoredResolution> {
    for (const key of ['since', 'limit'] as const) {
      const value = options[key];
      if (value !== undefined && (!Number.isInteger(value) || value < 0)) {
        throw badRequest(`${key} must be a non-negative integer`);
      }
    }
    if (options.id !== undefined && typeof options.id !== 'string') throw badRequest('id must be a string');
    const pages = this.storage.resolutions({
      docId: options.id,
      after: options.since,
      descending: options.descending,
      limit: options.limit,
    });
    return (async function* () {
      for await (const page of pages) yield* page;
    })();
  }

  /** Reads a document: the winner, or the revision named by `rev`. */
  async get(id: string, options: GetOptions = {}): Promise<Doc> {
    validateDocId(id);
    if (isLocalId(id)) {
      const doc = await this.local.get(id);
      if (!doc) throw notFound('missing');
      return doc as Doc;
    }
    if (options.rev !== undefined) parseRev(options.rev);
    const [record] = await this.storage.getDocs([id]);
    return this.reader.get(record, id, options);
  }

  /** Several revisions of a document (`open_revs`): every leaf with `'all'`, or the ones named. */
  async getOpenRevs(id: string, revs: 'all' | string[], options: GetOptions = {}): Promise<OpenRevsResult[]> {
    validateDocId(id);
    if (revs !== 'all' && !revs.every(isRev)) throw badRequest('Invalid rev format');
    const [record] = await this.storage.getDocs([id]);
    return this.reader.openRevs(record, id, revs, options);
  }

  async allDocs(options: AllDocsOptions = {}): Promise<AllDocsResponse> {
    const rows: AllDocsRow[] = [];
    for await (const row of this.allDocsStream(options)) rows.push(row);
    const response: AllDocsResponse = {
      total_rows: (await this.storage.stats()).docCount,
      offset: options.skip ?? 0,
      rows,
    };
    if (options.update_seq) response.update_seq = this.seq;
    return response;
  }

  /** `_all_docs` rows as a stream, for databases of any size. */
  allDocsStream(options: AllDocsOptions = {}): AsyncIterable<AllDocsRow> {
    return allDocsRows(this.storage, this.reader, options);
  }

  /**
   * The changes feed, collected (use `limit` on big databases, or `changesFeed` to stream).
   * With `longpoll`, waits up to `timeout` ms for a first change when there is none.
   */
  async changes(
    options: PeerChangesOptions & Pick<ChangesFeedOptions, 'conflicts_only'> = {},
  ): Promise<ChangesResponse<number>> {
    const { longpoll, timeout, signal, ...feedOptions } = options;
    const response = await this.changesFeed(feedOptions).collect();
    if (!longpoll || response.results.length > 0 || signal?.aborted) return response;
    // A write may have landed while the empty answer was being read: only then wait.
    if (this.seq <= response.last_seq) {
      // A plain timer, unlike AbortSignal.timeout's, keeps the process alive: a live
      // replication between local databases must not let Node exit while it waits.
      const waited = new AbortController();
      const timer = setTimeout(() => waited.abort(), timeout ?? 60_000);
      const onAbort = () => waited.abort();
      signal?.addEventListener('abort', onAbort, { once: true });
      try {
        await this.nextChange(waited.signal);
      } finally {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      }
      if (waited.signal.aborted) return response;
    }
    return this.changesFeed({ ...feedOptions, since: response.last_seq }).collect();
  }

  async peerId(): Promise<string> {
    return this.uuid;
  }

  /** A local database exists once opened. */
  async ensureExists(): Promise<void> {}

  /** The changes feed as a stream; with `live`, it goes on emitting writes until `signal` aborts. */
  changesFeed(options: ChangesFeedOptions = {}): ChangesFeed {
    return new ChangesFeed(
      { storage: this.storage, reader: this.reader, notifier: this.notifier, updateSeq: () => this.seq },
      options,
    );
  }

  async revsDiff(request: RevsDiffRequest): Promise<RevsDiffResponse> {
    return revsDiff(this.storage, this.reader, request);
  }

  async bulkGet(request: BulkGetRequest, options: BulkGetOptions = {}): Promise<BulkGetResponse> {
    return bulkGet(this.storage, this.reader, request, options);
  }

  /** `bulkGet`'s results as JSON text, one per entry, for a server to send: bodies are never parsed. */
  async bulkGetJson(request: BulkGetRequest, options: BulkGetOptions = {}): Promise<string[]> {
    const { results } = await bulkGet(this.storage, this.reader, request, { ...options, rawBody: true });
    return results.map(bulkGetResultJson);
  }

  async getLocal(id: string): Promise<LocalDoc | undefined> {
    return this.local.get(id);
  }

  /** Writes a local document. As in CouchDB 3 there is no conflict check: the new rev is `0-(N+1)`. */
  async putLocal(doc: LocalDoc | NewDoc): Promise<WriteOk> {
    const parsed = parseDocument(doc);
    if (!parsed.id || !isLocalId(parsed.id)) throw badRequest('Local document ids start with _local/');
    return this.writes.run(() => this.local.put(parsed as ParsedDoc & { id: string }));
  }

  async removeLocal(id: string): Promise<WriteOk> {
    return this.writes.run(() => this.local.remove(id));
  }

  /**
   * `_local_docs`: local documents as `_all_docs` rows (`keys`, `key`, `startkey`, `endkey`,
   * `inclusive_end`, `limit`, `skip`, `descending`, `include_docs`), streamed. Ids are whole
   * (`_local/x`); a key outside `_local/` is not found.
   */
  localDocsStream(options: AllDocsOptions = {}): AsyncIterable<AllDocsRow> {
    return this.local.rows(options);
  }

  /** An attachment's bytes and type, from the winner or from revision `rev`. */
  async getAttachment(
    id: string,
    name: string,
    options: { rev?: string } = {},
  ): Promise<{ data: Uint8Array; contentType: string; digest: string }> {
    const doc = await this.get(id, options);
    const att = doc._attachments?.[name];
    if (!att) throw notFound('Document is missing attachment');
    const data = await this.storage.getAttachment(att.digest);
    if (!data) throw notFound('Document is missing attachment');
    return { data, contentType: att.content_type, digest: att.digest };
  }

  /** Adds or replaces one attachment, writing a new revision of the document. */
  async putAttachment(
    id: string,
    name: string,
    rev: string | undefined,
    data: Uint8Array,
    contentType: string,
    context: WriteContext = {},
  ) {
    const doc: NewDoc = rev === undefined ? { _id: id } : await this.get(id, { rev });
    const attachments: Record<string, unknown> = { ...(doc._attachments ?? {}) };
    attachments[name] = { content_type: contentType, data: encodeBase64(data) };
    return this.put({ ...doc, _attachments: attachments }, context);
  }

  /** Removes one attachment, writing a new revision of the document. */
  async removeAttachment(
    id: string,
    name: string,
    rev: string,
    context: WriteContext = {},
  ): Promise<WriteOk> {
    const doc = await this.get(id, { rev });
    if (!doc._attachments?.[name]) throw notFound('Document is missing attachment');
    const { [name]: _removed, ...rest } = doc._attachments;
    return this.put({ ...doc, _attachments: rest }, context);
  }

  /** Drops bodies of non-leaf revisions and unreferenced attachments; trees are kept. */
  async compact(): Promise<void> {
    await this.writes.run(async () => {
      await this.storage.compact();
      // Compaction drops bodies: cached trees would still claim to hold them.
      this.trees.clear();
    });
  }

  getRevsLimit(): number {
    return this.revsLimit;
  }

  /** Sets how many revisions of history each leaf keeps; applies from the next write of a document. */
  async setRevsLimit(limit: number): Promise<void> {
    if (!Number.isInteger(limit) || limit < 1) throw badRequest('revs_limit must be a positive integer');
    await this.writes.run(() => this.storage.setMeta('revs_limit', String(limit)));
    this.revsLimit = limit;
  }

  /** The current update sequence. */
  updateSeq(): number {
    return this.seq;
  }

  /** Resolves at the next write to this database, or when `signal` aborts. */
  nextChange(signal?: AbortSignal): Promise<void> {
    return this.notifier.next(signal);
  }

  /** The database's security object (`{}` when never set); stored, not replicated. */
  async getSecurity(): Promise<Record<string, unknown>> {
    const stored = await this.storage.getMeta('security');
    return stored === undefined ? {} : (JSON.parse(stored) as Record<string, unknown>);
  }

  async setSecurity(security: Record<string, unknown>): Promise<void> {
    if (typeof security !== 'object' || security === null || Array.isArray(security)) {
      throw badRequest('The security object must be a JSON object');
    }
    await this.writes.run(() => this.storage.setMeta('security', JSON.stringify(security)));
  }

  async close(): Promise<void> {
    await this.writes.run(async () => {
      // So that a clock whose wall time went back meanwhile still stamps after what it issued.
      const last = this.stamper?.clock.last;
      if (last !== undefined) await this.storage.setMeta('hlc_last', last);
      await this.storage.close();
    });
  }

  /** Closes the database and deletes its data. */
  async destroy(): Promise<void> {
    await this.writes.run(() => this.storage.destroy());
  }
}

function parseOrError(doc: NewDoc, newEdits: boolean): (ParsedDoc & { id: string }) | Error {
  try {
    const parsed = parseDocument(doc);
    if (parsed.id === undefined) {
      if (!newEdits) throw badRequest('Replicated documents must have an _id');
      parsed.id = randomHex();
    }
    return parsed as ParsedDoc & { id: string };
  } catch (err) {
    return Object.assign(toSetteeError(err), { docId: idOfInput(doc) });
  }
}

/** The revision the last write of a batch wrote (batches that call this are atomic). */
function lastRev(results: readonly WriteResult[]): string {
  return (results[results.length - 1] as WriteOk).rev;
}

function idOfInput(doc: unknown): string {
  const id = (doc as { _id?: unknown } | null)?._id;
  return typeof id === 'string' ? id : '';
}

function idOf(error: Error): string {
  return (error as Error & { docId?: string }).docId ?? '';
}

/** 32 random lowercase hex characters, like CouchDB's uuids. */
export function randomHex(): string {
  return crypto.randomUUID().replaceAll('-', '');
}
