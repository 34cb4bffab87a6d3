import type { AllDocsOptions, AllDocsRow } from '../core/api.js';
import { badRequest, queryParseError } from '../core/errors.js';
import type { DocRecord, IdRange, RevisionContent, Storage } from '../storage/types.js';
import type { DocReader, ReadShape } from './reader.js';

/**
 * `_all_docs` rows as a stream: by `keys` (in the order given, missing and deleted ones reported)
 * or by id range in raw code-point order, live documents only. Storage is read a page at a time.
 */
export function allDocsRows(
  storage: Storage,
  reader: DocReader,
  options: AllDocsOptions,
): AsyncIterable<AllDocsRow> {
  const shape: ReadShape = { conflicts: options.conflicts, attachments: options.attachments };
  const keys = listedKeys(options);
  const rows = keys
    ? rowsByKeys(storage, reader, keys, options.include_docs, shape)
    : rowsByRange(storage, reader, options, shape);
  return skipAndLimit(rows, options);
}

/**
 * The `keys` a listing reads, in the order it answers them (reversed when descending, as
 * fabric_view_all_docs.erl does), or undefined for a range listing. CouchDB refuses `keys` with
 * a key range (couch_mrview_util.erl, validate_args), unless `keys` is empty.
 */
export function listedKeys(options: AllDocsOptions): string[] | undefined {
  const { keys } = options;
  if (!keys || keys.length === 0) return keys;
  if (options.key !== undefined || options.startkey !== undefined || options.endkey !== undefined) {
    throw queryParseError('`keys` is incompatible with `key`, `start_key` and `end_key`');
  }
  return options.descending ? [...keys].reverse() : keys;
}

/** The rows `skip` and `limit` let through, as every `_all_docs`-shaped listing pages. */
export async function* skipAndLimit<Row>(
  rows: AsyncIterable<Row>,
  options: Pick<AllDocsOptions, 'skip' | 'limit'>,
): AsyncIterable<Row> {
  const skip = nonNegative(options.skip, 'skip') ?? 0;
  let limit = nonNegative(options.limit, 'limit') ?? Number.POSITIVE_INFINITY;
  let skipped = 0;
  for await (const row of rows) {
    if (limit <= 0) return;
    if (skipped < skip) {
      skipped++;
      continue;
    }
    limit--;
    yield row;
  }
}

/**
 * The ids a range listing reads: `key` alone, or `startkey` to `endkey` in the listing's
 * direction; undefined when the range is empty (start past end). CouchDB 3 lists no rows
 * there for `_all_docs`: its "No rows can match" 400 is for views only.
 */
export function idRange(options: AllDocsOptions): IdRange | undefined {
  const start = options.key ?? options.startkey;
  const end = options.key ?? options.endkey;
  for (const bound of [start, end]) {
    if (bound !== undefined && typeof bound !== 'string') throw badRequest('Document ids are strings');
  }
  if (start !== undefined && end !== undefined && (options.descending ? start < end : start > end)) {
    return undefined;
  }
  return { start, end, inclusiveEnd: options.inclusive_end !== false, descending: options.descending };
}

async function* rowsByKeys(
  storage: Storage,
  reader: DocReader,
  keys: string[],
  includeDocs: boolean | undefined,
  shape: ReadShape,
): AsyncIterable<AllDocsRow> {
  const records = await storage.getDocs(keys);
  for (const [i, key] of keys.entries()) {
    const record = records[i];
    if (!record) {
      yield { key, error: 'not_found' };
    } else if (record.deleted) {
      yield {
        id: key,
        key,
        value: { rev: record.winner, deleted: true },
        ...(includeDocs ? { doc: null } : {}),
      };
    } else {
      yield await toRow(reader, record, includeDocs, shape);
    }
  }
}

async function* rowsByRange(
  storage: Storage,
  reader: DocReader,
  options: AllDocsOptions,
  shape: ReadShape,
): AsyncIterable<AllDocsRow> {
  const range = idRange(options);
  if (!range) return;
  const scan = storage.docs({ ...range, withContent: options.include_docs });
  for await (const page of scan) {
    for (const scanned of page) {
      if (scanned.deleted) continue;
      if (!options.include_docs) yield { id: scanned.id, key: scanned.id, value: { rev: scanned.winner } };
      else if (scanned.content && !options.attachments) {
        const doc = reader.build(scanned, scanned.id, scanned.winner, scanned.content, shape);
        yield { id: scanned.id, key: scanned.id, value: { rev: scanned.winner }, doc };
      } else yield await toRow(reader, scanned, true, shape, scanned.content);
    }
  }
}

async function toRow(
  reader: DocReader,
  record: DocRecord,
  includeDocs: boolean | undefined,
  shape: ReadShape,
  content?: RevisionContent,
): Promise<AllDocsRow> {
  const row: AllDocsRow = { id: record.id, key: record.id, value: { rev: record.winner } };
  if (includeDocs)
    row.doc = (await reader.read(record, record.id, record.winner, shape, undefined, content)) ?? null;
  return row;
}

function nonNegative(value: number | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  if (!Number.isInteger(value) || value < 0) throw badRequest(`${name} must be a non-negative integer`);
  return value;
}
