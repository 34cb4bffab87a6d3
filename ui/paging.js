// Keyset paging, as the server's own scans page: each page starts at a key, never at a growing
// offset, so page 5000 of a million documents costs what page 1 does.

/**
 * Pages of `pageSize` rows. `load(startKey, count)` returns up to `count` rows from `startKey`
 * (inclusive; undefined for the first page); one row more than shown is asked for, and its key
 * is where the next page starts.
 *
 * @example
 * const pages = keysetPages(50, (start, count) => api.allDocs(db, { startkey: start, limit: count }).then((a) => a.rows), (row) => row.id);
 * const { rows, hasNext } = await pages.page(0);
 */
export function keysetPages(pageSize, load, keyOf) {
  const starts = [undefined];
  return {
    pageSize,
    async page(index) {
      const rows = await load(starts[index], pageSize + 1);
      const next = rows[pageSize];
      if (next !== undefined) starts[index + 1] = keyOf(next);
      return { index, rows: rows.slice(0, pageSize), hasNext: next !== undefined };
    },
  };
}

/** `fn` over `items`, at most `limit` at a time, results in order. */
export async function mapLimit(items, limit, fn) {
  const results = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/**
 * Calls `refresh` every `intervalMs` while the view of `ticket` is the one shown and the page
 * is visible; it stops by itself once the person moves to another view.
 */
export function refreshWhileShown(app, ticket, refresh, intervalMs = 2000) {
  const tick = async () => {
    if (!app.isCurrent(ticket)) return;
    if (!document.hidden) await refresh();
    if (app.isCurrent(ticket)) setTimeout(tick, intervalMs);
  };
  setTimeout(tick, intervalMs);
}

/**
 * Keyset pages of an `_all_docs`-shaped listing (`{ total_rows, rows }`, rows with an `id`),
 * narrowed to the ids that start with `prefix` once `search(prefix)` is called.
 * `list({ startkey, limit, prefix })` asks the server for one page.
 */
export function idPages(pageSize, list) {
  const pagesFor = (prefix) =>
    keysetPages(
      pageSize,
      async (startkey, limit) => {
        const answer = await list({ startkey, limit, prefix });
        listing.total = answer.total_rows;
        return answer.rows;
      },
      (row) => row.id,
    );
  let pages = pagesFor('');
  const listing = {
    pageSize,
    prefix: '',
    /** `total_rows` of the last page read. */
    total: 0,
    page: (index) => pages.page(index),
    search(prefix) {
      listing.prefix = prefix;
      pages = pagesFor(prefix);
    },
  };
  return listing;
}
