import type { Peer } from '../core/api.js';
import { encodeBase64 } from '../core/base64.js';
import { canonicalJson } from '../core/canonical-json.js';
import { md5 } from '../core/md5.js';
import { filterCode } from './filter-code.js';

/** What distinguishes one replication from another between the same two databases. */
export interface ReplicationIdentity {
  doc_ids?: readonly string[];
  selector?: Record<string, unknown>;
  /** A design document's filter function on the source, `ddoc/name`, or `_view` (with `view`). */
  filter?: string;
  /** With `filter: '_view'`: `ddoc/view`; the source passes what the view's map emits for. */
  view?: string;
  /** With `filter`: handed to the filter function as `req.query` (over HTTP, query parameters). */
  query_params?: Record<string, unknown>;
  /** Settee's own option; part of the id only when set, so PouchDB's ids stay reproducible. */
  skip_deleted_on_first_pull?: boolean;
  /**
   * Replicate only each document's winning revision (CouchDB 3.3's option): the source's
   * changes are read `style=main_only`, so the target receives none of the source's conflicts.
   * Part of the id only when set, as CouchDB makes it (a replication of its own, with its own
   * checkpoints: a later plain replication backfills the losing revisions).
   */
  winning_revs_only?: boolean;
}

/** Options that enter the id by their name when true, after PouchDB's fields. */
const FLAGS = ['skip_deleted_on_first_pull', 'winning_revs_only'] as const;

/**
 * The replication id as PouchDB computes it (pouchdb-generate-replication-id): the base64 md5 of
 * both peers' ids and the filter, with `/` and `+` made safe for a `_local/` doc id. A
 * replication that PouchDB checkpointed between two URLs therefore resumes under Settee, and
 * the other way round. Unlike PouchDB, selectors and query params are hashed from canonical
 * JSON, so key order cannot lose a checkpoint (pouchdb#6226); credentials and `live` never
 * enter the id. A filter function enters it by its source text, fetched from the source, as
 * CouchDB does (couch_replicator_ids), where PouchDB hashes its name: editing the function then
 * starts over rather than resuming a checkpoint the old one wrote (so such ids differ from
 * PouchDB's). `_view` enters as PouchDB and CouchDB put it: the name and the view.
 */
export async function replicationId(
  source: Peer,
  target: Peer,
  identity: ReplicationIdentity = {},
): Promise<string> {
  const [sourceId, targetId] = await Promise.all([source.peerId(), target.peerId()]);
  const docIds = identity.doc_ids ? [...identity.doc_ids].sort().join(',') : '';
  const selector = identity.selector ? canonicalJson(identity.selector) : '';
  const flags = FLAGS.filter((flag) => identity[flag] === true).join('');
  const data = sourceId + targetId + (await filterPart(source, identity)) + docIds + selector + flags;
  const digest = encodeBase64(md5(binaryBytes(data)));
  return `_local/${digest.replaceAll('/', '.').replaceAll('+', '_')}`;
}

/** What a design filter adds to the id: PouchDB's `filter + view + query_params` layout. */
async function filterPart(
  source: Peer,
  { filter, view, query_params }: ReplicationIdentity,
): Promise<string> {
  if (filter === undefined) return '';
  const fn = filter === '_view' ? `_view${view ?? ''}` : await filterCode(source, filter);
  return fn + (query_params ? canonicalJson(query_params) : '');
}

/**
 * PouchDB hashes the id's input as Node's `binary` encoding does: each UTF-16 code unit cut to
 * its low byte, not UTF-8. Non-ASCII doc ids or selectors would otherwise give other ids.
 */
function binaryBytes(text: string): Uint8Array {
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i) & 0xff;
  return bytes;
}
