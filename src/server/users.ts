/**
 * The `_users` database in CouchDB's shape (protocol.md §5.1): `org.couchdb.user:NAME` documents
 * with `type: "user"`, `name`, `roles` and a PBKDF2 hash. A `password` written in clear is
 * replaced by its hash before the document is stored. Users read and update their own document;
 * only server admins set roles, read others or delete them.
 *
 * `UserStore` finds users for authentication (cached, dropped as their documents change) and,
 * with per-user databases on, gives each new user a database of their own, as couch_peruser.
 */
import type { Doc, NewDoc, UserContext } from '../core/api.js';
import { describeError } from '../core/describe-error.js';
import { SetteeError } from '../core/errors.js';
import type { Database } from '../database/database.js';
import type { ProposedWrite, WriteHook } from '../database/write-hook.js';
import {
  hashPassword,
  type PasswordHash,
  type UserPasswordFields,
  userDocFields,
  userDocHash,
} from './auth/passwords.js';
import type { HashScheduler } from './auth/hash-scheduler.js';
import type { DatabaseRegistry } from './registry.js';
import { isServerAdmin, ownerSecurity, withoutName } from './security.js';

export const USERS_DB = '_users';
export const USER_PREFIX = 'org.couchdb.user:';
/** The one reserved role a user may hold: read access to metrics, as in CouchDB. */
const ALLOWED_SYSTEM_ROLES = new Set(['_metrics']);
const HASH_FIELDS = ['password_scheme', 'pbkdf2_prf', 'salt', 'iterations', 'derived_key'] as const;
const FEED_PAGE = 500;
/** Users whose documents are kept in memory (the oldest entries go first). */
const USER_CACHE_LIMIT = 10_000;

/** A user as authentication sees it. */
export interface StoredUser {
  name: string;
  roles: string[];
  /** Absent for a user without a password (who cannot sign in with one). */
  hash: PasswordHash | undefined;
}

export interface UserStoreOptions {
  /** PBKDF2 iterations for new hashes. */
  iterations: number;
  /**
   * Runs a hash: the server shares one bounded, fair pool between password checks and the
   * passwords of user documents, so a flood of sign-ups cannot starve logins.
   */
  hashing?: HashScheduler;
  /** Anyone may create a user (with no roles). Off by default. */
  allowSignup?: boolean;
  /** Create `userdb-{hex name}` for each new user; `deleteWithUser` also deletes it with them. */
  perUserDbs?: { deleteWithUser: boolean };
  log?: (message: string) => void;
}

function sessionDocId(name: string): string {
  return `_local/session:${name}`;
}

/** `userdb-` and the name's UTF-8 bytes in hex, as couch_peruser names a user's database. */
export function userDbName(name: string): string {
  return `userdb-${Buffer.from(name, 'utf8').toString('hex')}`;
}

export class UserStore {
  private readonly cache = new Map<string, Promise<StoredUser | undefined>>();
  private readonly epochs = new Map<string, Promise<number>>();
  private readonly listeners = new Set<(name: string) => void>();
  private readonly stopper = new AbortController();
  private db: Database | undefined;
  private following: Promise<void> | undefined;

  constructor(
    private readonly registry: DatabaseRegistry,
    readonly options: UserStoreOptions,
  ) {}

  /** Creates `_users` when missing (server admins only) and follows its changes. */
  async open(): Promise<void> {
    if (!(await this.registry.exists(USERS_DB))) {
      await this.registry.create(USERS_DB).catch((error: unknown) => {
        if (!(error instanceof SetteeError && error.error === 'file_exists')) throw error;
      });
    }
    const db = await this.registry.get(USERS_DB);
    this.db = db;
    // Per-user databases are made for every user there is, those added while the server was down too.
    const since = this.options.perUserDbs ? 0 : db.updateSeq();
    this.following = this.follow(db, since).catch((error: unknown) => {
      if (!this.stopper.signal.aborted)
        this.options.log?.(`the _users feed stopped: ${describeError(error)}`);
    });
  }

  async close(): Promise<void> {
    this.stopper.abort();
    await this.following;
  }

  /** The user of this name, if `_users` has one (not deleted). */
  user(name: string): Promise<StoredUser | undefined> {
    let cached = this.cache.get(name);
    if (!cached) {
      const reading = this.read(name);
      cached = reading;
      this.cache.set(name, reading);
      // Names that are nobody are not kept: anyone can ask about any number of them.
      reading.then(
        (user) => user === undefined && this.cache.get(name) === reading && this.cache.delete(name),
        () => this.cache.delete(name),
      );
      if (this.cache.size > USER_CACHE_LIMIT) this.cache.delete(this.cache.keys().next().value!);
    }
    return cached;
  }

