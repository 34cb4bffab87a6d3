/**
 * Mango on a database: `_index` (JSON indexes kept as `language: "query"` design documents, as
 * CouchDB keeps them), `_find` and `_explain`. The planner (`core/mango/planner.ts`) chooses the
 * index and the key range; this runs the plan over the stored index, re-checking every document
 * against the whole selector, so a query never returns a document that does not match now.
 */
import type { Doc, NewDoc, WriteResult } from '../../core/api.js';
import { canonicalJson } from '../../core/canonical-json.js';
import { isDesignId } from '../../core/document.js';
import { ERROR_STATUS, type ErrorName, notFound, SetteeError } from '../../core/errors.js';
import {
  ALL_DOCS_INDEX,
  type Bookmark,
  COLLATION_FINGERPRINT,
  collate,
  compileSelector,
  decodeBookmark,
  describeNewIndex,
  encodeBookmark,
  encodeKey,
  encodePrefixBounds,
  type ExplainBody,
  type FindRequest,
  indexColumns,
  indexesFromDesignDoc,
  indexJson,
  indexToDesignDoc,
  type KeyBound,
  loadRegexEngineFor,
  type MangoIndex,
  parseFindRequest,
  partialFilterSelector,
  planQuery,
  project,
  type QueryPlan,
  type Selector,
} from '../../core/mango/index.js';
import { parseField } from '../../core/mango/selector.js';
import { readPath } from '../../core/mango/projection.js';
import { md5Hex } from '../../core/md5.js';
import { compareDocIds } from '../../core/views/range.js';
import type { IndexChanges, IndexEntry, IndexRow, IndexScan, ScannedDoc } from '../../storage/types.js';
import type { QueryHost, ScannedWithContent } from './host.js';
import type { IndexBuilder, IndexGroup } from './index-builder.js';

/** Bumped when the rows a Mango index holds change shape: every stored one is then rebuilt. */
const ROWS_VERSION = 'mango-rows-1';

/** A `_find` request as written (validated when run: CouchDB's 400s for what is wrong). */
export interface FindRequestBody {
  selector: Selector;
  /** The fields to return (dotted paths); whole documents when absent. */
  fields?: string[];
  /** Field names or `{field: 'asc' | 'desc'}`; sorting needs an index that serves it. */
  sort?: (string | Record<string, 'asc' | 'desc'>)[];
  /** Default 25. */
  limit?: number;
  skip?: number;
  /** The previous page's `bookmark`. */
  bookmark?: string;
  /** A design document, or `[ddoc, name]`, to prefer. */
  use_index?: string | [string] | [string, string];
  conflicts?: boolean;
  execution_stats?: boolean;
  /** Default true: bring the index up to date first; false answers from it as it stands. */
  update?: boolean;
  stable?: boolean;
  r?: number;
}

/** A `POST /{db}/_index` body. */
export interface CreateIndexRequest {
  index: {
    fields: (string | Record<string, 'asc' | 'desc'>)[];
    /** Only documents matching it are indexed; `find` uses such an index only when `use_index` names it. */
    partial_filter_selector?: Selector;
  };
  /** The design document (default: derived from the definition). */
  ddoc?: string;
  /** The index's name (default: derived from the definition). */
  name?: string;
  type?: 'json';
}

/** `_find`'s answer. */
export interface FindResponse<T extends object = Record<string, unknown>> {
  /** The matching documents (only the asked `fields` when given). */
  docs: (Doc<T> | Partial<Doc<T>>)[];
  /** Where the next page starts: pass it back as `bookmark`. */
  bookmark: string;
  /** CouchDB's advice, e.g. that no index served the query. */
  warning?: string;
  execution_stats?: ExecutionStats;
}

/** `execution_stats: true`: what the query read (CouchDB's fields). */
export interface ExecutionStats {
  total_keys_examined: number;
  total_docs_examined: number;
  total_quorum_docs_examined: number;
  results_returned: number;
  execution_time_ms: number;
}

/** `POST /{db}/_index`'s answer. */
export interface CreateIndexResponse {
  result: 'created' | 'exists';
  id: string;
  name: string;
}

