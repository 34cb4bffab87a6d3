/**
 * Server admins, password hashes, Basic auth and `AuthSession` cookie sessions (protocol §5.1–5.2).
 *
 * No HTTP framework code lives here: the server hands request headers to `Auth.authenticate`, calls
 * `Auth.login` for `POST /_session` and `Auth.logoutCookie` for `DELETE /_session`, and sends back the
 * `Set-Cookie` values these return.
 *
 * State (the cookie secret and the admins' password hashes) is kept in `<dataDir>/_settee/auth.json`
 * with mode 0600, so sessions survive restarts and a generated admin password is never stored in clear.
 */
import { createHmac, pbkdf2, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { SetteeError } from '../core/errors.js';

const pbkdf2Async = promisify(pbkdf2);

/** Who a request is: anonymous is `{ name: null, roles: [] }`, a server admin has the `_admin` role. */
export interface UserContext {
  name: string | null;
  roles: string[];
}

export interface AuthOptions {
  /** `"name:password"` (from `--admin` or `SETTEE_ADMIN`); split at the first `:`. */
  admin?: string;
  /** Where the generated admin's credentials are announced (once). */
  log?: (message: string) => void;
  /** Lifetime of an `AuthSession` cookie in seconds; 600 by default, as CouchDB. */
  sessionTimeoutSeconds?: number;
  /** PBKDF2 iterations for new hashes; 600 000 by default, as CouchDB 3.4. */
  iterations?: number;
  /** Clock in milliseconds since the epoch (tests inject one); `Date.now` by default. */
  now?: () => number;
}

export interface AuthResult {
  userCtx: UserContext;
  /** How the request authenticated; `null` when anonymous. */
  via: 'basic' | 'cookie' | null;
  /** A renewed `AuthSession` cookie to send back, once 10% of the session lifetime has passed. */
  setCookie?: string;
}

export const DEFAULT_ITERATIONS = 600_000;
export const DEFAULT_SESSION_TIMEOUT_SECONDS = 600;
export const COOKIE_NAME = 'AuthSession';
const ADMIN_ROLE = '_admin';
const BAD_CREDENTIALS = 'Name or password is incorrect.';
const CACHE_LIMIT = 1000;
const AUTH_FILE_VERSION = 1;

const anonymous = (): UserContext => ({ name: null, roles: [] });
const adminCtx = (name: string): UserContext => ({ name, roles: [ADMIN_ROLE] });

export function isAdmin(userCtx: UserContext): boolean {
  return userCtx.roles.includes(ADMIN_ROLE);
}

// ---------------------------------------------------------------------------------------------
// Password hashes
// ---------------------------------------------------------------------------------------------

/** PBKDF2 pseudo-random functions CouchDB accepts, with their digest sizes (= derived key length). */
const PRF_DIGEST_BYTES: Record<string, number> = {
  sha1: 20,
  sha224: 28,
  sha256: 32,
  sha384: 48,
  sha512: 64,
};

interface ParsedHash {
  digest: string;
  derivedKey: Buffer;
  salt: string;
  iterations: number;
}

const HASH_PATTERN = /^-pbkdf2(?::([a-z0-9]+))?-([0-9a-fA-F]+),([^,]+),([1-9][0-9]{0,9})$/;

/** Parses `-pbkdf2:<prf>-<hex>,<salt>,<iter>` or the older sha1 `-pbkdf2-<hex>,<salt>,<iter>`. */
function parseHash(hash: string): ParsedHash | undefined {
  const match = HASH_PATTERN.exec(hash);
  if (!match) return undefined;
  const [, prf, hex, salt, iter] = match;
  const digest = prf === undefined || prf === 'sha' ? 'sha1' : prf;
  const size = PRF_DIGEST_BYTES[digest];
  if (size === undefined || hex === undefined || salt === undefined || iter === undefined) return undefined;
  if (hex.length !== size * 2) return undefined;
  return { digest, derivedKey: Buffer.from(hex, 'hex'), salt, iterations: Number(iter) };
}

/** The salt of a stored hash (part of the cookie MAC key, so a new password invalidates sessions). */
function saltOf(hash: string): string {
  return parseHash(hash)?.salt ?? '';
}

/**
 * Hashes `password` the way CouchDB 3.4 stores server admins:
 * `-pbkdf2:sha256-<derived key hex>,<salt: 32 hex chars>,<iterations>`. As in CouchDB the salt's
 * hex string (not its bytes) is the PBKDF2 salt.
 */
export async function hashPassword(password: string, iterations = DEFAULT_ITERATIONS): Promise<string> {
  if (!Number.isSafeInteger(iterations) || iterations < 1) {
    throw new RangeError(`PBKDF2 iterations must be a positive integer, got ${iterations}`);
  }
  const salt = randomBytes(16).toString('hex');
  const derived = await pbkdf2Async(password, salt, iterations, 32, 'sha256');
  return `-pbkdf2:sha256-${derived.toString('hex')},${salt},${iterations}`;
}

/**
 * Whether `password` matches `hash` (either admin hash format). Unknown formats never match.
 * The derived keys are compared in constant time.
 */
export async function verifyPassword(password: string, hash: string): Promise<boolean> {
  const parsed = parseHash(hash);
  if (!parsed) return false;
  let derived: Buffer;
  try {
    derived = await pbkdf2Async(
      password,
      parsed.salt,
      parsed.iterations,
      parsed.derivedKey.length,
      parsed.digest,
    );
  } catch {
    return false;
  }
  return derived.length === parsed.derivedKey.length && timingSafeEqual(derived, parsed.derivedKey);
}

// ---------------------------------------------------------------------------------------------
// Header parsing
// ---------------------------------------------------------------------------------------------

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/**
 * `Authorization: Basic base64(name:password)` → its credentials, split at the first `:`.
 * Anything else (another scheme, bad base64, no colon) → `undefined`.
 */
export function parseBasicAuth(header: string | undefined): { name: string; password: string } | undefined {
  if (typeof header !== 'string') return undefined;
  const match = /^\s*basic\s+(\S+)\s*$/i.exec(header);
  const encoded = match?.[1];
  if (encoded === undefined || !BASE64.test(encoded) || encoded.length % 4 === 1) return undefined;
  const decoded = Buffer.from(encoded, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  return { name: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/** A `Cookie` header → name/value pairs (the first of repeated names wins; garbage is skipped). */
export function parseCookies(header: string | undefined): Record<string, string> {
  const cookies: Record<string, string> = Object.create(null);
  if (typeof header !== 'string') return cookies;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const name = part.slice(0, eq).trim();
    if (name === '' || name in cookies) continue;
    let value = part.slice(eq + 1).trim();
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    try {
      value = decodeURIComponent(value);
    } catch {
      // keep the raw value
    }
    cookies[name] = value;
  }
  return cookies;
}

// ---------------------------------------------------------------------------------------------
// The state file
// ---------------------------------------------------------------------------------------------

interface AuthFile {
  version: number;
  /** Hex; the HMAC key of session cookies (together with the user's salt). */
  secret: string;
  /** Admin name → password hash. */
  admins: Record<string, string>;
}

function authFilePath(dataDir: string): string {
  return path.join(dataDir, '_settee', 'auth.json');
}

async function readAuthFile(file: string): Promise<Partial<AuthFile>> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw err;
  }
  const invalid = (why: string) =>
    new Error(`${file} is not a valid Settee auth file (${why}); fix or remove it`);
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw invalid('not JSON');
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) throw invalid('not an object');
  const { secret, admins } = data as Record<string, unknown>;
  const result: Partial<AuthFile> = {};
  if (secret !== undefined) {
    if (typeof secret !== 'string' || secret.length < 32) throw invalid('bad "secret"');
    result.secret = secret;
  }
  if (admins !== undefined) {
    if (typeof admins !== 'object' || admins === null || Array.isArray(admins)) throw invalid('bad "admins"');
    const checked: Record<string, string> = {};
    for (const [name, hash] of Object.entries(admins)) {
      if (typeof hash !== 'string' || !parseHash(hash)) throw invalid(`bad hash for admin "${name}"`);
      checked[name] = hash;
    }
    result.admins = checked;
  }
  return result;
}

