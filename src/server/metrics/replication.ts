/**
 * What the metrics show of the replication jobs this server runs, read from the scheduler when
 * they are asked: nothing is counted while jobs run.
 */
import type { Job, SchedulerState } from '../replicator/job.js';

/** The jobs this server runs, by state, and the documents of their current or last runs. */
export interface ReplicationFigures {
  states: Record<SchedulerState, number>;
  docsRead: number;
  docsWritten: number;
  docWriteFailures: number;
}

/** Sums up `jobs`, leaving out those another server runs (this one only lists them). */
export function jobFigures(jobs: Iterable<Job>): ReplicationFigures {
  const figures: ReplicationFigures = {
    states: { initializing: 0, pending: 0, running: 0, crashing: 0, completed: 0, failed: 0 },
    docsRead: 0,
    docsWritten: 0,
    docWriteFailures: 0,
  };
  for (const job of jobs) {
    if (job.elsewhere) continue;
    figures.states[job.state]++;
    const info = job.info();
    figures.docsRead += numberOf(info.docs_read);
    figures.docsWritten += numberOf(info.docs_written);
    figures.docWriteFailures += numberOf(info.doc_write_failures);
  }
  return figures;
}

/** A counter as a job's statistics hold it: a job restored from its document may lack some. */
function numberOf(value: unknown): number {
  return typeof value === 'number' ? value : 0;
}
