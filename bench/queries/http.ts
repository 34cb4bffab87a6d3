/**
 * `_find` over HTTP: Settee's server and pouchdb-server, each in its own process as the server
 * benchmark starts them (bench/server/servers.ts), loaded with the same documents through
 * `_bulk_docs` and queried by undici over keep-alive connections.
 */
import { Pool } from 'undici';
import type { Dataset } from '../lib.js';
import { basicHeader } from '../server/auth-measures.js';
import { type ServerKind, ServerProcess, type SetteeEntry } from '../server/servers.js';
import type { FindAnswer, QueryPeer } from './peer.js';
import type { FindBody } from './workload.js';

const DB = 'bench';

/** A loaded server, with the part of the embedded surface `_find` and `_index` give. */
export interface HttpPeer extends Pick<QueryPeer, 'createIndex' | 'find'> {
  server: ServerProcess;
  stop(): Promise<void>;
}

/** A JSON request on the pool; throws unless it is answered 2xx. */
async function send(
  pool: Pool,
  auth: string | undefined,
  method: 'PUT' | 'POST',
  path: string,
  body?: string,
) {
  const { statusCode, body: answer } = await pool.request({
    method,
    path,
    headers: { 'content-type': 'application/json', ...(auth ? { authorization: auth } : {}) },
    ...(body === undefined ? {} : { body }),
  });
  const text = await answer.text();
  if (statusCode >= 300) throw new Error(`${method} ${path} answered ${statusCode} ${text.slice(0, 300)}`);
  return JSON.parse(text) as unknown;
}

/**
 * Starts a server in `dir`, creates the database and writes the documents in batches
 * (`_bulk_docs` new_edits=false, with the same revisions as the embedded contenders).
 */
export async function startLoaded(
  kind: ServerKind,
  options: { root: string; dir: string; settee: SetteeEntry; connections: number },
  data: Dataset,
  batch: number,
): Promise<HttpPeer> {
  const server = await ServerProcess.start(kind, options);
  const pool = new Pool(server.url, { connections: options.connections, pipelining: 1 });
  const auth = server.auth ? basicHeader(server.auth) : undefined;
  const post = (path: string, body: object) =>
    send(pool, auth, 'POST', `/${DB}/${path}`, JSON.stringify(body));
  const stop = async () => {
    await pool.close();
    await server.stop();
  };
  try {
    await send(pool, auth, 'PUT', `/${DB}`);
    for (const docs of data.bulkBatches(batch, false)) await post('_bulk_docs', { docs, new_edits: false });
  } catch (error) {
    await stop();
    throw new Error(`loading ${kind} failed: ${(error as Error).message}\n${server.lastLines()}`);
  }
  return {
    server,
    stop,
    createIndex: (request) => post('_index', request),
    find: (body: FindBody) => post('_find', body) as Promise<FindAnswer>,
  };
}
