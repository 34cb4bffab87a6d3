import { builtinModules } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BUILTINS = new Set(builtinModules);

/** Whether a specifier names one of Node's built-in modules (`node:fs`, `fs`, `fs/promises`). */
function isNodeBuiltin(specifier: string): boolean {
  return specifier.startsWith('node:') || BUILTINS.has(specifier);
}

/**
 * Every import of a Node built-in reachable from `entry`, as `importer → specifier`. esbuild
 * bundles the whole graph for no platform (`neutral`), packages included, so a package that
 * runs only in Node shows up through the built-ins it imports; a module it cannot resolve fails
 * the build, and so the test.
 */
async function nodeImportsFrom(entry: string): Promise<string[]> {
  const found: string[] = [];
  await build({
    entryPoints: [path.join(ROOT, entry)],
    bundle: true,
    write: false,
    platform: 'neutral',
    // Packages' own entry points, as a bundler for the browser would find them besides `exports`.
    mainFields: ['module', 'main'],
    logLevel: 'silent',
    plugins: [
      {
        name: 'record-node-builtins',
        setup(bundle) {
          bundle.onResolve({ filter: /.*/ }, (args) => {
            if (!isNodeBuiltin(args.path)) return undefined;
            found.push(`${path.relative(ROOT, args.importer)} → ${args.path}`);
            return { path: args.path, external: true };
          });
        },
      },
    ],
  });
  return found;
}

describe('the database layer runs outside Node', () => {
  // The browser build bundles src/database/ with what it imports (core/, conflicts/,
  // storage/types): none of it may need Node. Node's storage is installed by its entry instead.
  it('imports no Node built-in and no Node-only package, directly or through anything it imports', async () => {
    expect(await nodeImportsFrom('src/database/database.ts')).toEqual([]);
  });

  it('the check sees Node imports where they are: the SQLite backend and its package', async () => {
    const found = await nodeImportsFrom('src/storage/sqlite/open.ts');
    expect(found).toContain('src/storage/sqlite/open.ts → node:fs');
    expect(found.some((line) => line.startsWith('node_modules/better-sqlite3/'))).toBe(true);
  });
});
