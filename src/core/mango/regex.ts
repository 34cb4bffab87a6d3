/**
 * `$regex` patterns on a linear-time engine, so that a user-supplied pattern cannot hang the
 * server: `(a+)+$` over 100,000 characters takes milliseconds where a backtracking engine
 * (JavaScript's `RegExp`, or the PCRE behind CouchDB's Erlang `re`) takes forever.
 */
import { RE2JS } from 're2js';

/**
 * Compiles `pattern` (RE2 syntax) into a test that finds it anywhere in a string, as CouchDB's
 * `re:run(Value, Regex)` does unless the pattern is anchored.
 *
 * RE2 covers the PCRE that Mango users write: classes, `\d \w \s \b`, `\p{L}`, counted repeats up
 * to 1000, lazy quantifiers, named groups, and inline flags (`(?i)`, `(?m)`, `(?s)`, also scoped as
 * `(?i:...)`). What it rejects, because no linear-time engine can run it: backreferences (`\1`),
 * lookaround (`(?=`, `(?<!`), atomic groups and possessive quantifiers, `\Z`, `(?x)`.
 * Two differences in what is matched: `$` (without `(?m)`) matches only at the very end, where PCRE
 * also matches before a final newline; and RE2 reads the string as Unicode code points, where
 * CouchDB runs `re` without its `unicode` option, over UTF-8 bytes (so there `.` matches one byte of
 * `"é"` and `(?i)` folds ASCII case only).
 *
 * @param invalid builds the error thrown for a pattern RE2 refuses, from RE2's message.
 * @example compileRegex('(?i)^hello', badRequest)('HeLLo there') // true
 */
export function compileRegex(
  pattern: string,
  invalid: (detail: string) => Error,
): (value: string) => boolean {
  let regex: RE2JS;
  try {
    regex = RE2JS.compile(pattern);
  } catch (err) {
    throw invalid(err instanceof Error ? err.message : String(err));
  }
  // `test` searches without capturing, which lets RE2 use its DFA.
  return (value) => regex.test(value);
}
