/**
 * CouchDB's normal form of a Mango selector, and what the planner reads from it
 * (mango_selector.erl: normalize, has_required_fields, is_constant_field, fields;
 * mango_idx_view.erl: indexable_fields, field_ranges, range).
 *
 * The normal form has one key per object: several keys become an explicit `$and`, nested fields
 * become dotted paths (`{"a": {"b": 1}}` is `{"a.b": {"$eq": 1}}`), bare values become `$eq`, and
 * negations are pushed down to the conditions (`{"$not": {"a": {"$gt": 1}}}` is
 * `{"a": {"$lte": 1}}`). `_explain` shows this form, and index choice only has to look through
 * `$and`/`$or` and single-field conditions.
 */
import { ownValue } from '../own.js';
import { collate } from './collate.js';
import { isJsonObject } from './mango-errors.js';
import type { Selector } from './selector.js';

/** A selector in CouchDB's normal form: at most one key per object. */
export type NormalSelector = Record<string, unknown>;

const LIST_COMBINATORS = new Set(['$and', '$or', '$nor']);
/** Operators whose argument is a selector over each element (normalized on its own). */
const ELEMENT_OPERATORS = new Set(['$elemMatch', '$allMatch', '$keyMapMatch']);

/**
 * The normal form of a selector `compileSelector` accepted (mango_selector:normalize: norm_ops,
 * then norm_fields, then norm_negations).
 */
export function normalizeSelector(selector: Selector): NormalSelector {
  if (Object.keys(selector).length === 0) return {};
  return normNegations(normFields(normOps(selector), ''));
}

/** The only key of a normal-form object and its value. */
export function single(selector: NormalSelector): [string, unknown] | undefined {
  const keys = Object.keys(selector);
  const [key] = keys;
  return keys.length === 1 && key !== undefined ? [key, selector[key]] : undefined;
}

// norm_ops: explicit `$and` for several keys, `$eq` for bare values.
function normOps(value: unknown): unknown {
  if (!isJsonObject(value) || Object.keys(value).length === 0) return { $eq: value };
  const entries = Object.entries(value);
  if (entries.length > 1) return { $and: entries.map(([key, arg]) => normOps({ [key]: arg })) };
  const [[key, arg]] = entries as [[string, unknown]];
  if (LIST_COMBINATORS.has(key)) return { [key]: (arg as unknown[]).map(normOps) };
  if (key === '$not' || ELEMENT_OPERATORS.has(key)) return { [key]: normOps(arg) };
  if (key.startsWith('$')) return { [key]: arg };
  return { [key]: normOps(arg) };
}

// norm_fields: field names travel down to the conditions as dotted paths.
function normFields(selector: unknown, path: string): NormalSelector {
  const entry = single(selector as NormalSelector);
  if (!entry) return {};
  const [key, arg] = entry;
  if (LIST_COMBINATORS.has(key)) return { [key]: (arg as unknown[]).map((item) => normFields(item, path)) };
  if (key === '$not') return { $not: normFields(arg, path) };
  if (ELEMENT_OPERATORS.has(key)) return { [path]: { [key]: normFields(arg, '') } };
  if (key.startsWith('$')) return { [path]: { [key]: arg } };
  return normFields(arg, path === '' ? key : `${path}.${key}`);
}

// norm_negations: `$not` and `$nor` pushed down by De Morgan's laws.
function normNegations(selector: NormalSelector): NormalSelector {
  const entry = single(selector);
  if (!entry) return selector;
  const [key, arg] = entry;
  if (key === '$not') return negate(arg as NormalSelector);
  if (key === '$nor') return { $and: (arg as NormalSelector[]).map(negate) };
  if (key === '$and' || key === '$or') return { [key]: (arg as NormalSelector[]).map(normNegations) };
  if (ELEMENT_OPERATORS.has(key)) return { [key]: normNegations(arg as NormalSelector) };
  return selector;
}

const NEGATED: Readonly<Record<string, string>> = {
  $lt: '$gte',
  $lte: '$gt',
  $eq: '$ne',
  $ne: '$eq',
  $gte: '$lt',
  $gt: '$lte',
  $in: '$nin',
  $nin: '$in',
};

