/*
 * compileSelector against an independent reference, on random documents and selectors.
 *
 * The reference follows CouchDB's own route (src/mango/src/mango_selector.erl): rewrite the
 * selector into a tree, push every negation down to the leaves (`negate/1`: De Morgan, and
 * `$eq/$ne`, `$lt/$gte`, `$gt/$lte`, `$in/$nin`, `$exists` swapped; any other operator keeps a
 * `$not` after the field lookup), then interpret the tree per document (`match/3`). The matcher
 * under test instead compiles closures that carry a negation flag. Facts taken from match/3:
 * a missing field fails every condition except `$exists: false`; `$eq $ne $lt...` and `$in $nin`
 * compare with mango_json:cmp (collation); `$all` uses `lists:member` (exact equality), `$all: []`
 * fails, `[[x]]` also matches a field equal to `[x]`; `$in`/`$nin` on an array test its elements;
 * `$mod` needs an integer and uses `rem`; empty `$and`/`$or` succeed.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { collate, compileSelector, type Selector } from '../../src/core/mango/index.js';

type Node =
  | { kind: 'everything' | 'nothing' }
  | { kind: 'and' | 'or'; children: Node[] }
  | { kind: 'not'; child: Node }
  | { kind: 'leaf'; path: string[]; op: string; arg: unknown; sub?: Node; negated: boolean };

const MISSING = Symbol('missing');

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

function toTree(selector: Record<string, unknown>, path: string[]): Node {
  const entries = Object.entries(selector);
  if (entries.length === 0) return { kind: 'everything' };
  const children = entries.map(([key, arg]) => entryToTree(key, arg, path));
  return children.length === 1 ? (children[0] as Node) : { kind: 'and', children };
}

function entryToTree(key: string, arg: unknown, path: string[]): Node {
  const list = () => (arg as Record<string, unknown>[]).map((item) => toTree(item, path));
  if (key === '$and') return { kind: 'and', children: list() };
  if (key === '$or') return { kind: 'or', children: list() };
  if (key === '$nor') return { kind: 'and', children: list().map((child) => ({ kind: 'not', child })) };
  if (key === '$not') return { kind: 'not', child: toTree(arg as Record<string, unknown>, path) };
  if (key.startsWith('$')) {
    const sub = key === '$elemMatch' ? toTree(arg as Record<string, unknown>, []) : undefined;
    return { kind: 'leaf', path, op: key, arg, sub, negated: false };
  }
  const inner = [...path, ...key.split('.')];
  if (isObject(arg) && Object.keys(arg).length > 0) return toTree(arg, inner);
  return { kind: 'leaf', path: inner, op: '$eq', arg, negated: false };
}

const OPPOSITE: Record<string, string> = {
  $eq: '$ne',
  $ne: '$eq',
  $lt: '$gte',
  $gte: '$lt',
  $gt: '$lte',
  $lte: '$gt',
  $in: '$nin',
  $nin: '$in',
};

/** mango_selector:negate/1. */
function negate(node: Node): Node {
  switch (node.kind) {
    case 'everything':
      return { kind: 'nothing' };
    case 'nothing':
      return { kind: 'everything' };
    case 'and':
      return { kind: 'or', children: node.children.map(negate) };
    case 'or':
      return { kind: 'and', children: node.children.map(negate) };
    case 'not':
      return node.child;
    case 'leaf': {
      if (node.op === '$exists') return { ...node, arg: !node.arg };
      const opposite = OPPOSITE[node.op];
      return opposite ? { ...node, op: opposite } : { ...node, negated: !node.negated };
    }
  }
}

function evaluate(node: Node, root: unknown): boolean {
  switch (node.kind) {
    case 'everything':
      return true;
    case 'nothing':
      return false;
    case 'and':
      return node.children.every((child) => evaluate(child, root));
    case 'or':
      return node.children.length === 0 || node.children.some((child) => evaluate(child, root));
    case 'not':
      return evaluate(negate(node.child), root);
    case 'leaf': {
      const value = lookup(root, node.path);
      if (value === MISSING) return node.op === '$exists' && node.arg === false;
      return test(node, value) !== node.negated;
    }
  }
}

