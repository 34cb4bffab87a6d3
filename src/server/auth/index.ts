/**
 * Who a request is (protocol.md §5.1–5.2): Basic credentials, an `AuthSession` cookie or a
 * `Bearer` JWT, each yielding the same user context `{name, roles}`. Server admins come from the
 * state file (`--admin`); users from the `_users` database.
 *
 * Verifying a password is deliberately slow (PBKDF2), so verified credentials are cached, hashing
 * runs in a bounded pool shared fairly between client addresses, and repeated failures from one
 * address lock that user out there for a while (CouchDB 3.4's `[chttpd_auth_lockout]`).
 *
 * No HTTP framework code lives here: the server hands over request headers and the client's
 * address, and sends back the `Set-Cookie` values these methods return.
 */
import { createHmac, randomBytes } from 'node:crypto';
import type { UserContext } from '../../core/api.js';
import { SetteeError } from '../../core/errors.js';
import { ADMIN_ROLE } from '../security.js';
import type { AdminCredentials } from './admins.js';
import { HashScheduler } from './hash-scheduler.js';
import { parseBasicAuth, parseCookies } from './headers.js';
import { type JwtOptions, JwtVerifier, parseBearer } from './jwt.js';
import { type LockoutLedger, type LockoutSettings, lockedError, lockoutFor } from './lockout.js';
import {
  decoyHash,
  DEFAULT_ITERATIONS,
  formatAdminHash,
  parseAdminHash,
  type PasswordHash,
  verifyPassword,
} from './passwords.js';
import { COOKIE_NAME, type SessionKey, SessionCookies } from './sessions.js';
import { type AuthStateChange, type AuthStateStore, LocalAuthState } from './state.js';

export type { UserContext } from '../../core/api.js';
export { parseBasicAuth, parseCookies } from './headers.js';
export { COOKIE_NAME } from './sessions.js';
export { DEFAULT_ITERATIONS, hashAdminPassword, verifyAdminPassword } from './passwords.js';

export const DEFAULT_SESSION_TIMEOUT_SECONDS = 600;
const BAD_CREDENTIALS = 'Name or password is incorrect.';
/** The address of credentials checked without a client (embedded use, tests). */
const LOCAL = 'local';
/** Where JWT failures are counted, per address (no user name can be this). */
const JWT_LOCKOUT_KEY = '\u0000jwt';
const CACHE_LIMIT = 1000;

/** Where users other than the server admins come from (the `_users` database). */
export interface UserSource {
  user(name: string): Promise<{ roles: string[]; hash: PasswordHash | undefined } | undefined>;
  sessionEpoch(name: string): Promise<number>;
  endSessions(name: string): Promise<void>;
  /** Drops cached session epochs, of `name` or (undefined) of everyone: another server ended sessions. */
  forgetSessions?(name: string | undefined): void;
}

export interface AuthOptions {
  /**
   * The server admins, each `"name:password"` split at the first `:` (from `--admin`,
   * `--admin-file` or `SETTEE_ADMIN`); they replace the stored ones. See `AdminCredentials`.
   */
  admin?: AdminCredentials;
  /** Where the generated admin's credentials are announced (once). */
  log?: (message: string) => void;
  /** Lifetime of an `AuthSession` cookie in seconds; 600 by default, as CouchDB. */
  sessionTimeoutSeconds?: number;
  /** PBKDF2 iterations for new hashes; 600 000 by default, as CouchDB 3.4. */
  iterations?: number;
  /** Clock in milliseconds since the epoch (tests inject one); `Date.now` by default. */
  now?: () => number;
  /** The users of `_users`; without it only server admins exist. */
  users?: UserSource;
  /** `Authorization: Bearer` tokens: keys and the roles claim. Without it Bearer tokens are refused. */
  jwt?: JwtOptions;
  /**
   * Failures (any scheme) from one address before that user is locked out there (5), for how
   * long (5 min), how many pairs are tracked (10 000) and whether a lock refuses (`enforce`),
   * is only reported (`warn`) or nothing is counted (`off`).
   */
  lockout?: LockoutSettings;
  /** Cookies only over HTTPS (the server is behind TLS). */
  secureCookies?: boolean;
  /** The pool password hashes run in (shared with the `_users` write rules); one of its own by default. */
  hashing?: HashScheduler;
  /**
   * Where the cookie secret, the server admins and the lockout's counts are kept: `auth.json` in
   * the data folder and this process's memory by default; a `PostgresAuthState` for servers that
   * share a PostgreSQL. `close()` closes it.
   */
  state?: AuthStateStore;
}

