/**
 * Reading a view index in CouchDB's row order (key by collation, then document id), one page at
 * a time. Storage sorts rows by their key's bytes, which follow the collation exactly for most
 * keys and monotonically for the rest (`encodeKey`): rows whose bytes are equal but whose keys
 * are not exact may be out of order among themselves, so each such run is sorted here, and
 * every row is checked against the query's range, since byte bounds only give a superset.
 */
import { collate } from '../../core/mango/collate.js';
import { compareBytes, encodeKey } from '../../core/mango/key-encoding.js';
import {
  compareDocIds,
  type KeyRange,
  rowPosition,
  scanBounds,
  type ViewRow,
} from '../../core/views/range.js';
import type { IndexRow, IndexScan, ScannedDoc, Storage } from '../../storage/types.js';

/** A view row as read from its index, with its document when the scan joined it. */
export interface IndexedViewRow extends ViewRow {
  readonly doc?: ScannedDoc;
}

interface Parsed extends IndexedViewRow {
  readonly bytes: Uint8Array;
  readonly exact: boolean;
}

/**
 * The rows of one range, in the range's order, in pages; the scan stops at the first row past
 * the range.
 */
export async function* rangeRows(
  storage: Storage,
  index: string,
  range: KeyRange,
  withDocs: boolean,
  firstPage?: number,
): AsyncGenerator<IndexedViewRow[]> {
  const pages = inCollationOrder(
    storage.scanIndex(index, { ...byteBounds(range), withDocs, firstPage }),
    range.descending,
  );
  for await (const page of pages) {
    const inside: IndexedViewRow[] = [];
    for (const row of page) {
      const position = rowPosition(row, range);
      if (position === 'after') {
        if (inside.length > 0) yield inside;
        return;
      }
      if (position === 'inside') inside.push(row);
    }
    if (inside.length > 0) yield inside;
  }
}

/**
 * How many rows of the index come before `edge` in the scan's order (CouchDB's `offset`): the
 * rows before the first one returned. It reads every row up to there, keys only, so it costs
 * as much as the offset is large.
 */
export async function countBefore(
  storage: Storage,
  index: string,
  edge: { key: unknown; id?: string },
  descending: boolean,
  inclusive = false,
): Promise<number> {
  const end = edge.id === undefined ? { key: edge.key } : { key: edge.key, docId: edge.id };
  const range: KeyRange = { descending, inclusiveEnd: inclusive, end };
  const endBytes = encodeKey(edge.key).bytes;
  let count = 0;
  for await (const page of storage.scanIndex(index, { end: endBytes, inclusiveEnd: true, descending })) {
    for (const row of page) {
      // Only rows sharing the edge's bytes can lie on either side of it.
      if (compareBytes(row.key, endBytes) !== 0 || rowPosition(parse(row), range) === 'inside') count++;
    }
  }
  return count;
}

/**
 * Storage bounds for a range: inclusive at both ends unless every row of the end key is out and
 * its bytes are exact (a lossy end key's bytes are shared by keys on both sides of it).
 */
function byteBounds(range: KeyRange): IndexScan {
  const bounds = scanBounds(range);
  const scan: IndexScan = { descending: bounds.descending };
  if (bounds.start !== undefined) scan.start = encodeKey(bounds.start).bytes;
  if (bounds.end !== undefined) {
    const end = encodeKey(bounds.end);
    scan.end = end.bytes;
    scan.inclusiveEnd = bounds.inclusiveEnd || !end.exact;
  }
  return scan;
}

/** Pages of parsed rows in collation order: runs of equal bytes started by a lossy key, sorted. */
async function* inCollationOrder(
  pages: AsyncIterable<IndexRow[]>,
  descending: boolean,
): AsyncGenerator<Parsed[]> {
  let run: Parsed[] = [];
  for await (const page of pages) {
    const ordered: Parsed[] = [];
    for (const row of page) {
      const parsed = parse(row);
      if (run.length > 0 && compareBytes(run[0]!.bytes, parsed.bytes) === 0) {
        run.push(parsed);
        continue;
      }
      if (run.length > 0) ordered.push(...sortRun(run, descending));
      run = [];
      // An exact key shares its bytes only with keys that collate equal: its rows are in order.
      if (parsed.exact) ordered.push(parsed);
      else run.push(parsed);
    }
    if (ordered.length > 0) yield ordered;
  }
  if (run.length > 0) yield sortRun(run, descending);
}

function sortRun(run: Parsed[], descending: boolean): Parsed[] {
  const direction = descending ? -1 : 1;
  return run.sort((a, b) => direction * (collate(a.key, b.key) || compareDocIds(a.id, b.id)));
}

function parse(row: IndexRow): Parsed {
  return {
    key: JSON.parse(row.keyJson) as unknown,
    id: row.docId,
    value: row.valueJson === null ? null : (JSON.parse(row.valueJson) as unknown),
    bytes: row.key,
    exact: row.exact,
    ...(row.doc && { doc: row.doc }),
  };
}