/** `GET /{db}/_index`'s answer. */
export interface IndexList {
  total_rows: number;
  indexes: Record<string, unknown>[];
}

/** A document the scan found, with the index key it was found under. */
interface Candidate {
  /** The index key as JSON (parsed only for a bookmark); absent for `_all_docs`, keyed by id. */
  keyJson?: string;
  id: string;
  scanned: ScannedDoc | undefined;
}

/**
 * At most this many index rows are read for a filtered changes feed: the list of the documents'
 * sequences is held in memory (8 bytes each) while the feed pages through them.
 */
const MAX_INDEXED_CHANGES = 100_000;

/** Attempts at writing an index's design document while others edit it. */
const DESIGN_WRITE_ATTEMPTS = 5;

export class MangoQueries {
  /** At most this many documents are read from an index for a filtered changes feed. */
  readonly maxIndexedChanges = MAX_INDEXED_CHANGES;

  constructor(
    private readonly host: QueryHost,
    private readonly builder: IndexBuilder,
  ) {}

  /**
   * The indexes of the design documents read last: the host keeps one list of design documents
   * until one of them changes, so a query reads the definitions again only after such a change.
   */
  private known: { ddocs: readonly Doc[]; indexes: readonly MangoIndex[] } | undefined;

  /** Every index `_find` may use: `_all_docs`, then the JSON indexes of the design documents. */
  async indexes(): Promise<readonly MangoIndex[]> {
    const ddocs = await this.host.designDocs();
    if (this.known?.ddocs !== ddocs) {
      const indexes = [ALL_DOCS_INDEX, ...ddocs.flatMap((ddoc) => indexesFromDesignDoc(ddoc))];
      // Partial filters are compiled (synchronously) when an index is read or built.
      await loadRegexEngineFor(indexes.map((index) => index.def.partial_filter_selector));
      this.known = { ddocs, indexes };
    }
    return this.known.indexes;
  }

  /** `GET /{db}/_index`. */
  async list(): Promise<IndexList> {
    const indexes = await this.indexes();
    return { total_rows: indexes.length, indexes: indexes.map(indexJson) };
  }

  /** The storage indexes the design documents' Mango indexes use (what `_view_cleanup` keeps). */
  storedNames(ddocs: readonly Doc[]): string[] {
    return ddocs.flatMap((ddoc) => indexesFromDesignDoc(ddoc)).map(storageName);
  }

  /**
   * `POST /{db}/_index`: adds a JSON index to its design document (created when absent). The
   * same definition under the same name answers `exists`. The index is built in the background
   * at once, so the first query finds it mostly ready.
   */
  async create(body: unknown): Promise<CreateIndexResponse> {
    await loadRegexEngineFor(body);
    const index = describeNewIndex(body);
    for (let attempt = 1; ; attempt++) {
      const ddoc = (await this.host.designDocs()).find((doc) => doc._id === index.ddoc);
      const existing = ddoc && indexesFromDesignDoc(ddoc).find((found) => found.name === index.name);
      if (existing && canonicalJson(existing.def) === canonicalJson(index.def)) {
        return { result: 'exists', id: index.ddoc, name: index.name };
      }
      if (ddoc && ddoc.language !== 'query') {
        // mango_error.erl's words for it (the language as an Erlang term, JavaScript by default).
        const language = typeof ddoc.language === 'string' ? ddoc.language : 'javascript';
        throw new SetteeError(
          'invalid_ddoc_lang',
          `Existing design doc has an invalid language: <<"${language}">>`,
        );
      }
      const views = { ...(ddoc?.views as object | undefined), ...indexToDesignDoc(index).views };
      const written = await this.host.bulkDocs([{ ...ddoc, _id: index.ddoc, language: 'query', views }]);
      if (isConflict(written[0]) && attempt < DESIGN_WRITE_ATTEMPTS) continue;
      requireWritten(written[0]);
      this.buildInBackground({ ...index, ddoc: index.ddoc });
      return { result: 'created', id: index.ddoc, name: index.name };
    }
  }

