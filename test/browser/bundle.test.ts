/**
 * The browser entry bundles for browsers with no Node built-in in any chunk, and what a page
 * loads up front — the entry chunk and the chunks it imports statically — is smaller than
 * PouchDB's own browser build; the rest (the query engine, the `$regex` engine, …) comes in
 * chunks of its own when a call first needs it.
 */
import fs from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { BROWSER_ENTRY, type BundleChunk, bundleForBrowser, ROOT } from './browser-bundle.js';

const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`;
const total = (chunks: BundleChunk[], size: 'bytes' | 'gzipBytes') =>
  chunks.reduce((sum, chunk) => sum + chunk[size], 0);

describe('the browser entry, bundled by esbuild for browsers', () => {
  it('imports no Node built-in, in any chunk', async () => {
    const bundle = await bundleForBrowser(BROWSER_ENTRY);
    const chains = bundle.nodeImports.map((chain) => chain.join(' → '));
    expect(chains, 'Node built-ins imported by the browser entry').toEqual([]);
  });

  it('loads less up front (minified + gzip) than pouchdb.min.js', async () => {
    const bundle = await bundleForBrowser(BROWSER_ENTRY);
    // Each chunk is a response of its own, compressed on its own: the sum is what travels.
    const upFront = total(bundle.upFront, 'gzipBytes');
    const pouch = gzipSync(fs.readFileSync(path.join(ROOT, 'node_modules/pouchdb/dist/pouchdb.min.js')), {
      level: 9,
    }).length;
    console.info(
      `settee/browser up front: ${kb(upFront)} in ${bundle.upFront.length} files ` +
        `(${kb(total(bundle.upFront, 'bytes'))} minified); all ${bundle.chunks.length} files: ` +
        `${kb(total(bundle.chunks, 'gzipBytes'))} (${kb(total(bundle.chunks, 'bytes'))} minified); ` +
        `pouchdb.min.js: ${kb(pouch)} (gzip -9 all)`,
    );
    const largest = bundle.largest.slice(0, 8).map(([part, bytes]) => `${part} ${kb(bytes)}`);
    expect(
      upFront,
      `settee/browser loads more up front; minified, the most goes to: ${largest.join(', ')}`,
    ).toBeLessThan(pouch);
  });

  it('leaves what only some calls need out of what a page loads up front', async () => {
    const bundle = await bundleForBrowser(BROWSER_ENTRY);
    // Each is imported on demand: by the first `find`/`query`/… or conflict call, a `$regex`
    // selector, a remote feed, the first replication run. A static import brings one back.
    const onDemand = [
      'node_modules/re2js/',
      'node_modules/@streamparser/json/',
      'src/database/queries/engine.ts',
      'src/database/conflicts/handling.ts',
      'src/replication/run.ts',
    ];
    const upFront = bundle.upFront.flatMap((chunk) => chunk.inputs);
    const loadedFirst = onDemand.filter((part) => upFront.some((file) => file.startsWith(part)));
    expect(loadedFirst).toEqual([]);
  });

  it('names the chain of imports that brings a Node built-in in', async () => {
    // The Node entry imports SQLite, the server and undici: the check must see through to them.
    const bundle = await bundleForBrowser(path.join(ROOT, 'src/index.ts'));
    const undici = bundle.nodeImports.find((chain) =>
      chain.some((file) => file.includes('undici-transport')),
    );
    expect(undici?.slice(0, 2)).toEqual(['src/index.ts', 'src/remote/undici-transport.ts']);
    expect(undici?.at(-1)).toMatch(/^node:/);
  });
});
