/**
 * `$regex` patterns on a linear-time engine, so that a user-supplied pattern cannot hang the
 * server: `(a+)+$` over 100,000 characters takes milliseconds where a backtracking engine
 * (JavaScript's `RegExp`, or the PCRE behind CouchDB's Erlang `re`) takes forever.
 *
 * The engine (re2js, 150 KB minified: two thirds of the size of the rest of the browser build) is
 * something most pages never use: it is loaded on demand ({@link loadRegexEngine}), which the database's
 * asynchronous paths (`find`, selector feeds, index definitions) do before they compile a selector
 * that needs it. The Node entry loads it with everything else (`regex-preload.ts`), so there
 * `compileSelector` takes `$regex` at once, as it always did.
 */
import type { RE2JS } from 're2js';
import { SetteeError } from '../errors.js';
import { onDemand } from '../on-demand.js';

type RegexEngine = typeof RE2JS;

let engine: RegexEngine | undefined;

/**
 * Loads the `$regex` engine, once; after it resolves, `compileSelector` takes `$regex`.
 * Needed only before calling `compileSelector` yourself in a browser: `Database` loads it itself.
 *
 * @example
 * await loadRegexEngine();
 * const byPrefix = compileSelector({ name: { $regex: '(?i)^ann' } });
 */
export const loadRegexEngine: () => Promise<void> = onDemand(async () => {
  useRegexEngine((await import('re2js')).RE2JS);
});

/** Gives the engine already imported (the Node entry does, so nothing waits for it). */
export function useRegexEngine(loaded: RegexEngine): void {
  engine = loaded;
}

/**
 * Whether compiling `value` (a selector, or a request or index definition holding selectors) must
 * first wait for {@link loadRegexEngine}: it has a `$regex` and the engine is not loaded yet.
 */
export function needsRegexEngine(value: unknown): boolean {
  return engine === undefined && mentionsRegex(value);
}

/** Loads the engine if `value` needs it (see {@link needsRegexEngine}); at once otherwise. */
export async function loadRegexEngineFor(value: unknown): Promise<void> {
  if (needsRegexEngine(value)) await loadRegexEngine();
}

function mentionsRegex(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  if (Array.isArray(value)) return value.some(mentionsRegex);
  return Object.entries(value).some(([key, member]) => key === '$regex' || mentionsRegex(member));
}

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
 * @throws SetteeError `not_implemented` when the engine is not loaded yet ({@link loadRegexEngine}).
 * @example compileRegex('(?i)^hello', badRequest)('HeLLo there') // true
 */
export function compileRegex(
  pattern: string,
  invalid: (detail: string) => Error,
): (value: string) => boolean {
  if (!engine) {
    throw new SetteeError(
      'not_implemented',
      'The $regex engine is loaded on demand: await loadRegexEngine() before compiling this selector',
    );
  }
  let regex: RE2JS;
  try {
    regex = engine.compile(pattern);
  } catch (err) {
    throw invalid(err instanceof Error ? err.message : String(err));
  }
  // `test` searches without capturing, which lets RE2 use its DFA.
  return (value) => regex.test(value);
}
