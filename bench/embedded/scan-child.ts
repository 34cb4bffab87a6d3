/**
 * Reads the first `limit` documents of a database in a process of its own, then prints its peak
 * RSS: run over 10k and over 100k documents, a streaming read should peak at the same size.
 *
 *   node --import tsx bench/embedded/scan-child.ts <dbpath> <changes|alldocs> <limit> [settee|raw|pouchdb] [passes]
 *
 * With `passes` (default 1) the read is done that many times over in the same process. Prints
 * one line of JSON: { engine, mode, limit, passes, rows, ms, maxRssMB }.
 */
// Each engine's modules are loaded only by its own child, so none adds to another's RSS.

const [path, mode, limitArg, engine = 'settee', passesArg = '1'] = process.argv.slice(2);
if (!path || (mode !== 'changes' && mode !== 'alldocs') || !limitArg) {
  console.error('usage: scan-child.ts <dbpath> <changes|alldocs> <limit> [settee|raw|pouchdb] [passes]');
  process.exit(2);
}
const limit = Number(limitArg);
const passes = Number(passesArg);

/** Runs `read` `passes` times, summing its rows and time. */
async function repeated(read: () => Promise<{ ms: number; rows: number }> | { ms: number; rows: number }) {
  const total = { ms: 0, rows: 0 };
  for (let pass = 0; pass < passes; pass++) {
    const { ms, rows } = await read();
    total.ms += ms;
    total.rows += rows;
  }
  return total;
}

let result: { ms: number; rows: number };
if (engine === 'settee') {
  const { Database } = await import('../../src/database/database.js');
  await import('../../src/storage/sqlite/open.js'); // Database.open on SQLite files
  const { setteeAllDocs, setteeChanges } = await import('./settee.js');
  const db = await Database.open(path);
  result = await repeated(() => (mode === 'changes' ? setteeChanges(db, limit) : setteeAllDocs(db, limit)));
  await db.close();
} else if (engine === 'raw') {
  const { openRaw, rawScan } = await import('./raw.js');
  const db = openRaw(path);
  result = await repeated(() => rawScan(db, mode === 'changes' ? 'rowid' : 'id', limit));
  db.close();
} else if (engine === 'pouchdb') {
  const { openPouch, pouchAllDocs, pouchChanges } = await import('./pouch.js');
  const db = openPouch(path);
  result = await repeated(() => (mode === 'changes' ? pouchChanges(db, limit) : pouchAllDocs(db, limit)));
  await db.close();
} else {
  throw new Error(`unknown engine ${engine}`);
}

// maxRSS is in kilobytes.
const maxRssMB = process.resourceUsage().maxRSS / 1024;
console.log(JSON.stringify({ engine, mode, limit, passes, rows: result.rows, ms: result.ms, maxRssMB }));
