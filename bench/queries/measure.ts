/** Timing of repeated queries, and the check that every contender answers them alike. */
import { gc, perSecond } from '../lib.js';
import { type Constants, constantsSequence, type QueryCase, type Runner } from './workload.js';

/** How long a rate is measured, over how many documents (which bound the constants). */
export interface Budget {
  ms: number;
  size: number;
}

/** Queries at least this many times, even when one query outlasts the budget (full scans). */
const MIN_TIMED = 2;

/**
 * Queries/second of a runner, `inFlight` queries at a time: a fresh sequence of constants, a
 * quarter of the budget (at least one query) untimed so the JIT and caches warm up, then queries
 * until the budget is spent.
 */
export async function queriesPerSecond(run: Runner, budget: Budget, inFlight = 1): Promise<number> {
  const next = constantsSequence(budget.size);
  const drive = async (until: number, minimum: number) => {
    let count = 0;
    const worker = async () => {
      while (count < minimum || performance.now() < until) {
        count++;
        await run(next());
      }
    };
    await Promise.all(Array.from({ length: inFlight }, worker));
    return count;
  };
  await drive(performance.now() + budget.ms / 4, 1);
  gc();
  const start = performance.now();
  const count = await drive(start + budget.ms, MIN_TIMED);
  return perSecond(count, performance.now() - start);
}

/**
 * Runs the first `count` queries of a case on every contender and throws unless they all return
 * the same documents in the same order as the reference, which must find at least one: a rate of
 * wrong or empty answers would measure nothing.
 */
export async function checkSameAnswers(
  queryCase: QueryCase,
  reference: Runner,
  others: Record<string, Runner>,
  budget: Budget,
  count = 5,
): Promise<void> {
  const next = constantsSequence(budget.size);
  for (let i = 0; i < count; i++) {
    const constants = next();
    const expected = await reference(constants);
    if (expected.length === 0)
      throw new Error(`${queryCase.name}: no document matches ${describe(constants)}`);
    for (const [who, run] of Object.entries(others)) {
      const got = await run(constants);
      if (got.join() !== expected.join()) {
        throw new Error(
          `${queryCase.name}: ${who} returned ${got.length} docs (${got.slice(0, 3).join()}…), ` +
            `the raw query ${expected.length} (${expected.slice(0, 3).join()}…) for ${describe(constants)}`,
        );
      }
    }
  }
}

function describe(c: Constants): string {
  return JSON.stringify(c);
}
