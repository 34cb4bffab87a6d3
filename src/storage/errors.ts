/**
 * A write computed from a document state that another writer has changed since (see
 * `DocWrite.base`). Nothing of the call was written; the database reads the documents again and
 * recomputes the write. Not a SetteeError: it never reaches a client.
 */
export class StaleWriteError extends Error {
  constructor(readonly docId: string) {
    super(`Document ${docId} changed while the write was computed`);
    this.name = 'StaleWriteError';
  }
}

/** Throws a StaleWriteError unless the document is at the sequence the write was computed from. */
export function checkBase(docId: string, base: number | undefined, current: number | undefined): void {
  if (base !== undefined && base !== (current ?? 0)) throw new StaleWriteError(docId);
}
