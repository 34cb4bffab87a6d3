/**
 * The browser entry bundled as a web app's bundler would (esbuild, `platform: 'browser'`): ESM
 * split into chunks at each dynamic `import()`, as a page loads it — the entry chunk and what it
 * imports statically first, the rest when a call needs it. Every import of a Node built-in, in
 * any chunk, is caught and traced back to the entry: the chain of imports that brought it in is
 * what someone must cut.
 */
import http from 'node:http';
import { builtinModules } from 'node:module';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build, type Metafile, type Plugin } from 'esbuild';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const BROWSER_ENTRY = path.join(ROOT, 'src/browser.ts');

const BUILTINS = new Set(builtinModules.flatMap((name) => [name, `node:${name}`]));
// Split output needs a folder; nothing is written there (`write: false`).
const OUT_DIR = path.join(ROOT, 'node_modules/.cache/browser-bundle');

/** One output file. */
export interface BundleChunk {
  /** Its path in the output folder. */
  file: string;
  /** Minified bytes. */
  bytes: number;
  /** Bytes once compressed with gzip -9, as a server sends it. */
  gzipBytes: number;
  contents: Uint8Array;
  /** The files bundled into it (sources, and packages' files in node_modules). */
  inputs: string[];
}

export interface BrowserBundle {
  /** The code of the entry chunk; with `globalName`, of the one IIFE file holding everything. */
  code: string;
  /** The entry chunk and the chunks it imports statically: what a page loads before the entry runs. */
  upFront: BundleChunk[];
  /** Every output file, those loaded on demand included. */
  chunks: BundleChunk[];
  /** Each Node built-in import, as the chain of files from the entry to the import. */
  nodeImports: string[][];
  /** Minified bytes loaded up front by package (or by source folder), largest first. */
  largest: [string, number][];
}

/** Bundles `entry` for browsers: minified ESM split into chunks, or one IIFE setting `globalName`. */
export async function bundleForBrowser(entry: string, globalName?: string): Promise<BrowserBundle> {
  const found: { importer: string; builtin: string }[] = [];
  const result = await build({
    entryPoints: [entry],
    absWorkingDir: ROOT,
    bundle: true,
    platform: 'browser',
    ...(globalName ? { format: 'iife', globalName } : { format: 'esm', splitting: true }),
    outdir: OUT_DIR,
    target: 'es2022',
    minify: true,
    write: false,
    metafile: true,
    logLevel: 'silent',
    plugins: [recordNodeBuiltins(found)],
  });
  const chunks = result.outputFiles.map((file) => ({
    file: path.relative(ROOT, file.path),
    bytes: file.contents.length,
    gzipBytes: gzipSync(file.contents, { level: 9 }).length,
    contents: file.contents,
    inputs: Object.keys(result.metafile.outputs[path.relative(ROOT, file.path)]!.inputs),
  }));
  const from = path.relative(ROOT, entry);
  const entryChunk = Object.keys(result.metafile.outputs).find(
    (file) => result.metafile.outputs[file]!.entryPoint === from,
  )!;
  const upFrontFiles = staticallyLoaded(result.metafile, entryChunk);
  const nodeImports = found.map(({ importer, builtin }) => [
    ...chainTo(result.metafile, from, importer),
    builtin,
  ]);
  return {
    code: result.outputFiles.find((file) => path.relative(ROOT, file.path) === entryChunk)!.text,
    upFront: chunks.filter((chunk) => upFrontFiles.has(chunk.file)),
    chunks,
    nodeImports,
    largest: bytesByPart(result.metafile, upFrontFiles),
  };
}

/** `chunk` and the chunks it imports statically, transitively (output paths, as the metafile has them). */
function staticallyLoaded(metafile: Metafile, chunk: string): Set<string> {
  const loaded = new Set([chunk]);
  for (const file of loaded) {
    for (const { path: next, kind, external } of metafile.outputs[file]!.imports) {
      if (kind === 'import-statement' && !external) loaded.add(next);
    }
  }
  return loaded;
}

function bytesByPart(metafile: Metafile, outputs: ReadonlySet<string>): [string, number][] {
  const totals = new Map<string, number>();
  for (const output of outputs) {
    for (const [file, { bytesInOutput }] of Object.entries(metafile.outputs[output]!.inputs)) {
      const part = /node_modules\/((@[^/]+\/)?[^/]+)/.exec(file)?.[1] ?? path.dirname(file);
      totals.set(part, (totals.get(part) ?? 0) + bytesInOutput);
    }
  }
  return [...totals].sort((a, b) => b[1] - a[1]);
}

/** Marks Node built-ins external (so one build sees them all) and records who imports them. */
function recordNodeBuiltins(found: { importer: string; builtin: string }[]): Plugin {
  return {
    name: 'record-node-builtins',
    setup(build) {
      build.onResolve({ filter: /.*/ }, ({ path: specifier, importer }) => {
        if (!BUILTINS.has(specifier)) return undefined;
        found.push({ importer: path.relative(ROOT, importer), builtin: specifier });
        return { path: specifier, external: true };
      });
    },
  };
}

/** The shortest chain of imports from the bundle's entry to `target` (paths as the metafile has them). */
function chainTo(metafile: Metafile, entry: string, target: string): string[] {
  const cameFrom = new Map<string, string | undefined>([[entry, undefined]]);
  const queue = [entry];
  for (let file = queue.shift(); file !== undefined; file = queue.shift()) {
    if (file === target) break;
    for (const { path: next } of metafile.inputs[file]?.imports ?? []) {
      if (cameFrom.has(next)) continue;
      cameFrom.set(next, file);
      queue.push(next);
    }
  }
  const chain: string[] = [];
  for (let file: string | undefined = target; file !== undefined; file = cameFrom.get(file))
    chain.unshift(file);
  return chain;
}

/** A web server on a free port of 127.0.0.1: `/settee.js` is `code`, any other path a page loading it. */
export async function servePage(code: string): Promise<{ origin: string; close(): Promise<void> }> {
  const server = http.createServer((request, response) => {
    if (request.url === '/settee.js')
      return response.writeHead(200, { 'content-type': 'text/javascript' }).end(code);
    response
      .writeHead(200, { 'content-type': 'text/html' })
      .end('<!doctype html><script src="/settee.js"></script>');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
