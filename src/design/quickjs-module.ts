import {
  newQuickJSWASMModuleFromVariant,
  newVariant,
  type QuickJSSyncVariant,
  type QuickJSWASMModule,
} from 'quickjs-emscripten-core';

/** The part of WebAssembly's API used here (the project's `lib` has no DOM types). */
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(deltaPages: number): number;
}
declare const WebAssembly: {
  Memory: new (descriptor: { initial: number; maximum: number }) => WasmMemory;
};

const PAGE = 64 * 1024;
/** What the build asks for at start: static data, its 5 MiB stack and a first heap. */
const INITIAL_PAGES = 256;
/** The build's own ceiling (2 GiB). */
const MAX_PAGES = 32768;
/** The engine's own part of its memory (static data and stack), not counted in the limit. */
export const ENGINE_OVERHEAD_BYTES = 8 * 1024 * 1024;
/**
 * Room above the ceiling for the engine's own work on a full heap (a new realm's intrinsics):
 * QuickJS handles a failed allocation in design code, but not everywhere in its setup, where
 * a NULL traps the WebAssembly instance.
 */
export const ENGINE_SLACK_BYTES = 4 * 1024 * 1024;

/**
 * The WebAssembly memory of one sandbox, with a ceiling that holds while design code runs.
 *
 * QuickJS's own `setMemoryLimit` does not count bytes in this build (Emscripten reports no
 * usable size for an allocation, so the limit counts allocations; see
 * justjake/quickjs-emscripten#271): a loop pushing large arrays passes any limit until the
 * WebAssembly memory reaches 2 GiB. Emscripten's allocator grows the heap by calling `grow` on
 * this object, so refusing there makes `malloc` return NULL, which QuickJS reports as
 * "out of memory". The host's own copies (the arguments going in) are not refused: a NULL
 * there would be written through, and their size is bounded by the documents.
 */
export class CappedMemory {
  readonly memory: WasmMemory;
  /** The most the memory may reach while design code runs, in bytes. */
  readonly ceilingBytes: number;
  /** Growths refused so far: a change across a call means the heap was full during it. */
  refusals = 0;
  /** The ceiling in force, `Infinity` while the host works. */
  private limit = Infinity;

  constructor(limitBytes: number) {
    this.ceilingBytes = Math.max(INITIAL_PAGES * PAGE, limitBytes + ENGINE_OVERHEAD_BYTES);
    const memory = new WebAssembly.Memory({ initial: INITIAL_PAGES, maximum: MAX_PAGES });
    const grow = memory.grow.bind(memory);
    Object.defineProperty(memory, 'grow', {
      value: (deltaPages: number): number => {
        if (memory.buffer.byteLength + deltaPages * PAGE > this.limit) {
          this.refusals++;
          throw new RangeError('the sandbox memory limit is reached');
        }
        return grow(deltaPages);
      },
    });
    this.memory = memory;
  }

  /** Runs design code under the ceiling, or engine setup with `slackBytes` more. */
  run<T>(work: () => T, slackBytes = 0): T {
    const previous = this.limit;
    this.limit = this.ceilingBytes + slackBytes;
    try {
      return work();
    } finally {
      this.limit = previous;
    }
  }
}

/**
 * A QuickJS WebAssembly module of its own over `memory`: a sandbox owns its module, so its
 * memory ceiling is its own, and an engine that fails takes down its sandbox only. About
 * 25 ms in Node.
 */
export async function newQuickJSModule(memory: CappedMemory): Promise<QuickJSWASMModule> {
  // Imported here, not at the top, so the WebAssembly loads only when a sandbox is wanted.
  const imported: unknown = await import('@jitl/quickjs-wasmfile-release-sync');
  const variant = unwrapDefault(imported) as QuickJSSyncVariant;
  return newQuickJSWASMModuleFromVariant(newVariant(variant, { wasmMemory: memory.memory }));
}

// Node gives the ES module's default export; bundlers and CommonJS interop may nest it once more.
function unwrapDefault(value: unknown): unknown {
  let current = value;
  while (current && typeof current === 'object' && 'default' in current && !('type' in current)) {
    current = (current as { default: unknown }).default;
  }
  return current;
}
