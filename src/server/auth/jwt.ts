/**
 * `Authorization: Bearer <jwt>` as CouchDB's JWT authentication (`[jwt_keys]`, `[jwt_auth]`
 * `required_claims` and `roles_claim_path`), verified with `jose`.
 *
 * The token's `alg` chooses the key family and its `kid` (or `_default`) the key within it, as
 * CouchDB's `hmac:<kid>` / `rsa:<kid>` / `ec:<kid>` keys do: an HS256 token is only ever checked
 * against an HMAC secret, so a token "signed" with an RSA public key used as an HMAC secret (the
 * classic algorithm confusion) finds no key to match.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { errors, jwtVerify, type JWTPayload } from 'jose';
import { SetteeError } from '../../core/errors.js';

export interface JwtOptions {
  /** kid (or `"_default"`) → shared secret: a raw string, or `"base64:<base64>"` for bytes. */
  hmacSecrets?: Record<string, string>;
  /** kid (or `"_default"`) → PEM SPKI public key, RSA (2048 bits or more) or EC P-256/384/521. */
  publicKeys?: Record<string, string>;
  /**
   * Where the roles are: dots separate nested keys, `\.` is a literal dot (CouchDB 3.3's
   * `roles_claim_path`). By default the top-level claim named `_couchdb.roles`, as CouchDB.
   */
  rolesClaimPath?: string;
  /** Claims every token must carry, e.g. `["exp"]`; `exp` and `nbf` are checked whenever present. */
  requiredClaims?: string[];
  /** Leeway for `exp` and `nbf`, in seconds; 0 by default. */
  clockToleranceSeconds?: number;
  /** Clock in milliseconds since the epoch (tests inject one); `Date.now` by default. */
  now?: () => number;
}

/** Who a valid token says the caller is. */
export interface JwtIdentity {
  name: string;
  roles: string[];
}

const DEFAULT_KID = '_default';
/** CouchDB's default `roles_claim_name`: one top-level claim whose name contains a dot. */
const DEFAULT_ROLES_CLAIM_PATH = '_couchdb\\.roles';

const HMAC_ALGORITHMS = ['HS256', 'HS384', 'HS512'];
const PSS_ALGORITHMS = ['PS256', 'PS384', 'PS512'];
const RSA_ALGORITHMS = ['RS256', 'RS384', 'RS512', ...PSS_ALGORITHMS];
/** Each EC curve signs with exactly one algorithm (RFC 7518 §3.4). */
const EC_ALGORITHM_BY_CURVE: Record<string, string> = {
  prime256v1: 'ES256',
  secp384r1: 'ES384',
  secp521r1: 'ES512',
};
const SUPPORTED_ALGORITHMS = new Set([...HMAC_ALGORITHMS, ...RSA_ALGORITHMS, 'ES256', 'ES384', 'ES512']);
const MIN_RSA_BITS = 2048;

interface VerificationKey {
  key: KeyObject | Uint8Array;
  /** The only `alg` values this key may verify. */
  algorithms: readonly string[];
}

const refuse = (reason: string) => new SetteeError('unauthorized', reason);

/**
 * The token of an `Authorization: Bearer <token>` header (scheme case-insensitive, exactly one
 * token of RFC 6750 `b64token` characters); anything else → `undefined`.
 */
export function parseBearer(header: string | undefined): string | undefined {
  if (typeof header !== 'string') return undefined;
  return /^\s*bearer\s+([A-Za-z0-9\-._~+/]+=*)\s*$/i.exec(header)?.[1];
}

/**
 * Verifies bearer tokens against configured keys.
 *
 * @example
 * const jwt = await JwtVerifier.create({ hmacSecrets: { _default: 'base64:c2VjcmV0' } });
 * const { name, roles } = await jwt.verify(parseBearer(headers.authorization) ?? '');
 */
export class JwtVerifier {
  /** kid → its keys (an HMAC secret and a public key may share a kid, as in CouchDB). */
  readonly #keys: Map<string, VerificationKey[]>;
  readonly #rolesPath: string[];
  readonly #requiredClaims: string[];
  readonly #clockTolerance: number;
  readonly #now: () => number;

  private constructor(keys: Map<string, VerificationKey[]>, options: JwtOptions) {
    this.#keys = keys;
    this.#rolesPath = parseClaimPath(options.rolesClaimPath ?? DEFAULT_ROLES_CLAIM_PATH);
    this.#requiredClaims = [...(options.requiredClaims ?? [])];
    this.#clockTolerance = options.clockToleranceSeconds ?? 0;
    this.#now = options.now ?? Date.now;
  }

