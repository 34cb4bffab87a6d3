import type {
  QuickJSContext,
  QuickJSHandle,
  QuickJSRuntime,
  QuickJSWASMModule,
} from 'quickjs-emscripten-core';
import { decodeAnswer, readError } from './answers.js';
import { BoundedCache } from './bounded-cache.js';
import { SandboxCompileError, SandboxDisposedError, SandboxNotCompiledError } from './errors.js';
import { CappedMemory, ENGINE_SLACK_BYTES, newQuickJSModule } from './quickjs-module.js';
import { openRealm, type Realm, type RealmCode, type RealmHooks } from './realm.js';
import {
  DEFAULT_LIMITS,
  type CallFailure,
  type CallOutcome,
  type DesignModules,
  type SandboxLimits,
  type SandboxOptions,
  type SandboxStats,
} from './sandbox-types.js';

const MiB = 1024 * 1024;

export * from './sandbox-types.js';

/** Touches what validation functions commonly do: JSON, objects, arrays, strings, throwing. */
const WARM_UP_SOURCE = `function (newDoc, oldDoc, userCtx) {
  var names = Object.keys(newDoc).concat(userCtx.roles).map(function (n) { return String(n).toUpperCase() });
  try { throw({ forbidden: names.join(',') + isArray(newDoc.list) + /a+/.test('aa') + toJSON(oldDoc) }) }
  catch (e) { return [e.forbidden.length, sum([1, 2]), typeof log] }
}`;

interface Entry {
  code: RealmCode;
  /** Absent after a reset until the next call recompiles it. */
  realm?: Realm;
}

type Failed = Extract<CallOutcome, { failure: CallFailure }>;

/**
 * A QuickJS (WebAssembly) sandbox for CouchDB design functions: no Node API, nothing of the
 * host reachable, a time budget per compile and call, one memory limit for all its functions.
 *
 * Each function compiles once per key into a realm of its own and stays cached (bounded, least
 * recently used first out). A call that throws, loops or exhausts memory is an outcome, never
 * an exception. After a timeout the sandbox goes on as it is; after running out of memory its
 * runtime is replaced transparently (compiled functions are recompiled from their sources on
 * their next call, counted in `stats.resets`).
 *
 * Calls are synchronous: a looping function holds the calling thread for up to `timeoutMs`,
 * so a server runs sandboxes in worker threads (see `DesignWorkerPool`).
 *
 * @example
 * const sandbox = await JsSandbox.create({ timeoutMs: 1000 });
 * sandbox.compile('_design/app@1-a/validate_doc_update', 'function (doc) { if (!doc.type) throw {forbidden: "type"} }');
 * sandbox.call('_design/app@1-a/validate_doc_update', [{}]); // { ok: false, thrown: { forbidden: 'type' } }
 */
export class JsSandbox {
  /** The limits in force, defaults filled in. */
  readonly limits: Readonly<SandboxLimits>;
  private readonly module: QuickJSWASMModule;
  private readonly memory: CappedMemory;
  private readonly onLog: SandboxOptions['onLog'];
  private readonly cache: BoundedCache<Entry>;
  private readonly counters: SandboxStats = { compilations: 0, calls: 0, evictions: 0, resets: 0 };
  private runtime: QuickJSRuntime;
  private deadline = Infinity;
  private interrupted = false;
  private currentKey = '';
  private disposed = false;
  /** Set when the engine itself failed; see {@link broken}. */
  private failure: string | undefined;

  private constructor(
    module: QuickJSWASMModule,
    memory: CappedMemory,
    limits: SandboxLimits,
    options: SandboxOptions,
  ) {
    this.module = module;
    this.memory = memory;
    this.limits = Object.freeze(limits);
    this.onLog = options.onLog;
    this.cache = new BoundedCache<Entry>(this.limits.maxFunctions, (_key, entry) => {
      this.counters.evictions++;
      this.closeRealm(entry);
    });
    this.runtime = this.newRuntime();
  }

  /** A sandbox with a QuickJS WebAssembly module of its own (about 25 ms to instantiate). */
  static async create(options: SandboxOptions = {}): Promise<JsSandbox> {
    const limits = { ...DEFAULT_LIMITS, ...definedOnly(options) };
    const memory = new CappedMemory(limits.memoryBytes);
    const sandbox = new JsSandbox(await newQuickJSModule(memory), memory, limits, options);
    sandbox.warmUp();
    return sandbox;
  }

  /** A copy of the counters. */
  get stats(): Readonly<SandboxStats> {
    return { ...this.counters };
  }

  /**
   * True when the WebAssembly engine itself failed (the host's stack overflowed inside it):
   * every call fails from then on; create a new sandbox (a worker thread retires).
   */
  get broken(): boolean {
    return this.failure !== undefined;
  }

  /** Whether `key` is in the cache. */
  has(key: string): boolean {
    return this.cache.get(key) !== undefined;
  }

