/**
 * Mango selectors (CouchDB `_find` / `_changes?filter=_selector`), compiled once into closures.
 *
 * Pure and I/O-free so the same matcher runs in Node and in browsers. Semantics follow CouchDB
 * (docs.couchdb.org, "Selector Syntax", and the behaviour of CouchDB 3.x where the docs are silent):
 *
 * - A selector object is an implicit `$and` of its entries. A field whose condition is a non-empty
 *   object holds nested fields and/or operators (`{"a": {"b": 1}}` is `a.b == 1`); any other value,
 *   including `{}` and arrays, is an implicit `$eq`.
 * - Field names are dotted paths (`"a.b.c"`); `\.` is a literal dot. A numeric segment indexes an
 *   array (`"tags.0"`). Empty segments are rejected.
 * - Comparisons (`$eq $ne $gt $gte $lt $lte`, and the membership tests of `$in $nin`) use
 *   {@link collate}, so they also order across types: `{"$gt": 1}` matches any string, array or
 *   object, and strings equal under Unicode collation are equal (`"é"` and `"e\u0301"`). `$eq`
 *   compares whole values: `{"a": 1}` does not match `{"a": [1]}`. `$all` alone tests exact
 *   equality (mango_selector.erl matches it with `lists:member`, not with the collation).
 * - A missing field matches nothing except `$exists: false`; in particular `$ne` and `$nin` require
 *   the field to exist. A path through a scalar (`"a.b"` on `{"a": 5}`) counts as missing, so it
 *   does match `$exists: false`, where CouchDB answers false for such "bad paths".
 * - `$not`, `$nor` and the negations they imply are applied at each field condition, after the
 *   field lookup, exactly as CouchDB's normaliser pushes negations down to the leaves. So
 *   `{"$not": {"a": 1}}` equals `{"a": {"$ne": 1}}` and does NOT match documents without `a`.
 *   `$not` is the plain complement only when every field it tests exists.
 * - `$in` / `$nin` on an array field test its elements (CouchDB behaviour): `{"tags": {"$in": ["x"]}}`
 *   matches `{"tags": ["x", "y"]}`; the array as a whole is not compared.
 * - Empty `$and`, `$or` and `$nor` lists match every document (CouchDB 3.x); `$in: []` and `$all: []`
 *   match nothing; `$nin: []` matches any existing field.
 * - An empty selector `{}` matches everything (also as an `$and`/`$or` element or `$elemMatch`
 *   argument), and `{"$not": {}}` matches nothing.
 */
import { badRequest } from '../errors.js';
import { collate, collateStrings } from './collate.js';
import { compileRegex } from './regex.js';

/** A Mango selector as found in a request body. */
export type Selector = Record<string, unknown>;

/** A validated selector, ready to test many documents without re-parsing. */
export interface CompiledSelector {
  /** Whether `doc` satisfies the selector. */
  matches(doc: Record<string, unknown>): boolean;
}

/**
 * Validates `selector` and compiles it into a {@link CompiledSelector}.
 *
 * Supported operators: `$eq $ne $gt $gte $lt $lte $in $nin $exists $type $size $mod $regex
 * $beginsWith $all $elemMatch $allMatch $keyMapMatch` and the combinators `$and $or $nor $not`.
 * `$regex` uses RE2 syntax (see {@link compileRegex}).
 *
 * @throws {SetteeError} `bad_request` when the selector is not an object, uses an unknown operator,
 *   gives an operator a wrong argument or names an invalid field.
 */
export function compileSelector(selector: unknown): CompiledSelector {
  if (!isRecord(selector)) throw badRequest('Selector must be a JSON object');
  const test = compileSelectorObject(selector, ROOT_SCOPE);
  return { matches: (doc) => test(doc) };
}

/** A compiled predicate over the value a scope's paths start from. */
type Test = (value: unknown) => boolean;

interface Scope {
  /** Field path the conditions being compiled apply to. */
  readonly path: readonly string[];
  /** An odd number of `$not`/`$nor` encloses this part of the selector. */
  readonly negated: boolean;
  /** Conditions may apply to the scope's value itself (inside `$elemMatch` and friends). */
  readonly bare: boolean;
}

const ROOT_SCOPE: Scope = { path: [], negated: false, bare: false };
const ELEMENT_SCOPE: Scope = { path: [], negated: false, bare: true };

const always: Test = () => true;
const never: Test = () => false;

