// The server's HTTP API as the page uses it. Requests go to the origin that served the page and
// carry its AuthSession cookie; an answer that is not 2xx becomes an ApiError.

/** A failed request: HTTP `status` and CouchDB's `error` and `reason` (or a network failure). */
export class ApiError extends Error {
  constructor(status, error, reason) {
    super(reason || error || `HTTP ${status}`);
    this.status = status;
    this.error = error;
    this.reason = reason;
  }
}

/** A sentence for a person, whatever failed. */
export function describeError(error) {
  if (error?.status === 0) return 'The server could not be reached. Check the connection and try again.';
  if (error?.status === 403) return 'Your account is not allowed to do this. Log in as a server admin.';
  if (error?.status === 404) return 'This could not be found: it may have been deleted.';
  const reason = error?.reason || error?.message || 'unknown error';
  return `Something went wrong: ${reason}`;
}

async function request(method, path, body) {
  const init = { method, credentials: 'same-origin', headers: { accept: 'application/json' } };
  if (body !== undefined) {
    init.headers['content-type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch {
    throw new ApiError(0, 'network', 'The server could not be reached.');
  }
  const data = await response.json().catch(() => undefined);
  if (!response.ok) throw new ApiError(response.status, data?.error, data?.reason);
  return data;
}

const db = (name) => `/${encodeURIComponent(name)}`;

/** Who is logged in: `{ name, roles }`, name null when nobody. */
export async function session() {
  return (await request('GET', '/_session')).userCtx;
}

/** Logs in; the server answers with the AuthSession cookie the browser then sends. */
export function logIn(name, password) {
  return request('POST', '/_session', { name, password });
}

export function logOut() {
  return request('DELETE', '/_session');
}

export function allDbs() {
  return request('GET', '/_all_dbs');
}

/** How many documents of a database are conflicted. */
export async function conflictCount(name) {
  return (await request('GET', `${db(name)}/_conflicts?limit=0`)).total_rows;
}

/** A page of conflicted documents from `startkey` (inclusive): `{ total_rows, rows }`. */
export function conflicts(name, { startkey, limit }) {
  // encodeURIComponent, not URLSearchParams: CouchDB reads `+` as a plus, not a space.
  let query = `limit=${limit}`;
  if (startkey !== undefined) query += `&startkey=${encodeURIComponent(JSON.stringify(startkey))}`;
  return request('GET', `${db(name)}/_conflicts?${query}`);
}

/** The live versions of a document, winner first, and their common ancestor (or null). */
export function versions(name, id) {
  return request('GET', `${db(name)}/_resolve/${encodeURIComponent(id)}`);
}

/** One atomic resolution: `{ keep, losers }` or `{ merged, keep, losers }`. */
export function resolve(name, id, body) {
  return request('POST', `${db(name)}/_resolve/${encodeURIComponent(id)}`, body);
}
