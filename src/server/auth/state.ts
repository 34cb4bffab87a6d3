/**
 * Where the authentication state that outlives a request is kept: the cookie secret, the server
 * admins and the lockout's counts. One server keeps them in `<dataDir>/_settee/auth.json` and in
 * its own memory (`LocalAuthState`); servers sharing a PostgreSQL keep them there and tell each
 * other what changed (`PostgresAuthState`, in `postgres-state.ts`). `Auth` holds the logic and
 * never knows which store it has.
 */
import type { AdminOptions } from './admins.js';
import { Lockout, type LockoutLedger, type LockoutOptions } from './lockout.js';
import { type AuthState, loadAuthState } from './state-file.js';

export type { AuthState } from './state-file.js';

/** What another server changed, for this one to drop what it cached. */
export interface AuthStateChange {
  kind: 'sessions-ended';
  /** The user whose sessions ended; `undefined`: anyone's may have (a notice may have been missed). */
  name: string | undefined;
}

export interface AuthStateStore {
  /** The cookie secret and the server admins, with `options.admin` applied (see `admins.ts`). */
  load(options: AdminOptions): Promise<AuthState>;
  /** The lockout's bookkeeping, ready to answer `isLocked` (the locks in force are loaded). */
  lockout(options: LockoutOptions): Promise<LockoutLedger>;
  /** Tells the other servers that `name`'s sessions ended (`DELETE /_session`). */
  announceSessionsEnded(name: string): Promise<void>;
  /** Calls `listener` with each change another server made; returns the call that stops it. */
  onChange(listener: (change: AuthStateChange) => void): () => void;
  close(): Promise<void>;
}

/** The state of a server alone: `auth.json` in its data folder, and the lockout in its memory. */
export class LocalAuthState implements AuthStateStore {
  constructor(private readonly dataDir: string) {}

  load(options: AdminOptions): Promise<AuthState> {
    return loadAuthState(this.dataDir, options);
  }

  lockout(options: LockoutOptions): Promise<LockoutLedger> {
    return Promise.resolve(new Lockout(options));
  }

  /** No other server to tell. */
  announceSessionsEnded(): Promise<void> {
    return Promise.resolve();
  }

  /** Nothing changes behind this server's back. */
  onChange(): () => void {
    return () => undefined;
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