async function writeAuthFile(file: string, data: AuthFile): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(tmp, `${JSON.stringify(data, null, 2)}\n`, { mode: 0o600 });
  await chmod(tmp, 0o600);
  await rename(tmp, file);
}

/** `"name:password"` → its parts, split at the first `:`; both must be non-empty. */
function parseAdminOption(value: string): { name: string; password: string } {
  const colon = value.indexOf(':');
  const name = colon < 0 ? '' : value.slice(0, colon);
  const password = colon < 0 ? '' : value.slice(colon + 1);
  if (name.trim() === '' || password === '') {
    throw new Error('Invalid admin credentials: expected "name:password" (--admin or SETTEE_ADMIN)');
  }
  return { name, password };
}

// ---------------------------------------------------------------------------------------------
// Auth
// ---------------------------------------------------------------------------------------------

export interface AuthStats {
  /** PBKDF2 verifications actually run (cache misses). */
  verifications: number;
  /** Credential checks answered by the verification cache. */
  cacheHits: number;
  /** Entries in the verification cache. */
  cacheSize: number;
}

export class Auth {
  readonly sessionTimeoutSeconds: number;
  readonly #secret: string;
  readonly #admins: Map<string, string>;
  readonly #now: () => number;
  readonly #iterations: number;
  /** A per-process key, so the cache keys are not plain hashes of passwords. */
  readonly #cacheKey = randomBytes(32);
  /** HMAC(name:password) → the stored hash it verified against (LRU: oldest first). */
  readonly #verified = new Map<string, string>();
  readonly #inFlight = new Map<string, Promise<boolean>>();
  #verifications = 0;
  #cacheHits = 0;

