/**
 * The part of IndexedDB this backend uses, typed here rather than through TypeScript's DOM
 * library: adding `lib: dom` to the project retypes Node's globals (fetch bodies, timers) in
 * every file. The shapes are the standard's (https://w3c.github.io/IndexedDB/), reduced to what
 * we call; and the promise helpers every module of the backend awaits requests with.
 */
import { SetteeError } from '../../core/errors.js';

export type IdbKey = number | string | ArrayBuffer | ArrayBufferView | IdbKey[];

export interface IdbKeyRange {
  readonly lower: unknown;
  readonly upper: unknown;
}

export interface IdbKeyRangeStatic {
  bound(lower: IdbKey, upper: IdbKey, lowerOpen?: boolean, upperOpen?: boolean): IdbKeyRange;
  lowerBound(lower: IdbKey, open?: boolean): IdbKeyRange;
  upperBound(upper: IdbKey, open?: boolean): IdbKeyRange;
  only(value: IdbKey): IdbKeyRange;
}

export type IdbQuery = IdbKey | IdbKeyRange | null;

/** A DOMException as IndexedDB reports one. */
export interface IdbError {
  readonly name: string;
  readonly message: string;
}

export interface IdbRequest<T> {
  readonly result: T;
  readonly error: IdbError | null;
  onsuccess: (() => void) | null;
  onerror: (() => void) | null;
}

export interface IdbCursor {
  readonly value: unknown;
  continue(): void;
}

/** An object store or an index: what reads need. */
export interface IdbSource {
  get(query: IdbKey | IdbKeyRange): IdbRequest<unknown>;
  getKey(query: IdbKey | IdbKeyRange): IdbRequest<IdbKey | undefined>;
  getAll(query?: IdbQuery, count?: number): IdbRequest<unknown[]>;
  getAllKeys(query?: IdbQuery, count?: number): IdbRequest<IdbKey[]>;
  count(query?: IdbQuery): IdbRequest<number>;
  openCursor(query?: IdbQuery, direction?: 'next' | 'prev'): IdbRequest<IdbCursor | null>;
}

export interface IdbObjectStore extends IdbSource {
  put(value: unknown, key?: IdbKey): IdbRequest<IdbKey>;
  add(value: unknown, key?: IdbKey): IdbRequest<IdbKey>;
  delete(query: IdbKey | IdbKeyRange): IdbRequest<undefined>;
  index(name: string): IdbSource;
  deleteIndex(name: string): void;
  createIndex(
    name: string,
    keyPath: string | string[],
    options?: { unique?: boolean; multiEntry?: boolean },
  ): unknown;
}

export interface IdbTransaction {
  readonly error: IdbError | null;
  objectStore(name: string): IdbObjectStore;
  abort(): void;
  /** Absent in older browsers (before Chromium 76, Firefox 74, Safari 15). */
  commit?(): void;
  oncomplete: (() => void) | null;
  onabort: (() => void) | null;
}

export type Durability = 'strict' | 'relaxed';

export interface IdbDatabase {
  readonly version: number;
  readonly objectStoreNames: ArrayLike<string>;
  transaction(
    stores: string | readonly string[],
    mode: 'readonly' | 'readwrite',
    options?: { durability: Durability },
  ): IdbTransaction;
  createObjectStore(
    name: string,
    options?: { keyPath?: string | string[]; autoIncrement?: boolean },
  ): IdbObjectStore;
  close(): void;
  onversionchange: (() => void) | null;
}

export interface IdbOpenRequest extends IdbRequest<IdbDatabase> {
  /** The upgrade's transaction, while `onupgradeneeded` runs. */
  readonly transaction: IdbTransaction | null;
  onupgradeneeded: ((event: { oldVersion: number }) => void) | null;
  onblocked: (() => void) | null;
}

export interface IdbFactory {
  open(name: string, version: number): IdbOpenRequest;
  deleteDatabase(name: string): IdbOpenRequest;
  cmp(first: IdbKey, second: IdbKey): number;
}

/** The page's IndexedDB, or a clear error where there is none (Node, a sandboxed frame). */
export function indexedDb(): { factory: IdbFactory; keyRange: IdbKeyRangeStatic } {
  const scope = globalThis as { indexedDB?: IdbFactory; IDBKeyRange?: IdbKeyRangeStatic };
  if (!scope.indexedDB || !scope.IDBKeyRange) {
    throw new SetteeError(
      'not_implemented',
      'IndexedDB is not available here: open the database in a browser',
    );
  }
  return { factory: scope.indexedDB, keyRange: scope.IDBKeyRange };
}

