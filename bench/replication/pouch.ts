/** PouchDB's side: its replicator (Node, leveldb) against the same Settee server. */
import type { TempFolders } from '../lib.js';
import { type Pouch, PouchDB, type RequestCounter, remoteDb } from '../server/pouch.js';
import { ADMIN, type ServerProcess } from '../server/servers.js';

export { replicate as pouchReplicate } from '../server/phases.js';
export { closeQuietly, type Pouch, RequestCounter } from '../server/pouch.js';

/** A PouchDB handle on a server database (Basic auth), counting its requests. */
export function pouchRemote(server: ServerProcess, name: string, counter: RequestCounter): Pouch {
  return remoteDb(server.url, name, counter, ADMIN);
}

export function pouchLocal(folders: TempFolders, name: string): Pouch {
  return new PouchDB(folders.path(`pouch-${name}`));
}
