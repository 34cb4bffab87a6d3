/**
 * What `Database` imports on first use rather than with the page: the query engine (Mango,
 * views), conflict handling (resolutions by hand or by a resolver, conflict events), stamping,
 * compaction and a linear database's write rules. Many pages never need them, and together they
 * are a quarter of the browser build.
 *
 * One module, so that a browser bundler makes one chunk of it: each further module loaded on
 * demand would cut the code it shares with the page's first chunk into more small chunks, each
 * a request of its own and compressed on its own.
 */
export { Compactor } from './compaction.js';
export { ConflictHandling } from './conflicts/handling.js';
export * as linearParts from './linear-parts.js';
export { Queries } from './queries/engine.js';
export { Stamper } from './stamping.js';
