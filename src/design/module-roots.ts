/**
 * What `require` may load, per kind of design function, as CouchDB's query server decides:
 * `validate_doc_update` and filter functions are compiled against their whole design document
 * (share/server/loop.js, the `ddoc` command), map functions only against `{views: {lib}}`
 * (share/server/state.js: `add_lib` keeps the view group's `views.lib`, `add_fun` compiles each
 * map with it), and reduce functions against nothing. It imports nothing at run time: the
 * database layer uses it without loading the sandbox.
 */
import type { DesignModules } from './sandbox-types.js';

/** A design document's `views.lib`, `{}` when it has none (couch_mrview_util's default). */
export function viewLib(ddoc: Readonly<Record<string, unknown>>): unknown {
  const views = ddoc.views;
  const lib =
    typeof views === 'object' && views !== null ? (views as Record<string, unknown>).lib : undefined;
  return lib ?? {};
}

/** A map function's modules: `require('views/lib/…')`, and nothing else of its design document. */
export function mapModules(ddoc: Readonly<Record<string, unknown>>): DesignModules {
  return { views: { lib: viewLib(ddoc) } };
}
