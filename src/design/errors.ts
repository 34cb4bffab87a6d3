/**
 * Errors of the design-function sandbox. They are programming or configuration faults of the
 * caller (a function that does not compile, a key never compiled, a closed pool); what a
 * design function does when it runs is never thrown but returned as a `CallOutcome`.
 */

/** Why a design function's source did not become a function. */
export type CompileFailure = 'syntax' | 'not_a_function' | 'timeout' | 'memory' | 'error';

/**
 * A design function's source that does not evaluate to a function: a syntax error, another
 * value, or an evaluation that threw, timed out or ran out of memory. CouchDB answers such a
 * design document with `compilation_error`.
 */
export class SandboxCompileError extends Error {
  /** The cache key the source was compiled under. */
  readonly key: string;
  readonly failure: CompileFailure;
  /** The engine's own words, e.g. `SyntaxError: unexpected token in expression: '}'`. */
  readonly detail: string;

  constructor(key: string, failure: CompileFailure, detail: string) {
    super(`${key} does not compile: ${detail}`);
    this.name = 'SandboxCompileError';
    this.key = key;
    this.failure = failure;
    this.detail = detail;
  }
}

/** `call` of a key that was never compiled (or was evicted): compile it first. */
export class SandboxNotCompiledError extends Error {
  readonly key: string;

  constructor(key: string) {
    super(`${key} is not compiled in this sandbox`);
    this.name = 'SandboxNotCompiledError';
    this.key = key;
  }
}

/** Use of a sandbox after `dispose()`. */
export class SandboxDisposedError extends Error {
  constructor() {
    super('the sandbox is disposed');
    this.name = 'SandboxDisposedError';
  }
}

/** `validate` on a `DesignWorkerPool` after `close()`. */
export class DesignPoolClosedError extends Error {
  constructor() {
    super('the design worker pool is closed');
    this.name = 'DesignPoolClosedError';
  }
}
