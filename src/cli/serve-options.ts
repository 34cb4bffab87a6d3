/** The options of `settee serve` that need more than commander: credentials from files and the environment. */
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { InvalidArgumentError } from 'commander';
import type { AutoCompactionOptions } from '../server/auto-compaction.js';
import type { JwtOptions } from '../server/auth/jwt.js';
import type { LockoutMode } from '../server/auth/lockout.js';
import { givenAdmins } from '../server/auth/admins.js';
import { generatedAdmin, storedAdminNames } from '../server/auth/state-file.js';
import type { LogFormat, LogLevel } from './logger.js';
import type { RequestLogSetting } from '../server/metrics/request-log.js';

type Env = Record<string, string | undefined>;

export interface ServeOptions {
  port: number;
  host: string;
  data: string;
  postgres?: string;
  /** Each `--admin` (or line of `$SETTEE_ADMIN`, or `[admins]` entry), `name:password`. */
  admin?: string[];
  adminFile?: string;
  allowSignup?: boolean;
  perUserDbs?: boolean;
  perUserDbsDelete?: boolean;
  jwtSecret?: string;
  jwtKey: string[];
  jwtRolesClaim?: string;
  secureCookies?: boolean;
  tlsCert?: string;
  tlsKey?: string;
  trustProxy: string[];
  lockoutAttempts: number;
  lockoutMinutes: number;
  lockoutMode: LockoutMode;
  lockoutMaxObjects: number;
  validateTimeout: number;
  corsOrigin: string[];
  maxRequestSize: number;
  resolvers: string[];
  logLevel: LogLevel;
  logFormat: LogFormat;
  requestLog: RequestLogSetting;
  autoCompact: 'on' | 'off';
  autoCompactRatio?: number;
  autoCompactMinSize?: number;
}

/** Who the server admins are at start-up, and whether the password was made up just now. */
export type AdminAtStart =
  | { kind: 'configured'; names: string[] }
  | { kind: 'stored'; names: string[] }
  | { kind: 'generated'; name: string; password: string };

/**
 * The admins to start the server with (`credentials`, undefined to keep the stored ones): the
 * configured ones, else the ones stored in the data folder, else a new one generated here so
 * that the start-up lines can show its password. Throws on a malformed one.
 */
export async function adminAtStart(
  options: Pick<ServeOptions, 'admin' | 'adminFile' | 'data'>,
  env: Env,
): Promise<{ credentials: string[] | undefined; admin: AdminAtStart }> {
  const configured = await adminCredentials(options, env);
  if (configured !== undefined) {
    const names = givenAdmins(configured).map(({ name }) => name);
    return { credentials: configured, admin: { kind: 'configured', names } };
  }
  const names = await storedAdminNames(options.data);
  if (names.length > 0) return { credentials: undefined, admin: { kind: 'stored', names } };
  const { name, password } = generatedAdmin();
  return { credentials: [`${name}:${password}`], admin: { kind: 'generated', name, password } };
}

/**
 * `--admin`, else `--admin-file`, else `$SETTEE_ADMIN`, else `$SETTEE_ADMIN_FILE`: each
 * `name:password`, undefined when none is given.
 */
export async function adminCredentials(
  options: Pick<ServeOptions, 'admin' | 'adminFile'>,
  env: Env,
): Promise<string[] | undefined> {
  if (options.admin !== undefined && options.admin.length > 0) return options.admin;
  const file = options.adminFile ?? (env.SETTEE_ADMIN ? undefined : env.SETTEE_ADMIN_FILE);
  const text = file === undefined ? env.SETTEE_ADMIN : await readFile(file, 'utf8');
  // One `name:password` a line; spaces at either end of a line may be part of its password.
  const admins = text === undefined ? [] : nonBlankLines(text);
  return admins.length > 0 ? admins : undefined;
}

/** The lines of `text` that hold more than spaces, each exactly as written but its line break. */
export function nonBlankLines(text: string): string[] {
  return text.split(/\r\n|\n|\r/).filter((line) => line.trim() !== '');
}

/**
 * `--postgres`, else `$SETTEE_POSTGRES`: the PostgreSQL that keeps the databases, if any. Only a
 * `postgres://` or `postgresql://` URL is taken: anything else is a mistake better told at once.
 */
export function postgresUrl(options: Pick<ServeOptions, 'postgres'>, env: Env): string | undefined {
  const url = options.postgres ?? (env.SETTEE_POSTGRES || undefined);
  if (url === undefined) return undefined;
  if (!/^postgres(ql)?:\/\//.test(url)) {
    throw new InvalidArgumentError(
      `expected a postgres://… URL for the PostgreSQL, not "${redactedUrl(url)}"`,
    );
  }
  return url;
}

/** A connection URL as it may be printed or logged: its password, if any, replaced by `***`. */
export function redactedUrl(url: string): string {
  return url.replace(/^([a-z]+:\/\/[^:@/]*:)[^@/]*@/i, '$1***@');
}

/** JWT keys from `--jwt-secret` / `$SETTEE_JWT_SECRET` and `--jwt-key` files (their names are the kids). */
export async function jwtOptions(
  options: Pick<ServeOptions, 'jwtSecret' | 'jwtKey' | 'jwtRolesClaim'>,
  env: Env,
): Promise<{ jwt?: JwtOptions }> {
  const secret = options.jwtSecret ?? env.SETTEE_JWT_SECRET;
  if (secret === undefined && options.jwtKey.length === 0) return {};
  const publicKeys: Record<string, string> = {};
  for (const [i, file] of options.jwtKey.entries()) {
    const pem = await readFile(file, 'utf8');
    publicKeys[basename(file).replace(/\.pem$/, '')] = pem;
    if (i === 0) publicKeys._default = pem;
  }
  return {
    jwt: {
      ...(secret === undefined ? {} : { hmacSecrets: { _default: secret } }),
      ...(options.jwtKey.length > 0 ? { publicKeys } : {}),
      ...(options.jwtRolesClaim === undefined ? {} : { rolesClaimPath: options.jwtRolesClaim }),
    },
  };
}

/** `--auto-compact*` as the server takes them: `false` when off, else only the thresholds given. */
export function autoCompactionOptions(
  options: Pick<ServeOptions, 'autoCompact' | 'autoCompactRatio' | 'autoCompactMinSize'>,
): { autoCompaction: AutoCompactionOptions | false } {
  if (options.autoCompact === 'off') return { autoCompaction: false };
  return {
    autoCompaction: {
      ...(options.autoCompactRatio === undefined ? {} : { ratio: options.autoCompactRatio }),
      ...(options.autoCompactMinSize === undefined ? {} : { minSlackBytes: options.autoCompactMinSize }),
    },
  };
}

/** `--auto-compact-ratio`: how many times the live data the files may hold, at least 1. */
export function compactionRatio(value: string): number {
  const ratio = Number(value);
  if (!Number.isFinite(ratio) || ratio < 1) throw new InvalidArgumentError('expected a number of at least 1');
  return ratio;
}

const SIZE = /^(\d+(?:\.\d+)?)\s*([kmg]?)i?b?$/i;
const UNITS: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

/** A size in bytes, or with a unit: `16MB`, `16M` and `16MiB` all mean 16 × 1024² bytes. */
export function byteSize(value: string): number {
  const match = SIZE.exec(value.trim());
  if (!match) throw new InvalidArgumentError('expected a size such as 16MB, 512KB or 1048576');
  return Math.round(Number(match[1]) * UNITS[match[2]!.toLowerCase()]!);
}
