// Run as a child process by durability.test.ts: writes until killed, printing each write the
// database acknowledged, so the parent knows exactly what must survive a SIGKILL.
import { Database } from '../../src/database/database.js';
import '../node-platform.js';

const [path, mode] = process.argv.slice(2);
if (!path) throw new Error('usage: writer-child <path> [single|bulk]');
const db = await Database.open(path);
process.stdout.write('ready\n');
for (let i = 0; ; i++) {
  if (mode === 'bulk') {
    const docs = Array.from({ length: 50 }, (_, j) => ({ _id: `bulk-${i}-${j}`, i, j }));
    const results = await db.bulkDocs(docs);
    process.stdout.write(`${results.map((r) => ('rev' in r ? `${r.id} ${r.rev}` : '')).join('\n')}\n`);
  } else {
    const { id, rev } = await db.put({
      _id: `doc-${i % 20}`,
      _rev: await currentRev(db, `doc-${i % 20}`),
      i,
    });
    process.stdout.write(`${id} ${rev}\n`);
  }
}

async function currentRev(db: Database, id: string): Promise<string | undefined> {
  try {
    return (await db.get(id))._rev;
  } catch {
    return undefined;
  }
}
