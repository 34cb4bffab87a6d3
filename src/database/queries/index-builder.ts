/**
 * Brings secondary indexes up to date from the changes feed, as CouchDB's view updater does:
 * lazily, when a query needs them, reading only what changed since the sequence each index
 * reflects. Writes never wait for an index (they pay nothing for it); a query pays for the
 * changes since the previous one.
 */
import type { Doc } from '../../core/api.js';
import { isDesignId } from '../../core/document.js';
import { yieldToEventLoop } from '../../core/yield.js';
import type { IndexEntry, IndexState, ScannedDoc } from '../../storage/types.js';
import type { QueryHost, ScannedWithContent } from './host.js';

/**
 * Indexes built in one pass over the changes (a design document's views, or one Mango index):
 * `map` gives, for each document, its rows in each index of the group, in the group's order.
 */
export interface IndexGroup {
  /** Names what is being built, in `_active_tasks` (a design document's id). */
  label: string;
  indexes: readonly { name: string; signature: string }[];
  /** Each non-design document's rows, per document then per index of the group. */
  map(docs: readonly Doc[]): Promise<IndexEntry[][][]>;
  /**
   * Map deleted documents too (their tombstones, `_deleted: true` with whatever body they kept).
   * Views never see them (CouchDB's view updater skips them); a Mango index holds the tombstones
   * that have its fields, so a changes feed filtered by a selector can read deletions from it.
   */
  includeDeleted?: boolean;
}

/** An index build under way, as `_active_tasks` shows it. */
export interface IndexingStatus {
  label: string;
  /** Changes read so far, and how many there were to read when the build started. */
  changesDone: number;
  totalChanges: number;
  startedOn: number;
  updatedOn: number;
}

/** What the builder needs of its database. */
export type IndexBuilderHost = Pick<QueryHost, 'storage' | 'updateSeq' | 'toDoc'>;

export class IndexBuilder {
  /** One build per group at a time: a second query waits for the build under way. */
  private readonly running = new Map<string, Promise<void>>();
  private readonly statuses = new Map<string, IndexingStatus>();

  constructor(private readonly host: IndexBuilderHost) {}

  /** The builds under way. */
  status(): IndexingStatus[] {
    return [...this.statuses.values()].map((status) => ({ ...status }));
  }

  /**
   * Brings every index of the group up to the database's current sequence (at least), opening
   * indexes that do not exist yet. Returns the state of each, in the group's order.
   */
  async update(group: IndexGroup): Promise<IndexState[]> {
    const target = this.host.updateSeq();
    for (;;) {
      const states = await this.open(group);
      if (Math.min(...states.map((state) => state.seq)) >= target) return states;
      const key = groupKey(group);
      const running = this.running.get(key);
      if (running) {
        await running;
        continue;
      }
      const build = this.build(group, states, target).finally(() => this.running.delete(key));
      this.running.set(key, build);
      await build;
    }
  }

  /** Opens (creating when needed) the indexes of a group, without updating them. */
  open(group: IndexGroup): Promise<IndexState[]> {
    return Promise.all(
      group.indexes.map((index) => this.host.storage.openIndex(index.name, index.signature)),
    );
  }

  private async build(group: IndexGroup, states: readonly IndexState[], target: number): Promise<void> {
    const since = Math.min(...states.map((state) => state.seq));
    const now = Date.now();
    const status: IndexingStatus = {
      label: group.label,
      changesDone: 0,
      totalChanges: Math.max(0, target - since),
      startedOn: now,
      updatedOn: now,
    };
    const key = groupKey(group);
    this.statuses.set(key, status);
    try {
      for await (const page of this.host.storage.changes({ since, withContent: true })) {
        await this.index(group, page);
        status.changesDone = Math.min(status.totalChanges, status.changesDone + page.length);
        status.updatedOn = Date.now();
        // Reads and writes go on between pages: a large build never holds the database.
        await yieldToEventLoop();
      }
    } finally {
      this.statuses.delete(key);
    }
  }

  /**
   * Maps one page of changes (one storage page) and writes each index's rows for it, with its
   * last sequence, as one transaction per index.
   */
  private async index(group: IndexGroup, page: readonly ScannedDoc[]): Promise<void> {
    const seq = page[page.length - 1]!.seq;
    const live = page.filter((scanned) => isIndexable(scanned, group.includeDeleted === true));
    // Map functions see `_conflicts`, as CouchDB's (the classic view of conflicted documents).
    const mapped = await group.map(live.map((scanned) => this.host.toDoc(scanned, { conflicts: true })));
    const rowsOf = new Map(live.map((scanned, at) => [scanned.id, mapped[at]!]));
    for (const [position, index] of group.indexes.entries()) {
      const docs = page.map((scanned) => ({
        id: scanned.id,
        rows: rowsOf.get(scanned.id)?.[position] ?? [],
      }));
      await this.host.storage.updateIndex(index.name, { seq, docs });
    }
  }
}

/**
 * Design documents are never in an index (CouchDB's view updater does not pass them to map
 * functions), nor deleted documents unless the group asks for them.
 */
function isIndexable(scanned: ScannedDoc, includeDeleted: boolean): scanned is ScannedWithContent {
  return (includeDeleted || !scanned.deleted) && scanned.content !== undefined && !isDesignId(scanned.id);
}

function groupKey(group: IndexGroup): string {
  return group.indexes.map((index) => `${index.name}\u0000${index.signature}`).join('\u0001');
}
