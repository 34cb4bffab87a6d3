/** Mango selectors: CouchDB collation and the selector matcher behind `_changes?filter=_selector`. */
export { collate, collateStrings } from './collate.js';
export type { EncodedKey } from './key-encoding.js';
export {
  COLLATION_FINGERPRINT,
  HIGHEST_KEY,
  LOWEST_KEY,
  compareBytes,
  encodeKey,
  encodePrefixBounds,
  MAX_KEY_BYTES,
} from './key-encoding.js';
export type { CompiledSelector, Selector } from './selector.js';
export { compileSelector } from './selector.js';
export { loadRegexEngine, loadRegexEngineFor, needsRegexEngine } from './regex.js';
export * from './bookmark.js';
export * from './index-definition.js';
export * from './planner.js';
export { project } from './projection.js';
