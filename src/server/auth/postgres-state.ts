/**
 * The authentication state of servers sharing one PostgreSQL, kept there so that any server
 * answers any request (docs/scale-out.md, "Sessions and lockout"):
 *
 * - one row of `settee.auth` holds the cookie secret: the first server to start makes it, in the
 *   transaction that reads it, so servers starting together agree;
 * - the server admins stay each server's own, as on one server (`--admin` replaces them, else
 *   `auth.json` in its data folder keeps them), but their hashes are shared: the same row lists
 *   the hash of each admin given with `--admin`, and a server given the same name and password
 *   uses that hash rather than making its own (under the row's lock, so servers starting together
 *   make one), for its salt is part of the cookie key: an admin's cookie works on all of them;
 * - the lockout counts failures there (`SharedLockout`);
 * - what changes is announced on the channel `settee_auth`, and each server drops what it cached:
 *   a user's ended sessions, a new lock. A server that lost the channel for a while drops or
 *   re-reads everything once it listens again.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { ChannelListener } from '../../storage/postgres/channel-listener.js';
import { migrate } from '../../storage/postgres/schema.js';
import { inTransaction, type Queryable, rowsOf, run } from '../../storage/postgres/sql.js';
import { type AdminHashes, type AdminOptions, checkAdminHashes, givenAdmins } from './admins.js';
import type { LockoutOptions } from './lockout.js';
import { SharedLockout } from './postgres-lockout.js';
import { type AuthState, loadAuthState, newSecret } from './state-file.js';
import type { AuthStateChange, AuthStateStore } from './state.js';

const CHANNEL = 'settee_auth';
// PostgreSQL refuses payloads of 8000 bytes or more: a longer name is left out (anyone's sessions).
const MAX_PAYLOAD_BYTES = 7800;

/** What a notice on `CHANNEL` says, in short keys. */
type NoticeBody = { k: 'lock' } | { k: 'sessions'; name?: string };
/** A notice, with the origin that sent it. */
type Notice = NoticeBody & { o: string };

export class PostgresAuthState implements AuthStateStore {
  /** Marks this server's notices, which it need not hear back. */
  readonly #origin = randomBytes(8).toString('hex');
  readonly #listeners = new Set<(change: AuthStateChange) => void>();
  readonly #lockouts = new Set<SharedLockout>();
  readonly #listener: ChannelListener;

  private constructor(
    /** The server's pool (the caller's to end): authentication uses it only when a login fails or the state changes. */
    private readonly pool: pg.Pool,
    /** The server's data folder, whose `auth.json` keeps its admins. */
    private readonly dataDir: string,
  ) {
    this.#listener = new ChannelListener(pool.options, [CHANNEL], {
      notice: (_channel, payload) => void this.#heard(JSON.parse(payload) as Notice).catch(() => undefined),
      missed: () => this.#missed(),
    });
  }

  /**
   * Over the server's pool (the caller keeps and ends it): brings the tables up to date and
   * listens for the other servers' notices.
   */
  static async open(pool: pg.Pool, dataDir: string): Promise<PostgresAuthState> {
    const state = new PostgresAuthState(pool, dataDir);
    try {
      await migrate(pool);
      await state.#listener.listen();
    } catch (error) {
      await state.close();
      throw error;
    }
    return state;
  }

  async load(options: AdminOptions): Promise<AuthState> {
    return inTransaction(this.pool, async (client) => {
      await run(client, "INSERT INTO settee.auth (secret, admins) VALUES ($1, '{}') ON CONFLICT DO NOTHING", [
        newSecret(),
      ]);
      const [row] = await rowsOf<{ secret: string; admins: string }>(
        client,
        'SELECT secret, admins FROM settee.auth FOR UPDATE',
      );
      const shared = parseAdmins(row!.admins);
      const state = await loadAuthState(this.dataDir, options, shared);
      // Only admins given now: a generated one is this server's alone, and a stored one's password is unknown.
      const given = givenAdmins(options.admin).length === 0 ? [] : state.known;
      if (given.some(({ name, hash }) => shared[name] !== hash)) {
        for (const { name, hash } of given) shared[name] = hash;
        await run(client, 'UPDATE settee.auth SET admins = $1', [JSON.stringify(shared)]);
      }
      return { ...state, secret: row!.secret };
    });
  }

  async lockout(options: LockoutOptions): Promise<SharedLockout> {
    const lockout = new SharedLockout(this.pool, options, (client) => this.#announce(client, { k: 'lock' }));
    await lockout.sweep();
    await lockout.reload();
    this.#lockouts.add(lockout);
    return lockout;
  }

  async announceSessionsEnded(name: string): Promise<void> {
    const fits = Buffer.byteLength(JSON.stringify(name)) <= MAX_PAYLOAD_BYTES;
    await this.#announce(this.pool, fits ? { k: 'sessions', name } : { k: 'sessions' });
  }

  onChange(listener: (change: AuthStateChange) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async close(): Promise<void> {
    this.#listeners.clear();
    this.#lockouts.clear();
    await this.#listener.close();
  }

  async #announce(on: Queryable, notice: NoticeBody): Promise<void> {
    await run(on, 'SELECT pg_notify($1, $2)', [CHANNEL, JSON.stringify({ ...notice, o: this.#origin })]);
  }

  async #heard(notice: Notice): Promise<void> {
    if (notice.o === this.#origin) return;
    if (notice.k === 'sessions') this.#emit({ kind: 'sessions-ended', name: notice.name });
    else await this.#reloadLocks();
  }

  /** Notices were missed while the channel was lost: anything may have changed. */
  async #missed(): Promise<void> {
    this.#emit({ kind: 'sessions-ended', name: undefined });
    await this.#reloadLocks();
  }

  async #reloadLocks(): Promise<void> {
    await Promise.all([...this.#lockouts].map((lockout) => lockout.reload()));
  }

  #emit(change: AuthStateChange): void {
    for (const listener of [...this.#listeners]) listener(change);
  }
}

function parseAdmins(text: string): AdminHashes {
  const admins = checkAdminHashes(JSON.parse(text));
  if (typeof admins === 'string') throw new Error(`settee.auth holds invalid admins (${admins})`);
  return admins;
}
