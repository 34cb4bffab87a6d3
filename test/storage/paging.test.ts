import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { keysetPages } from '../../src/storage/paging.js';
import { collect } from './conformance/helpers.js';

/** The pages of a scan, as pages. */
async function pagesOf<T>(scan: AsyncIterable<T[]>): Promise<T[][]> {
  const pages: T[][] = [];
  for await (const page of scan) pages.push(page);
  return pages;
}

/** A sorted table of distinct keys, read as a backend would: past a key, up to a count. */
function table(keys: readonly number[], from: number) {
  const reads: number[] = [];
  const read = (after: number | undefined, count: number): number[] => {
    reads.push(count);
    return keys.filter((key) => key > (after ?? from)).slice(0, count);
  };
  return { read, reads };
}

describe('keysetPages', () => {
  const keys = fc
    .uniqueArray(fc.integer({ min: 0, max: 5000 }), { maxLength: 300 })
    .map((k) => k.sort((a, b) => a - b));

  it('reads exactly the rows past the start, up to the limit, with any page size', async () => {
    await fc.assert(
      fc.asyncProperty(
        keys,
        fc.integer({ min: 1, max: 40 }),
        fc.option(fc.integer({ min: 0, max: 350 }), { nil: undefined }),
        fc.integer({ min: -1, max: 5000 }),
        fc.option(fc.integer({ min: 1, max: 60 }), { nil: undefined }),
        async (sorted, pageSize, limit, from, firstPageSize) => {
          const { read, reads } = table(sorted, from);
          const pages = await pagesOf(keysetPages(read, (key) => key, { pageSize, limit, firstPageSize }));
          const want = sorted.filter((key) => key > from).slice(0, limit);
          expect(pages.flat()).toEqual(want);
          // The first read asks for no more than the first page size (never more than a page).
          if (reads.length > 0)
            expect(reads[0]).toBeLessThanOrEqual(Math.min(firstPageSize ?? pageSize, pageSize));
          // Pages are bounded, and no read is wasted beyond the one short read that ends a scan.
          for (const page of pages) expect(page.length).toBeGreaterThan(0);
          for (const page of pages) expect(page.length).toBeLessThanOrEqual(pageSize);
          // (A first page smaller than the others may cost one read more.)
          const smallFirst = firstPageSize !== undefined && firstPageSize < pageSize ? 1 : 0;
          expect(reads.length).toBeLessThanOrEqual(Math.floor(want.length / pageSize) + 1 + smallFirst);
          if (limit === 0) expect(reads).toEqual([]);
        },
      ),
    );
  });

  it('awaits reads that return promises', async () => {
    const read = async (after: number | undefined, count: number) =>
      [1, 2, 3, 4, 5].filter((key) => key > (after ?? 0)).slice(0, count);
    expect(await collect(keysetPages(read, (key) => key, { pageSize: 2 }))).toEqual([1, 2, 3, 4, 5]);
  });
});
