/**
 * Builds the till app in memory with esbuild: the app's modules (split at each dynamic import,
 * as Settee loads its conflict handling on first use), the page and its style, and a service
 * worker that knows every file of this build. `settee/browser` is this repository's browser
 * entry; an app of your own imports the published package instead.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type BuildOptions } from 'esbuild';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const BROWSER_ENTRY = path.resolve(HERE, '../../src/browser.ts');

/** One file of the built app, by its URL path. */
export interface AppFile {
  type: string;
  body: Uint8Array;
}

const SHARED = {
  absWorkingDir: HERE,
  bundle: true,
  platform: 'browser',
  target: 'es2022',
  minify: true,
  write: false,
  logLevel: 'silent',
  alias: { 'settee/browser': BROWSER_ENTRY },
} as const satisfies BuildOptions;

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
};

/** The app's files, keyed by URL path (`/`, `/app.js`, `/sw.js`…), for the Settee server at `server`. */
export async function buildApp(server: string): Promise<Map<string, AppFile>> {
  const files = new Map<string, AppFile>();
  const add = (urlPath: string, body: Uint8Array) =>
    files.set(urlPath, { type: TYPES[path.extname(urlPath) || '.html']!, body });

  const app = await build({
    ...SHARED,
    entryPoints: { app: 'src/app.ts' },
    format: 'esm',
    splitting: true,
    outdir: 'out',
  });
  for (const file of app.outputFiles) add(`/${path.basename(file.path)}`, file.contents);
  const page = fs
    .readFileSync(path.join(HERE, 'index.html'), 'utf8')
    .replace('%SETTEE_SERVER%', escapeAttribute(server));
  add('/', new TextEncoder().encode(page));
  add('/style.css', fs.readFileSync(path.join(HERE, 'style.css')));

  const shell = [...files.keys()].map((urlPath) => `.${urlPath}`);
  const worker = await build({
    ...SHARED,
    entryPoints: ['src/sw.ts'],
    format: 'iife',
    outfile: 'out/sw.js',
    define: { SHELL: JSON.stringify(shell), VERSION: JSON.stringify(versionOf(files)) },
  });
  add('/sw.js', worker.outputFiles[0]!.contents);
  return files;
}

/** A digest of the shell's contents: a new build gets a new cache, and the old one is dropped. */
function versionOf(files: ReadonlyMap<string, AppFile>): string {
  const hash = createHash('sha256');
  for (const [urlPath, { body }] of [...files].sort(([a], [b]) => (a < b ? -1 : 1)))
    hash.update(urlPath).update(body);
  return hash.digest('hex').slice(0, 16);
}

function escapeAttribute(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');
}
