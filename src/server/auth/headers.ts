/** Credentials as requests carry them: `Authorization: Basic …` and the `Cookie` header. */

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
