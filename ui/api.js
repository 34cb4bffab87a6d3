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

/** A sentence for a person, whatever failed; the server's own reason when it gives one. */
export function describeError(error) {
  if (error?.status === 0) return 'The server could not be reached. Check the connection and try again.';
  if (error?.status === 403) {
    const why = error.reason ? ` The server says: ${error.reason}` : '';
    return `Your account is not allowed to do this.${why}`;
  }
  if (error?.status === 404) return 'This could not be found: it may have been deleted.';
  const reason = error?.reason || error?.message || 'unknown error';
  return `Something went wrong: ${reason}`;
}

async function request(method, path, body) {
  const init = { method, credentials: 'same-origin', headers: { accept: 'application/json' } };
  // Every state-changing request says JSON, body or not: the server refuses a cookie-carrying
  // POST without it (415), as a cross-site form could send one.
  if (method !== 'GET' && method !== 'HEAD') init.headers['content-type'] = 'application/json';
  if (body !== undefined) init.body = JSON.stringify(body);
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

/** Every database of the server: server admins only. */
export function allDbs() {
  return request('GET', '/_all_dbs');
}

/** The databases the signed-in user may read (Settee's `/_my_dbs`), for everyone else. */
export function myDbs() {
  return request('GET', '/_my_dbs');
}

/** Whether a user context is a server admin's. */
export function isServerAdmin(userCtx) {
  return Boolean(userCtx?.roles?.includes('_admin'));
}

/** Who may read and change a database: `{ admins: {names, roles}, members: {names, roles} }`. */
export function security(name) {
  return request('GET', `${db(name)}/_security`);
}

export function saveSecurity(name, body) {
  return request('PUT', `${db(name)}/_security`, body);
}

const USER_PREFIX = 'org.couchdb.user:';
const userPath = (name) => `/_users/${encodeURIComponent(USER_PREFIX + name)}`;

/** Every user's document (server admins only), by name. */
export async function users() {
  const range = `startkey=${encodeURIComponent(JSON.stringify(USER_PREFIX))}&endkey=${encodeURIComponent(JSON.stringify('org.couchdb.user;'))}`;
  const answer = await request('GET', `/_users/_all_docs?include_docs=true&${range}`);
  return answer.rows.map((row) => row.doc).filter((doc) => doc && doc.type === 'user');
}

/** A new user; the server stores a hash of the password, never the password. */
export function createUser(name, password, roles) {
  return request('PUT', userPath(name), { _id: USER_PREFIX + name, name, type: 'user', roles, password });
}

/**
 * Writes `changes` (`{ password }`, `{ roles }`) over the user's document as it was read (its
 * `_rev` included): a change made meanwhile by someone else is a 409, not overwritten.
 */
export function updateUser(doc, changes) {
  return request('PUT', userPath(doc.name), { ...doc, ...changes });
}

export function deleteUser(name, rev) {
  return request('DELETE', `${userPath(name)}?rev=${encodeURIComponent(rev)}`);
}

/** How many documents of a database are conflicted. */
export async function conflictCount(name) {
  return (await request('GET', `${db(name)}/_conflicts?limit=0`)).total_rows;
}

/**
 * A page of conflicted documents from `startkey` (inclusive), only those whose id starts with
 * `prefix` when one is given: `{ total_rows, rows }` (total_rows counts them all).
 */
export function conflicts(name, { startkey, limit, prefix }) {
  // encodeURIComponent, not URLSearchParams: CouchDB reads `+` as a plus, not a space.
  let query = `limit=${limit}`;
  if (startkey !== undefined) query += `&startkey=${encodeURIComponent(JSON.stringify(startkey))}`;
  if (prefix) query += `&prefix=${encodeURIComponent(prefix)}`;
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

/** The strategies `resolveMany` takes, and how many ids one request may name: `{ strategies, max_ids }`. */
export function strategies(name) {
  return request('GET', `${db(name)}/_resolve`);
}

/** Resolves each document of `ids` once with a strategy; one result per id, in order. */
export function resolveMany(name, { strategy, options, ids }) {
  return request('POST', `${db(name)}/_resolve`, { strategy, ids, ...(options ? { options } : {}) });
}

/**
 * A page of the history of resolutions, newest first, older than `since` (a history position)
 * when given, of one document when `doc` is: `{ total_rows, rows }`.
 */
export function resolutions(name, { doc, since, limit }) {
  let query = `descending=true&limit=${limit}`;
  if (since !== undefined) query += `&since=${since}`;
  if (doc !== undefined) query += `&doc=${encodeURIComponent(doc)}`;
  return request('GET', `${db(name)}/_resolutions?${query}`);
}

// --- the console: databases, documents, queries, replication, tasks -------------------------

const json = (value) => encodeURIComponent(JSON.stringify(value));
const docPath = (name, id) => `${db(name)}/${encodeURIComponent(id)}`;

/**
 * A page of databases with their info (server admins): `{key, info}` rows from `startkey`
 * (inclusive), at most `limit` of them, in name order (CouchDB 3.2's `GET /_dbs_info`).
 */
export function dbsInfo({ startkey, limit }) {
  const start = startkey === undefined ? '' : `&start_key=${json(startkey)}`;
  return request('GET', `/_dbs_info?limit=${limit}${start}`);
}

/** One database's info (`GET /{db}`): counts, sizes, update sequence. */
export function dbInfo(name) {
  return request('GET', db(name));
}

export function createDb(name) {
  return request('PUT', db(name));
}

export function deleteDb(name) {
  return request('DELETE', db(name));
}

/**
 * A page of `_all_docs` from `startkey` (inclusive), only ids starting with `prefix` when one is
 * given: `{ total_rows, rows }`. Paged by key, never by a growing `skip`.
 */
export function allDocs(name, { startkey, limit, prefix }) {
  let query = `limit=${limit}`;
  const start = startkey ?? (prefix || undefined);
  if (start !== undefined) query += `&startkey=${json(start)}`;
  // Ids sort by code point: the last code point after the prefix ends the run of ids it starts.
  if (prefix) query += `&endkey=${json(`${prefix}\u{10FFFF}`)}`;
  return request('GET', `${db(name)}/_all_docs?${query}`);
}

/** A document with its revisions' states, its conflicts and its attachments' stubs. */
export function openDoc(name, id) {
  return request('GET', `${docPath(name, id)}?revs_info=true&conflicts=true`);
}

/** Writes a document: a new one without `_rev`, an update of the revision it names. */
export function saveDoc(name, doc) {
  if (doc._id === undefined) return request('POST', db(name), doc);
  return request('PUT', docPath(name, doc._id), doc);
}

export function deleteDoc(name, id, rev) {
  return request('DELETE', `${docPath(name, id)}?rev=${encodeURIComponent(rev)}`);
}

/** Where an attachment is read from. */
export function attachmentUrl(name, id, file) {
  return `${docPath(name, id)}/${encodeURIComponent(file)}`;
}

/** A Mango query: `{ selector, fields?, sort?, limit, bookmark? }` → `{ docs, bookmark, warning? }`. */
export function find(name, query) {
  return request('POST', `${db(name)}/_find`, query);
}

/** A page of the `_replicator` documents' jobs and their states (`/_scheduler/docs`). */
export function schedulerDocs({ skip, limit }) {
  return request('GET', `/_scheduler/docs?limit=${limit}&skip=${skip}`);
}

/** The replication jobs running now (`/_scheduler/jobs`), transient ones included. */
export function schedulerJobs() {
  return request('GET', '/_scheduler/jobs');
}

/** A persistent replication: a `_replicator` document, with a generated id. */
export function addReplication(job) {
  return request('POST', '/_replicator', job);
}

/** Cancels a `_replicator` job by deleting its document (its current revision is read first). */
export async function cancelReplicationDoc(docId) {
  const doc = await request('GET', `/_replicator/${encodeURIComponent(docId)}`);
  return request('DELETE', `/_replicator/${encodeURIComponent(docId)}?rev=${encodeURIComponent(doc._rev)}`);
}

/** Cancels a transient (`POST /_replicate`) continuous replication by its id. */
export function cancelTransientReplication(id) {
  return request('POST', '/_replicate', { id, cancel: true });
}

/** What the server is busy with: compactions, index builds, replications. */
export function activeTasks() {
  return request('GET', '/_active_tasks');
}

// --- the server's metrics and log ------------------------------------------------------------

/** The server's statistics in CouchDB's shape (`/_node/_local/_stats`): counters and gauges. */
export function nodeStats() {
  return request('GET', '/_node/_local/_stats');
}

/** Memory, the event loop's delay and uptime (`/_node/_local/_system`). */
export function nodeSystem() {
  return request('GET', '/_node/_local/_system');
}

/** The log's recent warnings and errors (Settee's `/_node/_local/_logs`), newest first. */
export async function recentLogs({ level = 'warn', limit }) {
  return (await request('GET', `/_node/_local/_logs?level=${level}&limit=${limit}`)).entries;
}
