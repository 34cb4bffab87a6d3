/**
 * CouchDB's collation, as its documentation states it (src/docs/src/ddocs/views/collation.rst;
 * test/elixir/test/view_collation_test.exs checks a real view returns rows in this order), for
 * every test of something that orders keys: collate, key encoding, views.
 */

/** The "Collation Specification" sequence, strictly ascending. */
export const COLLATION_SPECIFICATION: readonly unknown[] = [
  null,
  false,
  true,
  1,
  2,
  3.5,
  4,
  'a',
  'A',
  'aa',
  'b',
  'B',
  'ba',
  'bb',
  ['a'],
  ['b'],
  ['b', 'c'],
  ['b', 'c', 'a'],
  ['b', 'd'],
  ['b', 'd', 'e'],
  { a: 1 },
  { a: 2 },
  { b: 1 },
  { b: 2 },
  { b: 2, a: 1 },
  { b: 2, c: 2 },
];

/** The page's "Key ranges" example, strictly ascending. */
export const KEY_RANGES_EXAMPLE: readonly string[] = ['abc', 'Abc', 'ABC', 'abc1', 'AbcZZZZZ'];

/**
 * Printable ASCII in the page's order, strictly ascending — except that current ICU moved `` ` ``
 * and `^` among the symbols after `%`, which the tests check on their own.
 */
export const PRINTABLE_ASCII_ORDER: readonly string[] =
  `_ - , ; : ! ? . ' " ( ) [ ] { } @ * / \\ & # % + < = > | ~ $ 0 1 2 3 4 5 6 7 8 9
  a A b B c C d D e E f F g G h H i I j J k K l L m M n N o O p P q Q r R s S t T u U v V w W x X y Y z Z`.split(
    /\s+/,
  );
