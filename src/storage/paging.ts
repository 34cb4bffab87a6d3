/** How a keyset scan reads: the page size, and how many rows at most in all. */
export interface PagingOptions {
  /** Rows per read. */
  pageSize: number;
  /** Rows in all (default: no limit). */
  limit?: number;
  /**
   * Rows of the first read (default `pageSize`): a caller that wants only a few rows — a query
   * with a small limit — reads no more than those, and full pages after.
   */
  firstPageSize?: number;
}

/**
 * Keyset paging, shared by every scan of every backend: a read of at most `pageSize` rows at a
 * time, each continuing after the key of the last row of the one before, so memory stays flat
 * whatever the size of the table, and no row is skipped or read twice.
 *
 * `read(after, count)` returns up to `count` rows in scan order past `after`, or from the scan's
 * own start when `after` is undefined. A short read ends the scan, as does `limit`. Pages are
 * never empty.
 *
 * @example
 * keysetPages(
 *   (after, count) => select.all(after ?? since, count),
 *   (row) => row.seq,
 *   { pageSize: 512, limit },
 * );
 */
export async function* keysetPages<Row, Key>(
  read: (after: Key | undefined, count: number) => Row[] | Promise<Row[]>,
  keyOf: (row: Row) => Key,
  options: PagingOptions,
): AsyncGenerator<Row[]> {
  let remaining = options.limit ?? Number.POSITIVE_INFINITY;
  let after: Key | undefined;
  let pageSize = Math.max(1, Math.min(options.firstPageSize ?? options.pageSize, options.pageSize));
  while (remaining > 0) {
    const count = Math.min(pageSize, remaining);
    pageSize = options.pageSize;
    const rows = await read(after, count);
    if (rows.length > 0) yield rows;
    if (rows.length < count) return;
    remaining -= rows.length;
    after = keyOf(rows[rows.length - 1]!);
  }
}
