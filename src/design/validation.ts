/**
 * CouchDB's `validate_doc_update`, as pure logic over a sandbox: every document of a batch goes
 * through every validation function, in order, as `fn(newDoc, oldDoc, userCtx, secObj)`, and
 * the first refusal wins.
 */
import type { CallOutcome, DesignModules, JsSandbox } from './engine.js';
import { SandboxCompileError } from './errors.js';

/** A design document's `validate_doc_update`. */
export interface ValidationFunction {
  /**
   * The cache key: one per design-document revision, e.g. `${ddocId}@${rev}` (a name may
   * follow after a `/`). Include the database (`${db}/${ddocId}@${rev}`) if two databases
   * holding the same design revision must not share the function's globals.
   */
  key: string;
  source: string;
  /** Named in refusal reasons; read from the key (before its last `@`) when absent. */
  ddocId?: string;
  /**
   * What `require` loads CommonJS modules from: the design document itself, as CouchDB's
   * query server does (`require('lib/rules')` is its `lib.rules`). Without it `require` throws.
   */
  modules?: DesignModules;
}

/** One document to validate; `oldDoc` is null for a new document. */
export interface ValidationItem {
  newDoc: Record<string, unknown>;
  oldDoc: Record<string, unknown> | null;
}

/** CouchDB's user context, as validation functions receive it. */
export interface ValidationUserCtx {
  db: string;
  name: string | null;
  roles: string[];
}

/** A batch: the functions, the documents, and who writes them where. */
export interface ValidationRequest {
  functions: ValidationFunction[];
  items: ValidationItem[];
  userCtx: ValidationUserCtx;
  /** The database's security object. */
  secObj: Record<string, unknown>;
}

/** What CouchDB answers for a refused document (`bad_request`: one that could not be judged, its fault). */
export type ValidationError = 'forbidden' | 'unauthorized' | 'unknown_error' | 'bad_request';

/**
 * The verdict on one document: accepted, or refused with CouchDB's error name and reason.
 * `throw({forbidden: msg})` gives `forbidden`/msg (HTTP 403), `throw({unauthorized: msg})`
 * gives `unauthorized`/msg (401); anything else thrown, a timeout, running out of memory or a
 * function that does not compile gives `unknown_error` with a reason naming the design document;
 * a batch nested too deeply to be handed to the sandbox gives `bad_request` (400).
 */
export type ValidationOutcome = { ok: true } | { ok: false; error: ValidationError; reason: string };

/** The part of a sandbox validation uses (a worker wraps it to report progress). */
export type ValidationSandbox = Pick<JsSandbox, 'compile' | 'callJson'>;

const ACCEPTED: ValidationOutcome = Object.freeze({ ok: true });

/**
 * Validates `items` in order, one outcome per item. Each function compiles once per key in
 * the sandbox's cache; one that does not compile refuses every item of the batch, while the
 * functions before it still run (and may refuse first). A function that times out or runs out
 * of memory is not run again in the batch: the items it would judge are refused the same way,
 * so a looping function costs one time budget per batch, not one per document.
 *
 * @example
 * runValidations(sandbox, [{ key: '_design/app@1-a', source: 'function (doc) { if (!doc.type) throw {forbidden: "no type"} }' }],
 *   [{ newDoc: { _id: 'x' }, oldDoc: null }], { db: 'shop', name: 'ann', roles: [] }, {});
 * // [{ ok: false, error: 'forbidden', reason: 'no type' }]
 */
export function runValidations(
  sandbox: ValidationSandbox,
  functions: readonly ValidationFunction[],
  items: readonly ValidationItem[],
  userCtx: ValidationUserCtx,
  secObj: Record<string, unknown>,
): ValidationOutcome[] {
  if (functions.length === 0) return items.map(() => ACCEPTED);
  // Serialized once for the batch: only the documents change from call to call.
  const tail = `${JSON.stringify(userCtx)},${JSON.stringify(secObj)}]`;
  const settled = new Map<string, ValidationOutcome>();
  return items.map((item) => {
    const argsJson = argumentsJson(item, tail);
    if (typeof argsJson !== 'string') return argsJson;
    for (const fn of functions) {
      const outcome = runOne(sandbox, fn, argsJson, settled);
      if (!outcome.ok) return outcome;
    }
    return ACCEPTED;
  });
}

function argumentsJson(item: ValidationItem, tail: string): string | ValidationOutcome {
  try {
    return `[${JSON.stringify(item.newDoc)},${JSON.stringify(item.oldDoc ?? null)},${tail}`;
  } catch (error) {
    // A document nested beyond the host's stack cannot be handed over.
    return refuse(`the document cannot be passed to validate_doc_update: ${messageOf(error)}`);
  }
}

/** Runs one function on one document; `settled` holds the verdicts of functions not to run again. */
function runOne(
  sandbox: ValidationSandbox,
  fn: ValidationFunction,
  argsJson: string,
  settled: Map<string, ValidationOutcome>,
): ValidationOutcome {
  const known = settled.get(fn.key);
  if (known) return known;
  try {
    sandbox.compile(fn.key, fn.source, fn.modules);
  } catch (error) {
    if (!(error instanceof SandboxCompileError)) throw error;
    const outcome = refuse(`${label(fn)} does not compile: ${error.detail}`);
    settled.set(fn.key, outcome);
    return outcome;
  }
  const outcome = sandbox.callJson(fn.key, argsJson);
  const judged = verdict(outcome, fn);
  // A limit reached is no verdict on the document: running it again would only cost as much again.
  if ('failure' in outcome && outcome.failure !== 'error' && !judged.ok) {
    settled.set(fn.key, { ...judged, reason: `${judged.reason} (on an earlier document of this batch)` });
  }
  return judged;
}

/** CouchDB's reading of what a validation function did. */
function verdict(outcome: CallOutcome, fn: Pick<ValidationFunction, 'key' | 'ddocId'>): ValidationOutcome {
  if (outcome.ok) return ACCEPTED;
  if ('failure' in outcome) {
    const how = outcome.failure === 'error' ? `failed: ${outcome.message}` : outcome.message;
    return refuse(`${label(fn)} ${how}`);
  }
  const { thrown } = outcome;
  if (isRecord(thrown) && 'forbidden' in thrown) return refusal('forbidden', thrown.forbidden);
  if (isRecord(thrown) && 'unauthorized' in thrown) return refusal('unauthorized', thrown.unauthorized);
  const shown = typeof thrown === 'string' ? thrown : JSON.stringify(thrown);
  return refuse(`${label(fn)} threw ${shown}`);
}

function refusal(error: ValidationError, message: unknown): ValidationOutcome {
  return {
    ok: false,
    error,
    reason: typeof message === 'string' ? message : (JSON.stringify(message) ?? ''),
  };
}

function refuse(reason: string): ValidationOutcome {
  return { ok: false, error: 'unknown_error', reason };
}

function label(fn: Pick<ValidationFunction, 'key' | 'ddocId'>): string {
  return `validate_doc_update in ${fn.ddocId ?? ddocIdOf(fn.key)}`;
}

// `${ddocId}@${rev}` or `${ddocId}@${rev}/name`: a revision holds no `@`, an id may.
function ddocIdOf(key: string): string {
  const at = key.lastIndexOf('@');
  return at > 0 ? key.slice(0, at) : key;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