/** The result of a request, once it succeeds. */
export function requested<T>(request: IdbRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(storageError(request.error));
  });
}

/**
 * Up to `count` values of `source` within `range`, in key order or its reverse. Ascending is one
 * `getAll`; descending walks a cursor backwards, since `getAll` reads forwards only.
 */
export function readPage<T>(
  source: IdbSource,
  range: IdbQuery,
  descending: boolean,
  count: number,
): Promise<T[]> {
  if (!descending) return requested(source.getAll(range, count)) as Promise<T[]>;
  return new Promise((resolve, reject) => {
    const values: T[] = [];
    const request = source.openCursor(range, 'prev');
    request.onsuccess = () => {
      const cursor = request.result;
      if (cursor) values.push(cursor.value as T);
      if (!cursor || values.length >= count) resolve(values);
      else cursor.continue();
    };
    request.onerror = () => reject(storageError(request.error));
  });
}

/**
 * Runs `work` in one transaction and resolves once it has committed: a write is acknowledged
 * only when IndexedDB says it is stored. Anything `work` throws aborts the transaction, so it
 * writes nothing; a request that fails aborts it too, and its error (a full quota…) is thrown.
 */
export function inTransaction<T>(
  db: IdbDatabase,
  stores: readonly string[],
  mode: 'readonly' | 'readwrite',
  work: (tx: IdbTransaction) => Promise<T> | T,
  durability: Durability = 'strict',
): Promise<T> {
  return completing(db.transaction(stores, mode, mode === 'readwrite' ? { durability } : undefined), work);
}

/** `inTransaction` for a transaction already open (and still active). */
export async function completing<T>(
  tx: IdbTransaction,
  work: (tx: IdbTransaction) => Promise<T> | T,
): Promise<T> {
  const committed = new Promise<void>((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onabort = () => reject(storageError(tx.error));
  });
  let result: T;
  try {
    result = await work(tx);
  } catch (error) {
    if (!abortQuietly(tx)) {
      // Already over: aborted by the request that failed (whose error this is), or finished
      // before the work placed its first request. Nothing to undo; the abort, if any, is known.
      committed.catch(() => undefined);
      throw error;
    }
    // A request that failed first is the cause; the work's own error otherwise (our abort).
    throw await committed.then(
      () => error,
      (aborted: unknown) => (tx.error ? aborted : error),
    );
  }
  commitNow(tx);
  await committed;
  return result;
}

/**
 * Asks `tx` to commit once its requests are done, instead of when the page has heard every
 * request's success and placed no other: the browser then commits without waiting for that round
 * trip to the page (about a tenth of a batch of 100 puts' time in Chromium). A transaction already
 * over, or inactive because the work awaited something else, commits on its own.
 */
function commitNow(tx: IdbTransaction): void {
  try {
    tx.commit?.();
  } catch (error) {
    if (!isInactive(error)) throw error;
  }
}

/**
 * Whether a request failed to be placed because its transaction was no longer active: it is
 * active only while the task or the request callback that can use it runs (microtasks
 * included), and finishes once it has no request left.
 */
export function isInactive(error: unknown): boolean {
  const name = (error as { name?: unknown } | null)?.name;
  return name === 'TransactionInactiveError' || name === 'InvalidStateError';
}

/** Aborts `tx`; false when it had finished already (committed or aborted): nothing to undo. */
function abortQuietly(tx: IdbTransaction): boolean {
  try {
    tx.abort();
    return true;
  } catch {
    return false;
  }
}

/**
 * A storage error as Settee reports it: a full quota is a typed error saying what happened
 * (the write was not stored) and what to do; any other failure keeps IndexedDB's name.
 */
export function storageError(error: IdbError | null): Error {
  if (error?.name === 'QuotaExceededError') {
    return new SetteeError(
      'quota_exceeded',
      "The browser's storage quota for this site is used up: the write was not saved. Free space " +
        '(delete data, or databases the site no longer needs), or ask for persistent storage ' +
        'with navigator.storage.persist()',
    );
  }
  if (error instanceof Error) return error;
  const failure = new Error(`IndexedDB: ${error?.message ?? 'the transaction was aborted'}`);
  failure.name = error?.name ?? 'AbortError';
  return failure;
}
