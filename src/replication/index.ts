/** Replication between any two Peers: one-way `replicate`, two-way `sync`. */
export { type BackoffOptions, backoffDelay } from './backoff.js';
export { type CheckpointDoc, Checkpointer, compareLogs } from './checkpointer.js';
export {
  Replication,
  type ReplicationEvents,
  type ReplicationOptions,
  type ReplicationProgress,
  type ReplicationResult,
  type ReplicationState,
  replicate,
} from './replication.js';
export { type Endpoint, type EndpointOptions, peerOf } from './endpoints.js';
export { type ReplicationIdentity, replicationId } from './replication-id.js';
export { CheckpointLostError } from './start-over.js';
export { type Direction, Sync, type SyncEvents, sync } from './sync.js';