  /**
   * Loads the keys and checks the options; a bad key or option throws a plain `Error` naming the
   * kid (never the key). Key types are decided here, once, so `verify` only looks them up.
   */
  static async create(options: JwtOptions): Promise<JwtVerifier> {
    const tolerance = options.clockToleranceSeconds ?? 0;
    if (!Number.isFinite(tolerance) || tolerance < 0) {
      throw new RangeError(`clockToleranceSeconds must be a non-negative number, got ${tolerance}`);
    }
    for (const claim of options.requiredClaims ?? []) {
      if (typeof claim !== 'string' || claim === '') throw new Error('requiredClaims must be claim names');
    }
    const keys = new Map<string, VerificationKey[]>();
    const add = (kid: string, key: VerificationKey) => keys.set(kid, [...(keys.get(kid) ?? []), key]);
    for (const [kid, secret] of Object.entries(options.hmacSecrets ?? {})) add(kid, hmacKey(kid, secret));
    for (const [kid, pem] of Object.entries(options.publicKeys ?? {})) add(kid, publicKey(kid, pem));
    if (keys.size === 0) throw new Error('JWT authentication needs at least one key');
    return new JwtVerifier(keys, options);
  }

  /**
   * The name (`sub`) and roles of a valid token. Every failure throws
   * `SetteeError('unauthorized', reason)`, whatever the token holds.
   */
  async verify(token: string): Promise<JwtIdentity> {
    try {
      const { alg, key } = this.#keyFor(token);
      const payload = await this.#verifySignatureAndClaims(token, alg, key);
      return { name: subjectOf(payload), roles: rolesAt(payload, this.#rolesPath) };
    } catch (err) {
      // Only our own refusals carry a reason worth sending; anything else stays generic.
      throw err instanceof SetteeError && err.error === 'unauthorized' ? err : refuse('Token is invalid');
    }
  }

  /** The token's `alg` and the one key allowed to check it; refuses before any crypto runs. */
  #keyFor(token: string): { alg: string; key: VerificationKey['key'] } {
    if (typeof token !== 'string') throw refuse('Token is malformed');
    const parts = token.split('.');
    const [header, , signature] = parts;
    if (parts.length !== 3 || header === undefined || signature === undefined) {
      throw refuse('Token is malformed');
    }
    const { alg, kid } = decodeHeader(header);
    if (alg === 'none') throw refuse('Token algorithm "none" is not allowed');
    if (!SUPPORTED_ALGORITHMS.has(alg)) throw refuse('Token algorithm is not supported');
    const candidates = this.#keys.get(kid ?? DEFAULT_KID);
    if (!candidates) throw refuse('Token key id is not known');
    const match = candidates.find((candidate) => candidate.algorithms.includes(alg));
    if (!match) throw refuse(`Token algorithm ${alg} does not fit its key`);
    // jose decodes base64 leniently (ignoring whitespace and unused trailing bits), so several
    // strings would pass for one signature; accept only its canonical encoding.
    if (!isCanonicalBase64Url(signature)) throw refuse('Token signature is malformed');
    return { alg, key: match.key };
  }

  async #verifySignatureAndClaims(token: string, alg: string, key: VerificationKey['key']) {
    try {
      const { payload } = await jwtVerify(token, key, {
        algorithms: [alg],
        requiredClaims: this.#requiredClaims,
        clockTolerance: this.#clockTolerance,
        currentDate: new Date(this.#now()),
      });
      return payload;
    } catch (err) {
      throw refusalFor(err);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Keys
// ---------------------------------------------------------------------------------------------

function hmacKey(kid: string, secret: string): VerificationKey {
  if (typeof secret !== 'string') throw new Error(`JWT HMAC secret "${kid}" must be a string`);
  let bytes: Uint8Array;
  if (secret.startsWith('base64:')) {
    const encoded = secret.slice('base64:'.length);
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(encoded) || encoded.length % 4 === 1) {
      throw new Error(`JWT HMAC secret "${kid}" is not valid base64`);
    }
    bytes = Buffer.from(encoded, 'base64');
  } else {
    bytes = Buffer.from(secret, 'utf8');
  }
  if (bytes.length === 0) throw new Error(`JWT HMAC secret "${kid}" is empty`);
  return { key: new Uint8Array(bytes), algorithms: HMAC_ALGORITHMS };
}

function publicKey(kid: string, pem: string): VerificationKey {
  let key: KeyObject;
  try {
    key = createPublicKey({ key: pem, format: 'pem' });
  } catch {
    throw new Error(`JWT public key "${kid}" is not a PEM public key`);
  }
  const details = key.asymmetricKeyDetails ?? {};
  switch (key.asymmetricKeyType) {
    case 'rsa':
    case 'rsa-pss':
      // jose refuses shorter RSA keys at verification; say so once, here, instead.
      if ((details.modulusLength ?? 0) < MIN_RSA_BITS) {
        throw new Error(`JWT public key "${kid}" is an RSA key shorter than ${MIN_RSA_BITS} bits`);
      }
      // An RSASSA-PSS key may only sign PSS; an rsaEncryption key may sign either.
      return { key, algorithms: key.asymmetricKeyType === 'rsa' ? RSA_ALGORITHMS : PSS_ALGORITHMS };
    case 'ec': {
      const alg = EC_ALGORITHM_BY_CURVE[details.namedCurve ?? ''];
      if (!alg) throw new Error(`JWT public key "${kid}" is on an unsupported EC curve`);
      return { key, algorithms: [alg] };
    }
    default:
      throw new Error(`JWT public key "${kid}" is neither an RSA nor an EC key`);
  }
}

// ---------------------------------------------------------------------------------------------
// Token parts
// ---------------------------------------------------------------------------------------------

const BASE64URL = /^[A-Za-z0-9_-]+$/;

function isCanonicalBase64Url(text: string): boolean {
  return BASE64URL.test(text) && Buffer.from(text, 'base64url').toString('base64url') === text;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The header's `alg` and `kid`; refuses headers that are not base64url JSON objects. */
function decodeHeader(segment: string): { alg: string; kid: string | undefined } {
  let header: unknown;
  try {
    if (!BASE64URL.test(segment)) throw new Error('not base64url');
    header = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
  } catch {
    throw refuse('Token header is malformed');
  }
  if (!isObject(header)) throw refuse('Token header is malformed');
  const { alg, kid } = header;
  if (typeof alg !== 'string') throw refuse('Token header has no algorithm');
  if (kid !== undefined && typeof kid !== 'string') throw refuse('Token key id is not a string');
  return { alg, kid };
}

/** A reason for what jose refused, in our words (jose's messages stay out of responses). */
function refusalFor(err: unknown): SetteeError {
  if (err instanceof errors.JWTExpired) return refuse('Token has expired');
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.claim === 'nbf' && err.reason === 'check_failed') return refuse('Token is not valid yet');
    if (err.reason === 'missing') return refuse(`Token is missing the required claim "${err.claim}"`);
    return refuse(`Token claim "${err.claim}" is invalid`);
  }
  if (err instanceof errors.JWSSignatureVerificationFailed) return refuse('Token signature is invalid');
  if (err instanceof errors.JWTInvalid || err instanceof errors.JWSInvalid) {
    return refuse('Token is malformed');
  }
  return refuse('Token is invalid');
}

// ---------------------------------------------------------------------------------------------
// Claims
// ---------------------------------------------------------------------------------------------

function subjectOf(payload: JWTPayload): string {
  const { sub } = payload;
  if (typeof sub !== 'string' || sub === '') throw refuse('Token missing sub claim.');
  return sub;
}

/** `a.b\.c` → `["a", "b.c"]`, as CouchDB splits `roles_claim_path`. */
export function parseClaimPath(path: string): string[] {
  const keys: string[] = [];
  let current = '';
  for (let i = 0; i < path.length; i++) {
    const char = path[i];
    if (char === '\\' && path[i + 1] === '.') {
      current += '.';
      i++;
    } else if (char === '.') {
      keys.push(current);
      current = '';
    } else {
      current += char;
    }
  }
  keys.push(current);
  if (keys.some((key) => key === '')) throw new Error(`rolesClaimPath "${path}" has an empty key`);
  return keys;
}

/**
 * The roles at `path`: none when the path leads nowhere (as CouchDB), refused when it leads to
 * anything but an array of strings. Only own properties are followed, so a path such as
 * `constructor` cannot reach the prototype.
 */
function rolesAt(payload: JWTPayload, path: readonly string[]): string[] {
  let value: unknown = payload;
  for (const key of path) {
    if (!isObject(value) || !Object.hasOwn(value, key)) return [];
    value = value[key];
  }
  if (!Array.isArray(value) || !value.every((role) => typeof role === 'string')) {
    throw refuse('Token roles claim is not an array of strings');
  }
  return [...value];
}
