/**
 * Reading what the engine answers: the invoker's tagged string (see prelude.ts) and QuickJS
 * exceptions that reach the host.
 */
import type { QuickJSContext, QuickJSHandle } from 'quickjs-emscripten-core';
import type { CallOutcome } from './sandbox-types.js';
import { ResultTag } from './prelude.js';

/** The outcome an invoker's answer stands for. */
export function decodeAnswer(answer: string, memoryMessage: string): CallOutcome {
  const rest = answer.slice(1);
  switch (answer[0]) {
    case ResultTag.returned:
      return { ok: true, value: rest === '' ? undefined : JSON.parse(rest) };
    case ResultTag.thrown:
      return { ok: false, thrown: JSON.parse(rest) };
    case ResultTag.memory:
      return { ok: false, failure: 'memory', message: memoryMessage };
    default:
      return { ok: false, failure: 'error', message: rest };
  }
}

/**
 * A QuickJS exception as `name: message`, with the line and column in the design source when
 * it arose there; read defensively, the engine may be short of memory.
 */
export function readError(
  context: QuickJSContext,
  error: QuickJSHandle,
): { text: string; outOfMemory: boolean } {
  try {
    const value: unknown = context.dump(error);
    if (!value || typeof value !== 'object' || !('message' in value))
      return { text: String(value), outOfMemory: false };
    const { name, message, stack } = value as { name?: unknown; message?: unknown; stack?: unknown };
    const text = `${String(name ?? 'Error')}: ${String(message)}`;
    return { text: text + sourceLocation(stack), outOfMemory: text === 'InternalError: out of memory' };
  } catch {
    return { text: 'an exception that cannot be read', outOfMemory: false };
  }
}

// Design sources are evaluated by an indirect eval, which QuickJS names `<input>`; the first
// line carries the opening parenthesis that asExpression adds.
function sourceLocation(stack: unknown): string {
  const match = typeof stack === 'string' ? /<input>:(\d+):(\d+)/.exec(stack) : null;
  if (!match) return '';
  const line = Number(match[1]);
  const column = Number(match[2]) - (line === 1 ? 1 : 0);
  return ` (line ${line}, column ${column})`;
}
