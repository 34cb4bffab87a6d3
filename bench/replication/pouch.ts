/** PouchDB's side: its replicator (Node, leveldb) against the same Settee server. */
import type { TempFolders } from '../lib.js';
import { type Pouch, PouchDB, type RequestCounter, remoteDb } from '../server/pouch.js';
import { ADMIN, type ServerProcess } from '../server/servers.js';
import { withTimeout } from '../server/util.js';
import { boundFor } from './measure.js';

export { closeQuietly, type Pouch, RequestCounter } from '../server/pouch.js';

/** A PouchDB handle on a server database (Basic auth), counting its requests. */
export function pouchRemote(server: ServerProcess, name: string, counter: RequestCounter): Pouch {
  return remoteDb(server.url, name, counter, ADMIN);
}

export function pouchLocal(folders: TempFolders, name: string): Pouch {
  return new PouchDB(folders.path(`pouch-${name}`));
}

/** One-shot PouchDB replication (its defaults: batch_size 100, batches_limit 10), bounded and checked. */
export async function pouchReplicate(
  source: Pouch,
  target: Pouch,
  expected: number,
  what: string,
): Promise<void> {
  const replication = PouchDB.replicate(source, target, {});
  const result = await withTimeout(replication, boundFor(expected), what, () => replication.cancel());
  if (result.status !== 'complete' || result.docs_written !== expected || result.doc_write_failures > 0) {
    throw new Error(
      `${what}: status ${result.status}, ${result.docs_written} of ${expected} documents written, ` +
        `${result.doc_write_failures} failures ${JSON.stringify(result.errors).slice(0, 500)}`,
    );
  }
}
