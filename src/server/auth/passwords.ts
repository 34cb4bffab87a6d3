/**
 * Password hashes as CouchDB keeps them: PBKDF2 with a random salt, either as a server admin's
 * string (`-pbkdf2:sha256-<derived key>,<salt>,<iterations>`) or as the fields of a `_users`
 * document (`password_scheme`, `pbkdf2_prf`, `salt`, `iterations`, `derived_key`). Hashing runs in
 * libuv's thread pool (`crypto.pbkdf2`), never on the event loop.
 */
import { pbkdf2, randomBytes, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';

const pbkdf2Async = promisify(pbkdf2);

/** 600,000 iterations of PBKDF2-SHA256, CouchDB 3.4's default. */
export const DEFAULT_ITERATIONS = 600_000;

/** PBKDF2 pseudo-random functions CouchDB accepts, with their digest sizes (= derived key length). */
const PRF_DIGEST_BYTES: Record<string, number> = {
  sha1: 20,
  sha224: 28,
  sha256: 32,
  sha384: 48,
  sha512: 64,
};

/** One stored password hash, whichever form it was read from. */
export interface PasswordHash {
  /** The PBKDF2 digest: `sha1`, `sha256`, … */
  prf: string;
  derivedKey: Buffer;
  /** As in CouchDB, the salt's text (32 hex characters), not its bytes, is the PBKDF2 salt. */
  salt: string;
  iterations: number;
}

/** The password fields of a `_users` document. */
export interface UserPasswordFields {
  password_scheme: 'pbkdf2';
  pbkdf2_prf: string;
  salt: string;
  iterations: number;
  derived_key: string;
}

const HASH_PATTERN = /^-pbkdf2(?::([a-z0-9]+))?-([0-9a-fA-F]+),([^,]+),([1-9][0-9]{0,9})$/;

/** Parses `-pbkdf2:<prf>-<hex>,<salt>,<iter>` or the older sha1 `-pbkdf2-<hex>,<salt>,<iter>`. */
export function parseAdminHash(hash: string): PasswordHash | undefined {
  const match = HASH_PATTERN.exec(hash);
  if (!match) return undefined;
  const [, prf, hex, salt, iter] = match;
  return checked(prf === undefined || prf === 'sha' ? 'sha1' : prf, hex!, salt!, Number(iter));
}

export function formatAdminHash(hash: PasswordHash): string {
  return `-pbkdf2:${hash.prf}-${hash.derivedKey.toString('hex')},${hash.salt},${hash.iterations}`;
}

/** The hash of a `_users` document; `undefined` when it has none (such a user cannot sign in). */
export function userDocHash(doc: Record<string, unknown>): PasswordHash | undefined {
  const { password_scheme: scheme, pbkdf2_prf: prf, derived_key: key, salt, iterations } = doc;
  if (scheme !== 'pbkdf2' || typeof key !== 'string' || typeof salt !== 'string') return undefined;
  if (!Number.isSafeInteger(iterations) || (iterations as number) < 1) return undefined;
  const digest = prf === undefined || prf === 'sha' ? 'sha1' : prf;
  return typeof digest === 'string' ? checked(digest, key, salt, iterations as number) : undefined;
}

export function userDocFields(hash: PasswordHash): UserPasswordFields {
  return {
    password_scheme: 'pbkdf2',
    pbkdf2_prf: hash.prf,
    salt: hash.salt,
    iterations: hash.iterations,
    derived_key: hash.derivedKey.toString('hex'),
  };
}

function checked(prf: string, hex: string, salt: string, iterations: number): PasswordHash | undefined {
  const size = PRF_DIGEST_BYTES[prf];
  if (size === undefined || hex.length !== size * 2 || !/^[0-9a-fA-F]+$/.test(hex)) return undefined;
  if (salt === '' || iterations > 100_000_000) return undefined;
  return { prf, derivedKey: Buffer.from(hex, 'hex'), salt, iterations };
}

/** Hashes `password` with PBKDF2-SHA256 and a fresh 128-bit salt. */
export async function hashPassword(password: string, iterations = DEFAULT_ITERATIONS): Promise<PasswordHash> {
  if (!Number.isSafeInteger(iterations) || iterations < 1) {
    throw new RangeError(`PBKDF2 iterations must be a positive integer, got ${iterations}`);
  }
  const salt = randomBytes(16).toString('hex');
  const derivedKey = await pbkdf2Async(password, salt, iterations, 32, 'sha256');
  return { prf: 'sha256', derivedKey, salt, iterations };
}

/** Whether `password` matches `hash`; the derived keys are compared in constant time. */
export async function verifyPassword(password: string, hash: PasswordHash): Promise<boolean> {
  let derived: Buffer;
  try {
    derived = await pbkdf2Async(password, hash.salt, hash.iterations, hash.derivedKey.length, hash.prf);
  } catch {
    return false;
  }
  return derived.length === hash.derivedKey.length && timingSafeEqual(derived, hash.derivedKey);
}

/** Hashes `password` into a server admin's hash string. */
export async function hashAdminPassword(password: string, iterations = DEFAULT_ITERATIONS): Promise<string> {
  return formatAdminHash(await hashPassword(password, iterations));
}

/** Whether `password` matches a server admin's hash string; a malformed hash never matches. */
export async function verifyAdminPassword(password: string, hash: string): Promise<boolean> {
  const parsed = parseAdminHash(hash);
  return parsed !== undefined && verifyPassword(password, parsed);
}

/** A hash no password matches, as costly to check as a real one: for names that do not exist. */
export function decoyHash(iterations: number): PasswordHash {
  return { prf: 'sha256', derivedKey: Buffer.alloc(32), salt: '0'.repeat(32), iterations };
}