  /** The user's session epoch: every cookie issued under an older one is void (see `endSessions`). */
  sessionEpoch(name: string): Promise<number> {
    let cached = this.epochs.get(name);
    if (!cached) {
      cached = this.readEpoch(name);
      this.epochs.set(name, cached);
      cached.catch(() => this.epochs.delete(name));
    }
    return cached;
  }

  /** Ends every session of the user (logout): their cookies stop working on the next request. */
  async endSessions(name: string): Promise<void> {
    const epoch = (await this.sessionEpoch(name)) + 1;
    await this.usersDb().putLocal({ _id: sessionDocId(name), epoch });
    this.epochs.set(name, Promise.resolve(epoch));
  }

  /**
   * Drops the cached session epoch of `name`, or of everyone (undefined): another server ended
   * sessions, and the next request reads the epoch it stored.
   */
  forgetSessions(name: string | undefined): void {
    if (name === undefined) this.epochs.clear();
    else this.epochs.delete(name);
  }

  private async readEpoch(name: string): Promise<number> {
    const doc = await this.usersDb().getLocal(sessionDocId(name));
    return typeof doc?.epoch === 'number' ? doc.epoch : 0;
  }

  private usersDb(): Database {
    if (!this.db) throw new Error('the user store is not open');
    return this.db;
  }

