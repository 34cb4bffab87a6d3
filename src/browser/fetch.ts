/**
 * The page's `fetch` for a RemoteDatabase, with the request's `credentials` mode set. A browser
 * keeps cookies itself and hides `Set-Cookie` from scripts, so a cookie session in a page is the
 * browser's: the app logs in (`logIn`, or its own form), and every request then carries the
 * `AuthSession` cookie — to another origin only with `credentials: 'include'` (and a server
 * that allows that origin with credentials, as `settee serve --cors-origin` does).
 */
import { remoteError } from '../remote/errors.js';

/** fetch's `credentials` mode: whether requests carry the browser's cookies. */
export type CredentialsMode = 'omit' | 'same-origin' | 'include';

/**
 * A `fetch` (for `RemoteDatabase`'s or `sync`'s `fetch` option) that sends the browser's cookies
 * as `credentials` says.
 *
 * @example
 * const remote = new RemoteDatabase('https://sync.example.com/shop', { fetch: pageFetch('include') });
 */
export function pageFetch(
  credentials: CredentialsMode,
  fetchImpl: typeof fetch = callGlobalFetch,
): typeof fetch {
  return (input, init) => fetchImpl(input, { ...init, credentials });
}

/** The page's fetch, called on its global: a detached `fetch` throws "Illegal invocation". */
const callGlobalFetch: typeof fetch = (input, init) => globalThis.fetch(input, init);

/**
 * Starts a cookie session on the server at `serverUrl` (`POST /_session`): from then on the
 * browser sends its `AuthSession` cookie with every request made through `pageFetch('include')`.
 * A refused login throws the server's error (401 `unauthorized`).
 */
export async function logIn(
  serverUrl: string,
  credentials: { username: string; password: string },
  fetchImpl: typeof fetch = callGlobalFetch,
): Promise<void> {
  const response = await fetchImpl(sessionUrl(serverUrl), {
    method: 'POST',
    credentials: 'include',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: new URLSearchParams({ name: credentials.username, password: credentials.password }).toString(),
  });
  const body: unknown = await response.json().catch(() => undefined);
  if (!response.ok) throw remoteError(response.status, body);
}

/**
 * Ends the cookie session on the server at `serverUrl` (`DELETE /_session`): the browser drops
 * its `AuthSession` cookie, so the next request through `pageFetch('include')` to a database
 * that needs a user is refused 401 `unauthorized` — a RemoteError the app can act on (show its
 * login form again, then `logIn`).
 */
export async function logOut(serverUrl: string, fetchImpl: typeof fetch = callGlobalFetch): Promise<void> {
  const response = await fetchImpl(sessionUrl(serverUrl), {
    method: 'DELETE',
    credentials: 'include',
    headers: { accept: 'application/json' },
  });
  const body: unknown = await response.json().catch(() => undefined);
  if (!response.ok) throw remoteError(response.status, body);
}

function sessionUrl(serverUrl: string): string {
  return `${serverUrl.replace(/\/+$/, '')}/_session`;
}
