/**
 * The two reasons a running replication starts over from sequence 0, as the Replication tells
 * them apart from failures (neither counts as one). Apart from the classes that throw them, so
 * that what the Replication loads up front stays small (the run and its checkpointing come with
 * its first run).
 */

/**
 * A checkpoint this replication had seen on a peer is gone: the database was destroyed and
 * re-created (or the log deleted), so the replication must start over from zero.
 */
export class CheckpointLostError extends Error {
  constructor(readonly id: string) {
    super(`checkpoint ${id} disappeared from a peer: starting over`);
    this.name = 'CheckpointLostError';
  }
}

/** A peer was destroyed and re-created while the replication ran. */
export class PeerRecreatedError extends Error {
  constructor() {
    super('a peer was re-created during the replication: starting over from its checkpoints');
    this.name = 'PeerRecreatedError';
  }
}
