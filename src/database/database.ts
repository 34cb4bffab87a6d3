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
  Fields,
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
import {
  checkContentType,
  DESIGN_PREFIX,
  servableContentType,
  isLocalId,
  type ParsedDoc,
  parseDocument,
  validateDocId,
} from '../core/document.js';
import { badRequest, notFound, toSetteeError } from '../core/errors.js';
import { onDemand } from '../core/on-demand.js';
import { ownValue } from '../core/own.js';
import { isRev, parseRev } from '../core/revision.js';
import type { Resolver } from '../conflicts/resolvers.js';
import type { DesignRunner } from '../design/runner.js';
import { openPlatformStorage, type PlatformStorageOptions } from '../storage/platform.js';
import { StaleWriteError } from '../storage/errors.js';
import type { ExternalWrite, ResolutionRecord, Storage, StoredResolution } from '../storage/types.js';
import { allDocsRows } from './all-docs.js';
import { ChangesFeed, type ChangesFeedOptions } from './changes.js';
import type { CompactionStatus, Compactor, CompactOptions } from './compaction.js';
import {
  type ConflictEvent,
  type ConflictHandling,
  type ConflictRow,
  type ConflictHost,
  type ConflictsOptions,
  type ConflictsResponse,
  type ConflictVersions,
  type ResolutionBatch,
  type ResolutionsOptions,
  type ResolveOptions,
  type ResolveResult,
  type ResolveWithOptions,
  type ResolveWithResult,
} from './conflicts/index.js';
import { resolutionRows } from './conflicts/history.js';
import { conflictRows } from './conflicts/listing.js';
import { LocalDocs } from './local-docs.js';
import { platformDesignRunner } from './queries/design-platform.js';
import type { Queries } from './queries/engine.js';
import type { QueryHost } from './queries/host.js';
import type { DesignDocInfo, ViewOptions, ViewResponse, ViewStream } from './queries/views.js';
import type { ViewQuery } from '../core/views/params.js';
import type { IndexingStatus } from './queries/index-builder.js';
import type {
  CreateIndexRequest,
  CreateIndexResponse,
  FindRequestBody,
  FindResponse,
  IndexList,
} from './queries/mango.js';
import type { ExplainBody } from '../core/mango/index.js';
import { SerialQueue, WriteNotifier } from './notifier.js';
import { bulkGetResultJson } from './doc-json.js';
import { bulkGet, revsDiff } from './peer-reads.js';
import { DocReader } from './reader.js';
import type { LinearParts } from './linear-parts.js';
import { defaultRevsLimit, type RevisionsMode, revisionsMode } from './revisions-mode.js';
import { TreeCache } from './trees.js';
import type { Stamper, StampingOptions } from './stamping.js';
import { applyWriteHook, type WriteHook } from './write-hook.js';
import { type Committed, type EditOptions, type KnownDoc, requirePath, WriteBatch } from './writer.js';

export type { ResolutionsOptions } from './conflicts/index.js';
export type { CompactionStatus, CompactOptions } from './compaction.js';
export type { RevisionsMode } from './revisions-mode.js';

export interface DatabaseOptions {
  /** The database's name, as `info().db_name` reports it. */
  name?: string;
  /**
   * revs_limit for a new database (default 1000, or 100 for a linear one); an existing one keeps
   * its own.
   */
  revsLimit?: number;
  /**
   * How a new database keeps revisions: `'tree'` (CouchDB's revision trees, the default) or
   * `'linear'` (one short line per document, most edits wins: docs/linear-history.md). An existing
   * database keeps the mode it was created with; naming the other one throws `bad_request`.
   */
  revisions?: RevisionsMode;
  /**
   * Stamp every interactive write with a hybrid logical clock, in ordinary body fields, for the
   * resolvers that compare stamps (see `setStamping`). Off by default: bodies stay as written.
   */
  stamping?: StampingOptions | boolean;
  /** Resolve conflicts automatically as writes bring them in (see `setResolver`). */
  resolver?: Resolver;
  /**
   * Keep the losing versions of every resolved conflict, readable with `resolutions()` (a linear
   * database always keeps them).
   */
  history?: boolean;
  /**
   * Where the JavaScript of views and filter functions runs; default: the platform's sandbox
   * (in Node, a shared worker thread with QuickJS), started when first needed.
   */
  design?: DesignRunner;
}

/** `info()` of a database: CouchDB's fields, and `revisions` for a linear database. */
export interface DatabaseInfo extends DbInfo {
  revisions?: 'linear';
}

/** Edits and history entries that travel with a batch of writes. */
interface BatchExtras {
  /** How each document (by input position) is written; default: stamped when stamping is on. */
  edits?: readonly EditOptions[];
  /** The history entries to store with the batch, given the results of its writes. */
  history?: (results: readonly WriteResult[]) => readonly ResolutionRecord[];
  /** What the caller read of the documents already: the batch does not read it again. */
  known?: ReadonlyMap<string, KnownDoc>;
}

/** A local document of a batch, planned (its result at `index`), written once the batch commits. */
interface LocalWrite {
  index: number;
  write: () => Promise<void>;
}

