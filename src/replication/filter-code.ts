/**
 * The source text of a replication's filter function, read from the source's design document:
 * CouchDB puts it in the replication id (couch_replicator_ids:maybe_append_filters, the code
 * fetched by couch_replicator_filters:fetch and trimmed), so that editing the function starts a
 * fresh replication instead of resuming one whose checkpoint another function wrote.
 */
import type { Doc, Peer } from '../core/api.js';
import { badRequest, notFound } from '../core/errors.js';
import { parseRev } from '../core/revision.js';
import { compareLeaves } from '../core/rev-tree/index.js';

/**
 * `filters.<name>` of `_design/<ddoc>` on `source` for `filter: 'ddoc/name'`, trimmed. A design
 * document or function that is not there is a `not_found`: the replication cannot start.
 */
export async function filterCode(source: Peer, filter: string): Promise<string> {
  const slash = filter.indexOf('/');
  if (slash <= 0 || slash === filter.length - 1) {
    throw badRequest('Invalid filter. Must match `ddocname/filtername`.');
  }
  const ddocId = `_design/${filter.slice(0, slash)}`;
  const name = filter.slice(slash + 1);
  const ddoc = await winningRevision(source, ddocId);
  if (!ddoc) throw notFound(`Couldn't open document \`${ddocId}\` from source database: missing`);
  const code = (ddoc.filters as Record<string, unknown> | undefined)?.[name];
  if (typeof code !== 'string') throw notFound(`missing json key: ${name} in \`${ddocId}\``);
  return code.trim();
}

/**
 * A document's winning revision through the Peer surface: `_bulk_get` without a rev answers the
 * winner (CouchDB) or every leaf (Settee, PouchDB), of which the winner is chosen here.
 */
async function winningRevision(source: Peer, id: string): Promise<Doc | undefined> {
  const response = await source.bulkGet({ docs: [{ id }] });
  const leaves = response.results.flatMap((result) =>
    result.docs.flatMap((found) => ('ok' in found ? [found.ok] : [])),
  );
  const asLeaf = (doc: Doc) => ({
    rev: doc._rev,
    ...parseRev(doc._rev),
    deleted: doc._deleted === true,
    hasBody: true,
  });
  const winner = leaves.reduce<Doc | undefined>(
    (best, doc) => (best && compareLeaves(asLeaf(best), asLeaf(doc)) >= 0 ? best : doc),
    undefined,
  );
  return winner?._deleted ? undefined : winner;
}
