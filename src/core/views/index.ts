/** CouchDB views, the pure part: query parameters, key ranges, grouping and built-in reduces. */
export type { BuiltinReduceError, ReduceBatch, ReduceCall, Reducer, Stats } from './builtin-reduce.js';
export { builtinReducer, SUM_ERROR } from './builtin-reduce.js';
export type { ReducedRow, ReduceRowsOptions } from './grouping.js';
export { groupKey, reduceRows, sameGroup } from './grouping.js';
export { HyperLogLog } from './hyperloglog.js';
export type { Grouping, ValidatedViewQuery, ViewQuery, ViewUpdate } from './params.js';
export { parseViewQueries, parseViewQuery, validateViewQuery } from './params.js';
export type { KeyRange, RangeEdge, RowPosition, ScanBounds, ViewRow } from './range.js';
export { checkRangeOrder, compareDocIds, keyRanges, rowInRange, rowPosition, scanBounds } from './range.js';
