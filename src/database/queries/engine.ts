/**
 * A database's queries: Mango (`_find`, `_index`) and views, over secondary indexes the storage
 * keeps and one builder brings up to date from the changes feed.
 *
 * `Database` imports this module dynamically, on its first query: everything here (and the Mango
 * planner, the view collation and reducers it brings) stays out of what a page loads up front.
 */
import type { Selector } from '../../core/mango/index.js';
import type { IndexChanges, IndexState } from '../../storage/types.js';
import type { QueryHost } from './host.js';
import { IndexBuilder, type IndexingStatus } from './index-builder.js';
import { MangoQueries } from './mango.js';
import { selectorChanges } from './selector-changes.js';
import { collectView, splitViewPath, viewQueryOf } from './view-options.js';
import { type ViewOptions, ViewQueries, type ViewResponse } from './views.js';

export class Queries {
  readonly builder: IndexBuilder;
  readonly mango: MangoQueries;
  readonly views: ViewQueries;

  constructor(private readonly host: QueryHost) {
    this.builder = new IndexBuilder(host);
    this.mango = new MangoQueries(host, this.builder);
    this.views = new ViewQueries(host, this.builder);
  }

  /** `Database.query`: a view named `ddoc/view`, with PouchDB's options, as one answer. */
  async query<T extends object>(path: string, options: ViewOptions): Promise<ViewResponse<T>> {
    const [ddoc, name] = splitViewPath(path);
    return collectView<T>(await this.views.query(ddoc, name, viewQueryOf(options)));
  }

  /** The changes after `since` that may match `selector`, from a Mango index that serves it. */
  selectorChanges(selector: Selector, since: number, allLeaves: boolean): Promise<IndexChanges | undefined> {
    return selectorChanges(this.host.storage, this.mango, selector, since, allLeaves);
  }

  /** The index builds under way (`_active_tasks`). */
  indexing(): IndexingStatus[] {
    return this.builder.status();
  }

  /**
   * `_view_cleanup`: drops every stored index that no design document defines any longer (an
   * edited view's old index, a deleted Mango index). Returns the names dropped.
   */
  async cleanup(): Promise<string[]> {
    const ddocs = await this.host.designDocs();
    const wanted = new Set([...this.mango.storedNames(ddocs), ...this.views.storedNames(ddocs)]);
    const unused = (await this.host.storage.indexes()).filter((index: IndexState) => !wanted.has(index.name));
    for (const index of unused) await this.host.storage.dropIndex(index.name);
    return unused.map((index) => index.name);
  }
}
