/**
 * The JavaScript of design documents, in a QuickJS/WebAssembly sandbox with limits per call.
 *
 * `engine.ts`, `validation.ts`, `views.ts` and `runner.ts` import nothing of Node (a browser
 * build may import them directly); `pool.ts` runs them in Node worker threads.
 */
export {
  DEFAULT_LIMITS,
  JsSandbox,
  type CallFailure,
  type CallOutcome,
  type DesignModules,
  type SandboxLimits,
  type SandboxOptions,
  type SandboxStats,
} from './engine.js';
export {
  DesignPoolClosedError,
  SandboxCompileError,
  SandboxDisposedError,
  SandboxNotCompiledError,
  type CompileFailure,
} from './errors.js';
export type { DesignLog } from './messages.js';
export { DesignWorkerPool, type DesignPoolOptions } from './pool.js';
export { mapModules } from './module-roots.js';
export {
  runValidations,
  type ValidationError,
  type ValidationFunction,
  type ValidationItem,
  type ValidationOutcome,
  type ValidationRequest,
  type ValidationSandbox,
  type ValidationUserCtx,
} from './validation.js';
export type {
  DesignFailure,
  DesignFailureKind,
  DesignFunction,
  DesignRunner,
  FilterFunction,
  FilterReq,
  FilterRequest,
  MapFunction,
  MapOutcome,
  MapRequest,
  MapRow,
  ReduceCall,
  ReduceFunction,
  ReduceOutcome,
  ReduceRequest,
} from './runner.js';
export {
  MAX_LIMIT_FAILURES_PER_BATCH,
  runFilters,
  runMaps,
  runReduce,
  runReduces,
  type ViewSandbox,
} from './views.js';