function compileSelectorObject(selector: Selector, scope: Scope): Test {
  const tests = Object.entries(selector).map(([key, arg]) => compileEntry(key, arg, scope));
  // De Morgan: under negation the implicit $and becomes an $or of negated conditions.
  return scope.negated ? some(tests) : every(tests);
}

function compileEntry(key: string, arg: unknown, scope: Scope): Test {
  if (key.startsWith('$')) return compileOperator(key, arg, scope);
  const inner: Scope = { ...scope, path: [...scope.path, ...parseField(key)] };
  if (isRecord(arg) && Object.keys(arg).length > 0) return compileSelectorObject(arg, inner);
  return applyCondition('$eq', { test: equalTo(arg) }, inner);
}

function compileOperator(op: string, arg: unknown, scope: Scope): Test {
  const combinator = COMBINATORS.get(op);
  if (combinator) return combinator(arg, scope);
  const condition = CONDITIONS.get(op);
  if (condition) return applyCondition(op, condition(arg, op), scope);
  if (UNSUPPORTED.has(op)) throw badRequest(`Operator not supported in selectors: ${op}`);
  throw badRequest(`Invalid operator: ${op}`);
}

// ---------------------------------------------------------------------------------------------
// Combinators

type Combinator = (arg: unknown, scope: Scope) => Test;

const COMBINATORS = new Map<string, Combinator>([
  ['$and', (arg, scope) => combine(compileList('$and', arg, scope), !scope.negated)],
  ['$or', (arg, scope) => combine(compileList('$or', arg, scope), scope.negated)],
  // $nor is an $and of negated selectors; negating it again gives back a plain $or.
  ['$nor', (arg, scope) => combine(compileList('$nor', arg, flip(scope)), !scope.negated)],
  ['$not', (arg, scope) => compileSelectorObject(requireSelector('$not', arg), flip(scope))],
]);

/** Joins sub-selectors with AND or OR; an empty list matches everything, as in CouchDB 3.x. */
function combine(tests: readonly Test[], conjunction: boolean): Test {
  if (tests.length === 0) return always;
  return conjunction ? every(tests) : some(tests);
}

function compileList(op: string, arg: unknown, scope: Scope): Test[] {
  if (!isArray(arg)) throw badArgument(op, 'an array of selectors');
  return arg.map((item) => compileSelectorObject(requireSelector(op, item), scope));
}

function flip(scope: Scope): Scope {
  return { ...scope, negated: !scope.negated };
}

function every(tests: readonly Test[]): Test {
  const [only] = tests;
  if (tests.length === 1 && only) return only;
  return (value) => tests.every((test) => test(value));
}

function some(tests: readonly Test[]): Test {
  const [only] = tests;
  if (tests.length === 1 && only) return only;
  return (value) => tests.some((test) => test(value));
}

// ---------------------------------------------------------------------------------------------
// Field conditions

interface Condition {
  /** Result for a field that exists. */
  test: Test;
  /** Result when the field is missing, if not `false` (only `$exists` differs); flips under negation. */
  whenMissing?: boolean;
}

type ConditionBuilder = (arg: unknown, op: string) => Condition;

/** Looks the scope's field up, then applies the condition, negated here rather than around the lookup. */
function applyCondition(op: string, condition: Condition, scope: Scope): Test {
  if (scope.path.length === 0 && !scope.bare) {
    throw badRequest(`Operator ${op} must be applied to a field`);
  }
  const read = fieldReader(scope.path);
  const { test, whenMissing } = condition;
  const missing = whenMissing === undefined ? false : whenMissing !== scope.negated;
  if (scope.negated) {
    return (root) => {
      const value = read(root);
      return value === MISSING ? missing : !test(value);
    };
  }
  return (root) => {
    const value = read(root);
    return value === MISSING ? missing : test(value);
  };
}

const CONDITIONS = new Map<string, ConditionBuilder>([
  ['$eq', (arg) => ({ test: equalTo(arg) })],
  ['$ne', (arg) => ({ test: negate(equalTo(arg)) })],
  ['$gt', (arg) => ({ test: (value) => collate(value, arg) > 0 })],
  ['$gte', (arg) => ({ test: (value) => collate(value, arg) >= 0 })],
  ['$lt', (arg) => ({ test: (value) => collate(value, arg) < 0 })],
  ['$lte', (arg) => ({ test: (value) => collate(value, arg) <= 0 })],
  ['$in', (arg, op) => ({ test: inCondition(requireArray(op, arg)) })],
  ['$nin', (arg, op) => ({ test: negate(inCondition(requireArray(op, arg))) })],
  ['$exists', existsCondition],
  ['$type', typeCondition],
  ['$size', sizeCondition],
  ['$mod', modCondition],
  ['$regex', regexCondition],
  ['$beginsWith', beginsWithCondition],
  ['$all', allCondition],
  ['$elemMatch', elemMatchCondition],
  ['$allMatch', allMatchCondition],
  ['$keyMapMatch', keyMapMatchCondition],
]);