  /**
   * Compiles a CouchDB function source (an expression such as `function (newDoc, oldDoc) {…}`,
   * comments and a trailing semicolon allowed) under `key`, unless that key already holds the
   * same source and modules: the caller passes a key per design-document revision, e.g.
   * `${ddocId}@${rev}/validate_doc_update`, so repeated batches compile once.
   *
   * With `modules`, the function's `require(path)` loads CommonJS modules from them, each
   * evaluated once in the function's realm at its first `require` (see commonjs.ts); without,
   * `require` throws.
   *
   * @throws SandboxCompileError if it does not evaluate to a function (syntax error, another
   *   value, or it threw, timed out or ran out of memory while evaluating), or if the modules
   *   cannot be serialized.
   */
  compile(key: string, source: string, modules?: DesignModules): void {
    this.assertOpen();
    const code: RealmCode = { source, modulesJson: modulesJsonOf(key, modules) };
    const cached = this.cache.get(key);
    if (cached?.realm && sameCode(cached.code, code)) return;
    if (cached) {
      this.cache.delete(key);
      this.closeRealm(cached);
    }
    const entry: Entry = { code };
    entry.realm = this.openRealm(key, code);
    this.cache.set(key, entry);
  }

  /** Calls the function compiled under `key` with `args` (JSON values). */
  call(key: string, args: readonly unknown[]): CallOutcome {
    return this.callJson(key, JSON.stringify(args));
  }

  /**
   * {@link call} with the arguments already serialized as a JSON array, so a caller passing
   * the same value to many calls (a user context) serializes it once.
   *
   * @throws SandboxNotCompiledError if `key` is not compiled (or was evicted).
   */
  callJson(key: string, argsJson: string): CallOutcome {
    this.assertOpen();
    const entry = this.cache.get(key);
    if (!entry) throw new SandboxNotCompiledError(key);
    this.counters.calls++;
    try {
      entry.realm ??= this.openRealm(key, entry.code);
      return this.invoke(entry.realm, key, argsJson);
    } catch (error) {
      if (!(error instanceof SandboxCompileError)) throw error;
      const failure = error.failure === 'timeout' || error.failure === 'memory' ? error.failure : 'error';
      return { ok: false, failure, message: error.message };
    }
  }

  /** Disposes every compiled function and the runtime. The sandbox is unusable afterwards. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    if (this.broken) return; // its memory cannot be trusted; leave it to the garbage collector
    try {
      this.cache.clear();
      this.runtime.dispose();
    } catch (error) {
      this.fail(error);
    }
  }

  /**
   * Runs a representative function once. V8 compiles WebAssembly functions on their first
   * call, so the first compile of a fresh engine takes tens of milliseconds (hundreds on a
   * busy machine): paid here, not out of the first design function's time budget.
   */
  private warmUp(): void {
    const key = 'settee:warm-up';
    try {
      this.compile(key, WARM_UP_SOURCE);
      this.call(key, [{ _id: 'a', list: [1, 'two', { three: 3 }] }, null, { name: null, roles: ['r'] }, {}]);
    } catch {
      // Only a busy machine makes it time out; what it compiled stays compiled.
    }
    const entry = this.cache.get(key);
    if (entry) {
      this.cache.delete(key);
      this.closeRealm(entry);
    }
    Object.assign(this.counters, { compilations: 0, calls: 0, evictions: 0, resets: 0 });
  }

  private newRuntime(): QuickJSRuntime {
    const runtime = this.module.newRuntime();
    runtime.setMemoryLimit(this.limits.memoryBytes);
    runtime.setMaxStackSize(this.limits.stackBytes);
    runtime.setInterruptHandler(() => this.shouldInterrupt());
    return runtime;
  }

  // QuickJS asks every few thousand instructions, and also inside regular expressions.
  private shouldInterrupt(): boolean {
    if (performance.now() <= this.deadline) return false;
    this.interrupted = true;
    return true;
  }

  private openRealm(key: string, code: RealmCode): Realm {
    this.counters.compilations++;
    const hooks: RealmHooks = {
      onLog: (message) => this.emitLog(message),
      describe: (context, error) => this.describeFailure(context, error),
      asEngine: (work) => this.memory.run(work, ENGINE_SLACK_BYTES),
      asDesignCode: (work) => this.memory.run(work),
    };
    const refusals = this.memory.refusals;
    const realm = this.guardHost(() => {
      try {
        return this.withDeadline(key, () => openRealm(this.runtime, key, code, hooks));
      } catch (error) {
        if (this.memory.refusals !== refusals) this.reset();
        throw error;
      }
    }, key);
    if (this.memory.refusals !== refusals) {
      // The source's own evaluation filled the heap and caught its "out of memory".
      realm.dispose();
      this.reset();
      throw new SandboxCompileError(key, 'memory', this.memoryMessage());
    }
    return realm;
  }

  private invoke(realm: Realm, key: string, argsJson: string): CallOutcome {
    const refusals = this.memory.refusals;
    const outcome = this.guardHost(
      () => this.withDeadline(key, () => this.invokeOnce(realm, argsJson)),
      key,
      (message) => ({ ok: false, failure: 'error', message }) as const,
    );
    // A full heap fails the call even if the function caught its "out of memory" (QuickJS may
    // not even have had the memory to make the error), and the runtime starts afresh.
    if (this.memory.refusals !== refusals) {
      this.reset();
      return { ok: false, failure: 'memory', message: this.memoryMessage() };
    }
    if ('failure' in outcome && outcome.failure === 'memory') this.reset();
    return outcome;
  }

