import { SetteeError } from '../../src/core/errors.js';

/** The `{error, reason, status}` of the SetteeError `action` throws (fails the test otherwise). */
export function failure(action: () => unknown): { error: string; reason: string; status: number } {
  try {
    action();
  } catch (err) {
    if (err instanceof SetteeError) return { error: err.error, reason: err.reason, status: err.status };
    throw err;
  }
  throw new Error('expected a SetteeError');
}
