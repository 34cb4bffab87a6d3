import { badRequest } from '../../core/errors.js';
import { conflictRevs } from '../../storage/records.js';
import type { Storage } from '../../storage/types.js';

export interface ConflictsOptions {
  /** First document id (inclusive), in raw code-point order. */
  startkey?: string;
  limit?: number;
}

/** A conflicted document: its winning revision and its other live leaves (`_conflicts`). */
export interface ConflictRow {
  id: string;
  rev: string;
  conflicts: string[];
}

export interface ConflictsResponse {
  /** How many documents of the database are conflicted (not only the rows listed). */
  total_rows: number;
  rows: ConflictRow[];
}

/** What `onConflict` listeners receive when a write leaves a document newly conflicted. */
export interface ConflictEvent {
  id: string;
  winner: string;
  conflicts: string[];
}

/** Conflicted documents by id, a page of storage at a time; bad options throw before the first row. */
export function conflictRows(storage: Storage, options: ConflictsOptions): AsyncIterable<ConflictRow> {
  const { startkey, limit } = options;
  if (startkey !== undefined && typeof startkey !== 'string') throw badRequest('startkey must be a string');
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 0)) {
    throw badRequest('limit must be a non-negative integer');
  }
  return (async function* () {
    for await (const page of storage.conflicts({ start: startkey, limit })) {
      for (const record of page) yield { id: record.id, rev: record.winner, conflicts: conflictRevs(record) };
    }
  })();
}