function lookup(root: unknown, path: string[]): unknown {
  let value = root;
  for (const key of path) {
    if (Array.isArray(value) && /^(0|[1-9]\d*)$/.test(key) && Number(key) < value.length) {
      value = value[Number(key)];
    } else if (isObject(value) && Object.hasOwn(value, key)) {
      value = value[key];
    } else {
      return MISSING;
    }
  }
  return value;
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
const typeOf = (value: unknown) => (value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value);

function test(leaf: Extract<Node, { kind: 'leaf' }>, value: unknown): boolean {
  const { op, arg } = leaf;
  const order = () => collate(value, arg);
  const isIn = () => {
    const candidates = Array.isArray(value) ? value : [value];
    return (arg as unknown[]).some((item) => candidates.some((candidate) => collate(candidate, item) === 0));
  };
  switch (op) {
    case '$eq':
      return order() === 0;
    case '$ne':
      return order() !== 0;
    case '$gt':
      return order() > 0;
    case '$gte':
      return order() >= 0;
    case '$lt':
      return order() < 0;
    case '$lte':
      return order() <= 0;
    case '$in':
      return isIn();
    case '$nin':
      return !isIn();
    case '$exists':
      return arg === true;
    case '$type':
      return typeOf(value) === arg;
    case '$size':
      return Array.isArray(value) && value.length === arg;
    case '$mod': {
      const [divisor, remainder] = arg as [number, number];
      return Number.isInteger(value) && (value as number) % divisor === remainder;
    }
    case '$all': {
      const wanted = arg as unknown[];
      if (wanted.length === 0) return false;
      if (wanted.length === 1 && Array.isArray(wanted[0]) && same(wanted[0], value)) return true;
      return Array.isArray(value) && wanted.every((item) => value.some((element) => same(element, item)));
    }
    case '$elemMatch':
      return Array.isArray(value) && value.some((element) => evaluate(leaf.sub as Node, element));
    default:
      throw new Error(`reference lacks ${op}`);
  }
}

const reference = (selector: Selector, doc: Record<string, unknown>) => evaluate(toTree(selector, []), doc);

// Generators over a small vocabulary, so that fields, values and arguments often meet.
// The strings include pairs that collate equal without being identical.
const scalar = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.integer({ min: -3, max: 3 }),
  fc.constant(1.5),
  fc.constantFrom('a', 'A', 'b', 'ab', 'a\u0001b', '\u00e9', 'e\u0301', ''),
);
const element = fc.oneof(scalar, fc.record({ x: scalar }, { requiredKeys: [] }));
const value = fc.oneof(
  scalar,
  fc.array(element, { maxLength: 3 }),
  fc.array(fc.array(scalar, { maxLength: 2 }), { maxLength: 2 }),
  fc.record({ x: scalar, y: scalar }, { requiredKeys: [] }),
);
const doc = fc.record(
  { a: value, b: value, n: fc.oneof(fc.record({ x: value }, { requiredKeys: [] }), value) },
  { requiredKeys: [] },
);

const comparison = fc
  .tuple(fc.constantFrom('$eq', '$ne', '$gt', '$gte', '$lt', '$lte'), value)
  .map(([op, arg]) => ({ [op]: arg }));
const elementCondition: fc.Arbitrary<Selector> = fc.oneof(
  comparison,
  comparison.map((cond) => ({ x: cond })),
  fc.tuple(comparison, comparison).map(([low, high]) => ({ ...low, ...high })),
);
const condition: fc.Arbitrary<Selector> = fc.oneof(
  comparison,
  fc.tuple(fc.constantFrom('$in', '$nin', '$all'), fc.array(value, { maxLength: 3 })).map(([op, arg]) => ({
    [op]: arg,
  })),
  fc.boolean().map((arg) => ({ $exists: arg })),
  fc.constantFrom('null', 'boolean', 'number', 'string', 'array', 'object').map((type) => ({ $type: type })),
  fc.nat(3).map((size) => ({ $size: size })),
  fc.tuple(fc.constantFrom(1, 2, 3), fc.integer({ min: -2, max: 2 })).map((mod) => ({ $mod: mod })),
  elementCondition.map((sub) => ({ $elemMatch: sub })),
  fc.constant({ $elemMatch: {} }),
);
const field = fc.constantFrom('a', 'b', 'n', 'n.x', 'a.0', 'a.x');

const { selector } = fc.letrec<{ selector: Selector; fieldCondition: unknown; operators: Selector }>(
  (tie) => ({
    /** What a field name maps to: operators, or a value meaning `$eq`. */
    fieldCondition: fc.oneof(tie('operators'), value),
    operators: fc.oneof(
      { maxDepth: 2 },
      condition,
      fc.tuple(condition, condition).map(([one, two]) => ({ ...one, ...two })),
      tie('operators').map((cond) => ({ $not: cond })),
      fc.array(tie('operators'), { maxLength: 2 }).map((conds) => ({ $or: conds })),
    ) as fc.Arbitrary<Selector>,
    selector: fc.oneof(
      { maxDepth: 3 },
      fc.tuple(field, tie('fieldCondition')).map(([name, cond]) => ({ [name]: cond })),
      tie('fieldCondition').map((cond) => ({ n: { x: cond } })),
      fc.constant({}),
      fc.dictionary(field, tie('fieldCondition'), { maxKeys: 3 }),
      fc.array(tie('selector'), { maxLength: 3 }).map((list) => ({ $and: list })),
      fc.array(tie('selector'), { maxLength: 3 }).map((list) => ({ $or: list })),
      fc.array(tie('selector'), { maxLength: 3 }).map((list) => ({ $nor: list })),
      tie('selector').map((inner) => ({ $not: inner })),
    ),
  }),
);

describe('compileSelector agrees with a reference interpreter', () => {
  it('on random selectors and documents', () => {
    fc.assert(
      fc.property(selector, fc.array(doc, { minLength: 1, maxLength: 5 }), (s, docs) => {
        const compiled = compileSelector(s);
        for (const d of docs) expect(compiled.matches(d), JSON.stringify({ s, d })).toBe(reference(s, d));
      }),
      { numRuns: 2000 },
    );
  });

  it('on cases decided from mango_selector.erl', () => {
    const cases: [Selector, Record<string, unknown>][] = [
      [{ a: { $all: ['\u00e9'] } }, { a: ['e\u0301'] }],
      [{ a: { $in: ['ab'] } }, { a: 'a\u0001b' }],
      [{ $not: { $or: [] } }, {}],
    ];
    for (const [s, d] of cases) expect(compileSelector(s).matches(d)).toBe(reference(s, d));
  });
});