/** What a request carries that says who it is. */
export interface Credentials {
  authorization?: string;
  cookie?: string;
  /** The client's address: lockout and the hashing pool count per address (default: local). */
  address?: string;
}

export interface AuthResult {
  userCtx: UserContext;
  /** How the request authenticated; `null` when anonymous. */
  via: 'basic' | 'cookie' | 'jwt' | null;
  /** A renewed `AuthSession` cookie to send back, once 10% of the session lifetime has passed. */
  setCookie?: string;
}

export interface AuthStats {
  /** PBKDF2 verifications actually run (cache misses). */
  verifications: number;
  /** Credential checks answered by the verification cache. */
  cacheHits: number;
  /** Entries in the verification cache. */
  cacheSize: number;
  /** Wrong passwords and bad tokens, since start. */
  failures: number;
}

/** A name's password hash and roles, whether a server admin or a user. */
interface Account {
  roles: string[];
  hash: PasswordHash | undefined;
  /** The hash as text: the credential cache remembers what it verified against. */
  hashText: string;
}

const anonymous = (): UserContext => ({ name: null, roles: [] });

/** Lockout warnings of bad JWTs name no user: their key is an internal one. */
function jwtUnnamed(settings: LockoutSettings): LockoutSettings {
  const { onWarning } = settings;
  if (onWarning === undefined) return settings;
  return {
    ...settings,
    onWarning: (warning) =>
      onWarning(warning.user === JWT_LOCKOUT_KEY ? { ...warning, user: undefined } : warning),
  };
}

export class Auth {
  readonly sessionTimeoutSeconds: number;
  readonly #admins: Map<string, string>;
  readonly #cookies: SessionCookies;
  readonly #iterations: number;
  readonly #users: UserSource | undefined;
  readonly #jwt: JwtVerifier | undefined;
  readonly #lockout: LockoutLedger;
  readonly #state: AuthStateStore;
  readonly #stopFollowing: () => void;
  readonly #hashing: HashScheduler;
  /** Session epochs of server admins when there is no user source (tests, embedded use). */
  readonly #localEpochs = new Map<string, number>();
  /** A per-process key, so the cache keys are not plain hashes of passwords. */
  readonly #cacheKey = randomBytes(32);
  /** HMAC(name:password) → the stored hash it verified against (LRU: oldest first). */
  readonly #verified = new Map<string, string>();
  readonly #inFlight = new Map<string, Promise<boolean>>();
  #verifications = 0;
  #cacheHits = 0;
  #failures = 0;