/** Operators CouchDB knows but that need an index or a JS engine, so a filter cannot evaluate them. */
const UNSUPPORTED = new Set(['$text', '$where', '$geoWithin', '$geoIntersects', '$near', '$nearSphere']);

function existsCondition(arg: unknown, op: string): Condition {
  if (typeof arg !== 'boolean') throw badArgument(op, 'a boolean');
  return { test: arg ? always : never, whenMissing: !arg };
}

/** Array fields match when one of their elements is in the list, as in CouchDB. */
function inCondition(values: readonly unknown[]): Test {
  const isMember = memberOf(values);
  return (value) => (isArray(value) ? value.some(isMember) : isMember(value));
}

const TYPE_NAMES = new Set(['null', 'boolean', 'number', 'string', 'array', 'object']);

function typeCondition(arg: unknown, op: string): Condition {
  if (typeof arg !== 'string' || !TYPE_NAMES.has(arg)) {
    throw badArgument(op, `one of ${[...TYPE_NAMES].map((name) => `"${name}"`).join(', ')}`);
  }
  return { test: (value) => typeName(value) === arg };
}

function sizeCondition(arg: unknown, op: string): Condition {
  if (!isInteger(arg) || arg < 0) throw badArgument(op, 'a non-negative integer');
  return { test: (value) => isArray(value) && value.length === arg };
}

/** `[divisor, remainder]`; the remainder takes the dividend's sign, as Erlang's `rem` does. */
function modCondition(arg: unknown, op: string): Condition {
  const [divisor, remainder] = isArray(arg) && arg.length === 2 ? arg : [];
  if (!isInteger(divisor) || divisor <= 0 || !isInteger(remainder)) {
    throw badArgument(op, '[divisor, remainder] with a positive integer divisor and integer remainder');
  }
  return { test: (value) => isInteger(value) && value % divisor === remainder };
}

function regexCondition(arg: unknown, op: string): Condition {
  if (typeof arg !== 'string') throw badArgument(op, 'a regular expression string');
  const found = compileRegex(arg, (detail) =>
    badArgument(op, `a regular expression RE2 accepts (${detail})`),
  );
  return { test: (value) => typeof value === 'string' && found(value) };
}

function beginsWithCondition(arg: unknown, op: string): Condition {
  if (typeof arg !== 'string') throw badArgument(op, 'a string');
  return { test: (value) => typeof value === 'string' && value.startsWith(arg) };
}

function allCondition(arg: unknown, op: string): Condition {
  const values = requireArray(op, arg);
  if (values.length === 0) return { test: never };
  const wanted = values.map(exactly);
  // CouchDB (like MongoDB) also lets `[[x, y]]` match a field that equals `[x, y]`.
  const [first] = values;
  const whole = values.length === 1 && isArray(first) ? exactly(first) : never;
  return {
    test: (value) => isArray(value) && (wanted.every((equals) => value.some(equals)) || whole(value)),
  };
}

function elemMatchCondition(arg: unknown, op: string): Condition {
  const matches = compileSubSelector(op, arg);
  return { test: (value) => isArray(value) && value.some(matches) };
}

/** An empty array has no element to match, so it fails `$allMatch` (CouchDB agrees). */
function allMatchCondition(arg: unknown, op: string): Condition {
  const matches = compileSubSelector(op, arg);
  return { test: (value) => isArray(value) && value.length > 0 && value.every(matches) };
}

/** Matches objects having at least one key that satisfies the sub-selector. */
function keyMapMatchCondition(arg: unknown, op: string): Condition {
  const matches = compileSubSelector(op, arg);
  return { test: (value) => isRecord(value) && Object.keys(value).some(matches) };
}

/** The argument of `$elemMatch`-like operators: a selector over each element, which may use bare operators. */
function compileSubSelector(op: string, arg: unknown): Test {
  return compileSelectorObject(requireSelector(op, arg), ELEMENT_SCOPE);
}

