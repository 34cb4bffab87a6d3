/**
 * `AuthSession` cookies as CouchDB builds them (protocol.md §5.2): base64url(`name:HEXTIME:MAC`),
 * the MAC an HMAC-SHA256 over `name:HEXTIME` keyed by the server secret and the user's salt — so
 * a new password ends every session. Settee also keys it by the user's session epoch, which
 * `DELETE /_session` advances: logging out ends that user's sessions everywhere, which a
 * stateless CouchDB cookie cannot do.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const COOKIE_NAME = 'AuthSession';

/** A token's parts, before its MAC is checked. */
export interface SessionToken {
  name: string;
  hexTime: string;
  mac: Buffer;
}

/** What the MAC of a user's tokens depends on: their password's salt and their session epoch. */
export interface SessionKey {
  salt: string;
  epoch: number;
}

export class SessionCookies {
  constructor(
    private readonly secret: string,
    readonly timeoutSeconds: number,
    private readonly now: () => number,
    /** Behind TLS: the cookie is sent over HTTPS only. */
    private readonly secure: boolean,
  ) {}

  /** A `Set-Cookie` value with a fresh token for `name`. */
  issue(name: string, key: SessionKey): string {
    const hexTime = this.nowSeconds().toString(16).toUpperCase();
    const token = Buffer.concat([Buffer.from(`${name}:${hexTime}:`, 'utf8'), this.mac(name, hexTime, key)]);
    return this.cookie(token.toString('base64url'), `Max-Age=${Math.floor(this.timeoutSeconds)}`);
  }

  /** A `Set-Cookie` value that clears the browser's cookie. */
  clear(): string {
    return this.cookie('', 'Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0');
  }

  /** The parts of a well-formed token; `undefined` for anything else. */
  decode(token: string): SessionToken | undefined {
    if (!/^[A-Za-z0-9_-]+={0,2}$/.test(token)) return undefined;
    const raw = Buffer.from(token, 'base64url');
    // Only the canonical encoding: lenient decoding would let many strings stand for one token.
    if (raw.toString('base64url') !== token.replace(/=+$/, '')) return undefined;
    const first = raw.indexOf(0x3a);
    const second = first < 0 ? -1 : raw.indexOf(0x3a, first + 1);
    if (first <= 0 || second < 0) return undefined;
    const hexTime = raw.subarray(first + 1, second).toString('latin1');
    if (!/^[0-9A-Fa-f]{1,12}$/.test(hexTime)) return undefined;
    return { name: raw.subarray(0, first).toString('utf8'), hexTime, mac: raw.subarray(second + 1) };
  }

  /** When a token was issued, if its MAC is right (compared in constant time) and it has not expired. */
  verify(token: SessionToken, key: SessionKey): { issued: number } | undefined {
    const expected = this.mac(token.name, token.hexTime, key);
    if (token.mac.length !== expected.length || !timingSafeEqual(token.mac, expected)) return undefined;
    const issued = Number.parseInt(token.hexTime, 16);
    if (this.nowSeconds() >= issued + this.timeoutSeconds) return undefined;
    return { issued };
  }

  /** Whether a token issued at `issued` is old enough to be renewed (10% of its lifetime, as CouchDB). */
  due(issued: number): boolean {
    return this.nowSeconds() - issued > this.timeoutSeconds * 0.1;
  }

  private nowSeconds(): number {
    return Math.floor(this.now() / 1000);
  }

  private mac(name: string, hexTime: string, key: SessionKey): Buffer {
    return createHmac('sha256', `${this.secret}${key.salt}:${key.epoch}`)
      .update(`${name}:${hexTime}`)
      .digest();
  }

  private cookie(value: string, lifetime: string): string {
    const secure = this.secure ? '; Secure' : '';
    return `${COOKIE_NAME}=${value}; Version=1; ${lifetime}; Path=/; HttpOnly; SameSite=Lax${secure}`;
  }
}