function negate(selector: NormalSelector): NormalSelector {
  const entry = single(selector);
  if (!entry) return { $not: selector };
  const [key, arg] = entry;
  if (key === '$not') return normNegations(arg as NormalSelector);
  if (key === '$nor') return { $or: (arg as NormalSelector[]).map(normNegations) };
  if (key === '$and') return { $or: (arg as NormalSelector[]).map(negate) };
  if (key === '$or') return { $and: (arg as NormalSelector[]).map(negate) };
  if (key === '$exists') return { $exists: !arg };
  const opposite = ownValue(NEGATED, key);
  if (opposite) return { [opposite]: arg };
  if (key.startsWith('$')) return { $not: selector };
  return { [key]: negate(arg as NormalSelector) };
}

// ---------------------------------------------------------------------------------------------
// Reading the normal form

/** The operators an index scan can serve (mango_idx_view:indexable). */
const RANGE_OPERATORS = new Set(['$lt', '$lte', '$eq', '$gt', '$gte']);

/** The `{field, op, value}` of a condition an index range can serve, if `selector` is one. */
export function rangeCondition(
  selector: NormalSelector,
): { field: string; op: string; value: unknown } | null {
  const entry = single(selector);
  if (!entry || entry[0].startsWith('$') || !isJsonObject(entry[1])) return null;
  const condition = single(entry[1]);
  if (!condition || !RANGE_OPERATORS.has(condition[0])) return null;
  return { field: entry[0], op: condition[0], value: condition[1] };
}

/**
 * The fields an index could narrow: conditions with `$lt $lte $eq $gt $gte`, seen only through
 * `$and` (mango_idx_view:indexable_fields). Sorted and unique, as its `lists:usort`.
 */
export function indexableFields(selector: NormalSelector): string[] {
  const fields = conjuncts(selector).flatMap((part) => rangeCondition(part)?.field ?? []);
  return [...new Set(fields)].sort();
}

/** The conditions a selector ANDs together, looking through nested `$and`s. */
export function conjuncts(selector: NormalSelector): NormalSelector[] {
  const entry = single(selector);
  if (!entry) return [];
  if (entry[0] === '$and') return (entry[1] as NormalSelector[]).flatMap(conjuncts);
  return [selector];
}

/**
 * Whether every document the selector matches has each of `required`
 * (mango_selector:has_required_fields): `$and` children share the work, each `$or` child must
 * cover it alone, and any condition but `$exists: false` requires its field.
 */
export function hasRequiredFields(selector: NormalSelector, required: readonly string[]): boolean {
  if (Object.keys(selector).length === 0) return required.length === 0;
  return missingFields([selector], required).length === 0;
}

function missingFields(selectors: readonly NormalSelector[], required: readonly string[]): string[] {
  let remaining = [...required];
  for (const selector of selectors) {
    if (remaining.length === 0) break;
    const entry = single(selector);
    if (!entry) continue;
    const [key, arg] = entry;
    if (key === '$and') remaining = missingFields(arg as NormalSelector[], remaining);
    else if (key === '$or') remaining = unionOfMissing(arg as NormalSelector[], remaining);
    else if (!isExistsFalse(arg)) remaining = withoutFirst(remaining, key);
  }
  return remaining;
}

function unionOfMissing(children: readonly NormalSelector[], required: readonly string[]): string[] {
  const missing = children.flatMap((child) => missingFields([child], required));
  return [...new Set(missing)].sort();
}

function isExistsFalse(condition: unknown): boolean {
  return isJsonObject(condition) && single(condition)?.[0] === '$exists' && condition.$exists === false;
}

function withoutFirst(list: readonly string[], item: string): string[] {
  const at = list.indexOf(item);
  return at < 0 ? [...list] : [...list.slice(0, at), ...list.slice(at + 1)];
}

/**
 * Whether the selector pins `field` to one value with `$eq`, directly or in an `$and`
 * (mango_selector:is_constant_field), so an index column on it does not disturb a sort.
 */
export function isConstantField(selector: NormalSelector, field: string): boolean {
  return conjuncts(selector).some((part) => {
    const condition = rangeCondition(part);
    return condition?.field === field && condition.op === '$eq';
  });
}

