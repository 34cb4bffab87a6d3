import type {
  BulkGetDoc,
  BulkGetOptions,
  BulkGetRequest,
  BulkGetResponse,
  RevsDiffRequest,
  RevsDiffResponse,
} from '../core/api.js';
import { badRequest } from '../core/errors.js';
import { collectLeaves } from '../core/rev-tree/leaves.js';
import { isRev, revGen } from '../core/revision.js';
import type { Storage } from '../storage/types.js';
import type { DocReader, ReadShape } from './reader.js';

/**
 * `_revs_diff`: which of these revisions this database lacks. A revision is held if its node is
 * in the tree, with or without a body. `possible_ancestors` are our leaves older than the newest
 * missing revision: the sender may send attachment stubs against them.
 */
export async function revsDiff(
  storage: Storage,
  reader: DocReader,
  request: RevsDiffRequest,
): Promise<RevsDiffResponse> {
  if (typeof request !== 'object' || request === null || Array.isArray(request)) {
    throw badRequest('Request body must be a JSON object');
  }
  const ids = Object.keys(request);
  const records = await storage.getDocs(ids);
  const response: RevsDiffResponse = {};
  for (const [i, id] of ids.entries()) {
    const revs = request[id];
    if (!Array.isArray(revs)) throw badRequest(`Revisions of ${id} must be an array`);
    // As CouchDB: one malformed revision refuses the whole request.
    if (!revs.every(isRev)) throw badRequest('Invalid rev format');
    const tree = records[i] ? await reader.tree(id, records[i].seq) : undefined;
    const missing = [...new Set(revs)].filter((rev) => !tree?.has(rev));
    if (missing.length === 0) continue;
    response[id] = { missing };
    if (!tree) continue;
    const newest = Math.max(...missing.filter(isRev).map(revGen));
    const ancestors = collectLeaves(tree)
      .filter((leaf) => leaf.gen < newest)
      .map((leaf) => leaf.rev);
    if (ancestors.length > 0) response[id].possible_ancestors = ancestors;
  }
  return response;
}

/**
 * `_bulk_get`: one result per requested entry, in request order — a named revision (or the
 * leaves descending from it, with `latest`), or every leaf when no revision is named.
 */
export async function bulkGet(
  storage: Storage,
  reader: DocReader,
  request: BulkGetRequest,
  options: BulkGetOptions & Pick<ReadShape, 'rawBody'> = {},
): Promise<BulkGetResponse> {
  if (!request || !Array.isArray(request.docs)) throw badRequest('Missing JSON list of `docs`.');
  const results: BulkGetResponse['results'] = [];
  for (const entry of request.docs) {
    const id = entry?.id;
    if (typeof id !== 'string') {
      const error = {
        id: null as unknown as string,
        rev: 'undefined',
        error: 'bad_request',
        reason: 'Missing id',
      };
      results.push({ id: id as string, docs: [{ error }] });
      continue;
    }
    if (entry.rev !== undefined && !isRev(entry.rev)) {
      const error = { id, rev: String(entry.rev), error: 'bad_request', reason: 'Invalid rev format' };
      results.push({ id, docs: [{ error }] });
      continue;
    }
    const [record] = await storage.getDocs([id]);
    const revs = entry.rev === undefined ? 'all' : [entry.rev];
    const shape = {
      revs: options.revs,
      attachments: options.attachments,
      atts_since: entry.atts_since,
      latest: options.latest,
      rawBody: options.rawBody,
    };
    const notFound = (rev: string) => ({ error: { id, rev, error: 'not_found', reason: 'missing' } });
    let docs: BulkGetDoc[] = [notFound(entry.rev ?? 'undefined')];
    if (record) {
      const found = await reader.openRevs(record, id, revs, shape);
      docs = found.map((result) => ('ok' in result ? result : notFound(result.missing)));
    }
    results.push({ id, docs });
  }
  return { results };
}
