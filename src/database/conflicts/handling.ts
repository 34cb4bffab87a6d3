import type { NewDoc, UserContext, WriteContext, WriteOk, WriteResult } from '../../core/api.js';
import { isLocalId, validateDocId } from '../../core/document.js';
import { badRequest, notFound } from '../../core/errors.js';
import type { RevTree } from '../../core/rev-tree/types.js';
import type { Resolver } from '../../conflicts/resolvers.js';
import { conflictRevs } from '../../storage/records.js';
import type { DocRecord, ResolutionRecord, Storage, StoredResolution } from '../../storage/types.js';
import type { DocReader } from '../reader.js';
import type { Committed, EditOptions, KnownDoc } from '../writer.js';
import { planAutomaticResolution } from './automatic.js';
import {
  chooseResolution,
  chosenResolver,
  type ResolveWithOptions,
  type ResolveWithResult,
} from './chosen.js';
import {
  historyEntry,
  requireHistory,
  type ResolutionResult,
  type ResolutionsOptions,
  resolutionRows,
} from './history.js';
import {
  type ConflictVersions,
  conflictVersions,
  type ReadDoc,
  readBodies,
  readContenders,
} from './leaves.js';
import {
  type ConflictEvent,
  type ConflictRow,
  type ConflictsOptions,
  type ConflictsResponse,
  conflictRows,
} from './listing.js';
import {
  checkResolveOptions,
  planResolution,
  type ResolutionPlan,
  type ResolveOptions,
  type ResolveResult,
} from './manual.js';

/** How the database writes a resolution's batch. */
export interface ResolutionBatch {
  /** How each document (by position) is written. */
  edits: readonly EditOptions[];
  /** What was read of the documents already: the batch does not read it again. */
  known: ReadonlyMap<string, KnownDoc>;
  /** The history entries stored with the batch, given the results of its writes. */
  history?: (results: readonly WriteResult[]) => readonly ResolutionRecord[];
}

/** What conflict handling needs of its database, and nothing more. */
export interface ConflictHost {
  readonly storage: Storage;
  readonly reader: DocReader;
  /** Whether resolutions are kept in the history (the database's `history` option). */
  keepsHistory(): boolean;
  /** Runs `task` in a turn of its own of the database's write queue. */
  inWriteTurn<T>(task: () => Promise<T>): Promise<T>;
  /** Writes `docs` as one atomic batch of edits, in the caller's turn of the write queue. */
  writeAtomically(docs: readonly NewDoc[], batch: ResolutionBatch): Promise<WriteResult[]>;
  /** How an interactive edit of `id` is written (stamped when stamping is on). */
  editOptions(id: string): EditOptions;
  /** Throws when the database's write rules refuse these writes, or would change them. */
  checkWriteRules(docs: readonly NewDoc[], userCtx: UserContext | undefined): Promise<void>;
  /** The body fields the database stamps. */
  stampFields(): string[];
}

/** A resolution ready to be written: its documents (the merged body last) and what it replaces. */
interface PlannedResolution {
  docs: readonly NewDoc[];
  edits: readonly EditOptions[];
  kept: string;
  losers: readonly string[];
  result: ResolutionResult;
}

/**
 * Conflicts, in one place: finding them, telling listeners, resolving them by hand or with a
 * resolver (as writes bring them in, and the backlog when one is set), and the history of
 * resolutions. `Database` delegates to it; it reaches the database only through `ConflictHost`.
 */
export class ConflictHandling {
  private resolver: Resolver | undefined;
  private readonly listeners = new Set<(event: ConflictEvent) => void>();

  constructor(private readonly host: ConflictHost) {}

  /**
   * After a batch is committed (still in its turn of the write queue): the resolver resolves the
   * documents the batch left with several leaves, then listeners hear of those newly conflicted
   * that are still conflicted. The batch's own records and trees are used: nothing is re-read.
   */
  async afterWrite(written: readonly Committed[]): Promise<void> {
    const resolved = new Set<string>();
    const { resolver } = this;
    // Deleted leaves too: a stamped deletion may be the latest write (a resolution's own
    // tombstones are unstamped and never win, so resolved documents stay as they are).
    if (resolver) {
      for (const { record, seq, tree } of written) {
        if (await this.resolveAutomatically({ ...record, seq }, tree, resolver)) resolved.add(record.id);
      }
    }
    for (const { record, newlyConflicted } of written) {
      if (newlyConflicted && !resolved.has(record.id))
        this.emit({ id: record.id, winner: record.winner, conflicts: conflictRevs(record) });
    }
  }

