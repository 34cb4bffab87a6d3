/**
 * Mango's request errors, worded as CouchDB words them (mango_error.erl). Many of its reasons print
 * the offending value with Erlang's `~w`, so `"abc"` reads `<<"abc">>` and `{"a": 1}` reads
 * `{[{<<"a">>,1}]}`; {@link erlangTerm} renders a JSON value that way so clients matching on
 * CouchDB's text see the same words.
 */
import { type ErrorName, SetteeError } from '../errors.js';

/** A Mango error: CouchDB's error name, 400, and its reason. */
export function mangoError(name: ErrorName, reason: string): SetteeError {
  return new SetteeError(name, reason);
}

/** A JSON value as Erlang's `io_lib:format("~w", [Term])` prints the term jiffy decodes it to. */
export function erlangTerm(value: unknown): string {
  if (typeof value === 'string') return `<<${JSON.stringify(value)}>>`;
  if (Array.isArray(value)) return `[${value.map(erlangTerm).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const pairs = Object.entries(value).map(([key, item]) => `{${erlangTerm(key)},${erlangTerm(item)}}`);
    return `{[${pairs.join(',')}]}`;
  }
  return String(value);
}

/** mango_opts' `invalid_key`: a key the request does not take. */
export function invalidKey(key: string): SetteeError {
  return mangoError('invalid_key', `Invalid key ${key} for this request.`);
}

/** mango_opts' `missing_required_key`. */
export function missingRequiredKey(key: string): SetteeError {
  return mangoError('missing_required_key', `Missing required key: ${key}`);
}

/** A plain JSON object (not an array, not null). */
export function isJsonObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A validator of one option: the validated value, or a thrown Mango error. */
export type OptionValidator<T> = (value: unknown) => T;

/** One option of a Mango request body, as mango_opts declares it. */
export interface OptionSpec<T> {
  readonly key: string;
  /** Absent: the option is required. */
  readonly default?: T;
  readonly validate: OptionValidator<T>;
}

/**
 * Validates `body` against `specs` in their order, as mango_opts:validate does: the first bad or
 * missing option fails, and only then does a key no spec names fail with `invalid_key`.
 */
export function validateOptions<T extends object>(
  body: Record<string, unknown>,
  specs: { [K in keyof T]: OptionSpec<T[K]> },
): T {
  const result: Record<string, unknown> = {};
  const known = new Set<string>();
  for (const [tag, spec] of Object.entries(specs) as [string, OptionSpec<unknown>][]) {
    known.add(spec.key);
    if (Object.hasOwn(body, spec.key)) result[tag] = spec.validate(body[spec.key]);
    else if ('default' in spec) result[tag] = spec.default;
    else throw missingRequiredKey(spec.key);
  }
  const unknown = Object.keys(body).find((key) => !known.has(key));
  if (unknown !== undefined) throw invalidKey(unknown);
  return result as T;
}

/** mango_opts:is_string. */
export function requireString(value: unknown): string {
  if (typeof value !== 'string') throw mangoError('invalid_string', `Invalid string: ${erlangTerm(value)}`);
  return value;
}

/** mango_opts:is_boolean. */
export function requireBoolean(value: unknown): boolean {
  if (typeof value !== 'boolean') {
    throw mangoError('invalid_boolean', `Invalid boolean value: ${erlangTerm(value)}`);
  }
  return value;
}

/** mango_opts:is_pos_integer. */
export function requirePositiveInteger(value: unknown): number {
  if (!Number.isInteger(value) || (value as number) <= 0) {
    throw mangoError('invalid_pos_integer', `${erlangTerm(value)} is not an integer greater than zero`);
  }
  return value as number;
}

/** mango_opts:is_non_neg_integer. */
export function requireNonNegativeInteger(value: unknown): number {
  if (!Number.isInteger(value) || (value as number) < 0) {
    throw mangoError(
      'invalid_non_neg_integer',
      `${erlangTerm(value)} is not an integer greater than or equal to zero`,
    );
  }
  return value as number;
}