  /** `DELETE /{db}/_index/{ddoc}/json/{name}`: the design document goes when its last index does. */
  async delete(ddocName: string, name: string): Promise<void> {
    const id = isDesignId(ddocName) ? ddocName : `_design/${ddocName}`;
    for (let attempt = 1; ; attempt++) {
      const ddoc = (await this.host.designDocs()).find((doc) => doc._id === id);
      const found = ddoc && indexesFromDesignDoc(ddoc).some((index) => index.name === name);
      // mango_httpd.erl answers a missing index with `{not_found, missing}`.
      if (!ddoc || !found) throw notFound('missing');
      const views = { ...(ddoc.views as Record<string, unknown>) };
      delete views[name];
      const edit: NewDoc =
        Object.keys(views).length === 0 ? { _id: id, _rev: ddoc._rev, _deleted: true } : { ...ddoc, views };
      const written = await this.host.bulkDocs([edit]);
      if (isConflict(written[0]) && attempt < DESIGN_WRITE_ATTEMPTS) continue;
      requireWritten(written[0]);
      return;
    }
  }

  /**
   * The changes after `since` that may match `selector`, read from an index that serves it
   * (brought up to date first) rather than from every change: `undefined` when no index serves
   * the selector or when reading the changes costs about as much. The caller still matches each
   * document against the selector; the index only narrows which documents are read.
   */
  async changesMatching(selector: Selector, since: number): Promise<IndexChanges | undefined> {
    // The index is worth it when its range holds fewer rows than there are changes to read.
    const changes = this.host.updateSeq() - since;
    const maxRows = Math.min(MAX_INDEXED_CHANGES, Math.floor(changes / 2));
    if (maxRows < 1) return undefined;
    let plan: QueryPlan;
    try {
      plan = planQuery(await this.parse({ selector }), await this.indexes(), { dbname: this.host.name });
    } catch {
      return undefined; // the feed reports a bad selector itself
    }
    if (plan.index.type === 'special' || plan.range === null) return undefined;
    const group = indexGroup(plan.index);
    await this.builder.update(group);
    const { start, end } = byteRange(plan, false, undefined);
    return this.host.storage.indexChanges(group.indexes[0]!.name, { start, end, since, maxRows });
  }

  /** `POST /{db}/_explain`: how `_find` would answer this request. */
  async explain(body: unknown): Promise<ExplainBody> {
    const request = await this.parse(body);
    return planQuery(request, await this.indexes(), { dbname: this.host.name }).explain;
  }

  /** `POST /{db}/_find`. */
  async find(body: unknown): Promise<FindResponse> {
    const started = Date.now();
    const request = await this.parse(body);
    const plan = planQuery(request, await this.indexes(), { dbname: this.host.name });
    const matcher = compileSelector(request.selector);
    const stats = { keys: 0, docs: 0 };
    const docs: Record<string, unknown>[] = [];
    let last: Candidate | undefined;
    let skip = request.skip;
    // Page by page: rows within a page go through without an await each.
    if (plan.range !== null && request.limit > 0) {
      pages: for await (const page of this.candidates(plan, request)) {
        for (const candidate of page) {
          stats.keys++;
          const doc = candidate.scanned && this.readable(candidate.scanned, request);
          if (!doc) continue;
          stats.docs++;
          if (!matcher.matches(doc)) continue;
          if (skip > 0) {
            skip--;
            continue;
          }
          docs.push(project(doc, request.fields));
          last = candidate;
          if (docs.length >= request.limit) break pages;
        }
      }
    }
    // With nothing returned, CouchDB's bookmark is "nil" (mango_json_bookmark:create).
    const bookmark = last ? encodeBookmark({ key: keyOf(last), id: last.id }) : 'nil';
    const response: FindResponse = { docs, bookmark };
    if (plan.warnings.length > 0) response.warning = plan.warnings.join('\n');
    if (request.executionStats) {
      response.execution_stats = {
        total_keys_examined: stats.keys,
        total_docs_examined: stats.docs,
        total_quorum_docs_examined: 0,
        results_returned: docs.length,
        execution_time_ms: Date.now() - started,
      };
    }
    return response;
  }

