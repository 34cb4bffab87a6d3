/**
 * The server admins at start-up, wherever they are stored (`auth.json` for one server, PostgreSQL
 * for several): `--admin` replaces them, otherwise the stored ones stay, and a server with none at
 * all gets an `admin` with a random password, announced once and stored only as a hash.
 */
import { randomBytes } from 'node:crypto';
import { hashAdminPassword, parseAdminHash, verifyAdminPassword } from './passwords.js';

/** Admin name → password hash (`-pbkdf2:…`). */
export type AdminHashes = Record<string, string>;

/** Admins whose password is known now (to warm the credential cache). */
export type KnownAdmins = { name: string; password: string; hash: string }[];

/**
 * Server admins as given: `"name:password"`, or several of them (`--admin` repeated, the lines
 * of `--admin-file`, `[admins]`). Of two with one name the last counts, as a later `[admins]`
 * line does in CouchDB.
 */
export type AdminCredentials = string | readonly string[];

export interface AdminOptions {
  /** The admins given (`--admin`, `--admin-file`, `SETTEE_ADMIN`); together they replace the stored admins. */
  admin?: AdminCredentials;
  iterations: number;
  log?: (message: string) => void;
}

/** An admin for a server that has none: the name `admin` and a random password. */
export function generatedAdmin(): { name: string; password: string } {
  return { name: 'admin', password: randomBytes(18).toString('base64url') };
}

/** `"name:password"` → its parts, split at the first `:`; both must be non-empty. */
export function parseAdminOption(value: string): { name: string; password: string } {
  const colon = value.indexOf(':');
  const name = colon < 0 ? '' : value.slice(0, colon);
  const password = colon < 0 ? '' : value.slice(colon + 1);
  if (name.trim() === '' || password === '') {
    throw new Error('Invalid admin credentials: expected "name:password" (--admin or SETTEE_ADMIN)');
  }
  return { name, password };
}

/**
 * Each admin given, parsed, in order; a name given again replaces the earlier one in its place.
 * Throws on a malformed one before anything is hashed. None: nothing was given.
 */
export function givenAdmins(admin: AdminCredentials | undefined): { name: string; password: string }[] {
  const list = typeof admin === 'string' ? [admin] : (admin ?? []);
  const byName = new Map(list.map(parseAdminOption).map((given) => [given.name, given]));
  return [...byName.values()];
}

/**
 * The admins to run with, given the stored ones: `changed` when they must be stored again.
 * `shared` are hashes other servers made for admins of these names (see `postgres-state.ts`).
 * Throws on a malformed `options.admin` before anything is hashed.
 */
export async function resolveAdmins(
  stored: AdminHashes,
  options: AdminOptions,
  shared: AdminHashes = {},
): Promise<{ admins: AdminHashes; known: KnownAdmins; changed: boolean }> {
  const given = givenAdmins(options.admin);
  if (given.length > 0) {
    const known = await Promise.all(
      given.map(async (admin) => ({
        ...admin,
        hash: await hashOf(admin, options.iterations, [shared, stored]),
      })),
    );
    const admins: AdminHashes = Object.fromEntries(known.map(({ name, hash }) => [name, hash]));
    const changed = !sameHashes(admins, stored);
    return { admins: changed ? admins : stored, known, changed };
  }
  if (Object.keys(stored).length > 0) return { admins: stored, known: [], changed: false };
  const { name, password } = generatedAdmin();
  const hash = await hashAdminPassword(password, options.iterations);
  options.log?.(
    `No server admin configured: created admin "${name}" with password "${password}". ` +
      'This password will not be shown again; note it now, or set one with --admin name:password ' +
      '(or SETTEE_ADMIN, or --admin-file).',
  );
  return { admins: { [name]: hash }, known: [{ name, password, hash }], changed: true };
}

/**
 * Keeps a hash already made when the password is unchanged: its salt is part of the cookie key,
 * so re-hashing on every start would log everyone out, and servers given the same admin must use
 * one hash for a cookie of one to work on the others.
 */
async function hashOf(
  { name, password }: { name: string; password: string },
  iterations: number,
  made: AdminHashes[],
): Promise<string> {
  const previous = made.map((hashes) => (Object.hasOwn(hashes, name) ? hashes[name] : undefined));
  return (await firstMatching(password, previous)) ?? (await hashAdminPassword(password, iterations));
}

function sameHashes(a: AdminHashes, b: AdminHashes): boolean {
  const names = Object.keys(a);
  return names.length === Object.keys(b).length && names.every((name) => a[name] === b[name]);
}

async function firstMatching(password: string, hashes: (string | undefined)[]): Promise<string | undefined> {
  for (const hash of hashes)
    if (hash !== undefined && (await verifyAdminPassword(password, hash))) return hash;
  return undefined;
}

/** Admins read from storage, checked: every value a password hash Settee can verify; else why not. */
export function checkAdminHashes(admins: unknown): AdminHashes | string {
  if (typeof admins !== 'object' || admins === null || Array.isArray(admins)) return 'bad "admins"';
  const checked: AdminHashes = {};
  for (const [name, hash] of Object.entries(admins)) {
    if (typeof hash !== 'string' || !parseAdminHash(hash)) return `bad hash for admin "${name}"`;
    checked[name] = hash;
  }
  return checked;
}
