/**
 * The shapes CouchDB lists replications in: `/_scheduler/jobs`, `/_scheduler/docs` and
 * `/_active_tasks`. Endpoints appear without credentials (the jobs keep them as labels only).
 * A job another server runs (it holds the job's lease) is listed only among the documents, as
 * pending on that server's node: its progress is that server's to tell.
 */
import type { Job } from './job.js';

/** The jobs this server runs itself. */
const runHere = (job: Job) => !job.elsewhere && !job.terminal && !job.stopped;

/** `GET /_scheduler/jobs`: replications with an id that have not finished. */
export function jobListing(jobs: Job[]): Record<string, unknown>[] {
  return jobs
    .filter((job) => job.id !== undefined && runHere(job))
    .map((job) => ({
      id: job.id,
      database: job.database,
      doc_id: job.docId,
      history: job.history,
      node: job.node,
      source: job.source,
      target: job.target,
      user: null,
      start_time: job.startTime,
      last_updated: job.lastUpdated,
      info: job.info(),
    }));
}

/** `GET /_scheduler/docs[/_replicator]`: every job document's state, by document id. */
export function docListing(docJobs: Job[]): Record<string, unknown>[] {
  return [...docJobs]
    .sort((a, b) => (a.docId! < b.docId! ? -1 : a.docId! > b.docId! ? 1 : 0))
    .map((job) => ({
      database: job.database,
      doc_id: job.docId,
      id: job.id ?? null,
      node: job.node,
      source: job.source,
      target: job.target,
      state: job.state,
      info: job.info(),
      error_count: job.errorCount,
      last_updated: job.lastUpdated,
      start_time: job.startTime,
    }));
}

/** `GET /_active_tasks`: the replications running now, with their progress. */
export function activeTaskListing(jobs: Job[]): Record<string, unknown>[] {
  return jobs.filter((job) => job.replication && runHere(job)).map(activeTask);
}

function activeTask(job: Job): Record<string, unknown> {
  const info = job.info();
  const progress = job.percent();
  return {
    type: 'replication',
    node: job.node,
    replication_id: job.id,
    doc_id: job.docId,
    database: job.database,
    user: null,
    source: job.source,
    target: job.target,
    continuous: job.continuous,
    docs_read: info.docs_read,
    docs_written: info.docs_written,
    doc_write_failures: info.doc_write_failures,
    changes_pending: info.changes_pending,
    revisions_checked: info.revisions_checked,
    missing_revisions_found: info.missing_revisions_found,
    checkpointed_source_seq: info.checkpointed_source_seq,
    through_seq: info.through_seq,
    started_on: seconds(job.startTime),
    updated_on: seconds(job.lastUpdated),
    ...(progress === undefined ? {} : { progress }),
  };
}

function seconds(time: string): number {
  return Math.floor(Date.parse(time) / 1000);
}