  /** A `_find` request checked (its selector compiled, with the `$regex` engine loaded if needed). */
  private async parse(body: unknown): Promise<FindRequest> {
    await loadRegexEngineFor(body);
    return parseFindRequest(body);
  }

  /** A scanned winner as `_find` returns it; none for tombstones and design documents. */
  private readable(scanned: ScannedDoc, request: FindRequest): Record<string, unknown> | undefined {
    if (scanned.deleted || !scanned.content || isDesignId(scanned.id)) return undefined;
    return this.host.toDoc(scanned as ScannedWithContent, { conflicts: request.conflicts });
  }

  /** The documents of the plan's range, in the index's order, after the bookmark, in pages. */
  private candidates(plan: QueryPlan, request: FindRequest): AsyncIterable<Candidate[]> {
    const after = request.bookmark === null ? undefined : decodeBookmark(request.bookmark);
    const descending = plan.direction === 'rev';
    const all =
      plan.index.type === 'special'
        ? this.allDocsCandidates(descending, after)
        : this.indexCandidates(plan, request, after);
    return all;
  }

  /**
   * `_all_docs` in raw id order. The planner does not narrow it: the selector compares `_id` by
   * collation and the ids are stored in code-point order, so a range of one is not a range of
   * the other.
   */
  private async *allDocsCandidates(
    descending: boolean,
    after: Bookmark | undefined,
  ): AsyncIterable<Candidate[]> {
    const scan = this.host.storage.docs({ withContent: true, descending, start: after?.id });
    for await (const page of scan) {
      yield page.flatMap((scanned) =>
        after && scanned.id === after.id ? [] : [{ id: scanned.id, scanned }],
      );
    }
  }

  private async *indexCandidates(
    plan: QueryPlan,
    request: FindRequest,
    after: Bookmark | undefined,
  ): AsyncIterable<Candidate[]> {
    const group = indexGroup(plan.index);
    // `update: false` answers from the index as it stands (CouchDB's `update=false`).
    if (request.update) await this.builder.update(group);
    else await this.builder.open(group);
    const descending = plan.direction === 'rev';
    // A page as large as the answer (and the row after), not 512 documents for a limit of 25.
    const scan = { ...byteRange(plan, descending, after), firstPage: request.skip + request.limit + 1 };
    const pages = inExactOrder(this.host.storage.scanIndex(group.indexes[0]!.name, scan), descending);
    for await (const page of pages) {
      const past = after ? page.filter((row) => isPast(row, after, descending)) : page;
      yield past.map((row) => ({ keyJson: row.keyJson, id: row.docId, scanned: row.doc }));
    }
  }

  private buildInBackground(index: MangoIndex): void {
    // Whoever queries first would build it anyway; failing here only leaves that to them.
    this.builder.update(indexGroup(index)).catch(() => undefined);
  }
}

/** Each index's group, made once per definition read (`MangoQueries.indexes` keeps them). */
const groups = new WeakMap<MangoIndex, IndexGroup>();

/** A Mango index's rows: one per document having every indexed field (and passing its partial filter). */
function indexGroup(index: MangoIndex): IndexGroup {
  let group = groups.get(index);
  if (!group) {
    group = newIndexGroup(index);
    groups.set(index, group);
  }
  return group;
}

function newIndexGroup(index: MangoIndex): IndexGroup {
  const name = storageName(index);
  const columns = indexColumns(index).map(parseField);
  const partial = partialFilterSelector(index);
  const filter = partial && compileSelector(partial);
  const rowsOf = (doc: Doc): IndexEntry[] => {
    // A JSON index holds only documents that have all its fields (mango_idx_view: missing → no row).
    const values = columns.map((path) => readPath(doc, path));
    if (values.some((value) => value === undefined)) return [];
    if (filter && !filter.matches(doc)) return [];
    const { bytes, exact } = encodeKey(values);
    return [{ key: bytes, exact, keyJson: JSON.stringify(values), valueJson: null }];
  };
  return {
    label: index.ddoc ?? index.name,
    indexes: [{ name, signature: name }],
    map: async (docs) => docs.map((doc) => [rowsOf(doc)]),
    // Tombstones that kept the indexed fields are in it, for feeds filtered by a selector: a
    // deletion that matches must replicate. `_find` leaves them out.
    includeDeleted: true,
  };
}