  private invokeOnce(realm: Realm, argsJson: string): CallOutcome {
    const { context } = realm;
    const arg = context.newString(argsJson); // the host's copy: outside the ceiling, see CappedMemory
    try {
      const result = this.memory.run(() => context.callFunction(realm.invoke, context.undefined, arg));
      if (result.error) {
        const failed = this.describeFailure(context, result.error);
        result.dispose();
        return { ok: false, ...failed };
      }
      const answer = context.getString(result.value);
      result.dispose();
      return this.drainJobs() ?? decodeAnswer(answer, this.memoryMessage());
    } finally {
      arg.dispose();
    }
  }

  /**
   * Runs the promise jobs a call queued, within its deadline, so they neither pile up in
   * memory nor run later on another function's time. A drain that does not finish leaves
   * jobs behind: the runtime is reset then.
   */
  private drainJobs(): Failed | undefined {
    if (!this.runtime.hasPendingJob()) return undefined;
    const result = this.memory.run(() => this.runtime.executePendingJobs());
    if (!result.error) return undefined;
    const failed = this.describeFailure(result.error.context, result.error);
    result.dispose();
    if (failed.failure === 'error') return undefined; // a rejected job is the function's own affair
    if (failed.failure === 'timeout') this.reset();
    return { ok: false, ...failed };
  }

  private withDeadline<T>(key: string, work: () => T): T {
    this.currentKey = key;
    this.interrupted = false;
    this.deadline = performance.now() + this.limits.timeoutMs;
    try {
      return work();
    } finally {
      this.deadline = Infinity;
    }
  }

  private describeFailure(context: QuickJSContext, error: QuickJSHandle): Omit<Failed, 'ok'> {
    if (this.interrupted) {
      return { failure: 'timeout', message: `timed out after ${this.limits.timeoutMs} ms` };
    }
    const read = readError(context, error);
    if (read.outOfMemory) return { failure: 'memory', message: this.memoryMessage() };
    return { failure: 'error', message: read.text };
  }

  private memoryMessage(): string {
    const bytes = this.limits.memoryBytes;
    return `ran out of memory (limit ${bytes % MiB === 0 ? `${bytes / MiB} MiB` : `${bytes} bytes`})`;
  }

  /** A fresh runtime: the old one may hold whatever filled its memory. */
  private reset(): void {
    this.counters.resets++;
    try {
      for (const [, entry] of this.cache.entries()) this.closeRealm(entry);
      this.runtime.dispose();
      this.runtime = this.newRuntime();
    } catch (error) {
      this.fail(error); // calls fail from now on, saying so
    }
  }

  private closeRealm(entry: Entry): void {
    const realm = entry.realm;
    entry.realm = undefined;
    if (realm && !this.broken) realm.dispose();
  }

  private emitLog(message: string): void {
    try {
      this.onLog?.(message, this.currentKey);
    } catch {
      // The host's logger failing is no fault of the design function.
    }
  }

  /**
   * Runs work that enters WebAssembly. An exception that is not ours comes from the host
   * (its stack overflowed in the engine, or the engine aborted): the module's memory can no
   * longer be trusted: the sandbox is broken from then on, and the call fails.
   */
  private guardHost<T>(work: () => T, key = '', asOutcome?: (message: string) => T): T {
    if (this.failure === undefined) {
      try {
        return work();
      } catch (error) {
        if (error instanceof SandboxCompileError || error instanceof SandboxNotCompiledError) throw error;
        this.fail(error);
      }
    }
    const message = `the QuickJS engine failed (${this.failure}); the sandbox must be recreated`;
    if (asOutcome) return asOutcome(message);
    throw new SandboxCompileError(key, 'error', message);
  }

  private fail(error: unknown): void {
    this.failure ??= error instanceof Error ? error.message : String(error);
  }

  private assertOpen(): void {
    if (this.disposed) throw new SandboxDisposedError();
  }
}

function modulesJsonOf(key: string, modules: DesignModules | undefined): string {
  if (modules === undefined) return '';
  try {
    return JSON.stringify(modules);
  } catch (error) {
    // A design document read from JSON always serializes; a caller's object may not (a cycle).
    const reason = error instanceof Error ? error.message : String(error);
    const detail = `its modules cannot be passed to the sandbox: ${reason}`;
    throw new SandboxCompileError(key, 'error', detail);
  }
}

function sameCode(a: RealmCode, b: RealmCode): boolean {
  return a.source === b.source && a.modulesJson === b.modulesJson;
}

function definedOnly(options: SandboxOptions): Partial<SandboxLimits> {
  const limits: Partial<SandboxLimits> = {};
  for (const name of Object.keys(DEFAULT_LIMITS) as (keyof SandboxLimits)[]) {
    const value = options[name];
    if (value === undefined) continue;
    if (!(value > 0) || !Number.isFinite(value)) throw new RangeError(`${name} must be a positive number`);
    limits[name] = value;
  }
  return limits;
}
