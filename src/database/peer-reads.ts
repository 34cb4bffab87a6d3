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
  for (const id of ids) {
    const revs = request[id];
    if (!Array.isArray(revs)) throw badRequest(`Revisions of ${id} must be an array`);
    // As CouchDB: one malformed revision refuses the whole request.
    if (!revs.every(isRev)) throw badRequest('Invalid rev format');
  }
  const records = await storage.getDocs(ids);
  const held = records.filter((record) => record !== undefined);
  // The trees of the documents held, in one read: a batch costs no round trip per document.
  const trees = new Map((await reader.treesOf(held)).map((tree, i) => [held[i]!.id, tree]));
  // No prototype: an id `__proto__` is an entry like any other, not the object's prototype.
  const response: RevsDiffResponse = Object.create(null) as RevsDiffResponse;
  for (const id of ids) {
    const tree = trees.get(id);
    const missing = [...new Set(request[id])].filter((rev) => !tree?.has(rev));
    if (missing.length === 0) continue;
    response[id] = { missing };
    if (!tree) continue;
    const newest = Math.max(...missing.map(revGen));
    const ancestors = collectLeaves(tree)
      .filter((leaf) => leaf.gen < newest)
      .map((leaf) => leaf.rev);
    if (ancestors.length > 0) response[id].possible_ancestors = ancestors;
  }
  return response;
}

/**
 * `_bulk_get`: one result per requested entry, in request order — a named revision (or the
 * leaves descending from it, with `latest`), or every leaf when no revision is named. The
 * documents are read together (summaries, trees, bodies: a storage read each), so a request
 * costs the same few round trips to a database server whatever its size.
 */
export async function bulkGet(
  storage: Storage,
  reader: DocReader,
  request: BulkGetRequest,
  options: BulkGetOptions & Pick<ReadShape, 'rawBody'> = {},
): Promise<BulkGetResponse> {
  if (!request || !Array.isArray(request.docs)) throw badRequest('Missing JSON list of `docs`.');
  const failures = request.docs.map(entryFailure);
  const valid = request.docs.filter((_, i) => !failures[i]);
  const records = await storage.getDocs(valid.map((entry) => entry.id));
  const found = valid.flatMap((entry, i) => (records[i] ? [{ entry, record: records[i] }] : []));
  const opened = await reader.openRevsOf(
    found.map(({ entry, record }) => ({
      record,
      revs: entry.rev === undefined ? 'all' : [entry.rev],
      options: {
        revs: options.revs,
        attachments: options.attachments,
        atts_since: entry.atts_since,
        latest: options.latest,
        rawBody: options.rawBody,
      },
    })),
  );
  const openedOf = new Map(found.map(({ entry }, i) => [entry, opened[i]!]));
  const results = request.docs.map((entry, i) => {
    const failure = failures[i];
    if (failure) return failure;
    const missing = (rev: string) => ({
      error: { id: entry.id, rev, error: 'not_found', reason: 'missing' },
    });
    const docs: BulkGetDoc[] = openedOf
      .get(entry)
      ?.map((result) => ('ok' in result ? result : missing(result.missing))) ?? [
      missing(entry.rev ?? 'undefined'),
    ];
    return { id: entry.id, docs };
  });
  return { results };
}

type BulkGetEntry = BulkGetRequest['docs'][number];
type BulkGetResult = BulkGetResponse['results'][number];

/** The result of an entry that cannot be read, or undefined: a bad entry fails alone, as in CouchDB. */
function entryFailure(entry: BulkGetEntry): BulkGetResult | undefined {
  const id = entry?.id;
  const failed = (error: BulkGetResult['docs'][number]) => ({ id, docs: [error] });
  if (typeof id !== 'string') {
    const nullId = null as unknown as string;
    return failed({ error: { id: nullId, rev: 'undefined', error: 'bad_request', reason: 'Missing id' } });
  }
  if (entry.rev !== undefined && !isRev(entry.rev)) {
    return failed({
      error: { id, rev: String(entry.rev), error: 'bad_request', reason: 'Invalid rev format' },
    });
  }
  return undefined;
}