  /** See `Database.setResolver`. */
  async setResolver(resolver: Resolver | null): Promise<number> {
    this.resolver = resolver ?? undefined;
    if (!resolver) return 0;
    let resolved = 0;
    // Every document a write would settle: all with several leaves, not only the conflicted
    // ones (a lone live leaf may face a later stamped deletion). Keyset pages by id: a document
    // resolved here is not visited twice.
    for await (const page of this.host.storage.conflicts({ deletedLeaves: true })) {
      for (const { id } of page) {
        if (await this.host.inWriteTurn(() => this.resolveStored(id, resolver))) resolved++;
      }
    }
    return resolved;
  }

  getResolver(): Resolver | undefined {
    return this.resolver;
  }

  /** See `Database.onConflict`. */
  onConflict(listener: (event: ConflictEvent) => void): () => void {
    const registered = (event: ConflictEvent) => listener(event);
    this.listeners.add(registered);
    return () => {
      this.listeners.delete(registered);
    };
  }

  async conflicts(options: ConflictsOptions): Promise<ConflictsResponse> {
    const rows: ConflictRow[] = [];
    for await (const row of this.conflictsStream(options)) rows.push(row);
    return { total_rows: await this.conflictCount(), rows };
  }

  conflictsStream(options: ConflictsOptions): AsyncIterable<ConflictRow> {
    return conflictRows(this.host.storage, options);
  }

  conflictCount(): Promise<number> {
    return this.host.storage.countConflicts();
  }

  async conflictVersions(id: string): Promise<ConflictVersions> {
    const record = await this.readDoc(checkConflictId(id));
    const { storage, reader } = this.host;
    return conflictVersions(
      storage,
      reader,
      record,
      await reader.tree(id, record.seq),
      this.host.stampFields(),
    );
  }

  /** See `Database.resolve`. */
  async resolve(id: string, options: ResolveOptions, context: WriteContext): Promise<ResolveResult> {
    checkConflictId(id);
    checkResolveOptions(options);
    const { reader, storage } = this.host;
    // Read and written in one turn of the write queue: no write can slip in between the check
    // of the leaves and the batch.
    return this.host.inWriteTurn(async () => {
      const record = await this.readDoc(id);
      const plan = planResolution(record, options);
      if (plan.docs.length === 0) return { ok: true, id, rev: plan.keep, deleted: [] };
      await this.host.checkWriteRules(plan.docs, context.userCtx);
      const read = await readBodies(storage, record, await reader.tree(id, record.seq), [
        plan.keep,
        ...plan.losers,
      ]);
      return this.writeByHand(read, plan, options.merged !== undefined, options.by ?? 'user');
    });
  }

  /** See `Database.resolveWith`. */
  async resolveWith(
    id: string,
    resolver: Resolver,
    options: ResolveWithOptions,
    context: WriteContext,
  ): Promise<ResolveWithResult> {
    checkConflictId(id);
    if (options.by !== undefined && typeof options.by !== 'string') throw badRequest('by must be a string');
    const chosen = chosenResolver(resolver);
    const by = `resolver:${chosen.name} by ${options.by ?? 'user'}`;
    return this.host.inWriteTurn(async () => {
      const record = await this.readDoc(id);
      const { storage, reader } = this.host;
      const { read, leaves } = await readContenders(
        storage,
        reader,
        record,
        await reader.tree(id, record.seq),
      );
      const decision = chooseResolution(leaves, chosen);
      if ('reason' in decision) return { ok: true, id, resolved: false, reason: decision.reason };
      const plan = planResolution(record, decision.options);
      await this.host.checkWriteRules(plan.docs, context.userCtx);
      // `read` holds every leaf's body: the history and the write batch take them from there.
      const result = await this.writeByHand(read, plan, decision.options.merged !== undefined, by);
      return { ...result, resolved: true };
    });
  }

  async resolutions(options: ResolutionsOptions): Promise<{ total_rows: number; rows: StoredResolution[] }> {
    const rows: StoredResolution[] = [];
    for await (const row of this.resolutionsStream(options)) rows.push(row);
    return { total_rows: await this.resolutionCount(options.id), rows };
  }

