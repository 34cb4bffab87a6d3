/**
 * Conflict resolution for Settee: a hybrid logical clock, stamping helpers for writes, resolvers
 * (values `{ name, resolve(leaves) }`, pure functions of a document's leaves) and CRDT field
 * helpers. Pure and browser-safe: no I/O, no clock but the one a caller passes in.
 */
export {
  ClockDriftError,
  compareStamps,
  DEFAULT_MAX_DRIFT,
  formatStamp,
  HybridClock,
  type HybridClockOptions,
  isStamp,
  MAX_COUNTER,
  maxStamp,
  type ParsedStamp,
  parseStamp,
  type StampClock,
} from './hlc.js';
export {
  type Body,
  CREATED_KEY,
  DEFAULT_FIELDS_FIELD,
  DELETED_KEY,
  type FieldStamps,
  readFieldStamps,
  stampDocument,
  type StampDocumentOptions,
  stampFields,
  type Stamped,
  type StampFieldsOptions,
} from './stamps.js';
export {
  compareWinnerOrder,
  couchdbDefault,
  couchdbWinner,
  custom,
  DEFAULT_STAMP_FIELD,
  lastWriterWins,
  type LastWriterWinsOptions,
  latestLeaf,
  type Leaf,
  type Outcome,
  type Resolution,
  type Resolver,
  sameJson,
  settle,
  sortLeaves,
  userFields,
} from './resolvers.js';
export { ownValue } from '../core/own.js';
export { fieldMerge, type FieldMergeOptions } from './field-merge.js';
export { AddWinsSet, AppendOnlyLog, type LogEntry, LwwRegister, PNCounter } from './crdt.js';
export { crdtMerge, type CrdtKind, type CrdtMergeOptions, type CrdtSchema } from './crdt-merge.js';
export { planResolution, type ResolutionPlan, type ResolutionWrite } from './plan.js';
