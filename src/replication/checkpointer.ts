import type { LocalDoc, Peer, Seq } from '../core/api.js';
import { SetteeError } from '../core/errors.js';
import { CheckpointLostError } from './start-over.js';

/** A checkpoint document, in PouchDB's format (version 1), written to both peers. */
export interface CheckpointDoc {
  _id: string;
  _rev?: string;
  session_id: string;
  last_seq: Seq;
  history: { session_id: string; last_seq: Seq }[];
  replicator: string;
  version: 1;
}

const HISTORY_SIZE = 5;
const VERSION = 1;
/** Writes of a log answered 409 (it moved since it was read) before giving up. */
const CONFLICT_RETRIES = 5;

/**
 * Where a replication left off, kept as `_local/<replication id>` on both peers. A start
 * sequence is trusted only when both sides remember a common session: a database that was
 * destroyed and re-created has lost its half, so the replication starts over.
 */
export class Checkpointer {
  /** A source we may not write to (a read-only replica): trust the target's checkpoint alone. */
  private readOnlySource = false;
  private lastWritten: Seq | undefined;
  private writing: Promise<void> = Promise.resolve();
  /** Peers this replication's log was read from: if it vanishes, the peer was re-created. */
  private readonly seen = new Set<Peer>();

  /** Each peer's log as last read or written, and when it was last read. */
  private readonly known = new Map<Peer, { log: CheckpointDoc | undefined; readAt: number }>();

  constructor(
    private readonly source: Peer,
    private readonly target: Peer,
    readonly id: string,
    private readonly session: string,
    private readonly refreshMs = 5000,
  ) {}

  /** The sequence to resume from: 0 unless both peers' logs share a session. */
  async startSeq(): Promise<Seq> {
    const [sourceLog, targetLog] = await Promise.all([
      this.readLogOf(this.source),
      this.readLogOf(this.target),
    ]);
    if (!targetLog) return 0;
    if (!sourceLog) return (await this.sourceRefusesLogs()) ? (targetLog.last_seq ?? 0) : 0;
    if (sourceLog.version !== targetLog.version) return 0;
    return compareLogs(sourceLog, targetLog);
  }

  /**
   * Records that everything up to `seq` is written: target first, then source. Throws a
   * CheckpointLostError, writing nothing there, when a log seen on a peer has disappeared.
   */
  write(seq: Seq): Promise<void> {
    // One write at a time: an idle-time checkpoint may fire while the replication writes one.
    const run = this.writing.then(() => this.writeNow(seq));
    this.writing = run.catch(() => undefined);
    return run;
  }

  private async writeNow(seq: Seq): Promise<void> {
    if (this.lastWritten === seq) return;
    await this.writeLog(this.target, seq);
    if (!this.readOnlySource) {
      try {
        await this.writeLog(this.source, seq);
      } catch (error) {
        if (!(error instanceof SetteeError) || error.status >= 500) throw error;
        this.readOnlySource = true;
      }
    }
    this.lastWritten = seq;
  }

