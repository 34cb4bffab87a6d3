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

export interface AdminOptions {
  /** `"name:password"` (`--admin`, `--admin-file`, `SETTEE_ADMIN`); replaces the stored admins. */
  admin?: string;
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
 * The admins to run with, given the stored ones: `changed` when they must be stored again.
 * `shared` are hashes other servers made for admins of these names (see `postgres-state.ts`).
 * Throws on a malformed `options.admin` before anything is hashed.
 */
export async function resolveAdmins(
  stored: AdminHashes,
  options: AdminOptions,
  shared: AdminHashes = {},
): Promise<{ admins: AdminHashes; known: KnownAdmins; changed: boolean }> {
  const given = options.admin === undefined ? undefined : parseAdminOption(options.admin);
  if (given) {
    // Keep a hash already made when the password is unchanged: its salt is part of the cookie
    // key, so re-hashing on every start would log everyone out, and servers given the same
    // admin must use one hash for a cookie of one to work on the others.
    const previous = stored[given.name];
    const hash =
      (await firstMatching(given.password, [shared[given.name], previous])) ??
      (await hashAdminPassword(given.password, options.iterations));
    const names = Object.keys(stored);
    const changed = names.length !== 1 || names[0] !== given.name || previous !== hash;
    return { admins: changed ? { [given.name]: hash } : stored, known: [{ ...given, hash }], changed };
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
