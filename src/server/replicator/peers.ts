/**
 * From a spec to two Peers ready to replicate. An endpoint that is a full URL becomes a
 * RemoteDatabase, even when it points at this very server: its credentials are then checked like
 * any client's, and the replication id is the one PouchDB computes for the same two URLs, so
 * checkpoints are shared with clients that replicate the same pair. A bare database name (the
 * form CouchDB deprecated) is the local database of that name.
 */
import type { Peer, Seq, UserContext } from '../../core/api.js';
import type { Database } from '../../database/database.js';
import { SetteeError } from '../../core/errors.js';
import { RemoteDatabase } from '../../remote/index.js';
// The server runs in Node: its replications talk HTTP over undici's pool (importing installs it).
import '../../remote/undici-transport.js';
import { displayLocation, isUrl, openFailureOf } from '../../remote/location.js';
import { Checkpointer } from '../../replication/checkpointer.js';
import { replicationId } from '../../replication/replication-id.js';
import type { DatabaseRegistry } from '../registry.js';
import { isMember, isServerAdmin } from '../security.js';
import { type Endpoint, fullId, identityOf, type ReplicationSpec } from './spec.js';

/** Peers resolved and checked, the replication's ids and where it will start. */
export interface Prepared {
  source: Peer;
  target: Peer;
  /** The checkpoint document's id, `_local/<base>`. */
  localId: string;
  /** The job's id: the base id, `+continuous` and `+create_target` when set (CouchDB's form). */
  id: string;
  /** `since_seq`, when no checkpoint exists. */
  since: Seq | undefined;
  startSeq: Seq;
}

/**
 * Resolves both endpoints, checks they can be opened (creating the target if asked), finds the
 * start: the checkpoint's sequence, else `since_seq`, else 0.
 */
export async function prepare(
  registry: DatabaseRegistry,
  spec: ReplicationSpec,
  owner: UserContext,
): Promise<Prepared> {
  const source = await resolve(registry, spec.source, false, owner);
  const target = await resolve(registry, spec.target, spec.create_target, owner);
  await checkOpen(source, spec.source, false);
  await checkOpen(target, spec.target, spec.create_target);
  const localId = await replicationId(source, target, identityOf(spec));
  const checkpointed = await new Checkpointer(source, target, localId, 'probe').startSeq();
  const since = checkpointed === 0 && spec.since_seq !== undefined ? spec.since_seq : undefined;
  return { source, target, localId, id: fullId(localId, spec), since, startSeq: since ?? checkpointed };
}

/** The id a spec's replication has, without checking or creating anything. */
export async function replicationIdOf(
  registry: DatabaseRegistry,
  spec: ReplicationSpec,
  owner: UserContext,
): Promise<string> {
  const source = await resolve(registry, spec.source, false, owner);
  const target = await resolve(registry, spec.target, false, owner);
  return fullId(await replicationId(source, target, identityOf(spec)), spec);
}

/**
 * A local database missing (or, with `create`, created first): `db_not_found`. The owner must be
 * a member of a local database, and writes to it are made as the owner (validation functions
 * judge them so); only server admins create databases.
 */
async function resolve(
  registry: DatabaseRegistry,
  endpoint: Endpoint,
  create: boolean,
  owner: UserContext,
): Promise<Peer> {
  if (isUrl(endpoint.url)) {
    return new RemoteDatabase(endpoint.url, endpoint.auth ? { auth: endpoint.auth } : {});
  }
  const name = endpoint.url;
  const admin = isServerAdmin(owner);
  if (create && !(await registry.exists(name))) {
    if (!admin) throw new SetteeError('unauthorized', `unauthorized to create database ${name}`);
    await createDatabase(registry, name);
  }
  let db: Database;
  try {
    db = await registry.get(name);
  } catch (error) {
    if (error instanceof SetteeError && error.status === 404) throw dbNotFound(name);
    throw error;
  }
  if (admin) return db;
  if (!isMember(owner, await registry.security(name))) {
    throw new SetteeError('unauthorized', `unauthorized to access database ${name}`);
  }
  return writingAs(db, owner);
}

/** A local database as a peer whose writes are made as `userCtx`. */
function writingAs(db: Database, userCtx: UserContext): Peer {
  return {
    peerId: () => db.peerId(),
    info: () => db.info(),
    ensureExists: () => db.ensureExists(),
    changes: (options) => db.changes(options),
    revsDiff: (request) => db.revsDiff(request),
    bulkGet: (request, options) => db.bulkGet(request, options),
    bulkDocs: (docs, options) => db.bulkDocs(docs, { ...options, userCtx }),
    getLocal: (id) => db.getLocal(id),
    putLocal: (doc) => db.putLocal(doc),
  };
}

/** Creates a database of the registry; one created meanwhile by someone else will do. */
export async function createDatabase(registry: DatabaseRegistry, name: string): Promise<void> {
  await registry.create(name).catch((error: unknown) => {
    if (!(error instanceof SetteeError && error.error === 'file_exists')) throw error;
  });
}

/**
 * Opens a peer (creating its database first with `create`). A database that cannot be opened is
 * CouchDB's `db_not_found`; refused credentials `unauthorized`.
 */
async function checkOpen(peer: Peer, endpoint: Endpoint, create: boolean): Promise<void> {
  try {
    if (create) await peer.ensureExists();
    await peer.info();
  } catch (error) {
    const label = displayLocation(endpoint.url);
    const failure = openFailureOf(error);
    if (failure === 'unauthorized' || failure === 'forbidden') {
      throw new SetteeError('unauthorized', `unauthorized to access or create database ${label}`);
    }
    if (failure === 'missing' || failure === 'unreachable') throw dbNotFound(label);
    throw error;
  }
}

function dbNotFound(label: string): SetteeError {
  return new SetteeError('db_not_found', `could not open ${label}`);
}
