import type { Peer } from '../core/api.js';
import { PeerRecreatedError } from './start-over.js';

/**
 * Notices a peer that was destroyed and re-created under the same name while the replication
 * ran: its `instance_start_time` changes. The run then fails with a transient error and starts
 * over from the checkpoints, which the new database does not have: from zero.
 */
export class InstanceWatch {
  private started: [string, string] | undefined;
  private lastCheck = 0;

  constructor(
    private readonly source: Peer,
    private readonly target: Peer,
    private readonly intervalMs: number,
  ) {}

  /** Reads both peers (the source first: a missing source fails before a target is created). */
  async start(createTarget: boolean): Promise<void> {
    const source = await this.source.info();
    if (createTarget) await this.target.ensureExists();
    const target = await this.target.info();
    this.started = [source.instance_start_time, target.instance_start_time];
    this.lastCheck = Date.now();
  }

  /**
   * Compares at most once per interval (it costs a request to each peer), or now when `due`: the
   * caller waited an interval itself, and a timer may fire a millisecond before Date.now() says
   * the interval is over — skipping then would leave a re-created peer unnoticed until the next
   * change.
   */
  async check(due = false): Promise<void> {
    if (!this.started || (!due && Date.now() - this.lastCheck < this.intervalMs)) return;
    const [source, target] = await Promise.all([this.source.info(), this.target.info()]);
    this.lastCheck = Date.now();
    if (source.instance_start_time !== this.started[0] || target.instance_start_time !== this.started[1]) {
      throw new PeerRecreatedError();
    }
  }
}
