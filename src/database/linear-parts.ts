/**
 * What only a linear database's writes use (docs/linear-history.md), imported with
 * `on-demand-parts.ts` when such a database opens: a page whose databases are trees never fetches
 * it (test/browser/bundle.test.ts).
 */
export { Line } from '../core/rev-tree/line.js';
export { extendLine, linearLine, lineOf, settleIncoming } from '../core/rev-tree/linear.js';
export { lossRecord, outcomeOf, recordedLoss } from './linear-losses.js';

export type LinearParts = typeof import('./linear-parts.js');
