/**
 * The server's replicator: `POST /_replicate` and the `_replicator` database (protocol §2.11).
 *
 * Each job drives one `Replication` between two Peers. An endpoint that is a full URL becomes a
 * RemoteDatabase, even when it points at this very server: its credentials are then checked like
 * any client's, and the replication id is the one PouchDB computes for the same two URLs, so
 * checkpoints are shared with clients that replicate the same pair. A bare database name (the
 * form CouchDB deprecated) is the local database of that name.
 *
 * Documents of `_replicator` are persistent jobs, read from a live changes feed that starts at
 * sequence 0, so every job comes back after a restart. As in CouchDB only terminal states are
 * written back into a job's document (`completed`, `failed`); running, pending and crashing show
 * in `/_scheduler/jobs`, `/_scheduler/docs` and `/_active_tasks`. A job is restarted only when
 * a field that defines the replication changes, so the state written back never restarts it.
 */
import type { Doc, Peer, Seq } from '../core/api.js';
import { canonicalJson } from '../core/canonical-json.js';
import { badRequest, SetteeError } from '../core/errors.js';
import type { Database } from '../database/database.js';
import {
  type Credentials,
  RemoteDatabase,
  RetriesExhaustedError,
  withoutCredentials,
} from '../remote/index.js';
import { sleep } from '../replication/backoff.js';
import { type CheckpointDoc, Checkpointer } from '../replication/checkpointer.js';
import { ProgressTracker } from '../replication/progress.js';
import { type Replication, type ReplicationResult, replicate } from '../replication/replication.js';
import { replicationId } from '../replication/replication-id.js';
import { type DatabaseRegistry, validateDbName } from './registry.js';

export const REPLICATOR_DB = '_replicator';
const NODE = 'nonode@nohost';
const HISTORY_LIMIT = 20;
const STOP_TIMEOUT_MS = 10_000;

/** Scheduler states, as CouchDB names them. */
export type SchedulerState = 'initializing' | 'pending' | 'running' | 'crashing' | 'completed' | 'failed';

/** One side of a replication: a URL (with optional credentials) or a local database name. */
export interface Endpoint {
  url: string;
  auth?: Credentials;
}

/** What a `_replicate` body or a `_replicator` document asks for. */
export interface ReplicationSpec {
  source: Endpoint;
  target: Endpoint;
  continuous: boolean;
  create_target: boolean;
  doc_ids?: string[];
  selector?: Record<string, unknown>;
  since_seq?: Seq;
}

/** The fields that define a replication: a job restarts only when one of them changes. */
const DEFINING_FIELDS = [
  'source',
  'target',
  'continuous',
  'create_target',
  'create_target_params',
  'doc_ids',
  'filter',
  'query_params',
  'selector',
  'since_seq',
  'winning_revs_only',
  'use_checkpoints',
  'checkpoint_interval',
] as const;

/** The replication-defining fields of a body or document, as comparable text. */
export function definingKey(body: Record<string, unknown>): string {
  const picked: Record<string, unknown> = {};
  for (const field of DEFINING_FIELDS) if (body[field] !== undefined) picked[field] = body[field];
  return canonicalJson(picked);
}

/**
 * An answer of the replicator whose `error` name is CouchDB's own and outside Settee's error
 * catalogue (`db_not_found`); the routes send it as it is.
 */
export class ReplicatorError extends Error {
  constructor(
    readonly status: number,
    readonly error: string,
    readonly reason: string,
  ) {
    super(`${error}: ${reason}`);
    this.name = 'ReplicatorError';
  }

  toJSON(): { error: string; reason: string } {
    return { error: this.error, reason: this.reason };
  }
}

const dbNotFound = (label: string) => new ReplicatorError(404, 'db_not_found', `could not open ${label}`);

