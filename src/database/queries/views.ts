/**
 * Design documents' views over the database's secondary indexes: one index per distinct map
 * function, brought up to date from the changes feed when a query needs it (or not, with
 * `update=false`/`lazy`), read in CouchDB's row order and reduced as rows stream by.
 *
 * Costs worth knowing: no reductions are stored in the index, so a reduced query reads every
 * row of its range once (a reduce over a whole view reads the whole view); and `offset` is
 * counted by reading the index up to the first row returned, except when the range starts at
 * the index's start (then it is the `skip`), so a query far into a large view pays for it.
 */
import type { Doc } from '../../core/api.js';
import { notFound } from '../../core/errors.js';
import { md5Hex } from '../../core/md5.js';
import { builtinReducer, type Reducer } from '../../core/views/builtin-reduce.js';
import { reduceRows } from '../../core/views/grouping.js';
import type { ValidatedViewQuery, ViewQuery } from '../../core/views/params.js';
import { validateViewQuery } from '../../core/views/params.js';
import { keyRanges, type KeyRange } from '../../core/views/range.js';
import type { IndexState } from '../../storage/types.js';
import type { QueryHost } from './host.js';
import type { IndexBuilder, IndexGroup } from './index-builder.js';
import {
  checkRunnable,
  type DesignViews,
  designViews,
  type ViewDefinition,
  viewIndexNames,
} from './view-definitions.js';
import { javascriptReducer, mapDocs } from './view-functions.js';
import { countBefore, type IndexedViewRow, rangeRows } from './view-scan.js';
import { ViewDocs } from './view-docs.js';

export type { ViewOptions, ViewResponse } from './view-options.js';
export { collectView, viewQueryOf, splitViewPath } from './view-options.js';

/** A row of a view's answer: `id` and `doc` in map rows only. */
export interface ViewResultRow<T extends object = Record<string, unknown>> {
  id?: string;
  key: unknown;
  value: unknown;
  /** With `include_docs`: the document (or the one the value links to), null when gone. */
  doc?: Doc<T> | null;
}

/** A view's answer as it streams: the header first, then rows read lazily from the index. */
export interface ViewStream {
  /** Rows in the view's index; undefined for a reduced answer (CouchDB sends none). */
  totalRows: number | undefined;
  /** Rows of the index before the first one returned; undefined for a reduced answer. */
  offset: number | undefined;
  /** With `update_seq=true`: the database sequence the index reflects. */
  updateSeq?: number;
  rows: AsyncIterable<ViewResultRow>;
}

/** `GET /{db}/_design/{ddoc}/_info` (CouchDB's couch_mrview_http `design_doc_info`). */
export interface DesignDocInfo {
  name: string;
  view_index: {
    signature: string;
    language: string;
    /** Settee's storage keeps no size per index: always 0. */
    sizes: { file: number; external: number; active: number };
    update_seq: number;
    purge_seq: number;
    updater_running: boolean;
    compact_running: boolean;
    waiting_clients: number;
    waiting_commit: boolean;
  };
}

const DESIGN_PREFIX = '_design/';

export class ViewQueries {
  private readonly docs: ViewDocs;

  constructor(
    private readonly host: QueryHost,
    private readonly builder: IndexBuilder,
  ) {
    this.docs = new ViewDocs(host);
  }

  /**
   * Answers a view query. The index is brought up to date first (`update=true`, the default),
   * read as it is (`false`), or read as it is and updated once the answer has been read
   * (`lazy`).
   *
   * @throws SetteeError `not_found` (`missing`, `deleted`, `missing_named_view`), the 400s of
   *   `validateViewQuery`, `compilation_error` for a function that does not compile.
   */
  async query(ddocName: string, viewName: string, q: ViewQuery): Promise<ViewStream> {
    const design = designViews(await this.designDoc(ddocName));
    const view = design.views.get(viewName);
    if (!view) throw notFound('missing_named_view');
    checkRunnable(design, view);
    const valid = validateViewQuery(q, { hasReduce: view.reduce !== undefined });
    const group = this.group(design);
    const states =
      valid.update === 'true' ? await this.builder.update(group) : await this.builder.open(group);
    const state = states[design.indexes.indexOf(view.index)]!;
    const afterwards = valid.update === 'lazy' ? () => this.updateInBackground(group) : undefined;
    const stream = valid.reduce
      ? this.reduced(view, valid, afterwards)
      : await this.mapped(state, valid, afterwards);
    return valid.updateSeq ? { ...stream, updateSeq: state.seq } : stream;
  }

  /** The storage index names the design documents' views use (for cleanup). */
  storedNames(ddocs: readonly Doc[]): string[] {
    return viewIndexNames(ddocs);
  }

  /** `GET /{db}/_design/{ddoc}/_info`. */
  async info(ddocName: string): Promise<DesignDocInfo> {
    const design = designViews(await this.designDoc(ddocName));
    const stored = new Map((await this.host.storage.indexes()).map((state) => [state.name, state]));
    const seqs = design.indexes.map((index) => stored.get(index.name)?.seq ?? 0);
    return {
      name: ddocName.startsWith(DESIGN_PREFIX) ? ddocName.slice(DESIGN_PREFIX.length) : ddocName,
      view_index: {
        signature: signatureOf(design),
        language: design.language,
        sizes: { file: 0, external: 0, active: 0 },
        update_seq: seqs.length > 0 ? Math.min(...seqs) : 0,
        purge_seq: 0,
        updater_running: this.builder.status().some((status) => status.label === design.ddocId),
        compact_running: false,
        waiting_clients: 0,
        waiting_commit: false,
      },
    };
  }