/** Every field a selector names, through its combinators (mango_selector:fields). */
export function selectorFields(selector: NormalSelector): string[] {
  const entry = single(selector);
  if (!entry) return [];
  const [key, arg] = entry;
  if (key.startsWith('$') && Array.isArray(arg))
    return arg.flatMap((item) => selectorFields(item as NormalSelector));
  return [key];
}

// ---------------------------------------------------------------------------------------------
// Ranges

/** Below and above every JSON value, as mango_json's min and max. */
export const MIN = Symbol('min');
export const MAX = Symbol('max');

/** A bound: a JSON value, or the sentinel beyond every value. */
export type BoundValue = unknown;

/**
 * The values one field may take, as mango_idx_view:range keeps them: `low`/`high` with their
 * operators (`$gt`/`$gte`/`$eq` below, `$lt`/`$lte`/`$eq` above), starting from (MIN, MAX).
 */
export interface FieldRange {
  readonly lowOp: '$gt' | '$gte' | '$eq';
  readonly low: BoundValue;
  readonly highOp: '$lt' | '$lte' | '$eq';
  readonly high: BoundValue;
}

const UNBOUNDED: FieldRange = { lowOp: '$gt', low: MIN, highOp: '$lt', high: MAX };

/**
 * The range `field` must lie in, AND-ing the selector's top-level conditions on it
 * (mango_idx_view:range/2), or `'empty'` when they contradict each other. Conditions under `$or`
 * or with other operators do not narrow it; they are checked on each document later.
 */
export function fieldRange(selector: NormalSelector, field: string): FieldRange | 'empty' {
  let range: FieldRange | 'empty' = UNBOUNDED;
  for (const part of conjuncts(selector)) {
    const condition = rangeCondition(part);
    if (condition?.field === field) range = narrow(range, condition.op, condition.value);
    if (range === 'empty') break;
  }
  return range;
}

/** Where `value` falls against the current bounds (mango_idx_view:range_pos). */
type Position = 'min' | 'low' | 'mid' | 'high' | 'max';

function position(range: FieldRange, value: unknown): Position {
  const againstLow = compareBound(value, range.low);
  if (againstLow < 0) return 'min';
  if (againstLow === 0) return 'low';
  const againstHigh = compareBound(value, range.high);
  if (againstHigh < 0) return 'mid';
  return againstHigh === 0 ? 'high' : 'max';
}

/** mango_json:cmp with its sentinels: MIN below and MAX above every value. */
export function compareBound(a: BoundValue, b: BoundValue): number {
  if (a === b) return 0;
  if (a === MIN || b === MAX) return -1;
  if (a === MAX || b === MIN) return 1;
  return collate(a, b);
}

/** The five-way case analysis of mango_idx_view:range/5, one operator at a time. */
function narrow(range: FieldRange, op: string, value: unknown): FieldRange | 'empty' {
  const at = position(range, value);
  const pinned: FieldRange = { lowOp: '$eq', low: value, highOp: '$eq', high: value };
  const lowClosed = range.lowOp === '$gte' || range.lowOp === '$eq';
  const highClosed = range.highOp === '$lte' || range.highOp === '$eq';
  switch (op) {
    case '$lt':
      if (at === 'min' || at === 'low') return 'empty';
      return at === 'max' ? range : { ...range, highOp: '$lt', high: value };
    case '$lte':
      if (at === 'min') return 'empty';
      if (at === 'low') return lowClosed ? pinned : 'empty';
      return at === 'mid' ? { ...range, highOp: '$lte', high: value } : range;
    case '$eq':
      if (at === 'mid') return pinned;
      if (at === 'low') return lowClosed ? pinned : 'empty';
      if (at === 'high') return highClosed ? pinned : 'empty';
      return 'empty';
    case '$gte':
      if (at === 'min' || at === 'low') return range;
      if (at === 'mid') return { ...range, lowOp: '$gte', low: value };
      return at === 'high' && highClosed ? pinned : 'empty';
    default: // $gt
      if (at === 'min') return range;
      if (at === 'low' || at === 'mid') return { ...range, lowOp: '$gt', low: value };
      return 'empty';
  }
}
