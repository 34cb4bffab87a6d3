/**
 * The server's replicator: `POST /_replicate` and the `_replicator` database (protocol §2.11).
 *
 * Documents of `_replicator` are persistent jobs, read from a live changes feed that starts at
 * sequence 0, so every job comes back after a restart. As in CouchDB only terminal states are
 * written back into a job's document (`completed`, `failed`); running, pending and crashing show
 * in `/_scheduler/jobs`, `/_scheduler/docs` and `/_active_tasks`. A job is restarted only when
 * a field that defines the replication changes, so the state written back never restarts it.
 * When servers share their databases, a job runs only on the server holding its lease
 * (`lease.ts`); the others list its document as pending on that server's node.
 */
import type { Doc, UserContext } from '../../core/api.js';
import { describeError } from '../../core/describe-error.js';
import { notFound, SetteeError } from '../../core/errors.js';
import type { Database } from '../../database/database.js';
import { sleep } from '../../replication/backoff.js';
import { type Leases, LocalLeases } from '../leases/leases.js';
import { jobFigures, type ReplicationFigures } from '../metrics/replication.js';
import type { DatabaseRegistry } from '../registry.js';
import { isUrl } from '../../remote/location.js';
import { isMember, isServerAdmin } from '../security.js';
import { isUserContext } from './ownership.js';
import { recordedState, restoreFinished, stateFields, writeState } from './documents.js';
import { Job } from './job.js';
import { JobLease } from './lease.js';
import { activeTaskListing, docListing, jobListing } from './listings.js';
import { createDatabase, type Prepared, prepare, replicationIdOf } from './peers.js';
import { sessionReport } from './session.js';
import {
  definingKey,
  endpointLabel,
  parseReplicationSpec,
  REPLICATOR_DB,
  type ReplicationSpec,
} from './spec.js';

const STOP_TIMEOUT_MS = 10_000;

export interface SchedulerOptions {
  /** First wait before restarting a crashed job (ms, default 2000), doubled per crash. */
  retryInitialMs?: number;
  /** Longest wait between restarts (ms, default 5 minutes). */
  retryMaxMs?: number;
  log?: (message: string) => void;
  /**
   * Which server runs each `_replicator` job when several share the databases (PostgreSQL); by
   * default this one runs them all.
   */
  leases?: Leases;
  /** How often a job another server runs is tried again (ms, default 5000): how soon it moves when that server dies. */
  leaseRetryMs?: number;
}

/** The status and body a `_replicate` request is answered with. */
export interface ReplicateAnswer {
  status: number;
  body: unknown;
}

/**
 * An expected refusal (the server is stopping), answered rather than thrown, so that it is not
 * logged as a failed request.
 */
function refusal(error: SetteeError): ReplicateAnswer {
  return { status: error.status, body: error.toJSON() };
}

/**
 * Runs the server's replications: one-shot and continuous `_replicate` requests and the jobs
 * the documents of `_replicator` describe, and lists them for the `_scheduler` endpoints and
 * `_active_tasks`.
 *
 * @example
 * const scheduler = new ReplicationScheduler(registry, { log: console.warn });
 * await scheduler.start(); // runs the `_replicator` jobs
 * await scheduler.replicate({ source: 'a', target: 'http://host/b' });
 * await scheduler.stop(); // each job writes a last checkpoint
 */
export class ReplicationScheduler {
  /** `_replicator` jobs, by document id (terminal ones included, for `/_scheduler/docs`). */
  private readonly docJobs = new Map<string, Job>();
  /** Continuous `_replicate` jobs, by id. */
  private readonly transient = new Map<string, Job>();
  /** One-shot `_replicate` runs in progress. */
  private readonly oneShots = new Set<Job>();
  /** Which job runs each replication id: a second job for the same id fails. */
  private readonly claims = new Map<string, Job>();
  /** Jobs cancelled but maybe still writing their last checkpoint. */
  private readonly retiring = new Set<Promise<void>>();
  private readonly stopper = new AbortController();
  private replicatorDb: Database | undefined;
  /**
   * Who a job runs as, from the user context its document recorded when it was written: the
   * server looks up the user's roles now (set from its users). Until then, as recorded.
   */
  identify: (recorded: UserContext) => Promise<UserContext> = async (recorded) => recorded;
  private watching: Promise<void> | undefined;
  private readonly leases: Leases;

  constructor(
    private readonly registry: DatabaseRegistry,
    private readonly options: SchedulerOptions = {},
  ) {
    this.leases = options.leases ?? new LocalLeases();
  }

