/**
 * The filters of a changes feed that judge revisions by their content: a Mango selector, a
 * design document's filter function (`filter: 'ddoc/name'`) and `_view` (`view: 'ddoc/view'`:
 * what the view's map function emits for). Each judges a page of revisions at once, so the
 * JavaScript ones cost one call into the sandbox per page of the feed, never one per document.
 */
import type { Doc } from '../core/api.js';
import { badRequest, notFound } from '../core/errors.js';
import { ownValue } from '../core/own.js';
import { loadRegexEngine, needsRegexEngine } from '../core/mango/regex.js';
import { compileSelector } from '../core/mango/selector.js';
import type { DesignRunner, FilterReq } from '../design/runner.js';

/** Judges revisions (documents with `_id`, `_rev`, and `_deleted` for a tombstone). */
export interface RevisionFilter {
  /** Whether each document passes, in input order. */
  test(docs: Doc[]): boolean[] | Promise<boolean[]>;
}

/** A design document's function a feed filters with, as `filter` and `view` name it. */
export interface DesignFilterName {
  kind: 'filters' | 'views';
  ddoc: string;
  name: string;
}

/**
 * Only revisions matching a Mango selector (a bad selector is a 400 here, before any read). In a
 * page, a selector with `$regex` first waits for the engine (loaded on demand), and is checked then.
 */
export function selectorFilter(selector: Record<string, unknown>): RevisionFilter | Promise<RevisionFilter> {
  if (needsRegexEngine(selector)) return loadRegexEngine().then(() => selectorFilter(selector));
  const compiled = compileSelector(selector);
  return { test: (docs) => docs.map((doc) => compiled.matches(doc)) };
}

/**
 * Parses `filter` (and `view`) as CouchDB's couch_changes:configure_filter does, with its 400
 * reasons: `_view` needs `view=ddoc/view`, other names starting with `_` are not filters a
 * feed knows here, and a design filter is `ddoc/name`. Empty segments are dropped, as
 * CouchDB's `string:tokens` drops them.
 */
export function parseDesignFilter(filter: string, view: string | undefined): DesignFilterName {
  if (filter === '_view') {
    if (!view) throw badRequest('`view` filter parameter is not provided.');
    const [ddoc, name, ...rest] = segments(view);
    if (!ddoc || !name || rest.length > 0) {
      throw badRequest('`view` must be of the form `designname/viewname`');
    }
    return { kind: 'views', ddoc, name };
  }
  if (filter.startsWith('_')) throw badRequest('unknown builtin filter name');
  const [ddoc, name, ...rest] = segments(filter);
  if (!ddoc || !name || rest.length > 0) {
    throw badRequest('`filter` must be of the form `designname/filtername`');
  }
  return { kind: 'filters', ddoc, name };
}

function segments(path: string): string[] {
  return path.split('/').filter((segment) => segment !== '');
}

/**
 * The design function `name` points at, from the database's design documents, as a filter.
 * Missing pieces are 404s with CouchDB's reasons: `missing` for the design document (its
 * couch_changes:open_ddoc), `missing json key: <key>` for a member (couch_util:
 * get_nested_json_value). For `_view` the map function itself must be there too.
 */
export function designFilter(
  name: DesignFilterName,
  designDocs: readonly Doc[],
  runner: DesignRunner,
  req: FilterReq,
): RevisionFilter {
  const ddocId = `_design/${name.ddoc}`;
  const ddoc = designDocs.find((doc) => doc._id === ddocId);
  if (!ddoc) throw notFound('missing');
  const path = name.kind === 'views' ? ['views', name.name, 'map'] : ['filters', name.name];
  const source = memberAt(ddoc, path);
  if (typeof source !== 'string') {
    throw badRequest(`${path.join('.')} of ${ddocId} is not the source of a function`);
  }
  // The view indexer compiles a view's map under the same key: one compilation serves both
  // (the sandbox narrows a map function's modules to `views.lib`, as the indexer's are).
  const fn = { key: `${ddocId}@${ddoc._rev}/${name.kind}/${name.name}`, source, modules: ddoc };
  if (name.kind === 'filters') return { test: (docs) => runner.filter({ fn, docs, req }) };
  return {
    test: async (docs) => {
      const outcomes = await runner.map({ functions: [fn], docs });
      // couch_query_servers:filter_view: a document passes when the map emits at least one row.
      return outcomes.map(([outcome]) => outcome?.ok === true && outcome.rows.length > 0);
    },
  };
}

function memberAt(value: unknown, path: readonly string[]): unknown {
  let current = value;
  for (const key of path) {
    if (typeof current !== 'object' || current === null || Array.isArray(current)) {
      throw notFound('json_mismatch');
    }
    // Own members only: `filters/constructor` names no filter, whatever every object inherits.
    current = ownValue(current as Record<string, unknown>, key);
    if (current === undefined || current === null) throw notFound(`missing json key: ${key}`);
  }
  return current;
}