  private constructor(
    secret: string,
    admins: Map<string, string>,
    options: { timeout: number; iterations: number; now: () => number },
  ) {
    this.#secret = secret;
    this.#admins = admins;
    this.sessionTimeoutSeconds = options.timeout;
    this.#iterations = options.iterations;
    this.#now = options.now;
  }

  /**
   * Loads (or creates) `<dataDir>/_settee/auth.json`. `options.admin` replaces the stored admins;
   * without it the stored admins are used, and when there are none an `admin` with a random
   * password is created and announced once through `options.log`.
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
    const given = options.admin === undefined ? undefined : parseAdminOption(options.admin);

    const file = authFilePath(dataDir);
    const stored = await readAuthFile(file);
    let changed = false;
    let secret = stored.secret;
    if (secret === undefined) {
      secret = randomBytes(32).toString('hex');
      changed = true;
    }
    let admins = stored.admins ?? {};
    const warm: { name: string; password: string; hash: string }[] = [];

    if (given) {
      // Keep the stored hash when the password is unchanged: its salt is part of the cookie key,
      // so re-hashing on every start would log everyone out.
      const previous = admins[given.name];
      const hash =
        previous !== undefined && (await verifyPassword(given.password, previous))
          ? previous
          : await hashPassword(given.password, iterations);
      warm.push({ ...given, hash });
      const names = Object.keys(admins);
      if (names.length !== 1 || names[0] !== given.name || previous !== hash) {
        admins = { [given.name]: hash };
        changed = true;
      }
    } else if (Object.keys(admins).length === 0) {
      const name = 'admin';
      const password = randomBytes(18).toString('base64url');
      const hash = await hashPassword(password, iterations);
      admins = { [name]: hash };
      warm.push({ name, password, hash });
      changed = true;
      options.log?.(
        `No server admin configured: created admin "${name}" with password "${password}". ` +
          'This password will not be shown again; note it now, or set one with --admin name:password ' +
          '(or SETTEE_ADMIN).',
      );
    }

    if (changed) await writeAuthFile(file, { version: AUTH_FILE_VERSION, secret, admins });

    const auth = new Auth(secret, new Map(Object.entries(admins)), {
      timeout,
      iterations,
      now: options.now ?? Date.now,
    });
    for (const { name, password, hash } of warm) auth.#remember(auth.#cacheKeyOf(name, password), hash);
    return auth;
  }

  /** Names of the server admins. */
  get adminNames(): string[] {
    return [...this.#admins.keys()];
  }

  /** PBKDF2 runs and cache use, for tests and diagnostics. */
  get stats(): AuthStats {
    return {
      verifications: this.#verifications,
      cacheHits: this.#cacheHits,
      cacheSize: this.#verified.size,
    };
  }

  isAdmin(userCtx: UserContext): boolean {
    return isAdmin(userCtx);
  }

  /**
   * The user context of a request. Basic credentials win over a cookie; wrong Basic credentials
   * throw `unauthorized`. An invalid or expired `AuthSession` cookie is ignored (anonymous), as in
   * CouchDB; a valid one older than 10% of the lifetime comes back renewed in `setCookie`.
   */
  async authenticate(headers: { authorization?: string; cookie?: string }): Promise<AuthResult> {
    const basic = parseBasicAuth(headers.authorization);
    if (basic) return { userCtx: await this.#checkCredentials(basic.name, basic.password), via: 'basic' };

    const token = parseCookies(headers.cookie)[COOKIE_NAME];
    if (token) {
      const session = this.#verifyToken(token);
      if (session) {
        const result: AuthResult = { userCtx: adminCtx(session.name), via: 'cookie' };
        const age = this.#nowSeconds() - session.issued;
        if (age > this.sessionTimeoutSeconds * 0.1) result.setCookie = this.#cookie(session.name);
        return result;
      }
    }
    return { userCtx: anonymous(), via: null };
  }

  /** `POST /_session`: checks the credentials and issues an `AuthSession` cookie. */
  async login(name: string, password: string): Promise<{ userCtx: UserContext; setCookie: string }> {
    const userCtx = await this.#checkCredentials(name, password);
    return { userCtx, setCookie: this.#cookie(name) };
  }

  /** `DELETE /_session`: a `Set-Cookie` that clears the browser's `AuthSession`. */
  logoutCookie(): string {
    return `${COOKIE_NAME}=; Version=1; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=/; HttpOnly; SameSite=Lax`;
  }

  // --- credentials --------------------------------------------------------------------------

  async #checkCredentials(name: string, password: string): Promise<UserContext> {
    const hash = this.#admins.get(name);
    if (hash === undefined) {
      // Spend the same work as for a known name, so timing does not reveal admin names.
      await verifyPassword(
        password,
        `-pbkdf2:sha256-${'0'.repeat(64)},${'0'.repeat(32)},${this.#iterations}`,
      );
      throw new SetteeError('unauthorized', BAD_CREDENTIALS);
    }
    if (!(await this.#verifyCached(name, password, hash))) {
      throw new SetteeError('unauthorized', BAD_CREDENTIALS);
    }
    return adminCtx(name);
  }

  async #verifyCached(name: string, password: string, hash: string): Promise<boolean> {
    const key = this.#cacheKeyOf(name, password);
    const cached = this.#verified.get(key);
    if (cached === hash) {
      this.#cacheHits++;
      this.#remember(key, hash); // refresh its LRU position
      return true;
    }
    // Concurrent requests with the same credentials share one PBKDF2 run.
    const flightKey = `${key}\n${hash}`;
    let pending = this.#inFlight.get(flightKey);
    if (!pending) {
      this.#verifications++;
      pending = verifyPassword(password, hash).finally(() => this.#inFlight.delete(flightKey));
      this.#inFlight.set(flightKey, pending);
    }
    const ok = await pending;
    if (ok) this.#remember(key, hash);
    return ok;
  }

  #cacheKeyOf(name: string, password: string): string {
    return createHmac('sha256', this.#cacheKey).update(`${name}:${password}`).digest('hex');
  }

  #remember(key: string, hash: string): void {
    this.#verified.delete(key);
    this.#verified.set(key, hash);
    while (this.#verified.size > CACHE_LIMIT) {
      const oldest = this.#verified.keys().next().value;
      if (oldest === undefined) break;
      this.#verified.delete(oldest);
    }
  }

  // --- session tokens -----------------------------------------------------------------------

  #nowSeconds(): number {
    return Math.floor(this.#now() / 1000);
  }

  #mac(name: string, hexTime: string, hash: string): Buffer {
    return createHmac('sha256', this.#secret + saltOf(hash))
      .update(`${name}:${hexTime}`)
      .digest();
  }

  /** `AuthSession=base64url("name:HEXTIME:" + raw HMAC bytes)`, as CouchDB builds it. */
  #cookie(name: string): string {
    const hash = this.#admins.get(name);
    if (hash === undefined) throw new SetteeError('unauthorized', BAD_CREDENTIALS);
    const hexTime = this.#nowSeconds().toString(16).toUpperCase();
    const token = Buffer.concat([
      Buffer.from(`${name}:${hexTime}:`, 'utf8'),
      this.#mac(name, hexTime, hash),
    ]).toString('base64url');
    return `${COOKIE_NAME}=${token}; Version=1; Max-Age=${Math.floor(this.sessionTimeoutSeconds)}; Path=/; HttpOnly; SameSite=Lax`;
  }

  /** The admin and issue time of a valid, unexpired token; `undefined` otherwise. */
  #verifyToken(token: string): { name: string; issued: number } | undefined {
    if (!/^[A-Za-z0-9_-]+={0,2}$/.test(token)) return undefined;
    const raw = Buffer.from(token, 'base64url');
    const first = raw.indexOf(0x3a);
    const second = first < 0 ? -1 : raw.indexOf(0x3a, first + 1);
    if (first <= 0 || second < 0) return undefined;
    const name = raw.subarray(0, first).toString('utf8');
    const hexTime = raw.subarray(first + 1, second).toString('latin1');
    const mac = raw.subarray(second + 1);
    if (!/^[0-9A-Fa-f]{1,12}$/.test(hexTime)) return undefined;
    const hash = this.#admins.get(name);
    if (hash === undefined) return undefined;
    const expected = this.#mac(name, hexTime, hash);
    if (mac.length !== expected.length || !timingSafeEqual(mac, expected)) return undefined;
    const issued = Number.parseInt(hexTime, 16);
    if (this.#nowSeconds() >= issued + this.sessionTimeoutSeconds) return undefined;
    return { name, issued };
  }
}