  /** Creates the `_replicator` database when it is missing. */
  async open(): Promise<void> {
    if (!(await this.registry.exists(REPLICATOR_DB))) await createDatabase(this.registry, REPLICATOR_DB);
  }

  /** Starts the jobs of `_replicator` and follows its changes. */
  async start(): Promise<void> {
    if (this.watching || this.stopper.signal.aborted) return;
    await this.open();
    const db = await this.registry.get(REPLICATOR_DB);
    this.replicatorDb = db;
    this.watching = this.watch(db).catch((error: unknown) =>
      this.log(`the _replicator feed stopped: ${describeError(error)}`),
    );
  }

  /** Cancels every replication (each writes a last checkpoint) and stops following `_replicator`. */
  async stop(): Promise<void> {
    if (this.stopper.signal.aborted) return;
    this.stopper.abort();
    const jobs = this.allJobs();
    for (const job of jobs) job.stop();
    const settled = Promise.allSettled([...jobs.map((job) => job.done), ...this.retiring, this.watching]);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise((resolve) => {
      timer = setTimeout(resolve, STOP_TIMEOUT_MS);
    });
    await Promise.race([settled, timeout]);
    clearTimeout(timer);
  }

  // --- POST /_replicate -------------------------------------------------------------------------

  /** A `_replicate` request by `userCtx`, whose rights it runs with: the status and body to answer with. */
  async replicate(body: Record<string, unknown>, userCtx: UserContext): Promise<ReplicateAnswer> {
    if (this.stopper.signal.aborted) return refusal(new SetteeError('unavailable', 'the server is stopping'));
    if (body.cancel === true) return this.cancel(body, userCtx);
    const spec = parseReplicationSpec(body);
    const prepared = await prepare(this.registry, spec, userCtx);
    const job = this.newJob(definingKey(body), spec, null, body);
    job.owner = userCtx;
    job.id = prepared.id;
    if (spec.continuous) return this.startTransient(job, prepared);
    this.oneShots.add(job);
    try {
      const replication = job.launch(prepared, false);
      job.done = replication.done.then(
        () => undefined,
        () => undefined,
      );
      const result = await replication.done;
      if (result.status !== 'complete') {
        return refusal(
          new SetteeError('unknown_error', 'the replication was cancelled: the server is stopping'),
        );
      }
      return { status: 200, body: await sessionReport(prepared, result, job) };
    } finally {
      this.oneShots.delete(job);
    }
  }

  /** A continuous `_replicate`: runs until cancelled, unless the same replication already runs. */
  private startTransient(job: Job, prepared: Prepared): ReplicateAnswer {
    const id = prepared.id;
    const running = this.transient.get(id) ?? this.claims.get(id);
    if (!running || running.terminal) {
      this.transient.set(id, job);
      job.done = this.runJob(job, prepared).finally(() => {
        if (this.transient.get(id) === job) this.transient.delete(id);
      });
    }
    return { status: 202, body: { ok: true, _local_id: id } };
  }

  /** `cancel: true`: stops the continuous `_replicate` job named by `id` or by the same body. */
  private async cancel(body: Record<string, unknown>, userCtx: UserContext): Promise<ReplicateAnswer> {
    const job = await this.transientJobOf(body, userCtx);
    if (!job?.id) throw notFound('Replication not found');
    if (!isServerAdmin(userCtx) && job.owner.name !== userCtx.name) {
      throw new SetteeError('forbidden', 'This replication belongs to another user.');
    }
    this.retire(job);
    this.transient.delete(job.id);
    return { status: 200, body: { ok: true, _local_id: job.id } };
  }

  /** The continuous job a cancel names: by `id` (full or base), else by its body. */
  private async transientJobOf(
    body: Record<string, unknown>,
    userCtx: UserContext,
  ): Promise<Job | undefined> {
    const named = typeof body.id === 'string' ? body.id : body.replication_id;
    const jobs = [...this.transient.values()];
    if (typeof named === 'string') {
      return this.transient.get(named) ?? jobs.find((j) => j.id?.split('+')[0] === named);
    }
    const key = definingKey(body);
    const same = jobs.find((j) => j.key === key);
    if (same) return same;
    const spec = parseReplicationSpec(body);
    const id = await replicationIdOf(this.registry, spec, userCtx).catch(() => undefined);
    return id === undefined ? undefined : this.transient.get(id);
  }

  // --- running jobs -----------------------------------------------------------------------------

