/**
 * A design document's views as the index builder and the query executor see them: one stored
 * index per distinct map function, named by a signature of its source and of the modules it
 * may require (`views.lib`), so that two views (of one design document or of two) with the same
 * map and modules share an index, editing a map or `views.lib` starts a new one, and editing
 * anything else of the design document keeps the index it has.
 */
import type { Doc } from '../../core/api.js';
import { canonicalJson } from '../../core/canonical-json.js';
import { SetteeError } from '../../core/errors.js';
import { COLLATION_FINGERPRINT } from '../../core/mango/key-encoding.js';
import { md5Hex } from '../../core/md5.js';
import { builtinReducer } from '../../core/views/builtin-reduce.js';
import { mapModules, viewLib } from '../../design/module-roots.js';
import type { MapFunction, ReduceFunction } from '../../design/runner.js';

/** Bumped when the rows a view index stores change shape: every view index is rebuilt. */
const VIEW_INDEX_VERSION = 'view-index-v1';

/** Stored indexes of views are named `view/<signature>`. */
const VIEW_INDEX_PREFIX = 'view/';

/** One stored index: its storage name, its signature and the map function that fills it. */
export interface ViewIndex {
  readonly name: string;
  readonly signature: string;
  readonly map: MapFunction;
}

/** One named view of a design document. */
export interface ViewDefinition {
  readonly name: string;
  readonly index: ViewIndex;
  /** The `reduce` member as written (a built-in's name or JavaScript source), with its cache key. */
  readonly reduce?: ReduceFunction;
}

/** A design document's JavaScript views. */
export interface DesignViews {
  readonly ddocId: string;
  readonly language: string;
  readonly views: ReadonlyMap<string, ViewDefinition>;
  /** The distinct indexes, in the order of the views that first use them. */
  readonly indexes: readonly ViewIndex[];
}

const cache = new WeakMap<Doc, DesignViews>();

/**
 * The views of a design document (cached per document object: the database hands out the same
 * objects until a design document changes). A `language` other than JavaScript has no views
 * here: `query` design documents are Mango indexes, and Settee runs no other language.
 */
export function designViews(ddoc: Doc): DesignViews {
  let found = cache.get(ddoc);
  if (!found) {
    found = readDesignViews(ddoc);
    cache.set(ddoc, found);
  }
  return found;
}

/** The storage index names every JavaScript view of these design documents uses. */
export function viewIndexNames(ddocs: readonly Doc[]): string[] {
  return ddocs.flatMap((ddoc) => designViews(ddoc).indexes.map((index) => index.name));
}

/**
 * Refuses to run a view CouchDB would not have stored or cannot run: a design document in
 * another language, or a reduce starting with `_` that names no built-in.
 */
export function checkRunnable(design: DesignViews, view: ViewDefinition): void {
  if (design.language !== 'javascript') {
    throw new SetteeError(
      'not_implemented',
      design.language === 'query'
        ? `${design.ddocId} holds Mango indexes: query them with _find`
        : `Views in the language \`${design.language}\` are not supported`,
    );
  }
  const reduce = view.reduce?.source;
  // couch_mrview.erl validate: a `_`-prefixed reduce must be one of the built-ins.
  if (reduce !== undefined && reduce.startsWith('_') && !builtinReducer(reduce)) {
    throw new SetteeError('invalid_design_doc', `\`${reduce}\` is not a supported reduce function.`);
  }
}

/**
 * CouchDB's reason for a function that does not compile (couch_query_servers.erl
 * `try_compile`).
 */
export function compilationError(kind: 'map' | 'reduce', viewName: string, message: string): SetteeError {
  return new SetteeError(
    'compilation_error',
    `Compilation of the ${kind} function in the '${viewName}' view failed: ${message}`,
  );
}

function readDesignViews(ddoc: Doc): DesignViews {
  const language = typeof ddoc.language === 'string' ? ddoc.language : 'javascript';
  const views = new Map<string, ViewDefinition>();
  const bySignature = new Map<string, ViewIndex>();
  const signatureOf = mapSignature(ddoc);
  const modules = mapModules(ddoc);
  for (const [name, member] of Object.entries(objectOrEmpty(ddoc.views))) {
    // `views.lib` holds CommonJS modules for map functions, not a view (couch_mrview.erl).
    if (name === 'lib' || !isRecord(member) || typeof member.map !== 'string') continue;
    const signature = signatureOf(member.map);
    const key = `${ddoc._id}@${ddoc._rev}/views/${name}`;
    let index = bySignature.get(signature);
    if (!index) {
      const map = { key, source: member.map, modules };
      index = { name: `${VIEW_INDEX_PREFIX}${signature}`, signature, map };
      bySignature.set(signature, index);
    }
    const reduce =
      typeof member.reduce === 'string' ? { key: `${key}/reduce`, source: member.reduce } : undefined;
    views.set(name, { name, index, ...(reduce && { reduce }) });
  }
  const indexes = language === 'javascript' ? [...bySignature.values()] : [];
  return { ddocId: ddoc._id, language, views, indexes };
}

/**
 * The signature of a map function's index in this design document. `views.lib` is part of it,
 * keys sorted, as couch_mrview_util:ddoc_to_mrst puts it (through couch_index_util:sort_lib)
 * in the signature of the design document's views: a map may `require` it, so a change to it
 * rebuilds them. An empty or absent lib is left out: indexes made without one keep their names.
 */
function mapSignature(ddoc: Doc): (map: string) => string {
  const lib = canonicalJson(viewLib(ddoc));
  const parts = (map: string) => [
    VIEW_INDEX_VERSION,
    COLLATION_FINGERPRINT,
    map,
    ...(lib === '{}' ? [] : [lib]),
  ];
  return (map) => md5Hex(JSON.stringify(parts(map)));
}

function objectOrEmpty(value: unknown): Record<string, unknown> {
  return isRecord(value) ? value : {};
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
