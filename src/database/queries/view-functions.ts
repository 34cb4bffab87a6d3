/**
 * Views' JavaScript through the design runner: a design document's map functions over a page
 * of documents (one runner call for all of them), and a view's reduce function as the streaming
 * grouper calls it. What a function does with one input is never an exception here: a map that
 * throws or hits a limit on a document leaves that document out of that view, as CouchDB's
 * indexer does; a reduce that fails gives `null`, as couchjs does (share/server/views.js
 * `runReduce`). Only a function that does not compile fails the query.
 */
import type { Doc } from '../../core/api.js';
import { encodeKey } from '../../core/mango/key-encoding.js';
import type { Reducer } from '../../core/views/builtin-reduce.js';
import type {
  DesignFailure,
  DesignRunner,
  MapFunction,
  MapOutcome,
  MapRow,
  ReduceFunction,
} from '../../design/runner.js';
import type { IndexEntry } from '../../storage/types.js';
import { compilationError } from './view-definitions.js';

/**
 * Each document's rows in each index, per document then per function: the shape
 * `IndexGroup.map` answers.
 */
export async function mapDocs(
  runner: DesignRunner,
  functions: readonly MapFunction[],
  viewNames: readonly string[],
  docs: readonly Doc[],
): Promise<IndexEntry[][][]> {
  if (docs.length === 0) return [];
  const outcomes = await runner.map({ functions: [...functions], docs: [...docs] });
  const byFunction = await Promise.all(
    functions.map((fn, f) =>
      settle(
        outcomes.map((perDoc) => perDoc[f]!),
        async (positions) =>
          (await runner.map({ functions: [fn], docs: positions.map((at) => docs[at]!) })).map(
            ([outcome]) => outcome!,
          ),
      ),
    ),
  );
  return docs.map((_doc, d) => functions.map((_fn, f) => entriesOf(byFunction[f]![d]!, viewNames[f]!)));
}

/** A JavaScript reduce function as the grouper calls it: many calls per runner trip. */
export function javascriptReducer(runner: DesignRunner, fn: ReduceFunction, viewName: string): Reducer {
  return {
    name: fn.key,
    finalize: (value) => value,
    reduce: async (calls) => {
      const requests = calls.map((call) => ({
        keys: call.rereduce ? null : call.keys.map(([key, id]) => [key, id] as [unknown, string]),
        values: [...call.values],
        rereduce: call.rereduce,
      }));
      const first = await runner.reduce({ fn, calls: requests });
      const outcomes = await settle(first, async (positions) =>
        runner.reduce({ fn, calls: positions.map((at) => requests[at]!) }),
      );
      return outcomes.map((outcome) => {
        if (outcome.ok) return outcome.value;
        if (outcome.failure === 'compile') throw compilationError('reduce', viewName, outcome.message);
        return null;
      });
    },
  };
}

/**
 * Runs again the inputs the runner left `not_run` (a function that kept hitting its limits
 * stops for the rest of a batch, which is no verdict on those inputs) until each has one.
 * Every round gives a verdict to the first inputs it runs, so the rounds end.
 */
async function settle<T extends { ok: boolean }>(
  outcomes: readonly (T | DesignFailure)[],
  rerun: (positions: number[]) => Promise<(T | DesignFailure)[]>,
): Promise<(T | DesignFailure)[]> {
  const settled = [...outcomes];
  let pending = notRun(settled);
  while (pending.length > 0) {
    const again = await rerun(pending);
    pending.forEach((position, at) => (settled[position] = again[at]!));
    pending = pending.filter((position) => isNotRun(settled[position]!));
  }
  return settled;
}

function notRun(outcomes: readonly { ok: boolean }[]): number[] {
  return outcomes.flatMap((outcome, position) => (isNotRun(outcome) ? [position] : []));
}

function isNotRun(outcome: { ok: boolean }): boolean {
  return !outcome.ok && (outcome as DesignFailure).failure === 'not_run';
}

/** A document's rows for one view: none when the function failed on it (CouchDB skips it). */
function entriesOf(outcome: MapOutcome, viewName: string): IndexEntry[] {
  if (outcome.ok) return outcome.rows.map(toEntry);
  if (outcome.failure === 'compile') throw compilationError('map', viewName, outcome.message);
  return [];
}

function toEntry([key, value]: MapRow): IndexEntry {
  const { bytes, exact } = encodeKey(key);
  return {
    key: bytes,
    exact,
    keyJson: JSON.stringify(key) ?? 'null',
    valueJson: JSON.stringify(value) ?? 'null',
  };
}