/** Parses and checks a `_replicate` body or `_replicator` document; a bad one is a 400. */
export function parseReplicationSpec(body: Record<string, unknown>): ReplicationSpec {
  const source = parseEndpoint(body.source, 'source');
  const target = parseEndpoint(body.target, 'target');
  const filters = (['doc_ids', 'filter', 'selector'] as const).filter((f) => body[f] != null);
  if (filters.length > 1) throw badRequest('`doc_ids`, `filter`, `selector` are mutually exclusive');
  if (body.filter != null) {
    throw badRequest('Filter functions are not supported by Settee; use `doc_ids` or `selector`');
  }
  if (body.winning_revs_only === true) throw badRequest('`winning_revs_only` is not supported by Settee');
  const spec: ReplicationSpec = {
    source,
    target,
    continuous: body.continuous === true,
    create_target: body.create_target === true,
  };
  if (body.doc_ids != null) {
    const ids = body.doc_ids;
    if (!Array.isArray(ids) || !ids.every((id) => typeof id === 'string' && id !== '')) {
      throw badRequest('`doc_ids` must be an array of document ids');
    }
    spec.doc_ids = ids;
  }
  if (body.selector != null) {
    const selector = body.selector;
    if (typeof selector !== 'object' || Array.isArray(selector))
      throw badRequest('`selector` must be an object');
    spec.selector = selector as Record<string, unknown>;
  }
  if (body.since_seq != null) {
    if (typeof body.since_seq !== 'number' && typeof body.since_seq !== 'string') {
      throw badRequest('`since_seq` must be a sequence (a number or a string)');
    }
    spec.since_seq = body.since_seq;
  }
  return spec;
}

function parseEndpoint(value: unknown, field: string): Endpoint {
  let endpoint: Endpoint | undefined;
  if (typeof value === 'string' && value !== '') endpoint = { url: value };
  else if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const { url, auth, headers } = value as { url?: unknown; auth?: unknown; headers?: unknown };
    if (typeof url === 'string' && url !== '') {
      const credentials = basicAuthOf(auth) ?? basicHeaderOf(headers);
      endpoint = { url, ...(credentials ? { auth: credentials } : {}) };
    }
  }
  if (!endpoint) throw badRequest(`\`${field}\` must be a database URL or an object with a \`url\``);
  if (isUrl(endpoint.url)) {
    let parsed: URL;
    try {
      parsed = new URL(endpoint.url);
    } catch {
      throw badRequest(`\`${field}\` is not a valid URL: ${displayUrl(endpoint.url)}`);
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
      throw badRequest(`\`${field}\`: only http and https URLs are supported`);
    }
    if (parsed.pathname.replace(/\/+$/, '') === '') {
      throw badRequest(`\`${field}\` names no database: ${displayUrl(endpoint.url)}`);
    }
  } else validateDbName(endpoint.url);
  return endpoint;
}

function basicAuthOf(auth: unknown): Credentials | undefined {
  const basic = (auth as { basic?: { username?: unknown; password?: unknown } } | null)?.basic;
  if (typeof basic?.username !== 'string' || typeof basic.password !== 'string') return undefined;
  return { username: basic.username, password: basic.password };
}

