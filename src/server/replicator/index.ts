/**
 * The server's replicator: `POST /_replicate`, the `_replicator` database's jobs, and their
 * listings (`/_scheduler/jobs`, `/_scheduler/docs`, `/_active_tasks`).
 *
 * - `spec.ts`: `_replicate` bodies and `_replicator` documents, parsed and checked.
 * - `peers.ts`: endpoints resolved into checked Peers, the replication id and the start.
 * - `job.ts`: one job's state, history and counters.
 * - `scheduler.ts`: the ReplicationScheduler (requests, the `_replicator` feed, restarts).
 * - `lease.ts`: a `_replicator` job runs only on the server holding its lease (`../leases/`).
 * - `documents.ts`: terminal states written back into `_replicator` documents.
 * - `listings.ts`, `session.ts`: the answers' shapes.
 */
export type { SchedulerState } from './job.js';
export { type ReplicateAnswer, ReplicationScheduler, type SchedulerOptions } from './scheduler.js';
export {
  definingKey,
  type Endpoint,
  parseReplicationSpec,
  REPLICATOR_DB,
  type ReplicationSpec,
} from './spec.js';