  /** Calls `listener` with a user's name whenever their document changes. */
  onUserChange(listener: (name: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private async read(name: string): Promise<StoredUser | undefined> {
    const doc = await this.db?.get(`${USER_PREFIX}${name}`).catch(() => undefined);
    if (!doc || doc.type !== 'user') return undefined;
    const roles = Array.isArray(doc.roles) ? doc.roles.filter((role) => typeof role === 'string') : [];
    return { name, roles, hash: userDocHash(doc) };
  }

  private async follow(db: Database, since: number): Promise<void> {
    const { signal } = this.stopper;
    while (!signal.aborted) {
      const { results, last_seq } = await db.changes({ since, limit: FEED_PAGE });
      for (const change of results) {
        if (change.id.startsWith(USER_PREFIX))
          await this.changed(change.id.slice(USER_PREFIX.length), change.deleted === true);
      }
      since = Number(last_seq);
      if (results.length < FEED_PAGE) await db.nextChange(signal);
    }
  }

  private async changed(name: string, deleted: boolean): Promise<void> {
    this.cache.delete(name);
    for (const listener of [...this.listeners]) listener(name);
    if (this.options.perUserDbs)
      await this.keepUserDb(name, deleted).catch((error: unknown) =>
        this.options.log?.(`per-user database of ${name}: ${describeError(error)}`),
      );
  }

  private async keepUserDb(name: string, deleted: boolean): Promise<void> {
    const dbName = userDbName(name);
    if (deleted) {
      if (!(await this.registry.exists(dbName))) return;
      if (this.options.perUserDbs?.deleteWithUser) await this.registry.delete(dbName);
      else {
        // Each start reads the whole _users feed again: write only what changes.
        const security = await this.registry.security(dbName);
        const kept = withoutName(security, name);
        if (kept !== security) await this.registry.setSecurity(dbName, kept);
      }
    } else if (!(await this.registry.exists(dbName))) {
      await this.registry.create(dbName, ownerSecurity(name)).catch((error: unknown) => {
        if (!(error instanceof SetteeError && error.error === 'file_exists')) throw error;
      });
    }
  }
}

/**
 * The rules of `_users` as a database write hook: user documents only, of the right shape; a
 * user writes their own (never their roles), anyone may sign up when sign-up is on, only server
 * admins do the rest; passwords are hashed.
 */
export function usersWriteHook(options: UserStoreOptions): WriteHook {
  // One document at a time: each may cost a hash, and a batch must not take all the hashing pool.
  return async (writes, { userCtx, newEdits }) => {
    const answers: (NewDoc | Error)[] = [];
    for (const write of writes) {
      answers.push(await checkUserWrite(write, userCtx, newEdits, options).catch((error: Error) => error));
    }
    return answers;
  };
}

async function checkUserWrite(
  write: ProposedWrite,
  userCtx: UserContext | undefined,
  newEdits: boolean,
  options: UserStoreOptions,
): Promise<NewDoc> {
  const { doc } = write;
  const admin = userCtx === undefined || isServerAdmin(userCtx);
  // A replicated revision may start a branch of its own that wins over the real one: a user
  // could take over another's account that way. Only server admins replicate into _users.
  if (!admin && !newEdits) throw forbidden('Only server admins may replicate into _users.');
  const id = doc._id ?? '';
  if (id.startsWith('_design/')) {
    if (!admin) throw forbidden('Only server admins may write design documents of _users.');
    return doc;
  }
  if (doc._deleted === true) {
    // As CouchDB's ?AUTH_DB_DOC_VALIDATE_FUNCTION: admins, and a user their own account.
    if (!admin && (await write.oldDoc())?.name !== userCtx.name) {
      throw forbidden('Only admins may delete other user docs.');
    }
    return doc;
  }
  checkShape(doc);
  if (!admin) await checkOwnWrite(doc, await write.oldDoc(), userCtx, options);
  return hashed(doc, options);
}

function checkShape(doc: NewDoc): void {
  const id = doc._id ?? '';
  if (!id.startsWith(USER_PREFIX)) throw forbidden(`Documents of _users have ids "${USER_PREFIX}NAME".`);
  if (doc.type !== 'user') throw forbidden('doc.type must be user');
  if (typeof doc.name !== 'string' || doc.name === '') throw forbidden('doc.name must be a non-empty string');
  if (id !== `${USER_PREFIX}${doc.name}`) throw forbidden(`Doc ID must be of the form ${USER_PREFIX}name`);
  checkName(doc.name);
  const { roles } = doc;
  if (!Array.isArray(roles) || !roles.every((role) => typeof role === 'string')) {
    throw forbidden('doc.roles must be an array of strings');
  }
  const reserved = roles.find((role) => role.startsWith('_') && !ALLOWED_SYSTEM_ROLES.has(role));
  if (reserved !== undefined) {
    throw forbidden(`No system roles (starting with underscore) in users db: ${reserved}`);
  }
  if (doc.password !== undefined && typeof doc.password !== 'string') {
    throw forbidden('doc.password must be a string');
  }
}

/**
 * CouchDB's rules for names: `_` starts reserved names, and Basic auth and the `AuthSession`
 * cookie both end the name at its first `:`, so a name holding one could never sign in.
 */
function checkName(name: string): void {
  if (name.startsWith('_')) throw forbidden('Username may not start with underscore.');
  if (name.includes(':')) throw forbidden('Character `:` is not allowed in usernames.');
}

async function checkOwnWrite(
  doc: NewDoc,
  oldDoc: Doc | null,
  userCtx: UserContext,
  options: UserStoreOptions,
): Promise<void> {
  const roles = doc.roles as string[];
  const live = oldDoc !== null && !oldDoc._deleted;
  // A hash is the server's to make, from `password`: one written by hand could ask for a
  // hundred million iterations, and every login check would hold a hashing thread for minutes.
  const madeUp = HASH_FIELDS.find(
    (field) => JSON.stringify(doc[field]) !== JSON.stringify(live ? oldDoc[field] : undefined),
  );
  if (doc.password === undefined && madeUp !== undefined) {
    throw forbidden(`Set a password with the password field, not ${madeUp}.`);
  }
  if (!live) {
    if (!options.allowSignup) throw forbidden('Only server admins may create users.');
    if (roles.length > 0) throw forbidden('Only server admins may give users roles.');
    return;
  }
  if (userCtx.name !== doc.name) throw forbidden('You may only update your own user document.');
  const oldRoles = Array.isArray(oldDoc.roles) ? oldDoc.roles : [];
  if (JSON.stringify(oldRoles) !== JSON.stringify(roles)) {
    throw forbidden('Only server admins may change roles.');
  }
}

/** The document with `password` replaced by its hash, as it is stored. */
async function hashed(doc: NewDoc, { iterations, hashing }: UserStoreOptions): Promise<NewDoc> {
  if (typeof doc.password !== 'string') return doc;
  const { password, ...rest } = doc;
  const hash = () => hashPassword(password, iterations);
  const fields: UserPasswordFields = userDocFields(await (hashing ? hashing.run(USERS_DB, hash) : hash()));
  return { ...rest, ...fields };
}

function forbidden(reason: string): SetteeError {
  return new SetteeError('forbidden', reason);
}