  private newJob(
    key: string,
    spec: ReplicationSpec | undefined,
    docId: string | null,
    fields: Record<string, unknown>,
  ): Job {
    const continuous = spec?.continuous ?? fields.continuous === true;
    const job = new Job(
      key,
      spec,
      docId,
      endpointLabel(fields.source),
      endpointLabel(fields.target),
      continuous,
    );
    job.node = this.leases.node;
    return job;
  }

  /**
   * Runs a job (see `runLeased`); a `_replicator` job only while this server holds its lease, a
   * `_replicate` request's on the server that was asked.
   */
  private async runJob(job: Job, prepared?: Prepared): Promise<void> {
    const lease =
      job.docId === null
        ? undefined
        : new JobLease(this.leases, job as Job & { docId: string }, this.options.leaseRetryMs ?? 5000);
    try {
      await this.runLeased(job, lease, prepared);
    } finally {
      await lease?.release();
    }
  }

  /**
   * Runs a job until it completes, fails or is stopped: a run that ends in an error is restarted
   * after a growing wait (the job is `crashing` meanwhile), from its checkpoint. A run whose
   * lease is lost stops, and waits for the lease again.
   */
  private async runLeased(job: Job, lease: JobLease | undefined, prepared?: Prepared): Promise<void> {
    let ready = prepared;
    while (!job.stopped) {
      if (lease && !(await lease.hold())) return;
      try {
        if (!ready) {
          job.setState('initializing');
          ready = await prepare(this.registry, job.spec!, job.owner);
          if (job.stopped) return;
        }
        job.id = ready.id;
        const owner = this.claims.get(ready.id);
        if (owner && owner !== job && !owner.terminal && !owner.stopped) {
          const reason =
            `Replication \`${ready.id}\` specified by document \`${job.docId}\` already started, ` +
            `triggered by document \`${owner.docId}\` from db \`${REPLICATOR_DB}\``;
          return await this.finish(job, 'failed', reason);
        }
        this.claims.set(ready.id, job);
        const replication = job.launch(ready, true);
        const unguard = lease?.guard(replication);
        if (job.stopped) replication.cancel();
        const result = await replication.done.finally(unguard);
        if (result.status !== 'complete') {
          // Another server may run it now: from the checkpoint, once the lease is ours again.
          if (!lease?.lost || job.stopped) return;
          ready = undefined;
          continue;
        }
        job.completed(result);
        return await this.finish(job, 'completed');
      } catch (error) {
        if (job.stopped) return;
        job.crash(error);
        ready = undefined;
        const { retryInitialMs = 2000, retryMaxMs = 300_000 } = this.options;
        await sleep(Math.min(retryMaxMs, retryInitialMs * 2 ** (job.errorCount - 1)), job.signal);
      }
    }
  }

  /** Ends a job in a terminal state, written back into its document. */
  private async finish(job: Job, state: 'completed' | 'failed', reason?: string): Promise<void> {
    job.setState(state);
    if (reason !== undefined) job.error = reason;
    job.record(state, reason);
    if (job.id !== undefined && this.claims.get(job.id) === job) this.claims.delete(job.id);
    const db = this.replicatorDb;
    if (job.docId === null || !db) return;
    await writeState(db, job as Job & { docId: string }, stateFields(job, state, reason), (message) =>
      this.log(message),
    );
  }

  /** Stops a job; the scheduler's own stop still waits for its last checkpoint. */
  private retire(job: Job): void {
    job.stop();
    const done = job.done.catch(() => undefined).finally(() => this.retiring.delete(done));
    this.retiring.add(done);
  }

  // --- the _replicator database -----------------------------------------------------------------

  private async watch(db: Database): Promise<void> {
    const feed = db.changesFeed({ since: 0, live: true, include_docs: true, signal: this.stopper.signal });
    for await (const row of feed) {
      if (this.stopper.signal.aborted) return;
      if (row.id.startsWith('_design/')) continue;
      if (row.deleted || !row.doc) this.removeDoc(row.id);
      else this.updateDoc(row.doc);
    }
  }

  private removeDoc(docId: string): void {
    const job = this.docJobs.get(docId);
    if (!job) return;
    this.retire(job);
    this.docJobs.delete(docId);
  }

