/** The sandbox's limits, options and outcomes (see engine.ts). */

const MiB = 1024 * 1024;

/** Limits of a sandbox; every field has a default. */
export interface SandboxLimits {
  /** Wall-clock budget of one compile or call, in milliseconds. Default 5000. */
  timeoutMs: number;
  /**
   * How far the sandbox's WebAssembly memory may grow, for all its functions together, while
   * design code runs, in bytes (the engine's own 8 MiB not counted). Default 64 MiB.
   */
  memoryBytes: number;
  /**
   * QuickJS's stack budget, in bytes. Default 64 KiB: about 300 nested calls or 4000 levels
   * of JSON. QuickJS runs on the host's native stack, which overflows at roughly 8 to 16
   * times this budget (measured); an overflow there would corrupt the engine, so keep it
   * at most 1/32 of the thread's stack (Node's main thread has about 1 MB; the worker pool
   * sizes its threads' stacks from this value).
   */
  stackBytes: number;
  /** Compiled functions kept; the least recently used beyond this are disposed. Default 64. */
  maxFunctions: number;
}

/** Options of {@link JsSandbox.create}. */
export interface SandboxOptions extends Partial<SandboxLimits> {
  /** Receives each `log(message)` of a design function, with the key of that function. */
  onLog?: (message: string, key: string) => void;
}

/**
 * What a design function's `require(path)` loads CommonJS modules from, as CouchDB's query
 * server does: the design document itself for `validate_doc_update` and filter functions,
 * `{ views: { lib } }` (its `views.lib`) for map functions. JSON data: a module is a string
 * member, named by the `/`-separated path of members leading to it (`require('lib/validate')`
 * is `lib.validate`), and runs in the sandbox realm of the function that requires it.
 */
export type DesignModules = Record<string, unknown>;

/** Why a call failed other than by throwing a value. */
export type CallFailure = 'timeout' | 'memory' | 'error';

/**
 * What one call of a design function did:
 * - returned (`value` is the JSON of what it returned, `undefined` for nothing);
 * - threw a value that is not an Error, as CouchDB functions do (`throw({forbidden: '…'})`),
 *   given back as JSON;
 * - failed: ran past its time, ran out of memory, or threw an Error (`message` says which,
 *   e.g. `TypeError: cannot read property 'x' of undefined`).
 */
export type CallOutcome =
  | { ok: true; value: unknown }
  | { ok: false; thrown: unknown }
  | { ok: false; failure: CallFailure; message: string };

/** Counters, for tests and diagnostics. */
export interface SandboxStats {
  /** Sources evaluated (each `compile` that was not a cache hit, and recompiles after a reset). */
  compilations: number;
  calls: number;
  /** Compiled functions disposed to keep the cache within `maxFunctions`. */
  evictions: number;
  /** Runtimes replaced after running out of memory. */
  resets: number;
}

export const DEFAULT_LIMITS: Readonly<SandboxLimits> = Object.freeze({
  timeoutMs: 5000,
  memoryBytes: 64 * MiB,
  stackBytes: 64 * 1024,
  maxFunctions: 64,
});