/** Times a batch is computed again after another writer changed one of its documents. */
const STALE_WRITE_ATTEMPTS = 10;

/** The meta key of `resolverChoice` (the name files written by earlier versions use). */
const RESOLVER_CHOICE = 'settee_resolver';

/**
 * A server's automatic conflict resolution for one database (`PUT /{db}/_resolver`): a strategy
 * by name with its options, and how writes are stamped for it.
 */
export interface ResolverChoice {
  strategy: string;
  options?: Record<string, unknown>;
  /** Overrides how the strategy stamps writes: field names, or `false` for no stamping. */
  stamping?: Pick<StampingOptions, 'field' | 'fields'> | false;
}

// Linear databases' write rules come with the first linear database opened (see linear-parts.ts).
const loadLinearParts = onDemand(async () => (await import('./on-demand-parts.js')).linearParts);

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
  /** Compaction's runner, imported on first use (`compact`), as a page that never compacts never loads it. */
  private compactor: Compactor | undefined;
  /** A compaction asked for while that code loads: seen running at once, as it is once loaded. */
  private compactionAsked: CompactionStatus | undefined;
  /** `close` or `destroy` was called: a compaction whose code was still loading does not start. */
  private closing = false;
  private readonly loadCompactor = onDemand(async () => {
    const { Compactor } = await import('./on-demand-parts.js');
    // Compaction drops bodies: cached trees would still claim to hold them.
    return (this.compactor = new Compactor(this.storage, this.writes, () => this.trees.clear()));
  });
  // Queries and conflict handling are imported on first use (`on-demand-parts.ts`): a page that
  // never queries, nor handles conflicts, never loads them.
  private readonly queries = onDemand(async () => {
    const { Queries } = await import('./on-demand-parts.js');
    return (this.loadedQueries = new Queries(this.queryHost()));
  });
  private loadedQueries: Queries | undefined;
  private readonly loadConflictHandling = onDemand(async () => {
    const { ConflictHandling } = await import('./on-demand-parts.js');
    return (this.loadedConflictHandling = new ConflictHandling(this.conflictHost()));
  });
  private loadedConflictHandling: ConflictHandling | undefined;
  /** Conflict handling was asked for: from then on every write hands it its batch. */
  private conflictHandlingWanted = false;
  private stamper: Stamper | undefined;
  private keepHistory = false;
  private writeHook: WriteHook | undefined;
  private designRunner: DesignRunner | undefined;
  private designCache: Promise<Doc[]> | undefined;
  private seq = 0;
  private revsLimit = defaultRevsLimit('tree');
  private revisions: RevisionsMode = 'tree';
  /** A linear database's write rules, imported when it opens. */
  private linearParts: LinearParts | undefined;
  private uuid = '';
  private instanceStartTime = '';

  private constructor(
    private readonly storage: Storage,
    name: string,
  ) {
    this.name = name;
    this.trees = new TreeCache(storage);
    this.reader = new DocReader(storage, this.trees, () => this.revsLimit);
    this.local = new LocalDocs(storage);
    // Before `init` reads the sequence, so that no write of another server falls in between.
    storage.onExternalWrite?.((write) => this.followExternalWrite(write));
  }

  /**
   * Another server committed a write to this (shared) storage: forget the trees and design
   * documents it may have changed (all of them when it did not say which), catch up with its
   * sequence and wake live readers. Notices arrive in commit order, but may cross this server's
   * own writes: the sequence only moves forward.
   */
  private followExternalWrite(write: ExternalWrite): void {
    if (write.ids) for (const id of write.ids) this.trees.forget(id);
    else this.trees.clear();
    if (!write.ids || write.ids.some((id) => id.startsWith(DESIGN_PREFIX))) this.designCache = undefined;
    this.seq = Math.max(this.seq, write.seq);
    this.notifier.notify();
  }

  /**
   * Opens (creating if needed) the database called `name` on this platform's storage: in Node a
   * SQLite file at that path (with SQLite's options, e.g. `durability`), installed by the Node
   * entry; see `storage/platform.ts`.
   */
  static async open(name: string, options: DatabaseOptions & PlatformStorageOptions = {}): Promise<Database> {
    return Database.fromStorage(await openPlatformStorage(name, options), options.name ?? name, options);
  }

  /** A database over any Storage backend. */
  static async fromStorage(storage: Storage, name: string, options: DatabaseOptions = {}): Promise<Database> {
    const db = new Database(storage, name);
    try {
      await db.init(options);
    } catch (error) {
      // A database that could not be set up (a full disk) must not keep its file open.
      await storage.close().catch(() => undefined);
      throw error;
    }
    return db;
  }

  /**
   * Reads again the settings kept in the storage (`revs_limit`): another server sharing it
   * changed them.
   */
  async reloadSettings(): Promise<void> {
    const limit = await this.storage.getMeta('revs_limit');
    if (limit !== undefined) this.revsLimit = Number(limit);
  }

  private async init(options: DatabaseOptions): Promise<void> {
    const { storage } = this;
    // Before the uuid, which tells a new database from an existing one.
    const isNew = (await storage.getMeta('uuid')) === undefined;
    this.revisions = await revisionsMode(storage, options.revisions, isNew);
    if (this.revisions === 'linear') this.linearParts = await loadLinearParts();
    this.uuid = await this.metaOrDefault('uuid', () => randomHex());
    this.instanceStartTime = await this.metaOrDefault('instance_start_time', () => String(Date.now() * 1000));
    const limit = await this.metaOrDefault('revs_limit', () =>
      String(options.revsLimit ?? defaultRevsLimit(this.revisions)),
    );
    this.revsLimit = Number(limit);
    this.seq = Math.max(this.seq, (await storage.stats()).updateSeq);
    if (options.stamping) await this.setStamping(options.stamping);
    // What a linear database settles away is in the history, or it would be silently lost.
    this.keepHistory = options.history === true || this.revisions === 'linear';
    this.designRunner = options.design;
    if (options.resolver) await this.setResolver(options.resolver);
  }

  private async metaOrDefault(key: string, make: () => string): Promise<string> {
    const existing = await this.storage.getMeta(key);
    if (existing !== undefined) return existing;
    const value = make();
    await this.storage.setMeta(key, value);
    return value;
  }

  /** The database's information; a linear database's says so (`revisions: 'linear'`). */
  async info(): Promise<DatabaseInfo> {
    const stats = await this.storage.stats();
    return {
      ...(this.revisions === 'linear' ? { revisions: this.revisions } : {}),
      db_name: this.name,
      doc_count: stats.docCount,
      doc_del_count: stats.deletedCount,
      update_seq: stats.updateSeq,
      purge_seq: 0,
      sizes: { file: stats.fileSize, external: stats.activeSize, active: stats.activeSize },
      instance_start_time: this.instanceStartTime,
      compact_running: this.compactionStatus() !== undefined,
      uuid: this.uuid,
      revs_limit: this.revsLimit,
    };
  }

  /** Creates or updates one document; throws a SetteeError (`conflict`, `bad_request`, …) on failure. */
  async put<T extends object = Fields>(
    doc: NewDoc<T>,
    options: { newEdits?: boolean } & WriteContext = {},
  ): Promise<WriteOk> {
    if (doc?._id === undefined) throw badRequest('Document must have an _id');
    const [result] = await this.bulkDocs<T>([doc], { ...options, atomic: true });
    return result as WriteOk;
  }

  /** Creates a document with a generated id. */
  async post<T extends object = Fields>(doc: NewDoc<T>, context: WriteContext = {}): Promise<WriteOk> {
    return this.put<T>({ ...doc, _id: doc._id ?? randomHex() }, context);
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
   * does. A document that is not valid refuses the whole call; otherwise every document is
   * written or its failure (conflict, forbidden) reported, in input order; with `atomic`, any
   * failure writes nothing and is thrown. `_local` documents are written once the others have
   * committed: one that fails to be written then is reported in its result (thrown with `atomic`,
   * though the others stay written).
   */
  async bulkDocs<T extends object = Fields>(
    typed: NewDoc<T>[],
    options: BulkDocsOptions = {},
  ): Promise<WriteResult[]> {
    // The type argument is the caller's promise about its fields; below, a document is JSON.
    const docs = typed as NewDoc[];
    if (!Array.isArray(docs)) throw badRequest('POST body must include `docs` parameter.');
    const newEdits = options.newEdits !== false;
    let parsed = docs.map((doc) => parseOrError(doc, newEdits));
    // One invalid document refuses the whole request before anything is written, as CouchDB's
    // `_bulk_docs` (chttpd_db.erl) and PouchDB's bulkDocs do; conflicts stay per document.
    const invalid = parsed.find((doc) => doc instanceof Error);
    if (invalid) throw invalid;
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

  /** Sets where the JavaScript of views and filter functions runs (see `DatabaseOptions.design`). */
  setDesignRunner(runner: DesignRunner): void {
    this.designRunner = runner;
  }

  /** Where views and filter functions run: the one set, or the platform's. */
  private design(): DesignRunner {
    return (this.designRunner ??= platformDesignRunner());
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

  /**
   * Computes a batch from the documents' trees and writes it. When another writer of the same
   * storage (another server on one PostgreSQL) changed one of them meanwhile, the storage refuses
   * the whole batch (`StaleWriteError`, nothing written) and it is computed again from the trees
   * as they now are: an edit of a revision that is no longer a leaf then conflicts, as it should.
   * That second computation runs with the other writers held off (`Storage.exclusively`): a
   * replicated revision, which always adds to the tree, would otherwise lose every race to a
   * writer that never pauses.
   */
  private async writeBatch(
    parsed: ((ParsedDoc & { id: string }) | Error)[],
    newEdits: boolean,
    atomic: boolean,
    extras: BatchExtras = {},
  ): Promise<{ results: WriteResult[]; written: Committed[] }> {
    const { storage } = this;
    for (let attempt = 1; ; attempt++) {
      try {
        const exclusively = attempt > 1 ? storage.exclusively?.bind(storage) : undefined;
        const { results, written, localWrites } = exclusively
          ? await exclusively((locked) => this.computeBatch(parsed, newEdits, atomic, extras, locked))
          : await this.computeBatch(parsed, newEdits, atomic, extras);
        // Trees the locked storage read went to a cache of its own: this one learns them once committed.
        if (exclusively) for (const { id, tree, seq } of written) this.trees.remember(id, tree, seq);
        this.committed(written);
        await this.writeLocals(localWrites, results, atomic);
        return { results, written };
      } catch (err) {
        if (!(err instanceof StaleWriteError) || attempt >= STALE_WRITE_ATTEMPTS) throw err;
        // What the caller had read of the documents is stale too.
        extras = { ...extras, known: undefined };
      }
    }
  }

  /** What this database learns of a committed batch: its sequence, design documents, live feeds. */
  private committed(written: readonly Committed[]): void {
    if (written.some(({ id }) => id.startsWith(DESIGN_PREFIX))) this.designCache = undefined;
    if (written.length === 0) return;
    // Other servers on the same storage may have written past it meanwhile.
    this.seq = Math.max(this.seq, written[written.length - 1]!.seq);
    this.notifier.notify();
  }

  /**
   * Writes a batch's local documents, once its documents are committed (and live feeds told): a
   * local one that fails to be written then is reported in its own result, as a conflict would
   * be, or, with `atomic`, thrown, as every failure of an atomic batch is.
   */
  private async writeLocals(
    localWrites: readonly LocalWrite[],
    results: WriteResult[],
    atomic: boolean,
  ): Promise<void> {
    for (const { index, write } of localWrites) {
      try {
        await write();
      } catch (err) {
        if (atomic) throw err;
        const { id } = results[index]!;
        results[index] = { id, ...toSetteeError(err).toJSON() };
      }
    }
  }

  /**
   * Computes a batch over the documents' trees and commits it, through this database's storage
   * or through the one `Storage.exclusively` locked (`locked`: trees read afresh, into a cache of
   * their own); the batch's local documents are planned, to be written once the commit is over.
   */
  private async computeBatch(
    parsed: ((ParsedDoc & { id: string }) | Error)[],
    newEdits: boolean,
    atomic: boolean,
    extras: BatchExtras,
    locked?: Storage,
  ): Promise<{ results: WriteResult[]; written: Committed[]; localWrites: LocalWrite[] }> {
    const trees = locked ? new TreeCache(locked) : this.trees;
    const local = locked ? new LocalDocs(locked) : this.local;
    const batch = new WriteBatch(locked ?? this.storage, trees, this.revsLimit, this.linearParts);
    const loading = batch.load(
      parsed.flatMap((doc) => (doc instanceof Error || isLocalId(doc.id) ? [] : [doc.id])),
      extras.known,
    );
    if (newEdits) this.prehash(batch, parsed, extras);
    await loading;
    const results: WriteResult[] = [];
    const localWrites: LocalWrite[] = [];
    for (const [index, doc] of parsed.entries()) {
      try {
        if (doc instanceof Error) throw doc;
        if (isLocalId(doc.id)) {
          const planned = await local.plan(doc);
          localWrites.push({ index, write: planned.write });
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
    return { results, written, localWrites };
  }

  /** Hashes the batch's new revisions while its trees are read (see `WriteBatch.prehash`). */
  private prehash(batch: WriteBatch, parsed: readonly (ParsedDoc | Error)[], extras: BatchExtras): void {
    for (const [index, doc] of parsed.entries()) {
      if (doc instanceof Error || doc.id === undefined || isLocalId(doc.id)) continue;
      batch.prehash(doc, extras.edits?.[index] ?? this.editOptions(doc.id));
    }
  }

  /** Design documents are application code, not data: they are never stamped. */
  private editOptions(id: string): EditOptions {
    return this.stamper && !id.startsWith('_design/') ? { stamper: this.stamper } : {};
  }

  /**
   * Hands a committed batch to conflict handling (the resolver, conflict listeners), once it was
   * asked for; until then nothing waits for a batch.
   */
  private async afterWrite(written: readonly Committed[]): Promise<void> {
    if (!this.conflictHandlingWanted) return;
    // The batch is committed: a chunk that could not be fetched must not make it look failed
    // (as a resolver that throws does not); the next write tries the import again.
    const handling = await this.loadConflictHandling().catch(() => undefined);
    await handling?.afterWrite(written);
  }

  /** Conflict handling, imported on first use. */
  private conflictHandling(): Promise<ConflictHandling> {
    this.conflictHandlingWanted = true;
    return this.loadConflictHandling();
  }

  private queryHost(): QueryHost {
    return {
      name: this.name,
      storage: this.storage,
      updateSeq: () => this.seq,
      toDoc: (scanned, options = {}) =>
        this.reader.build(scanned, scanned.id, scanned.winner, scanned.content, options),
      designDocs: () => this.designDocs(),
      design: () => this.design(),
      bulkDocs: (docs) => this.bulkDocs(docs),
    };
  }

  /** What conflict handling may use of this database, and nothing more. */
  private conflictHost(): ConflictHost {
    return {
      storage: this.storage,
      reader: this.reader,
      keepsHistory: () => this.keepHistory,
      inWriteTurn: (task) => this.writes.run(task),
      writeAtomically: (docs, batch) => this.writeAtomically(docs, batch),
      editOptions: (id) => this.editOptions(id),
      checkWriteRules: (docs, userCtx) => this.checkWriteRules(docs, userCtx),
      stampFields: () =>
        [this.stamper?.field, this.stamper?.fieldsField].filter((field) => field !== undefined),
    };
  }

  /** Writes edits as one atomic batch, in the caller's turn of the write queue (a resolution). */
  private async writeAtomically(docs: readonly NewDoc[], batch: ResolutionBatch): Promise<WriteResult[]> {
    const parsed = docs.map((doc) => parseOrError(doc, true));
    const failure = parsed.find((doc) => doc instanceof Error);
    if (failure) throw failure;
    const { edits, history, known } = batch;
    return (await this.writeBatch(parsed, true, true, { edits, history, known })).results;
  }

  /** A resolution by hand is a write like any other: the hook may refuse it (not change it). */
  private async checkWriteRules(docs: readonly NewDoc[], userCtx: UserContext | undefined): Promise<void> {
    if (!this.writeHook) return;
    const parsed = docs.map((doc) => parseOrError(doc, true));
    const checked = await this.runWriteHook(docs, parsed, true, userCtx);
    checked.forEach((doc, i) => {
      if (doc instanceof Error) throw doc;
      if (doc !== parsed[i]) throw badRequest('A resolution cannot be changed by the write rules');
    });
  }

  /**
   * Calls `listener` after each write that leaves a document newly conflicted — one with no
   * other live leaf than its winner before, and some after (a replicated branch, typically).
   * A document that gains a further branch while already conflicted fires no new event, nor
   * does one that the database's resolver resolved at once.
   * Exceptions thrown by a listener are ignored. Returns a function that unsubscribes.
   */
  onConflict(listener: (event: ConflictEvent) => void): () => void {
    let listening = true;
    // Registered as soon as conflict handling is imported: a write committed meanwhile waits for
    // the import too (`afterWrite`), and this registration runs first.
    const registered = this.conflictHandling().then((handling) =>
      handling.onConflict((event) => {
        if (listening) listener(event);
      }),
    );
    registered.catch(() => undefined); // the next write imports it again; this listener is lost
    return () => {
      listening = false;
      void registered.then(
        (unsubscribe) => unsubscribe(),
        () => undefined,
      );
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
    const { Stamper } = await import('./on-demand-parts.js');
    const last = this.stamper?.clock.last ?? (await this.storage.getMeta('hlc_last'));
    this.stamper = new Stamper({
      ...settings,
      node: settings.node ?? this.uuid,
      last: settings.last ?? last,
    });
  }

  /**
   * Resolves conflicts automatically with `resolver` (null: stop): now, every document with more
   * than one leaf (the backlog, deleted leaves included: a stamped deletion may be later than
   * the live leaf beside it); then each one a write leaves so, in the same turn of the write
   * queue — a replication batch that brings in a conflict returns with it resolved. Sweep and
   * writes settle the same documents the same way. Resolutions are written unstamped, so
   * replicas holding the same leaves write the same revisions. Returns how many documents the
   * backlog sweep resolved.
   */
  async setResolver(resolver: Resolver | null): Promise<number> {
    return (await this.conflictHandling()).setResolver(resolver);
  }

  /** The resolver set with `setResolver`, if any. */
  getResolver(): Resolver | undefined {
    return this.loadedConflictHandling?.getResolver();
  }

  /**
   * The conflicted documents, by id (use `limit` on big databases, or `conflictsStream`),
   * from an index kept by every write: `total_rows` counts them all.
   */
  async conflicts(options: ConflictsOptions = {}): Promise<ConflictsResponse> {
    return (await this.conflictHandling()).conflicts(options);
  }

  /** The conflicted documents as a stream, for databases of any size. */
  conflictsStream(options: ConflictsOptions = {}): AsyncIterable<ConflictRow> {
    // Straight from the conflicts index, so that bad options throw here, before conflict handling
    // is imported.
    return conflictRows(this.storage, options);
  }

  /** How many documents are conflicted (`total_rows` of `conflicts()`), from the same index. */
  async conflictCount(): Promise<number> {
    return (await this.conflictHandling()).conflictCount();
  }

  /**
   * A document's live versions side by side, their common ancestor when this replica still holds
   * it, and the deleted leaves that contend with them (by the rule every resolution follows):
   * what a person needs to resolve the conflict (a three-way merge, or keeping it deleted).
   */
  async conflictVersions(id: string): Promise<ConflictVersions> {
    return (await this.conflictHandling()).conflictVersions(id);
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
    return (await this.conflictHandling()).resolve(id, options, context);
  }

  /**
   * Resolves one document once with `resolver`, as a person asked — the database's own resolver
   * (`setResolver`) is left as it is. The resolver weighs the leaves an automatic resolution
   * would; its decision is written as by `resolve`: a decision equal to a live version keeps it
   * as it is, a merge continues the winner (with its attachments, stamped when stamping is on),
   * a deletion deletes every live leaf. `couchdbDefault` here means "the winner stands". The
   * history records `by` as `resolver:NAME by BY`. Throws as `resolve` does (`not_found`, …).
   *
   * @example
   * const result = await db.resolveWith('apple', conflicts.lastWriterWins(), { by: 'user:anna' });
   * if (!result.resolved) console.log(result.reason); // 'The document has no conflict'
   */
  async resolveWith(
    id: string,
    resolver: Resolver,
    options: ResolveWithOptions = {},
    context: WriteContext = {},
  ): Promise<ResolveWithResult> {
    return (await this.conflictHandling()).resolveWith(id, resolver, options, context);
  }

  /**
   * Resolved conflicts as history kept them, oldest first. Only a database opened with
   * `history: true` keeps them: on any other, this throws `bad_request` rather than answer
   * an empty history that was never recorded.
   */
  async resolutions(
    options: ResolutionsOptions = {},
  ): Promise<{ total_rows: number; rows: StoredResolution[] }> {
    return (await this.conflictHandling()).resolutions(options);
  }

  /**
   * Resolved conflicts as a stream; bad options, or a database without `history: true`, throw
   * here, before the first row.
   */
  resolutionsStream(options: ResolutionsOptions = {}): AsyncIterable<StoredResolution> {
    // Straight from the history, so that these throw here, before conflict handling is imported.
    return resolutionRows(this.storage, this.keepHistory, options);
  }

  /** How many resolutions the history holds, or for one document (`history: true` only). */
  async resolutionCount(docId?: string): Promise<number> {
    return (await this.conflictHandling()).resolutionCount(docId);
  }

  /** Reads a document: the winner, or the revision named by `rev`. */
  async get<T extends object = Fields>(id: string, options: GetOptions = {}): Promise<Doc<NoInfer<T>>> {
    validateDocId(id);
    if (isLocalId(id)) {
      const doc = await this.local.get(id);
      if (!doc) throw notFound('missing');
      return doc as Doc<T>;
    }
    if (options.rev !== undefined) parseRev(options.rev);
    const [record] = await this.storage.getDocs([id]);
    return (await this.reader.get(record, id, options)) as Doc<T>;
  }

  /** Several revisions of a document (`open_revs`): every leaf with `'all'`, or the ones named. */
  async getOpenRevs(id: string, revs: 'all' | string[], options: GetOptions = {}): Promise<OpenRevsResult[]> {
    validateDocId(id);
    if (revs !== 'all' && !revs.every(isRev)) throw badRequest('Invalid rev format');
    const [record] = await this.storage.getDocs([id]);
    return this.reader.openRevs(record, id, revs, options);
  }

  async allDocs<T extends object = Fields>(
    options: AllDocsOptions = {},
  ): Promise<AllDocsResponse<NoInfer<T>>> {
    const rows: AllDocsRow<T>[] = [];
    for await (const row of this.allDocsStream<T>(options)) rows.push(row);
    const response: AllDocsResponse<T> = {
      total_rows: (await this.storage.stats()).docCount,
      offset: options.skip ?? 0,
      rows,
    };
    if (options.update_seq) response.update_seq = this.seq;
    return response;
  }

  /** `_all_docs` rows as a stream, for databases of any size. */
  allDocsStream<T extends object = Fields>(
    options: AllDocsOptions = {},
  ): AsyncIterable<AllDocsRow<NoInfer<T>>> {
    return allDocsRows(this.storage, this.reader, options) as AsyncIterable<AllDocsRow<T>>;
  }

  /**
   * The changes feed, collected (use `limit` on big databases, or `changesFeed` to stream).
   * With `longpoll`, waits up to `timeout` ms for a first change when there is none.
   */
  async changes<T extends object = Fields>(
    options: PeerChangesOptions & Pick<ChangesFeedOptions, 'conflicts_only'> = {},
  ): Promise<ChangesResponse<number, NoInfer<T>>> {
    return (await this.changesUntyped(options)) as ChangesResponse<number, T>;
  }

  private async changesUntyped(
    options: PeerChangesOptions & Pick<ChangesFeedOptions, 'conflicts_only'>,
  ): Promise<ChangesResponse<number>> {
    const { longpoll, timeout, signal, ...feedOptions } = options;
    let response = await this.changesFeed(feedOptions).collect();
    if (!longpoll || response.results.length > 0 || signal?.aborted) return response;
    // A plain timer, unlike AbortSignal.timeout's, keeps the process alive: a live replication
    // between local databases must not let Node exit while it waits.
    const waited = new AbortController();
    const timer = setTimeout(() => waited.abort(), timeout ?? 60_000);
    const onAbort = () => waited.abort();
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      // Writes a filter leaves out do not end the wait: only a change to report, or the timeout.
      while (response.results.length === 0 && !waited.signal.aborted) {
        // A write may have landed while the empty answer was being read: only then wait.
        if (this.seq <= response.last_seq) await this.nextChange(waited.signal);
        if (waited.signal.aborted) break;
        response = await this.changesFeed({ ...feedOptions, since: response.last_seq }).collect();
      }
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    }
    return response;
  }

  async peerId(): Promise<string> {
    return this.uuid;
  }

  /** A local database exists once opened. */
  async ensureExists(): Promise<void> {}

  /** The changes feed as a stream; with `live`, it goes on emitting writes until `signal` aborts. */
  changesFeed(options: ChangesFeedOptions = {}): ChangesFeed {
    return new ChangesFeed(
      {
        storage: this.storage,
        reader: this.reader,
        notifier: this.notifier,
        updateSeq: () => this.seq,
        design: () => this.design(),
        designDocs: () => this.designDocs(),
        selectorChanges: async (selector, since, allLeaves) =>
          (await this.queries()).selectorChanges(selector, since, allLeaves),
      },
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
    const att = attachmentNamed(await this.get(id, options), name);
    if (!att) throw notFound('Document is missing attachment');
    const data = await this.storage.getAttachment(att.digest);
    if (!data) throw notFound('Document is missing attachment');
    return { data, contentType: servableContentType(att.content_type), digest: att.digest };
  }

  /**
   * Adds or replaces one attachment, writing a new revision of the document (`rev`, or none for
   * a new document). `bad_request` when `data` is not bytes or `contentType` is not a string an
   * HTTP header can carry.
   */
  async putAttachment(
    id: string,
    name: string,
    rev: string | undefined,
    data: Uint8Array,
    contentType: string,
    context: WriteContext = {},
  ) {
    validateDocId(id);
    checkAttachmentArguments(name, data, contentType);
    const doc: NewDoc = rev === undefined ? { _id: id } : await this.get(id, { rev });
    // A computed key is an entry of its own, whatever the name: assigned, `__proto__` would set
    // the object's prototype instead.
    const attachments = {
      ...doc._attachments,
      [name]: { content_type: contentType, data: encodeBase64(data) },
    };
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
    if (!attachmentNamed(doc, name)) throw notFound('Document is missing attachment');
    const { [name]: _removed, ...rest } = doc._attachments!;
    return this.put({ ...doc, _attachments: rest }, context);
  }

  // Queries: Mango

  /**
   * A Mango query, as `POST /{db}/_find` and PouchDB's `find` take it: `selector`, `fields`,
   * `sort`, `limit`, `skip`, `bookmark`, `use_index`, `conflicts`, `execution_stats`…
   *
   * @example
   * await db.createIndex({ index: { fields: ['till', 'at'] } });
   * const { docs } = await db.find({ selector: { till: 't1', at: { $gte: '2026-12-06' } }, sort: ['till', 'at'] });
   */
  async find<T extends object = Fields>(request: FindRequestBody): Promise<FindResponse<NoInfer<T>>> {
    const { mango } = await this.queries();
    return (await mango.find(asJson(request))) as FindResponse<T>;
  }

  /** How `find` would answer a request: the index it would use and the range it would read. */
  async explain(request: FindRequestBody): Promise<ExplainBody> {
    return (await this.queries()).mango.explain(asJson(request));
  }

  /**
   * Creates a JSON index (`POST /{db}/_index`), stored as a `language: "query"` design
   * document; the same definition again answers `exists`.
   */
  async createIndex(request: CreateIndexRequest): Promise<CreateIndexResponse> {
    return (await this.queries()).mango.create(asJson(request));
  }

  /** The indexes `find` may use, `_all_docs` first (`GET /{db}/_index`). */
  async getIndexes(): Promise<IndexList> {
    return (await this.queries()).mango.list();
  }

  /** Deletes a JSON index (`DELETE /{db}/_index/{ddoc}/json/{name}`). */
  async deleteIndex(index: { ddoc: string; name: string }): Promise<{ ok: true }> {
    await (await this.queries()).mango.delete(index.ddoc, index.name);
    return { ok: true };
  }

  /** The secondary index builds under way (views and Mango indexes), for `_active_tasks`. */
  indexingStatus(): IndexingStatus[] {
    // No build runs before the first query has loaded the engine.
    return this.loadedQueries?.indexing() ?? [];
  }

  /**
   * `_view_cleanup`: drops the stored indexes no design document defines any longer (an edited
   * view's old index, a deleted Mango index). Resolves to how many were dropped.
   */
  async viewCleanup(): Promise<number> {
    return (await (await this.queries()).cleanup()).length;
  }

  // Queries: views

  /**
   * Queries a design document's view, as PouchDB's `db.query('ddoc/view', options)` and
   * `GET /{db}/_design/{ddoc}/_view/{view}` do: map rows `{id, key, value, doc?}` with
   * `total_rows` and `offset`, or reduced rows `{key, value}` with `reduce`, `group`,
   * `group_level`. The view's index is brought up to date first unless `update` says otherwise.
   *
   * @throws SetteeError `not_found` for a missing design document (`missing`) or view
   *   (`missing_named_view`); `query_parse_error` (400) for options that cannot work together.
   * @example
   * await db.put({ _id: '_design/sales', views: { by_till: { map: 'function (doc) { emit(doc.till, doc.total) }', reduce: '_sum' } } });
   * const { rows } = await db.query('sales/by_till', { group: true }); // [{ key: 't1', value: 42 }, …]
   */
  async query<T extends object = Fields>(view: string, options: ViewOptions = {}): Promise<ViewResponse<T>> {
    return (await this.queries()).query<T>(view, options);
  }

  /**
   * A view's answer as a stream (for the server): the header fields, then rows read from the
   * index as they are pulled. `q` comes from `parseViewQuery`.
   */
  async viewStream(ddoc: string, view: string, q: ViewQuery): Promise<ViewStream> {
    return (await this.queries()).views.query(ddoc, view, q);
  }

  /** `GET /{db}/_design/{ddoc}/_info`: the state of a design document's view index. */
  async designDocInfo(ddoc: string): Promise<DesignDocInfo> {
    return (await this.queries()).views.info(ddoc);
  }

  /**
   * Drops bodies of non-leaf revisions and unreferenced attachments (trees are kept) and gives
   * the space back to the disk; resolves once done. It runs in short steps between which reads
   * and writes go on; a call while a compaction runs joins it rather than starting another.
   *
   * @example
   * await db.compact({ onProgress: (percent) => console.log(`${percent}%`) });
   */
  async compact(options: CompactOptions = {}): Promise<void> {
    const now = Date.now();
    this.compactionAsked ??= { progress: 0, startedOn: now, updatedOn: now };
    try {
      const compactor = await this.loadCompactor();
      // Closed meanwhile: it ends before its first step, as `close` ends a running one.
      if (!this.closing) await compactor.compact(options);
    } finally {
      this.compactionAsked = undefined;
    }
  }

  /** The compaction under way (its progress, when it started), or undefined when none runs. */
  compactionStatus(): CompactionStatus | undefined {
    return this.compactor?.status ?? this.compactionAsked;
  }

  /** How this database keeps revisions, as it was created: `'tree'` or `'linear'`. */
  getRevisionsMode(): RevisionsMode {
    return this.revisions;
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

  /** Whether a security object was ever stored (`getSecurity` answers `{}` either way). */
  async hasSecurity(): Promise<boolean> {
    return (await this.storage.getMeta('security')) !== undefined;
  }

  /**
   * The automatic conflict resolution a server configured for this database (`PUT
   * /{db}/_resolver`), kept in the database's own file so it survives restarts and goes away with
   * the database; undefined when never configured.
   */
  async resolverChoice(): Promise<ResolverChoice | undefined> {
    const stored = await this.storage.getMeta(RESOLVER_CHOICE);
    return stored === undefined ? undefined : (JSON.parse(stored) as ResolverChoice);
  }

  /** Keeps the server's resolver configuration with the database (see `resolverChoice`). */
  async saveResolverChoice(choice: ResolverChoice): Promise<void> {
    await this.writes.run(() => this.storage.setMeta(RESOLVER_CHOICE, JSON.stringify(choice)));
  }

  async setSecurity(security: Record<string, unknown>): Promise<void> {
    if (typeof security !== 'object' || security === null || Array.isArray(security)) {
      throw badRequest('The security object must be a JSON object');
    }
    await this.writes.run(() => this.storage.setMeta('security', JSON.stringify(security)));
  }

  async close(): Promise<void> {
    this.closing = true;
    await this.compactor?.stop();
    await this.writes.run(async () => {
      // So that a clock whose wall time went back meanwhile still stamps after what it issued.
      const last = this.stamper?.clock.last;
      if (last !== undefined) await this.storage.setMeta('hlc_last', last);
      await this.storage.close();
    });
  }

  /** Closes the database and deletes its data. */
  async destroy(): Promise<void> {
    this.closing = true;
    await this.compactor?.stop();
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

/** A document's attachment of this name: its own entry only (`toString` names none). */
function attachmentNamed(doc: Doc, name: string) {
  return ownValue(doc._attachments ?? {}, name);
}

/** `putAttachment`'s arguments as a JavaScript caller may pass them, whatever their types say. */
function checkAttachmentArguments(name: unknown, data: unknown, contentType: unknown): void {
  if (typeof name !== 'string') throw badRequest('Attachment name must be a string');
  if (!(data instanceof Uint8Array)) throw badRequest(`Attachment ${name}: data must be a Uint8Array`);
  if (typeof contentType !== 'string') throw badRequest(`Attachment ${name}: content_type must be a string`);
  checkContentType(name, contentType);
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

/**
 * A request object as its JSON would read: what an embedded caller writes as `{bookmark: undefined}`
 * is, as over HTTP, no bookmark at all.
 */
function asJson(request: object): unknown {
  return JSON.parse(JSON.stringify(request));
}
