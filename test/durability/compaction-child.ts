// Run as a child process by compaction-kill.test.ts: updates the same documents over and over
// (each write with a body and an attachment of its own) and compacts after every few generations,
// while writes go on, until killed. It prints each write the database acknowledged
// (`ack <id> <rev> <n>`), each compaction's start (`compacting`) and each of its steps
// (`progress <percent>`), so that the parent can kill it in the middle of a compaction and know
// exactly what must have survived.
import { Database } from '../../src/database/database.js';
import '../node-platform.js';

const DOCS = 100;
const BATCH = 25;
/** Writes between two compactions: enough generations to leave much to reclaim. */
const WRITES_PER_COMPACTION = DOCS * 6;

const [path, firstN] = process.argv.slice(2);
if (!path || firstN === undefined) throw new Error('usage: compaction-child <path> <first n>');
const db = await Database.open(path);
let n = Number(firstN);
let writesSinceCompaction = 0;

/** What write `n` holds (2 KB), so that the parent can check any surviving version. */
function bodyOf(n: number): { n: number; filler: string } {
  return { n, filler: `${n}:`.padEnd(2000, String.fromCharCode(97 + (n % 26))) };
}

interface WrittenDoc {
  _id: string;
  _rev?: string;
  n: number;
  filler: string;
  _attachments: Record<string, { content_type: string; data: string }>;
}

async function writeForever(): Promise<never> {
  const revs = new Map<string, string | undefined>();
  for (;;) {
    const docs: WrittenDoc[] = [];
    for (let i = 0; i < BATCH; i++, n++) {
      const id = `doc-${n % DOCS}`;
      // The first edit of a document after a restart finds its revision in the database.
      const rev = revs.has(id) ? revs.get(id) : await currentRev(id);
      const data = Buffer.from(`attachment of ${n}`).toString('base64');
      docs.push({
        _id: id,
        ...(rev ? { _rev: rev } : {}),
        ...bodyOf(n),
        _attachments: { 'a.txt': { content_type: 'text/plain', data } },
      });
    }
    const results = await db.bulkDocs(docs);
    const lines = results.map((result, i) => {
      const { _id: id, n: written } = docs[i]!;
      if (!('ok' in result)) throw new Error(`write refused: ${JSON.stringify(result)}`);
      revs.set(id, result.rev);
      return `ack ${id} ${result.rev} ${written}`;
    });
    process.stdout.write(`${lines.join('\n')}\n`);
    writesSinceCompaction += docs.length;
    // As a server's writes arrive from sockets: a loop of SQLite writes alone never leaves the
    // microtask queue, and the compaction's steps, which wait for the event loop, would never run.
    await new Promise(setImmediate);
  }
}

async function compactForever(): Promise<never> {
  for (;;) {
    while (writesSinceCompaction < WRITES_PER_COMPACTION) await db.nextChange();
    writesSinceCompaction = 0;
    process.stdout.write('compacting\n');
    await db.compact({ onProgress: (percent) => process.stdout.write(`progress ${percent}\n`) });
  }
}

async function currentRev(id: string): Promise<string | undefined> {
  try {
    return (await db.get(id))._rev;
  } catch {
    return undefined;
  }
}

await Promise.all([writeForever(), compactForever()]);
