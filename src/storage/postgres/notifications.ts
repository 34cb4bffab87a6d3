import pg from 'pg';
import type { ExternalWrite } from '../types.js';
import { ChannelListener } from './channel-listener.js';
import { type Queryable, rowsOf, run } from './sql.js';

/**
 * Writes announced across servers with PostgreSQL's LISTEN/NOTIFY. Each write transaction sends
 * a notification on ONE channel for every database (`announceWrite`); PostgreSQL delivers it at
 * commit, and only if the transaction commits, to every connection that listens. Each server
 * process listens on one connection of its own (`listenForWrites`) and hands each notification
 * to the storages open on its database key, which pass it on to their `Database`.
 *
 * One channel rather than one per database: a server LISTENs once at start-up, whatever the
 * number of databases it opens later, and a database created by another server needs no new
 * LISTEN before its first write can be heard.
 */
const CHANNEL = 'settee_writes';
/**
 * Notices that name a database whose settings another server changed, a channel each: what the
 * servers hold of them (a cached security object, an installed resolver, the revs_limit) must be
 * read again. `security`: its security object changed, or it was deleted; `settings`: its
 * automatic conflict resolution (`PUT /{db}/_resolver`) or its `_revs_limit` changed.
 */
const NOTICE_CHANNELS = { security: 'settee_security', settings: 'settee_settings' } as const;
export type DatabaseNotice = keyof typeof NOTICE_CHANNELS;
const NOTICES = Object.keys(NOTICE_CHANNELS) as DatabaseNotice[];

// PostgreSQL refuses payloads of 8000 bytes or more; past this, the ids are left out and the
// listeners forget everything they cached of that database.
const MAX_PAYLOAD_BYTES = 7900;

/** The notification's payload, in short keys: it travels to every listening server on each write. */
interface Payload {
  /** The storage object that wrote: it does not hear its own writes. */
  o: string;
  db: number;
  seq: number;
  ids?: string[];
}

/** Sends, within the write's transaction, the notice that `db` reached `seq` by writing `ids`. */
export async function announceWrite(
  client: pg.PoolClient,
  origin: string,
  db: number,
  seq: number,
  ids: readonly string[],
): Promise<void> {
  const distinct = [...new Set(ids)];
  let payload = JSON.stringify({ o: origin, db, seq, ids: distinct } satisfies Payload);
  if (Buffer.byteLength(payload) > MAX_PAYLOAD_BYTES) payload = JSON.stringify({ o: origin, db, seq });
  await run(client, 'SELECT pg_notify($1, $2)', [CHANNEL, payload]);
}

/**
 * Tells the other servers that a setting of database `name` changed (see `DatabaseNotice`), so
 * that they read again what they hold of it. Sent after the change committed.
 */
export async function announceNotice(
  pool: pg.Pool,
  origin: string,
  notice: DatabaseNotice,
  name: string,
): Promise<void> {
  await run(pool, 'SELECT pg_notify($1, $2)', [NOTICE_CHANNELS[notice], JSON.stringify({ o: origin, name })]);
}

type Subscriber = { origin: string; listener: (write: ExternalWrite) => void };
/** Hears a database's name, or undefined when any may have changed (while the connection was lost). */
type NoticeListener = { origin: string; listener: (name: string | undefined) => void };

/**
 * A pool's listening connection and the storages that follow writes through it: one connection
 * for every database and notice (`ChannelListener`).
 */
export class WriteListener {
  private readonly subscribers = new Map<number, Set<Subscriber>>();
  private readonly noticeListeners = new Map<DatabaseNotice, Set<NoticeListener>>();
  private readonly channel: ChannelListener;

  constructor(private readonly pool: pg.Pool) {
    this.channel = new ChannelListener(
      pool.options,
      [CHANNEL, ...NOTICES.map((notice) => NOTICE_CHANNELS[notice])],
      {
        notice: (channel, payload) => {
          const notice = NOTICES.find((kind) => NOTICE_CHANNELS[kind] === channel);
          if (channel === CHANNEL) this.deliver(payload);
          else if (notice) this.deliverNotice(notice, payload);
        },
        // Listening again: what was missed is read.
        missed: () => this.catchUp(this.pool),
      },
    );
  }

  /** Follows the writes other storage objects make to database `db`; returns the unsubscribe. */
  subscribe(db: number, origin: string, listener: (write: ExternalWrite) => void): () => void {
    let forDb = this.subscribers.get(db);
    if (!forDb) this.subscribers.set(db, (forDb = new Set()));
    const subscriber = { origin, listener };
    forDb.add(subscriber);
    return () => {
      forDb.delete(subscriber);
      if (forDb.size === 0 && this.subscribers.get(db) === forDb) this.subscribers.delete(db);
    };
  }

  /** Follows the notices of one kind that other origins announce; returns the unsubscribe. */
  onNotice(notice: DatabaseNotice, origin: string, listener: (name: string | undefined) => void): () => void {
    let listeners = this.noticeListeners.get(notice);
    if (!listeners) this.noticeListeners.set(notice, (listeners = new Set()));
    const subscriber = { origin, listener };
    listeners.add(subscriber);
    return () => listeners.delete(subscriber);
  }

  /** Opens the listening connection (once); resolves when it listens. */
  listen(): Promise<void> {
    return this.channel.listen();
  }

  close(): Promise<void> {
    return this.channel.close();
  }

  private deliver(text: string): void {
    const payload = JSON.parse(text) as Payload;
    const write: ExternalWrite = payload.ids ? { seq: payload.seq, ids: payload.ids } : { seq: payload.seq };
    for (const { origin, listener } of this.subscribers.get(payload.db) ?? []) {
      if (origin !== payload.o) listener(write);
    }
  }

  private deliverNotice(notice: DatabaseNotice, text: string): void {
    const payload = JSON.parse(text) as { o: string; name: string };
    for (const { origin, listener } of this.noticeListeners.get(notice) ?? []) {
      if (origin !== payload.o) listener(payload.name);
    }
  }

  /** Each followed database's current sequence, to every subscriber, ids unknown; any setting may have changed. */
  private async catchUp(on: Queryable): Promise<void> {
    for (const listeners of this.noticeListeners.values()) {
      for (const { listener } of listeners) listener(undefined);
    }
    const rows = await rowsOf<{ db: number; update_seq: number }>(
      on,
      'SELECT db, update_seq FROM settee.databases WHERE db = ANY($1::integer[])',
      [[...this.subscribers.keys()]],
    );
    for (const row of rows) {
      for (const { listener } of this.subscribers.get(row.db) ?? []) listener({ seq: row.update_seq });
    }
  }
}

const listeners = new WeakMap<pg.Pool, WriteListener>();

/**
 * The pool's write listener, made on first use. Storages subscribe to it at once; it hears
 * other servers' writes once `listen()` has resolved (a server does that as it starts).
 */
export function writeListenerOf(pool: pg.Pool): WriteListener {
  let listener = listeners.get(pool);
  if (!listener) listeners.set(pool, (listener = new WriteListener(pool)));
  return listener;
}