  private async writeLog(peer: Peer, seq: Seq): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const existing = attempt === 1 ? await this.knownLog(peer) : await this.readLogOf(peer);
      try {
        const written = await writeLog(peer, this.id, seq, this.session, existing);
        if (written)
          this.known.set(peer, { log: written, readAt: this.known.get(peer)?.readAt ?? Date.now() });
        return;
      } catch (error) {
        // CouchDB and pouchdb-server check a `_local` doc's `_rev`: 409 when the log moved since
        // it was read — by another writer, or by this very write, retried after its answer was
        // lost. Read it again (a log that already says `seq` is left alone), as PouchDB does.
        const conflict = error instanceof SetteeError && error.status === 409;
        if (!conflict || attempt >= CONFLICT_RETRIES) throw error;
      }
    }
  }

  /**
   * The peer's log as this replication last read or wrote it, re-read once per `refreshMs`:
   * reading before every write would cost a round trip per batch, and the re-read is what
   * notices a peer whose log vanished (a re-created database).
   */
  private async knownLog(peer: Peer): Promise<CheckpointDoc | undefined> {
    const known = this.known.get(peer);
    if (known && Date.now() - known.readAt < this.refreshMs) return known.log;
    return this.readLogOf(peer);
  }

  /**
   * Whether the source refuses checkpoint writes (a read-only replica), tried with a log at 0 as
   * PouchDB does: then the target's log alone says where the last run left off, else a run
   * from a read-only source would start over from zero every time. A source that takes the log
   * simply had none (new, or re-created): the run starts over.
   */
  private async sourceRefusesLogs(): Promise<boolean> {
    try {
      const written = await writeLog(this.source, this.id, 0, this.session, undefined);
      this.known.set(this.source, { log: written, readAt: Date.now() });
      return false;
    } catch (error) {
      if (!(error instanceof SetteeError) || error.status >= 500 || error.status === 409) throw error;
      this.readOnlySource = true;
      return true;
    }
  }

  private async readLogOf(peer: Peer): Promise<CheckpointDoc | undefined> {
    const log = await readLog(peer, this.id);
    if (log) this.seen.add(peer);
    else if (this.seen.has(peer)) throw new CheckpointLostError(this.id);
    this.known.set(peer, { log, readAt: Date.now() });
    return log;
  }
}

/**
 * PouchDB's and CouchDB's log comparison: the same current session on both sides, or else the
 * most recent session one side's history shares with the other's. Where the two logs record
 * different progress for the shared session, the lesser is taken: one side lost its newer
 * checkpoint — a crash between the two checkpoint writes, or a peer restored from a backup — and
 * resuming from the other side's would skip the changes that side no longer holds (CouchDB and
 * PouchDB take the source's; after a restore of the target, a push would never send again what
 * the restore removed).
 */
export function compareLogs(source: CheckpointDoc, target: CheckpointDoc): Seq {
  if (source.session_id === target.session_id) return lesserSeq(source.last_seq ?? 0, target.last_seq ?? 0);
  let sourceHistory = source.history ?? [];
  let targetHistory = target.history ?? [];
  while (sourceHistory.length > 0 && targetHistory.length > 0) {
    const [s, ...sourceRest] = sourceHistory;
    const [t, ...targetRest] = targetHistory;
    const inTarget = targetHistory.find((entry) => entry.session_id === s!.session_id);
    if (inTarget) return lesserSeq(s!.last_seq, inTarget.last_seq);
    const inSource = sourceRest.find((entry) => entry.session_id === t!.session_id);
    if (inSource) return lesserSeq(t!.last_seq, inSource.last_seq);
    sourceHistory = sourceRest;
    targetHistory = targetRest;
  }
  return 0;
}

/**
 * The earlier of two checkpointed sequences of one session. Opaque sequences (a CouchDB
 * cluster's strings) that differ cannot be ordered: the replication starts over, which costs
 * only reading the changes again (the target already has what it has).
 */
function lesserSeq(a: Seq, b: Seq): Seq {
  if (a === b) return a;
  if (typeof a === 'number' && typeof b === 'number') return Math.min(a, b);
  return 0;
}

async function readLog(peer: Peer, id: string): Promise<CheckpointDoc | undefined> {
  return (await peer.getLocal(id)) as CheckpointDoc | undefined;
}

async function writeLog(
  peer: Peer,
  id: string,
  seq: Seq,
  session: string,
  existing: CheckpointDoc | undefined,
): Promise<CheckpointDoc | undefined> {
  // Nothing new: a no-op run costs no writes (the logs still share the earlier session).
  if (existing?.last_seq === seq) return undefined;
  const history = [
    { session_id: session, last_seq: seq },
    ...(existing?.history ?? []).filter((h) => h.session_id !== session),
  ];
  const doc: CheckpointDoc = {
    _id: id,
    ...(existing?._rev ? { _rev: existing._rev } : {}),
    session_id: session,
    last_seq: seq,
    history: history.slice(0, HISTORY_SIZE),
    replicator: 'settee',
    version: VERSION,
  };
  const { rev } = await peer.putLocal(doc as unknown as LocalDoc);
  return { ...doc, _rev: rev };
}
