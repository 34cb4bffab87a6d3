/**
 * Job states in `_replicator` documents. As in CouchDB only terminal states are written back
 * (`completed`, `failed`); a document already carrying one is listed, not run again, after a
 * restart of the server.
 */
import type { Doc } from '../../core/api.js';
import { describeError } from '../../core/describe-error.js';
import { SetteeError } from '../../core/errors.js';
import type { Database } from '../../database/database.js';
import { type Job, timestamp } from './job.js';
import { definingKey } from './spec.js';

/** The fields the scheduler writes into a job's document. */
export interface StateFields {
  _replication_state: 'completed' | 'failed';
  _replication_state_time: string;
  _replication_id?: string;
  _replication_state_reason?: string | undefined;
  _replication_stats?: Record<string, unknown> | undefined;
}

/** The fields recording a job's terminal state: the reason of a failure, the stats of a completion. */
export function stateFields(job: Job, state: 'completed' | 'failed', reason?: string): StateFields {
  return {
    _replication_state: state,
    _replication_state_time: timestamp(),
    ...(job.id === undefined ? {} : { _replication_id: job.id }),
    ...(state === 'failed' ? { _replication_state_reason: reason } : { _replication_stats: job.stats }),
  };
}

/**
 * Writes a terminal state into the job's document, unless the document was deleted or now
 * describes another replication. The change this makes leaves the defining fields as they were,
 * so the feed does not restart the job. Conflicting writes are retried.
 */
export async function writeState(
  db: Database,
  job: Job & { docId: string },
  fields: StateFields,
  log: (message: string) => void,
): Promise<void> {
  for (let attempt = 0; attempt < 10; attempt++) {
    let doc: Doc;
    try {
      doc = await db.get(job.docId);
    } catch {
      return;
    }
    if (definingKey(doc) !== job.key) return;
    try {
      await db.put({ ...withoutState(doc), ...fields });
      return;
    } catch (error) {
      if (error instanceof SetteeError && error.error === 'conflict') continue;
      log(`could not record the state of replication document ${job.docId}: ${describeError(error)}`);
      return;
    }
  }
}

function withoutState(doc: Doc): Doc {
  const {
    _replication_state: _state,
    _replication_state_time: _time,
    _replication_state_reason: _reason,
    _replication_id: _id,
    _replication_stats: _stats,
    ...rest
  } = doc;
  return rest as Doc;
}

/** The terminal state a document records, if any. */
export function recordedState(doc: Doc): 'completed' | 'failed' | undefined {
  const state = doc._replication_state;
  return state === 'completed' || state === 'failed' ? state : undefined;
}

/** A job finished in an earlier life of the server, as its document recorded it. */
export function restoreFinished(job: Job, doc: Doc, state: 'completed' | 'failed'): void {
  job.state = state;
  job.id = typeof doc._replication_id === 'string' ? doc._replication_id : undefined;
  job.error = typeof doc._replication_state_reason === 'string' ? doc._replication_state_reason : undefined;
  const stats = doc._replication_stats;
  job.stats = typeof stats === 'object' && stats !== null ? (stats as Record<string, unknown>) : undefined;
  if (typeof doc._replication_state_time === 'string') job.lastUpdated = doc._replication_state_time;
}
