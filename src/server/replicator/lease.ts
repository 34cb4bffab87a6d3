import type { Replication } from '../../replication/replication.js';
import type { Leases } from '../leases/leases.js';
import type { Job } from './job.js';
import { REPLICATOR_DB } from './spec.js';

/**
 * A `_replicator` job's lease: when servers share their databases, each job runs on the one
 * server that holds its lease. The others list it as pending on the holder's node and try again
 * every `retryMs` (or as soon as the holder lets it go); when the holder dies, PostgreSQL frees
 * the lease and the next server to try runs the job, from the checkpoint the holder left.
 */
export class JobLease {
  private held = false;

  constructor(
    private readonly leases: Leases,
    private readonly job: Job & { docId: string },
    private readonly retryMs: number,
  ) {}

  /** Keyed by database and document id: whatever the document says, one job per document. */
  private get name(): string {
    return `${REPLICATOR_DB}/${this.job.docId}`;
  }

  get lost(): boolean {
    return !this.held;
  }

  /** Waits until this server holds the lease; false when the job was stopped first. */
  async hold(): Promise<boolean> {
    const { job, leases } = this;
    while (!this.held && !job.stopped) {
      if (await leases.acquire('replication', this.name)) {
        this.held = true;
        break;
      }
      job.node = (await leases.holder('replication', this.name)) ?? job.node;
      job.elsewhere = true;
      if (job.state !== 'pending') job.setState('pending');
      await leases.released('replication', this.name, this.retryMs, job.signal);
    }
    if (this.held) {
      job.elsewhere = false;
      job.node = leases.node;
    }
    return this.held && !job.stopped;
  }

  /** Cancels `replication` if the lease is lost while it runs; returns the call that stops watching. */
  guard(replication: Replication): () => void {
    return this.leases.onLost(() => {
      this.held = false;
      replication.cancel();
    });
  }

  async release(): Promise<void> {
    if (!this.held) return;
    this.held = false;
    await this.leases.release('replication', this.name);
  }
}
