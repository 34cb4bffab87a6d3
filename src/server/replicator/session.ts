/** The answer to a one-shot `POST /_replicate`, in CouchDB's shape. */
import type { CheckpointDoc } from '../../replication/checkpointer.js';
import type { ReplicationResult } from '../../replication/replication.js';
import type { Job } from './job.js';
import type { Prepared } from './peers.js';

/**
 * The one-shot answer, CouchDB's: the checkpoint's session and history, this run's entry
 * first. A run that read no changes wrote no checkpoint: it answers `no_changes` with the
 * history as it was.
 */
export async function sessionReport(prepared: Prepared, result: ReplicationResult, job: Job) {
  const log = (await prepared.target.getLocal(prepared.localId).catch(() => undefined)) as
    CheckpointDoc | undefined;
  const tracker = job.tracker;
  const written = tracker?.checkpointSession;
  const older = (log?.history ?? [])
    .filter((h) => h.session_id !== written)
    .map((h) => ({ session_id: h.session_id, recorded_seq: h.last_seq }));
  const history: Record<string, unknown>[] = written
    ? [
        {
          session_id: written,
          start_time: new Date(result.start_time).toUTCString(),
          end_time: new Date(result.end_time).toUTCString(),
          start_last_seq: prepared.startSeq,
          end_last_seq: result.last_seq,
          recorded_seq: result.last_seq,
          missing_checked: tracker?.revisionsChecked ?? 0,
          missing_found: tracker?.missingRevisionsFound ?? 0,
          docs_read: result.docs_read,
          docs_written: result.docs_written,
          doc_write_failures: result.doc_write_failures,
        },
        ...older,
      ]
    : older;
  return {
    ok: true,
    ...((tracker?.changesDone ?? 0) === 0 && result.docs_read === 0 ? { no_changes: true } : {}),
    session_id: written ?? log?.session_id ?? null,
    source_last_seq: result.last_seq,
    replication_id_version: 4,
    history,
  };
}