  private constructor(
    parts: {
      secret: string;
      admins: Map<string, string>;
      timeout: number;
      iterations: number;
      now: () => number;
      jwt: JwtVerifier | undefined;
      lockout: LockoutLedger;
      state: AuthStateStore;
    },
    options: AuthOptions,
  ) {
    this.#admins = parts.admins;
    this.sessionTimeoutSeconds = parts.timeout;
    this.#iterations = parts.iterations;
    this.#cookies = new SessionCookies(
      parts.secret,
      parts.timeout,
      parts.now,
      options.secureCookies === true,
    );
    this.#users = options.users;
    this.#jwt = parts.jwt;
    this.#lockout = parts.lockout;
    this.#hashing = options.hashing ?? new HashScheduler();
    this.#state = parts.state;
    this.#stopFollowing = parts.state.onChange((change) => this.#changedElsewhere(change));
  }

  /**
   * Loads (or creates) the state: by default `<dataDir>/_settee/auth.json`, else `options.state`.
   * It holds the cookie secret and the server admins (`options.admin` replaces them; with none
   * at all, an `admin` with a random password is created and announced once through
   * `options.log`).
   */
  static async open(dataDir: string, options: AuthOptions = {}): Promise<Auth> {
    const timeout = options.sessionTimeoutSeconds ?? DEFAULT_SESSION_TIMEOUT_SECONDS;
    if (!Number.isFinite(timeout) || timeout <= 0) {
      throw new RangeError(`sessionTimeoutSeconds must be a positive number, got ${timeout}`);
    }
    const iterations = options.iterations ?? DEFAULT_ITERATIONS;
    if (!Number.isSafeInteger(iterations) || iterations < 1) {
      throw new RangeError(`iterations must be a positive integer, got ${iterations}`);
    }
    const store = options.state ?? new LocalAuthState(dataDir);
    try {
      const state = await store.load({ admin: options.admin, iterations, log: options.log });
      const jwt = options.jwt ? await JwtVerifier.create({ ...options.jwt, now: options.now }) : undefined;
      const now = options.now ?? Date.now;
      const lockout = await lockoutFor(jwtUnnamed(options.lockout ?? {}), now, (counting) =>
        store.lockout(counting),
      );
      const auth = new Auth({ ...state, timeout, iterations, now, jwt, lockout, state: store }, options);
      for (const { name, password, hash } of state.known)
        auth.#remember(auth.#cacheKeyOf(name, password), hash);
      return auth;
    } catch (error) {
      await store.close();
      throw error;
    }
  }

  /** Stops following the other servers' changes and closes the state store. */
  async close(): Promise<void> {
    this.#stopFollowing();
    await this.#state.close();
  }

  /** Names of the server admins. */
  get adminNames(): string[] {
    return [...this.#admins.keys()];
  }

  /** PBKDF2 runs and cache use, for tests, diagnostics and the benchmark. */
  get stats(): AuthStats {
    return {
      verifications: this.#verifications,
      cacheHits: this.#cacheHits,
      cacheSize: this.#verified.size,
      failures: this.#failures,
    };
  }

  /** Whether `Authorization: Bearer` tokens are accepted. */
  get jwtEnabled(): boolean {
    return this.#jwt !== undefined;
  }

  /**
   * The user context of a request. Basic credentials win over a Bearer token, which wins over a
   * cookie; wrong Basic credentials or a bad token throw `unauthorized` (a locked-out user
   * `forbidden`). An invalid or expired `AuthSession` cookie is ignored (anonymous), as in
   * CouchDB; a valid one older than 10% of the lifetime comes back renewed in `setCookie`.
   */
  async authenticate(credentials: Credentials): Promise<AuthResult> {
    const address = credentials.address ?? LOCAL;
    const basic = parseBasicAuth(credentials.authorization);
    if (basic)
      return {
        userCtx: (await this.#checkPassword(basic.name, basic.password, address)).userCtx,
        via: 'basic',
      };
    // Without keys there is no JWT handler, as in CouchDB: a Bearer token is no credential at all.
    const bearer = this.#jwt && parseBearer(credentials.authorization);
    if (bearer) return { userCtx: await this.#checkJwt(this.#jwt!, bearer, address), via: 'jwt' };
    const token = parseCookies(credentials.cookie)[COOKIE_NAME];
    return (token && (await this.#checkCookie(token))) || { userCtx: anonymous(), via: null };
  }

  /** `POST /_session`: checks the credentials and issues an `AuthSession` cookie. */
  async login(
    name: string,
    password: string,
    address = LOCAL,
  ): Promise<{ userCtx: UserContext; setCookie: string }> {
    const { userCtx, account } = await this.#checkPassword(name, password, address);
    return { userCtx, setCookie: this.#cookies.issue(name, await this.#sessionKey(name, account)) };
  }

  /**
   * `DELETE /_session`: ends every session of the signed-in user (their cookies stop working,
   * on every device) and returns a `Set-Cookie` that clears the browser's copy.
   */
  async logout(userCtx: UserContext): Promise<string> {
    const { name } = userCtx;
    if (name !== null) {
      if (this.#users) await this.#users.endSessions(name);
      else this.#localEpochs.set(name, (this.#localEpochs.get(name) ?? 0) + 1);
      await this.#state.announceSessionsEnded(name);
    }
    return this.#cookies.clear();
  }

  /** Another server ended sessions: the epochs this one cached are stale. */
  #changedElsewhere({ name }: AuthStateChange): void {
    if (name === undefined) this.#localEpochs.clear();
    else this.#localEpochs.delete(name);
    this.#users?.forgetSessions?.(name);
  }

  // --- credentials --------------------------------------------------------------------------

  async #account(name: string): Promise<Account | undefined> {
    const adminHash = this.#admins.get(name);
    if (adminHash !== undefined)
      return { roles: [ADMIN_ROLE], hash: parseAdminHash(adminHash), hashText: adminHash };
    const user = await this.#users?.user(name);
    if (!user) return undefined;
    return { roles: user.roles, hash: user.hash, hashText: user.hash ? formatAdminHash(user.hash) : '' };
  }

  async #checkPassword(
    name: string,
    password: string,
    address: string,
  ): Promise<{ userCtx: UserContext; account: Account }> {
    if (this.#lockout.isLocked(address, name)) throw lockedError();
    const account = await this.#account(name);
    const ok = await this.#verifyCached(name, password, account, address);
    if (!ok || !account) {
      this.#failures++;
      await this.#lockout.recordFailure(address, name);
      throw new SetteeError('unauthorized', BAD_CREDENTIALS);
    }
    await this.#lockout.recordSuccess(address, name);
    return { userCtx: { name, roles: [...account.roles] }, account };
  }

  async #verifyCached(
    name: string,
    password: string,
    account: Account | undefined,
    address: string,
  ): Promise<boolean> {
    const key = this.#cacheKeyOf(name, password);
    if (account?.hash && this.#verified.get(key) === account.hashText) {
      this.#cacheHits++;
      this.#remember(key, account.hashText); // refresh its LRU position
      return true;
    }
    // An unknown name costs the same work as a known one, so timing does not reveal names.
    const hash = account?.hash ?? decoyHash(this.#iterations);
    // Concurrent requests with the same credentials share one PBKDF2 run.
    const flightKey = `${key}\n${account?.hashText ?? ''}`;
    let pending = this.#inFlight.get(flightKey);
    if (!pending) {
      this.#verifications++;
      pending = this.#hashing
        .run(address, () => verifyPassword(password, hash))
        .finally(() => this.#inFlight.delete(flightKey));
      this.#inFlight.set(flightKey, pending);
    }
    const ok = (await pending) && account?.hash !== undefined;
    if (ok) this.#remember(key, account!.hashText);
    return ok;
  }

  #cacheKeyOf(name: string, password: string): string {
    return createHmac('sha256', this.#cacheKey).update(`${name}:${password}`).digest('hex');
  }

  #remember(key: string, hashText: string): void {
    this.#verified.delete(key);
    this.#verified.set(key, hashText);
    while (this.#verified.size > CACHE_LIMIT) {
      const oldest = this.#verified.keys().next().value;
      if (oldest === undefined) break;
      this.#verified.delete(oldest);
    }
  }

  // --- JWT ------------------------------------------------------------------------------------

  /**
   * Bad tokens cost the caller nothing to make, and their `sub` is the caller's choice: they
   * count against the address as a whole, so that made-up names cannot crowd out the counts of
   * the lockout.
   */
  async #checkJwt(verifier: JwtVerifier, token: string, address: string): Promise<UserContext> {
    if (this.#lockout.isLocked(address, JWT_LOCKOUT_KEY)) throw lockedError();
    let claims: { name: string; roles: string[] };
    try {
      claims = await verifier.verify(token);
    } catch (error) {
      this.#failures++;
      await this.#lockout.recordFailure(address, JWT_LOCKOUT_KEY);
      throw error;
    }
    await this.#lockout.recordSuccess(address, JWT_LOCKOUT_KEY);
    return { name: claims.name, roles: claims.roles };
  }

  // --- session cookies ------------------------------------------------------------------------

  async #sessionKey(name: string, account: Account): Promise<SessionKey> {
    const epoch = this.#users ? await this.#users.sessionEpoch(name) : (this.#localEpochs.get(name) ?? 0);
    return { salt: account.hash?.salt ?? '', epoch };
  }

  async #checkCookie(value: string): Promise<AuthResult | undefined> {
    const token = this.#cookies.decode(value);
    if (!token) return undefined;
    const account = await this.#account(token.name);
    if (!account?.hash) return undefined;
    const session = this.#cookies.verify(token, await this.#sessionKey(token.name, account));
    if (!session) return undefined;
    const result: AuthResult = { userCtx: { name: token.name, roles: [...account.roles] }, via: 'cookie' };
    if (this.#cookies.due(session.issued)) {
      result.setCookie = this.#cookies.issue(token.name, await this.#sessionKey(token.name, account));
    }
    return result;
  }
}