  /** A job document was written: start, restart or leave its job. */
  private updateDoc(doc: Doc): void {
    const previous = this.docJobs.get(doc._id);
    const key = definingKey(doc);
    const finished = recordedState(doc);
    if (previous?.elsewhere && previous.key === key && finished) {
      // The server that ran it (holding its lease) finished it: listed as recorded, not run here.
      restoreFinished(previous, doc, finished);
      return previous.stop();
    }
    // The same replication: our own write-back, or an edit of other fields. Removing the
    // state of a finished job runs it again, as in CouchDB.
    if (previous && previous.key === key && (!previous.terminal || finished)) return;
    let spec: ReplicationSpec | undefined;
    let invalid: string | undefined;
    try {
      spec = parseReplicationSpec(doc);
    } catch (error) {
      invalid = error instanceof SetteeError ? error.reason : describeError(error);
    }
    const job = this.newJob(key, spec, doc._id, doc);
    this.docJobs.set(doc._id, job);
    // Written by the `_replicator` write rules; a document without one predates them and was
    // written by a server admin, the only writers then.
    const recorded = isUserContext(doc.user_ctx) ? doc.user_ctx : undefined;
    // Finished in an earlier life of the server: listed, not run again.
    if (!previous && finished) return restoreFinished(job, doc, finished);
    job.record('added');
    job.done = (async () => {
      if (previous) {
        job.setState('pending');
        previous.stop();
        await previous.done;
      }
      if (job.stopped) return;
      if (invalid !== undefined || !spec) return this.finish(job, 'failed', invalid);
      // A job runs with its owner's rights; one without an owner was written by a server admin.
      if (recorded !== undefined) job.owner = await this.identify(recorded);
      return this.runJob(job);
    })().catch((error: unknown) => this.log(`replication document ${doc._id}: ${describeError(error)}`));
  }

  // --- listings ---------------------------------------------------------------------------------

  /**
   * Someone's access changed — a database's security (`db`) or a user's document (`user`): the
   * jobs of users who may no longer read their local source or write their local target stop.
   * A `_replicator` job fails with the reason (its owner may fix and edit it to run it again).
   */
  async recheckAccess(change: { db?: string; user?: string; deleted?: boolean }): Promise<void> {
    for (const job of this.allJobs()) {
      if (job.terminal || job.stopped || isServerAdmin(job.owner) || !job.spec) continue;
      const locals = [job.spec.source.url, job.spec.target.url].filter((url) => !isUrl(url));
      const concerned =
        locals.includes(change.db ?? '') || (change.user !== undefined && change.user === job.owner.name);
      if (!concerned || locals.length === 0) continue;
      if (change.deleted && change.user === job.owner.name) {
        await this.revoke(job, `the user ${change.user} was deleted`);
        continue;
      }
      job.owner = await this.identify(job.owner);
      const lost = await this.firstForbidden(locals, job.owner);
      if (lost !== undefined)
        await this.revoke(job, `${job.owner.name ?? 'anonymous'} may no longer access ${lost}`);
    }
  }

  private async firstForbidden(names: readonly string[], owner: UserContext): Promise<string | undefined> {
    for (const name of names) {
      const security = await this.registry.security(name).catch(() => undefined);
      if (!security || !isMember(owner, security)) return name;
    }
    return undefined;
  }

  private async revoke(job: Job, reason: string): Promise<void> {
    this.log(`replication ${job.id ?? job.docId ?? ''} stopped: ${reason}`);
    if (job.docId === null) {
      this.retire(job);
      if (job.id !== undefined) this.transient.delete(job.id);
      return;
    }
    job.stop();
    await job.done;
    await this.finish(job, 'failed', reason);
  }

  private allJobs(): Job[] {
    return [...this.docJobs.values(), ...this.transient.values(), ...this.oneShots];
  }

  /** The jobs this server runs, by state, and their documents: for `_stats` and `_prometheus`. */
  figures(): ReplicationFigures {
    return jobFigures(this.allJobs());
  }

  /** `GET /_scheduler/jobs`: replications with an id that have not finished. */
  jobs(): Record<string, unknown>[] {
    return jobListing(this.allJobs());
  }

  /** `GET /_scheduler/jobs/{id}`. */
  job(id: string): Record<string, unknown> | undefined {
    return this.jobs().find((job) => job.id === id);
  }

  /** `GET /_scheduler/docs[/_replicator]`: every job document's state. */
  docs(): Record<string, unknown>[] {
    return docListing([...this.docJobs.values()]);
  }

  /** `GET /_scheduler/docs/_replicator/{docid}`. */
  doc(docId: string): Record<string, unknown> | undefined {
    return this.docs().find((doc) => doc.doc_id === docId);
  }

  /** `GET /_active_tasks`: the replications running now, with their progress. */
  activeTasks(): Record<string, unknown>[] {
    return activeTaskListing(this.allJobs());
  }

  private log(message: string): void {
    this.options.log?.(message);
  }
}