  /** The design document, or CouchDB's 404: `deleted` when its winner is a deletion. */
  private async designDoc(ddocName: string): Promise<Doc> {
    const id = ddocName.startsWith(DESIGN_PREFIX) ? ddocName : `${DESIGN_PREFIX}${ddocName}`;
    const ddoc = (await this.host.designDocs()).find((doc) => doc._id === id);
    if (ddoc) return ddoc;
    const [record] = await this.host.storage.getDocs([id]);
    throw notFound(record?.deleted ? 'deleted' : 'missing');
  }

  /** All views of a design document, built in one pass over the changes. */
  private group(design: DesignViews): IndexGroup {
    const functions = design.indexes.map((index) => index.map);
    const names = design.indexes.map((index) => nameOf(design, index.name));
    return {
      label: design.ddocId,
      indexes: design.indexes.map(({ name, signature }) => ({ name, signature })),
      map: (docs) => mapDocs(this.host.design(), functions, names, docs),
    };
  }

  /** `update=lazy`: nobody waits for this update, and its failure shows on the next query. */
  private updateInBackground(group: IndexGroup): void {
    this.builder.update(group).catch(() => undefined);
  }

  private async mapped(
    state: IndexState,
    q: ValidatedViewQuery,
    afterwards: (() => void) | undefined,
  ): Promise<ViewStream> {
    const ranges = keyRanges(q);
    // With a limit, the first read is as large as the answer (skipped rows included), no larger.
    const firstPage = q.limit === undefined ? undefined : q.skip + q.limit + 1;
    const window = takeWindow(this.scan(state.name, ranges, q.includeDocs, firstPage), q.skip, undefined);
    // The first row decides the offset (even with limit=0, as CouchDB's map_fold sends its
    // header at the first row past the skip), so it is read before the header is returned.
    const first = await window.next();
    const offset = await this.offset(state, ranges, q, first.done ? undefined : first.value);
    const docs = this.docs;
    const limit = q.limit ?? Infinity;
    async function* rows(): AsyncGenerator<ViewResultRow> {
      try {
        if (first.done || limit === 0) return;
        yield await docs.row(first.value, q);
        let taken = 1;
        for await (const row of window) {
          if (taken++ >= limit) return;
          yield await docs.row(row, q);
        }
      } finally {
        afterwards?.();
      }
    }
    return { totalRows: state.rows, offset, rows: rows() };
  }

  private reduced(
    view: ViewDefinition,
    q: ValidatedViewQuery,
    afterwards: (() => void) | undefined,
  ): ViewStream {
    const reducer = this.reducer(view);
    const ranges = keyRanges(q);
    const options = { finalize: reducer.finalize };
    const index = view.index.name;
    const storage = this.host.storage;
    async function* rows(): AsyncGenerator<ViewResultRow> {
      try {
        if (ranges.length === 1) {
          // One range: skipped groups are read past without being reduced.
          const only = rangeRows(storage, index, ranges[0]!, false);
          yield* reduceRows(only, q.grouping, reducer.reduce, { ...options, skip: q.skip, limit: q.limit });
          return;
        }
        // Several keys: each key's groups apart, even when the same key comes twice.
        async function* perKey(): AsyncGenerator<ViewResultRow> {
          for (const range of ranges) {
            yield* reduceRows(rangeRows(storage, index, range, false), q.grouping, reducer.reduce, options);
          }
        }
        yield* takeWindow(perKey(), q.skip, q.limit);
      } finally {
        afterwards?.();
      }
    }
    return { totalRows: undefined, offset: undefined, rows: rows() };
  }

  private reducer(view: ViewDefinition): Reducer {
    const fn = view.reduce!;
    return builtinReducer(fn.source) ?? javascriptReducer(this.host.design(), fn, view.name);
  }

  /** The rows of each range in turn. */
  private async *scan(
    index: string,
    ranges: readonly KeyRange[],
    withDocs: boolean,
    firstPage: number | undefined,
  ): AsyncGenerator<IndexedViewRow> {
    for (const range of ranges) {
      for await (const page of rangeRows(this.host.storage, index, range, withDocs, firstPage)) yield* page;
    }
  }

  /**
   * CouchDB's `offset` (couch_mrview.erl `map_fold`): the index rows before the first row
   * returned, or when none is, before the end of the last range.
   */
  private async offset(
    state: IndexState,
    ranges: readonly KeyRange[],
    q: ValidatedViewQuery,
    first: IndexedViewRow | undefined,
  ): Promise<number> {
    const range = ranges[ranges.length - 1];
    const opensAtStart = ranges.length === 1 && range?.start === undefined;
    if (first && opensAtStart) return q.skip;
    if (first)
      return countBefore(this.host.storage, state.name, { key: first.key, id: first.id }, q.descending);
    if (!range?.end) return state.rows;
    const end =
      range.end.docId === undefined ? { key: range.end.key } : { key: range.end.key, id: range.end.docId };
    return countBefore(this.host.storage, state.name, end, q.descending, range.inclusiveEnd);
  }
}

/** Skips `skip` items, then yields at most `limit`, reading no further than needed. */
async function* takeWindow<T>(
  items: AsyncIterable<T>,
  skip: number,
  limit: number | undefined,
): AsyncGenerator<T> {
  if (limit === 0) return;
  let skipped = 0;
  let taken = 0;
  for await (const item of items) {
    if (skipped < skip) {
      skipped++;
      continue;
    }
    yield item;
    if (++taken === limit) return;
  }
}

/** The first view name using an index (names a compilation error). */
function nameOf(design: DesignViews, indexName: string): string {
  for (const view of design.views.values()) if (view.index.name === indexName) return view.name;
  return indexName;
}

/** One signature for the design document's views: changes when any map function changes. */
function signatureOf(design: DesignViews): string {
  return md5Hex(
    design.indexes
      .map((index) => index.signature)
      .sort()
      .join(','),
  );
}
