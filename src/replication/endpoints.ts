/**
 * The ends of a replication as callers name them: a Peer, or a database URL as PouchDB takes
 * it (`replicate('http://host/db', db)`). The replicator itself only ever sees Peers.
 */
import type { Peer } from '../core/api.js';
import { badRequest } from '../core/errors.js';
import { databaseUrlProblem, displayLocation } from '../remote/location.js';
import { RemoteDatabase, type RemoteDatabaseOptions } from '../remote/remote-database.js';

/** A replication's source or target: a Peer (a Database, a RemoteDatabase…) or a database URL. */
export type Endpoint = Peer | string;

/** How a URL endpoint is reached: the RemoteDatabase options (credentials, session, fetch…). */
export type EndpointOptions = RemoteDatabaseOptions;

const PROBLEMS = {
  invalid_url: 'is not a URL',
  unsupported_scheme: 'is not an http(s) URL',
  no_database: 'names no database',
} as const;

/**
 * The Peer an endpoint names: a URL becomes a RemoteDatabase with `options`. Anything else than
 * an http(s) URL with a database path is a bad_request (a local database is opened with
 * `Database.open` and passed as it is).
 */
export function peerOf(endpoint: Endpoint, options: EndpointOptions = {}): Peer {
  if (typeof endpoint !== 'string') return endpoint;
  const problem = databaseUrlProblem(endpoint);
  if (problem) {
    throw badRequest(
      `${displayLocation(endpoint)} ${PROBLEMS[problem]}: a database URL or a Peer is expected`,
    );
  }
  return new RemoteDatabase(endpoint, options);
}
