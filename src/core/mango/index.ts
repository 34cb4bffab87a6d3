/** Mango selectors: CouchDB collation and the selector matcher behind `_changes?filter=_selector`. */
export { collate, collateStrings } from './collate.js';
export type { CompiledSelector, Selector } from './selector.js';
export { compileSelector } from './selector.js';