function basicHeaderOf(headers: unknown): Credentials | undefined {
  if (typeof headers !== 'object' || headers === null) return undefined;
  const entry = Object.entries(headers).find(([name]) => name.toLowerCase() === 'authorization');
  const match = typeof entry?.[1] === 'string' ? /^Basic\s+(\S+)$/i.exec(entry[1]) : null;
  if (!match) return undefined;
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon < 0 ? undefined : { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

function isUrl(value: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(value);
}

/** A URL without its userinfo, for listings and messages; a database name as it is. */
export function displayUrl(value: string): string {
  return isUrl(value) ? withoutCredentials(value) : value;
}

function endpointLabel(value: unknown): string | null {
  if (typeof value === 'string') return displayUrl(value);
  const url = (value as { url?: unknown } | null)?.url;
  return typeof url === 'string' ? displayUrl(url) : null;
}

/** CouchDB's timestamps: RFC 3339, whole seconds. */
function timestamp(date = new Date()): string {
  return date.toISOString().replace(/\.\d+Z$/, 'Z');
}

/** Peers resolved and checked, the replication's ids and where it will start. */
interface Prepared {
  source: Peer;
  target: Peer;
  /** The checkpoint document's id, `_local/<base>`. */
  localId: string;
  /** The job's id: the base id, `+continuous` and `+create_target` when set (CouchDB's form). */
  id: string;
  /** `since_seq`, when no checkpoint exists. */
  since: Seq | undefined;
  startSeq: Seq;
}

interface JobEvent {
  timestamp: string;
  type: 'added' | 'started' | 'crashed' | 'stopped' | 'completed' | 'failed';
  reason?: string;
}

/** One replication the scheduler runs: a `_replicator` document's or a `_replicate` request's. */
class Job {
  id: string | undefined;
  state: SchedulerState = 'initializing';
  errorCount = 0;
  error: string | undefined;
  readonly startTime = timestamp();
  lastUpdated = this.startTime;
  readonly history: JobEvent[] = [];
  replication: Replication | undefined;
  tracker: ProgressTracker | undefined;
  /** Statistics of a finished run (or, for a job restored from its document, as written there). */
  stats: Record<string, unknown> | undefined;
  /** Settles when the job has stopped running (its last checkpoint and write-back done). */
  done: Promise<void> = Promise.resolve();
  private readonly stopper = new AbortController();

  constructor(
    readonly key: string,
    readonly spec: ReplicationSpec | undefined,
    readonly docId: string | null,
    readonly source: string | null,
    readonly target: string | null,
    readonly continuous: boolean,
  ) {}

  get database(): string | null {
    return this.docId === null ? null : REPLICATOR_DB;
  }

  get signal(): AbortSignal {
    return this.stopper.signal;
  }

  get stopped(): boolean {
    return this.stopper.signal.aborted;
  }

  get terminal(): boolean {
    return this.state === 'completed' || this.state === 'failed';
  }

  stop(): void {
    if (this.stopped) return;
    this.stopper.abort();
    this.replication?.cancel();
    if (!this.terminal) this.record('stopped');
  }

  setState(state: SchedulerState): void {
    this.state = state;
    this.touch();
  }

  touch(): void {
    this.lastUpdated = timestamp();
  }

  record(type: JobEvent['type'], reason?: string): void {
    this.history.unshift({ timestamp: timestamp(), type, ...(reason === undefined ? {} : { reason }) });
    this.history.length = Math.min(this.history.length, HISTORY_LIMIT);
  }

  crash(error: unknown): void {
    this.errorCount++;
    this.error = errorText(error);
    this.setState('crashing');
    this.record('crashed', this.error);
  }

  /** CouchDB's counters of the current or last run. */
  info(): Record<string, unknown> {
    const progress = this.replication?.progress;
    const tracker = this.tracker;
    const info: Record<string, unknown> =
      progress && !(this.terminal && this.stats)
        ? {
            revisions_checked: tracker?.revisionsChecked ?? 0,
            missing_revisions_found: tracker?.missingRevisionsFound ?? 0,
            docs_read: progress.docs_read,
            docs_written: progress.docs_written,
            doc_write_failures: progress.doc_write_failures,
            changes_pending: progress.pending ?? null,
            checkpointed_source_seq: tracker?.checkpointedSeq ?? null,
            through_seq: progress.last_seq,
          }
        : { ...(this.stats ?? {}) };
    if (this.state === 'crashing' || this.state === 'failed') info.error = this.error ?? null;
    return info;
  }

  percent(): number | undefined {
    const progress = this.replication?.progress;
    return progress && this.tracker ? this.tracker.percent(progress) : undefined;
  }
}

function errorText(error: unknown): string {
  if (error instanceof ReplicatorError) return error.message;
  if (error instanceof SetteeError) return `${error.error}: ${error.reason}`;
  return error instanceof Error ? error.message : String(error);
}

export interface SchedulerOptions {
  /** First wait before restarting a crashed job (ms, default 2000), doubled per crash. */
  retryInitialMs?: number;
  /** Longest wait between restarts (ms, default 5 minutes). */
  retryMaxMs?: number;
  log?: (message: string) => void;
}

/**
 * Runs the server's replications: one-shot and continuous `_replicate` requests and the jobs
 * the documents of `_replicator` describe, and lists them for the `_scheduler` endpoints and
 * `_active_tasks`.
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
  private watching: Promise<void> | undefined;

  constructor(
    private readonly registry: DatabaseRegistry,
    private readonly options: SchedulerOptions = {},
  ) {}

  /** Creates the `_replicator` database when it is missing. */
  async open(): Promise<void> {
    if (!this.registry.exists(REPLICATOR_DB)) {
      await this.registry.create(REPLICATOR_DB).catch((error: unknown) => {
        if (!(error instanceof SetteeError && error.error === 'file_exists')) throw error;
      });
    }
  }

  /** Starts the jobs of `_replicator` and follows its changes. */
  async start(): Promise<void> {
    if (this.watching || this.stopper.signal.aborted) return;
    await this.open();
    const db = await this.registry.get(REPLICATOR_DB);
    this.replicatorDb = db;
    this.watching = this.watch(db).catch((error: unknown) =>
      this.log(`the _replicator feed stopped: ${errorText(error)}`),
    );
  }

  /** Cancels every replication (each writes a last checkpoint) and stops following `_replicator`. */
  async stop(): Promise<void> {
    if (this.stopper.signal.aborted) return;
    this.stopper.abort();
    const jobs = [...this.docJobs.values(), ...this.transient.values(), ...this.oneShots];
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

  /** A `_replicate` request: the status and body to answer with. */
  async replicate(body: Record<string, unknown>): Promise<{ status: number; body: unknown }> {
    if (this.stopper.signal.aborted) throw new ReplicatorError(503, 'unavailable', 'the server is stopping');
    if (body.cancel === true) return this.cancel(body);
    const spec = parseReplicationSpec(body);
    const prepared = await this.prepare(spec);
    if (spec.continuous) {
      const running = this.transient.get(prepared.id) ?? this.claims.get(prepared.id);
      if (!running || running.terminal) {
        const job = this.newJob(definingKey(body), spec, null, body);
        job.id = prepared.id;
        this.transient.set(prepared.id, job);
        job.done = this.runJob(job, prepared).finally(() => {
          if (this.transient.get(prepared.id) === job) this.transient.delete(prepared.id);
        });
      }
      return { status: 202, body: { ok: true, _local_id: prepared.id } };
    }
    const job = this.newJob(definingKey(body), spec, null, body);
    job.id = prepared.id;
    this.oneShots.add(job);
    try {
      const replication = this.launch(job, spec, prepared, false);
      job.done = replication.done.then(
        () => undefined,
        () => undefined,
      );
      const result = await replication.done;
      if (result.status !== 'complete') {
        throw new ReplicatorError(
          500,
          'unknown_error',
          'the replication was cancelled: the server is stopping',
        );
      }
      return { status: 200, body: await this.sessionReport(prepared, result, job) };
    } finally {
      this.oneShots.delete(job);
    }
  }

  /** `cancel: true`: stops the continuous `_replicate` job named by `id` or by the same body. */
  private async cancel(body: Record<string, unknown>): Promise<{ status: number; body: unknown }> {
    let job: Job | undefined;
    const named = typeof body.id === 'string' ? body.id : body.replication_id;
    if (typeof named === 'string') {
      job =
        this.transient.get(named) ?? [...this.transient.values()].find((j) => j.id?.split('+')[0] === named);
    } else {
      const key = definingKey(body);
      job = [...this.transient.values()].find((j) => j.key === key);
      if (!job) {
        const spec = parseReplicationSpec(body);
        const id = await this.replicationIdOf(spec).catch(() => undefined);
        job = id === undefined ? undefined : this.transient.get(id);
      }
    }
    if (!job?.id) throw new ReplicatorError(404, 'not_found', 'Replication not found');
    this.retire(job);
    this.transient.delete(job.id);
    return { status: 200, body: { ok: true, _local_id: job.id } };
  }

  /** The id a spec's replication has, without checking or creating anything. */
  private async replicationIdOf(spec: ReplicationSpec): Promise<string> {
    const source = await this.resolve(spec.source, false);
    const target = await this.resolve(spec.target, false);
    return fullId(await replicationId(source, target, identityOf(spec)), spec);
  }

  /**
   * The one-shot answer, CouchDB's: the checkpoint's session and history, this run's entry
   * first. A run that read no changes wrote no checkpoint: it answers `no_changes` with the
   * history as it was.
   */
  private async sessionReport(prepared: Prepared, result: ReplicationResult, job: Job) {
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

  // --- peers ------------------------------------------------------------------------------------

  /** Resolves both endpoints, checks they can be opened (creating the target if asked), finds the start. */
  private async prepare(spec: ReplicationSpec): Promise<Prepared> {
    const source = await this.resolve(spec.source, false);
    const target = await this.resolve(spec.target, spec.create_target);
    await checkOpen(source, spec.source);
    if (spec.create_target) await target.ensureExists().catch((error) => rethrowOpen(error, spec.target));
    await checkOpen(target, spec.target);
    const localId = await replicationId(source, target, identityOf(spec));
    const checkpointed = await new Checkpointer(source, target, localId, 'probe').startSeq();
    const since = checkpointed === 0 && spec.since_seq !== undefined ? spec.since_seq : undefined;
    return { source, target, localId, id: fullId(localId, spec), since, startSeq: since ?? checkpointed };
  }

  private async resolve(endpoint: Endpoint, create: boolean): Promise<Peer> {
    if (isUrl(endpoint.url))
      return new RemoteDatabase(endpoint.url, endpoint.auth ? { auth: endpoint.auth } : {});
    const name = endpoint.url;
    if (create && !this.registry.exists(name)) {
      await this.registry.create(name).catch((error: unknown) => {
        if (!(error instanceof SetteeError && error.error === 'file_exists')) throw error;
      });
    }
    try {
      return await this.registry.get(name);
    } catch (error) {
      if (error instanceof SetteeError && error.status === 404) throw dbNotFound(name);
      throw error;
    }
  }

  // --- running jobs -----------------------------------------------------------------------------

  private newJob(
    key: string,
    spec: ReplicationSpec | undefined,
    docId: string | null,
    fields: Record<string, unknown>,
  ) {
    return new Job(
      key,
      spec,
      docId,
      endpointLabel(fields.source),
      endpointLabel(fields.target),
      spec?.continuous ?? fields.continuous === true,
    );
  }

  /** Starts a Replication for a job, its state following the replication's events. */
  private launch(job: Job, spec: ReplicationSpec, prepared: Prepared, retry: boolean): Replication {
    const tracker = new ProgressTracker();
    const replication = replicate(tracker.wrapSource(prepared.source), tracker.wrapTarget(prepared.target), {
      live: spec.continuous,
      retry,
      create_target: spec.create_target,
      ...(spec.doc_ids ? { doc_ids: spec.doc_ids } : {}),
      ...(spec.selector ? { selector: spec.selector } : {}),
      ...(prepared.since !== undefined ? { since: prepared.since } : {}),
    });
    tracker.attach(replication);
    job.replication = replication;
    job.tracker = tracker;
    job.setState('running');
    job.record('started');
    replication.on('active', () => job.setState('running'));
    replication.on('paused', ({ error }) => (error ? job.crash(error) : job.setState('running')));
    replication.on('change', () => job.touch());
    return replication;
  }

  /**
   * Runs a job until it completes, fails or is stopped: a run that ends in an error is restarted
   * after a growing wait (the job is `crashing` meanwhile), from its checkpoint.
   */
  private async runJob(job: Job, prepared?: Prepared): Promise<void> {
    const spec = job.spec!;
    let ready = prepared;
    while (!job.stopped) {
      try {
        if (!ready) {
          job.setState('initializing');
          ready = await this.prepare(spec);
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
        const replication = this.launch(job, spec, ready, true);
        if (job.stopped) replication.cancel();
        const result = await replication.done;
        if (result.status !== 'complete') return;
        job.stats = completedStats(job, result);
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
    if (job.docId === null) return;
    const fields: Record<string, unknown> = {
      _replication_state: state,
      _replication_state_time: timestamp(),
      ...(job.id === undefined ? {} : { _replication_id: job.id }),
      ...(state === 'failed' ? { _replication_state_reason: reason } : { _replication_stats: job.stats }),
    };
    await this.writeBack(job, fields);
  }

  /**
   * Writes a terminal state into the job's document, unless the document was deleted or now
   * describes another replication. The change this makes leaves the defining fields as they were,
   * so the feed does not restart the job.
   */
  private async writeBack(job: Job, fields: Record<string, unknown>): Promise<void> {
    const db = this.replicatorDb;
    if (!db || job.docId === null) return;
    for (let attempt = 0; attempt < 10; attempt++) {
      let doc: Doc;
      try {
        doc = await db.get(job.docId);
      } catch {
        return;
      }
      if (definingKey(doc) !== job.key) return;
      const {
        _replication_state: _state,
        _replication_state_time: _time,
        _replication_state_reason: _reason,
        _replication_id: _id,
        _replication_stats: _stats,
        ...rest
      } = doc;
      try {
        await db.put({ ...rest, ...fields });
        return;
      } catch (error) {
        if (error instanceof SetteeError && error.error === 'conflict') continue;
        this.log(`could not record the state of replication document ${job.docId}: ${errorText(error)}`);
        return;
      }
    }
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

  /** Stops a job; the scheduler's own stop still waits for its last checkpoint. */
  private retire(job: Job): void {
    job.stop();
    const done = job.done.catch(() => undefined).finally(() => this.retiring.delete(done));
    this.retiring.add(done);
  }

  /** A job document was written: start, restart or leave its job. */
  private updateDoc(doc: Doc): void {
    const previous = this.docJobs.get(doc._id);
    const key = definingKey(doc);
    const state = doc._replication_state;
    const finished = state === 'completed' || state === 'failed';
    // The same replication: our own write-back, or an edit of other fields. Removing the
    // state of a finished job runs it again, as in CouchDB.
    if (previous && previous.key === key && (!previous.terminal || finished)) return;
    let spec: ReplicationSpec | undefined;
    let invalid: string | undefined;
    try {
      spec = parseReplicationSpec(doc);
    } catch (error) {
      invalid = error instanceof SetteeError ? error.reason : errorText(error);
    }
    const job = this.newJob(key, spec, doc._id, doc);
    this.docJobs.set(doc._id, job);
    if (!previous && finished) {
      // Finished in an earlier life of the server: listed, not run again.
      job.state = state;
      job.id = typeof doc._replication_id === 'string' ? doc._replication_id : undefined;
      job.error =
        typeof doc._replication_state_reason === 'string' ? doc._replication_state_reason : undefined;
      const stats = doc._replication_stats;
      job.stats =
        typeof stats === 'object' && stats !== null ? (stats as Record<string, unknown>) : undefined;
      if (typeof doc._replication_state_time === 'string') job.lastUpdated = doc._replication_state_time;
      return;
    }
    job.record('added');
    job.done = (async () => {
      if (previous) {
        job.setState('pending');
        previous.stop();
        await previous.done;
      }
      if (job.stopped) return;
      if (invalid !== undefined || !spec) return this.finish(job, 'failed', invalid);
      return this.runJob(job);
    })().catch((error: unknown) => this.log(`replication document ${doc._id}: ${errorText(error)}`));
  }

  // --- listings ---------------------------------------------------------------------------------

  private allJobs(): Job[] {
    return [...this.docJobs.values(), ...this.transient.values(), ...this.oneShots];
  }

  /** `GET /_scheduler/jobs`: replications with an id that have not finished. */
  jobs(): Record<string, unknown>[] {
    return this.allJobs()
      .filter((job) => job.id !== undefined && !job.terminal && !job.stopped)
      .map((job) => ({
        id: job.id,
        database: job.database,
        doc_id: job.docId,
        history: job.history,
        node: NODE,
        source: job.source,
        target: job.target,
        user: null,
        start_time: job.startTime,
        last_updated: job.lastUpdated,
        info: job.info(),
      }));
  }

  /** `GET /_scheduler/jobs/{id}`. */
  job(id: string): Record<string, unknown> | undefined {
    return this.jobs().find((job) => job.id === id);
  }

  /** `GET /_scheduler/docs[/_replicator]`: every job document's state. */
  docs(): Record<string, unknown>[] {
    return [...this.docJobs.values()]
      .sort((a, b) => (a.docId! < b.docId! ? -1 : a.docId! > b.docId! ? 1 : 0))
      .map((job) => ({
        database: job.database,
        doc_id: job.docId,
        id: job.id ?? null,
        node: NODE,
        source: job.source,
        target: job.target,
        state: job.state,
        info: job.info(),
        error_count: job.errorCount,
        last_updated: job.lastUpdated,
        start_time: job.startTime,
      }));
  }

  /** `GET /_scheduler/docs/_replicator/{docid}`. */
  doc(docId: string): Record<string, unknown> | undefined {
    return this.docs().find((doc) => doc.doc_id === docId);
  }

  /** `GET /_active_tasks`: the replications running now, with their progress. */
  activeTasks(): Record<string, unknown>[] {
    return this.allJobs()
      .filter((job) => job.replication && !job.terminal && !job.stopped)
      .map((job) => {
        const info = job.info();
        const progress = job.percent();
        return {
          type: 'replication',
          node: NODE,
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
      });
  }

  private log(message: string): void {
    this.options.log?.(message);
  }
}

function identityOf(spec: ReplicationSpec) {
  return {
    ...(spec.doc_ids ? { doc_ids: spec.doc_ids } : {}),
    ...(spec.selector ? { selector: spec.selector } : {}),
  };
}

function fullId(localId: string, spec: ReplicationSpec): string {
  const base = localId.replace(/^_local\//, '');
  return base + (spec.continuous ? '+continuous' : '') + (spec.create_target ? '+create_target' : '');
}

function completedStats(job: Job, result: ReplicationResult): Record<string, unknown> {
  return {
    revisions_checked: job.tracker?.revisionsChecked ?? 0,
    missing_revisions_found: job.tracker?.missingRevisionsFound ?? 0,
    docs_read: result.docs_read,
    docs_written: result.docs_written,
    doc_write_failures: result.doc_write_failures,
    changes_pending: result.pending ?? 0,
    checkpointed_source_seq: job.tracker?.checkpointedSeq ?? result.last_seq,
    start_time: timestamp(new Date(result.start_time)),
  };
}

/** A database that cannot be opened is CouchDB's `db_not_found`; refused credentials `unauthorized`. */
async function checkOpen(peer: Peer, endpoint: Endpoint): Promise<void> {
  try {
    await peer.info();
  } catch (error) {
    rethrowOpen(error, endpoint);
  }
}

function rethrowOpen(error: unknown, endpoint: Endpoint): never {
  const label = displayUrl(endpoint.url);
  if (error instanceof SetteeError && (error.status === 401 || error.status === 403)) {
    throw new ReplicatorError(401, 'unauthorized', `unauthorized to access or create database ${label}`);
  }
  if (error instanceof SetteeError && error.status === 404) throw dbNotFound(label);
  if (error instanceof RetriesExhaustedError) throw dbNotFound(label);
  throw error;
}

function seconds(time: string): number {
  return Math.floor(Date.parse(time) / 1000);
}
