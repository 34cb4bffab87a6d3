/** Shared fixtures of the design sandbox tests. */
import type {
  ValidationFunction,
  ValidationItem,
  ValidationRequest,
  ValidationUserCtx,
} from '../../src/design/index.js';

export const USER_CTX: ValidationUserCtx = { db: 'shop', name: 'ann', roles: ['clerk'] };
export const SEC_OBJ = { admins: { names: ['boss'], roles: [] }, members: { names: [], roles: ['clerk'] } };

let counter = 0;

/** A validation function under a fresh key (so no test sees another's cache). */
export function fn(source: string, ddocId = `_design/t${++counter}`): ValidationFunction {
  return { key: `${ddocId}@1-${counter}`, source };
}

/** New documents (no old revision). */
export function newDocs(...docs: Record<string, unknown>[]): ValidationItem[] {
  return docs.map((newDoc) => ({ newDoc, oldDoc: null }));
}

export function request(functions: ValidationFunction[], items: ValidationItem[]): ValidationRequest {
  return { functions, items, userCtx: USER_CTX, secObj: SEC_OBJ };
}

/** Refuses documents without a `type`, and `locked` ones as unauthorized. */
export const TYPED = `function (newDoc, oldDoc, userCtx, secObj) {
  if (newDoc.locked) throw({unauthorized: 'locked'});
  if (!newDoc.type) throw({forbidden: 'a document needs a type'});
}`;

/** The uninterruptible builtin of the watchdog tests: joining big BigInts, seconds per element. */
export const NATIVE_HOG = `function () {
  var big = (1n << 800000n) - 1n;
  return new Array(20).fill(big).join(',').length;
}`;
