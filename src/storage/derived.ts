/**
 * Reads the database builds from Storage's primitives rather than asking every backend for
 * them: each is a bounded use of a scan a backend has anyway.
 */
import type { LocalRecord, Storage } from './types.js';

/** One local document: a `localDocs` range from its id to itself. */
export async function readLocal(storage: Storage, id: string): Promise<LocalRecord | undefined> {
  for await (const page of storage.localDocs({ start: id, end: id, withBody: true })) {
    const found = page[0];
    if (found?.body !== undefined) return { rev: found.rev, body: found.body };
  }
  return undefined;
}

/**
 * How many documents changed after `since`, counted by a changes scan of at most `atMost`
 * rows (without bodies): exact when at most `atMost` documents changed, as when `since` is
 * within `atMost` sequences of the end, since a sequence is held by one document at most.
 */
export async function countChanges(storage: Storage, since: number, atMost: number): Promise<number> {
  let count = 0;
  for await (const page of storage.changes({ since, limit: atMost })) count += page.length;
  return count;
}