  resolutionsStream(options: ResolutionsOptions): AsyncIterable<StoredResolution> {
    return resolutionRows(this.host.storage, this.host.keepsHistory(), options);
  }

  async resolutionCount(docId?: string): Promise<number> {
    requireHistory(this.host.keepsHistory());
    return this.host.storage.countResolutions(docId);
  }

  private async readDoc(id: string): Promise<DocRecord> {
    const [record] = await this.host.storage.getDocs([id]);
    if (!record) throw notFound('missing');
    return record;
  }

  /** Resolves a document as storage holds it now: a sweep's page may be out of date by its turn. */
  private async resolveStored(id: string, resolver: Resolver): Promise<boolean> {
    const [record] = await this.host.storage.getDocs([id]);
    return record !== undefined && this.resolveAutomatically(record, undefined, resolver);
  }

  /**
   * Applies `resolver` to one document, in the caller's turn of the write queue; true when it
   * wrote a resolution. Every leaf is read once, in one read, and handed on to the history and
   * the write. Whatever goes wrong — the resolver throws, its merge cannot be written — leaves
   * the conflict open: the write that brought it in is committed already and must not look failed.
   */
  private async resolveAutomatically(
    record: DocRecord,
    tree: RevTree | undefined,
    resolver: Resolver,
  ): Promise<boolean> {
    if (record.leaves.length < 2) return false;
    try {
      const { storage, reader } = this.host;
      const { read, leaves } = await readContenders(
        storage,
        reader,
        record,
        tree ?? (await reader.tree(record.id, record.seq)),
      );
      if (leaves.length < 2) return false;
      const plan = planAutomaticResolution(record.id, leaves, resolver);
      if (!plan) return false;
      const { merged } = plan;
      const planned = {
        docs: plan.writes.map(({ doc }) => doc),
        edits: plan.writes.map(({ options }) => options),
        kept: plan.kept,
        losers: plan.losers,
        // No merged revision: the winner's content is the result, as when one is kept by hand.
        result: merged && (merged._deleted ? null : merged),
      };
      await this.writeResolution(read, planned, `resolver:${resolver.name}`);
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Writes a resolution by hand (`plan`, of the document `read`): the merged body, when there is
   * one, is stamped as any edit is.
   */
  private async writeByHand(
    read: ReadDoc,
    plan: ResolutionPlan,
    hasMerged: boolean,
    by: string,
  ): Promise<ResolveResult> {
    const { id } = read.record;
    const merged = hasMerged ? plan.docs.at(-1)! : undefined;
    const edits = plan.docs.map((doc) => (doc === merged ? this.host.editOptions(id) : {}));
    const result = merged && (merged._deleted ? null : merged);
    const planned = { docs: plan.docs, edits, kept: plan.keep, losers: plan.losers, result };
    const rev = await this.writeResolution(read, planned, by);
    return { ok: true, id, rev, deleted: plan.losers };
  }

  /**
   * Writes a resolution as one atomic batch — the merged body (if any) last — with its history
   * entry when history is kept. Returns the document's revision afterwards.
   */
  private async writeResolution(read: ReadDoc, planned: PlannedResolution, by: string): Promise<string> {
    const { record, tree, contents } = read;
    const { kept, losers, result } = planned;
    const revOf = (results: readonly WriteResult[]) => (result === undefined ? kept : lastRev(results));
    const entry = this.host.keepsHistory()
      ? historyEntry({ docId: record.id, kept, losers, result, by }, contents)
      : undefined;
    const results = await this.host.writeAtomically(planned.docs, {
      edits: planned.edits,
      known: new Map([[record.id, { tree, contents }]]),
      history: entry && ((written) => [entry(revOf(written))]),
    });
    return revOf(results);
  }

  private emit(event: ConflictEvent): void {
    for (const listener of [...this.listeners]) {
      try {
        listener(event);
      } catch {
        // The write is committed: a failing listener must not make it look failed.
      }
    }
  }
}

/** A document id that may have conflicts; throws for any other. */
function checkConflictId(id: string): string {
  if (isLocalId(validateDocId(id))) throw badRequest('Local documents have no conflicts');
  return id;
}

/** The revision the last write of a batch wrote (resolution batches are atomic). */
function lastRev(results: readonly WriteResult[]): string {
  return (results[results.length - 1] as WriteOk).rev;
}