/**
 * Where a Mango index's rows are stored: named after its definition (fields and partial filter),
 * the collation and the rows' shape, so identical definitions share one index and any change
 * gets a new one.
 */
function storageName(index: MangoIndex): string {
  const definition = canonicalJson({
    fields: index.def.fields,
    partial: partialFilterSelector(index) ?? null,
  });
  return `mango/${md5Hex(`${definition}\n${COLLATION_FINGERPRINT}\n${ROWS_VERSION}`)}`;
}

/**
 * The plan's JSON bounds as key bytes. Bounds are always inclusive and widened to whole prefixes:
 * a superset of the range, which the selector check narrows (the bytes of a lossy key only
 * place it near its neighbours). A bookmark moves the start up to its row.
 */
function byteRange(plan: QueryPlan, descending: boolean, after: Bookmark | undefined): IndexScan {
  const range = plan.range!;
  const low = range.start.key.length === 0 ? undefined : startBytes(range.start);
  const high = range.end.key.length === 0 ? undefined : encodePrefixBounds(range.end.key).high;
  let first = descending ? high : low;
  if (after && Array.isArray(after.key)) {
    const bounds = encodePrefixBounds(after.key);
    first = descending ? bounds.high : bounds.low;
  }
  return { start: first, end: descending ? low : high, withDocs: true, descending };
}

/** An exclusive start skips the prefix's rows only when its bytes are exact. */
function startBytes(bound: KeyBound): Uint8Array {
  const bounds = encodePrefixBounds(bound.key);
  return !bound.inclusive && encodeKey(bound.key).exact ? bounds.high : bounds.low;
}

/** Whether a row comes after the bookmark's in scan order (by key, then raw document id). */
function isPast(row: IndexRow, bookmark: Bookmark, descending: boolean): boolean {
  const order = collate(JSON.parse(row.keyJson), bookmark.key) || compareDocIds(row.docId, bookmark.id);
  return descending ? order < 0 : order > 0;
}

/** A candidate's index key, for its bookmark. */
function keyOf(candidate: Candidate): unknown {
  return candidate.keyJson === undefined ? candidate.id : JSON.parse(candidate.keyJson);
}

/**
 * Rows in exact collation order. Bytes order them except within a run of equal lossy keys (two
 * non-ASCII strings may share bytes and collate either way): such a run is sorted by key, then
 * raw document id, before it is passed on. A run holds the rows of one lossy key prefix only.
 */
async function* inExactOrder(
  pages: AsyncIterable<IndexRow[]>,
  descending: boolean,
): AsyncIterable<IndexRow[]> {
  // A run may go on into the next page: it is held until a row of other bytes ends it.
  let run: IndexRow[] = [];
  const flush = (into: IndexRow[]): void => {
    if (run.length > 1) {
      run.sort((a, b) => {
        const order =
          collate(JSON.parse(a.keyJson), JSON.parse(b.keyJson)) || compareDocIds(a.docId, b.docId);
        return descending ? -order : order;
      });
    }
    into.push(...run);
    run = [];
  };
  for await (const page of pages) {
    const ordered: IndexRow[] = [];
    for (const row of page) {
      if (run.length > 0 && (row.exact || !sameBytes(run[0]!.key, row.key))) flush(ordered);
      if (row.exact) ordered.push(row);
      else run.push(row);
    }
    if (ordered.length > 0) yield ordered;
  }
  const rest: IndexRow[] = [];
  flush(rest);
  if (rest.length > 0) yield rest;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, at) => byte === b[at]);
}

function isConflict(result: WriteResult | undefined): boolean {
  return result !== undefined && 'error' in result && result.error === 'conflict';
}

/** A design document write that failed (forbidden, …) fails the index request with its error. */
function requireWritten(result: WriteResult | undefined): void {
  if (!result || !('error' in result)) return;
  const name = result.error in ERROR_STATUS ? (result.error as ErrorName) : 'unknown_error';
  throw new SetteeError(name, result.reason);
}