// ---------------------------------------------------------------------------------------------
// Values

function equalTo(expected: unknown): Test {
  if (typeof expected === 'string') {
    return (value) =>
      value === expected || (typeof value === 'string' && collateStrings(value, expected) === 0);
  }
  // For other scalars, collation equality is plain identity (0 and -0 included), which is cheaper.
  if (isScalar(expected)) return (value) => value === expected;
  return (value) => collate(value, expected) === 0;
}

function memberOf(values: readonly unknown[]): Test {
  if (!values.every(isScalar)) {
    const tests = values.map(equalTo);
    return (value) => tests.some((equals) => equals(value));
  }
  const members = new Set<unknown>(values);
  const strings = values.filter((member): member is string => typeof member === 'string');
  const unplainStrings = strings.filter((member) => !isPlainText(member));
  // A set lookup decides between plain strings; only the others need the collator.
  const collatesWithMember = (value: string) =>
    (isPlainText(value) ? unplainStrings : strings).some((member) => collateStrings(value, member) === 0);
  return (value) => members.has(value) || (typeof value === 'string' && collatesWithMember(value));
}

/**
 * Printable ASCII and whitespace: every such character has its own collation weights (no
 * ignorables, no contractions), so two plain strings collate equal only when identical.
 */
const PLAIN_TEXT = /^[\t-\r -~]*$/;

function isPlainText(value: string): boolean {
  return PLAIN_TEXT.test(value);
}

/** Exact JSON equality, object key order included, as Erlang's term match in `lists:member`. */
function exactly(expected: unknown): Test {
  if (isScalar(expected)) return (value) => value === expected;
  return (value) => isSameJson(value, expected);
}

function isSameJson(a: unknown, b: unknown): boolean {
  if (isArray(a) && isArray(b)) return a.length === b.length && a.every((item, i) => isSameJson(item, b[i]));
  if (isRecord(a) && isRecord(b)) return isSameJson(Object.entries(a), Object.entries(b));
  return a === b;
}

function negate(test: Test): Test {
  return (value) => !test(value);
}

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (isArray(value)) return 'array';
  return typeof value;
}

function isScalar(value: unknown): value is string | number | boolean | null {
  return (
    value === null || typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean'
  );
}

function isInteger(value: unknown): value is number {
  return Number.isInteger(value);
}

function isArray(value: unknown): value is readonly unknown[] {
  return Array.isArray(value);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

// ---------------------------------------------------------------------------------------------
// Field paths

/** Marks a field that is absent; distinct from every JSON value, `null` included. */
const MISSING: unique symbol = Symbol('missing');

const ARRAY_INDEX = /^(?:0|[1-9]\d*)$/;

/** Splits a field name on unescaped dots; `\.` stands for a literal dot in a key. */
export function parseField(field: string): string[] {
  const parts: string[] = [];
  let current = '';
  for (let i = 0; i < field.length; i++) {
    const char = field.charAt(i);
    if (char === '\\' && field.charAt(i + 1) === '.') {
      current += '.';
      i++;
    } else if (char === '.') {
      parts.push(current);
      current = '';
    } else {
      current += char;
    }
  }
  parts.push(current);
  if (parts.includes('')) throw badRequest(`Invalid field name: ${field}`);
  return parts;
}

function fieldReader(path: readonly string[]): (root: unknown) => unknown {
  if (path.length === 0) return (root) => root;
  return (root) => {
    let value = root;
    for (const key of path) {
      value = child(value, key);
      if (value === MISSING) break;
    }
    return value;
  };
}

function child(container: unknown, key: string): unknown {
  let value: unknown;
  if (isArray(container)) {
    value = ARRAY_INDEX.test(key) ? container[Number(key)] : undefined;
  } else if (isRecord(container) && Object.hasOwn(container, key)) {
    value = container[key];
  }
  // `undefined` cannot come from JSON; a property holding it is treated as absent.
  return value === undefined ? MISSING : value;
}

// ---------------------------------------------------------------------------------------------
// Argument validation

function requireSelector(op: string, arg: unknown): Selector {
  if (!isRecord(arg)) throw badArgument(op, 'a selector object');
  return arg;
}

function requireArray(op: string, arg: unknown): readonly unknown[] {
  if (!isArray(arg)) throw badArgument(op, 'an array');
  return arg;
}

function badArgument(op: string, expected: string) {
  return badRequest(`Bad argument for operator ${op}: expected ${expected}`);
}
