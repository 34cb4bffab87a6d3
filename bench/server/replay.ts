/**
 * Settee's server CPU per document without the PouchDB client: replays the requests a PouchDB
 * push and pull send (batches of 100: _revs_diff, _bulk_docs new_edits=false, checkpoint GET and
 * PUT _local; then _changes limit=100, _bulk_get, checkpoint, db info) from bodies built before
 * the clock starts, one request at a time over a keep-alive connection. The client does little,
 * so on a small shared machine this figure moves less than the full benchmark's; use it to
 * compare two versions of the server's hot paths, and the full benchmark for the real figures.
 *
 *   node --import tsx bench/server/replay.ts [--docs 10000] [--rounds 3] [--node-args="--max-semi-space-size=4"]
 *     [--batch 100] [--close]   # batch size; a new connection per request (as PouchDB in Node)
 *     [--entry /elsewhere/dist/cli/main.js]   # another build of Settee, to compare
 */
import { randomBytes } from 'node:crypto';
import { request as httpRequest, Agent } from 'node:http';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Dataset, progress, TempFolders } from '../lib.js';
import { killAllStarted, resolveSettee, ServerProcess } from './servers.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const { values: args } = parseArgs({
  options: {
    docs: { type: 'string', default: '10000' },
    rounds: { type: 'string', default: '3' },
    batch: { type: 'string', default: '100' },
    /** A new connection per request, as PouchDB's node-fetch without an agent does (Connection: close). */
    close: { type: 'boolean', default: false },
    'node-args': { type: 'string', default: '' },
    settee: { type: 'string', default: 'auto' },
    /** A built `cli/main.js` to run instead (e.g. an older version, to compare). */
    entry: { type: 'string' },
  },
});
const DOCS = Number(args.docs);
const ROUNDS = Number(args.rounds);
const BATCH = Number(args.batch);

const agent = new Agent({ keepAlive: !args.close, maxSockets: 1 });

interface Answer {
  status: number;
  body: string;
}

function send(base: string, auth: string, method: string, path: string, body?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      `${base}${path}`,
      {
        method,
        agent,
        headers: {
          authorization: auth,
          accept: 'application/json',
          ...(args.close ? { connection: 'close' } : {}),
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

function expectOk(answer: Answer, what: string): Answer {
  if (answer.status >= 300 && answer.status !== 404) {
    throw new Error(`${what}: ${answer.status} ${answer.body.slice(0, 300)}`);
  }
  return answer;
}

/** The bodies of one push, built before it is timed. */
function pushBodies(data: Dataset, from: number, to: number): { diff: string; docs: string }[] {
  const batches: { diff: string; docs: string }[] = [];
  for (let start = from; start < to; start += BATCH) {
    const diff: Record<string, string[]> = {};
    const docs: object[] = [];
    for (let i = start; i < Math.min(to, start + BATCH); i++) {
      const hash = randomBytes(16).toString('hex');
      diff[data.ids[i]!] = [`1-${hash}`];
      docs.push({
        _id: data.ids[i]!,
        _rev: `1-${hash}`,
        _revisions: { start: 1, ids: [hash] },
        ...data.body(i),
      });
    }
    batches.push({ diff: JSON.stringify(diff), docs: JSON.stringify({ docs, new_edits: false }) });
  }
  return batches;
}

async function checkpoint(base: string, auth: string, db: string, id: string, seq: unknown): Promise<void> {
  const path = `/${db}/_local/${id}`;
  const got = expectOk(await send(base, auth, 'GET', path), 'GET _local');
  const rev = got.status === 200 ? (JSON.parse(got.body) as { _rev: string })._rev : undefined;
  const doc = { _id: `_local/${id}`, ...(rev ? { _rev: rev } : {}), last_seq: seq, session_id: 'bench' };
  expectOk(await send(base, auth, 'PUT', path, JSON.stringify(doc)), 'PUT _local');
}

async function push(base: string, auth: string, db: string, batches: { diff: string; docs: string }[]) {
  for (const [i, batch] of batches.entries()) {
    expectOk(await send(base, auth, 'POST', `/${db}/_revs_diff`, batch.diff), '_revs_diff');
    expectOk(await send(base, auth, 'POST', `/${db}/_bulk_docs`, batch.docs), '_bulk_docs');
    await checkpoint(base, auth, db, 'push', i);
  }
}

async function pull(base: string, auth: string, db: string): Promise<number> {
  let since: unknown = 0;
  let read = 0;
  for (;;) {
    expectOk(await send(base, auth, 'GET', `/${db}/`), 'GET db');
    const feed = expectOk(
      await send(base, auth, 'GET', `/${db}/_changes?style=all_docs&since=${String(since)}&limit=${BATCH}`),
      '_changes',
    );
    const { results, last_seq } = JSON.parse(feed.body) as {
      results: { id: string; changes: { rev: string }[] }[];
      last_seq: unknown;
    };
    if (results.length === 0) return read;
    const docs = results.flatMap((row) => row.changes.map(({ rev }) => ({ id: row.id, rev })));
    const got = expectOk(
      await send(base, auth, 'POST', `/${db}/_bulk_get?revs=true&latest=true`, JSON.stringify({ docs })),
      '_bulk_get',
    );
    JSON.parse(got.body);
    read += results.length;
    await checkpoint(base, auth, db, 'pull', last_seq);
    since = last_seq;
  }
}

const folders = new TempFolders();
try {
  const settee = args.entry
    ? { args: [args.entry], description: args.entry }
    : resolveSettee(ROOT, args.settee as 'auto' | 'dist' | 'src');
  const nodeArgs = args['node-args'].split(' ').filter(Boolean);
  const server = await ServerProcess.start('settee', {
    root: ROOT,
    dir: folders.path('replay'),
    settee: { ...settee, args: [...nodeArgs, ...settee.args] },
  });
  const auth = `Basic ${Buffer.from(`${server.auth!.username}:${server.auth!.password}`).toString('base64')}`;
  const data = new Dataset(DOCS);
  try {
    for (let round = 0; round < ROUNDS; round++) {
      const db = `replay-${round}`;
      expectOk(await send(server.url, auth, 'PUT', `/${db}`), 'PUT db');
      const batches = pushBodies(data, 0, DOCS);
      const cpu0 = server.cpuMs();
      let t = performance.now();
      await push(server.url, auth, db, batches);
      const pushMs = performance.now() - t;
      const cpu1 = server.cpuMs();
      t = performance.now();
      const read = await pull(server.url, auth, db);
      const pullMs = performance.now() - t;
      const cpu2 = server.cpuMs();
      if (read !== DOCS) throw new Error(`pulled ${read} of ${DOCS}`);
      const memory = server.memory();
      console.log(
        `round ${round}: push ${((cpu1 - cpu0) / DOCS).toFixed(4)} ms CPU/doc (${Math.round((DOCS * 1000) / pushMs)} docs/s), ` +
          `pull ${((cpu2 - cpu1) / DOCS).toFixed(4)} ms CPU/doc (${Math.round((DOCS * 1000) / pullMs)} docs/s), ` +
          `peak RSS ${memory.peakMB.toFixed(0)} MB`,
      );
    }
  } finally {
    await server.stop();
  }
} catch (error) {
  progress(`replay failed: ${(error as Error).stack ?? String(error)}`);
  process.exitCode = 1;
} finally {
  killAllStarted();
  agent.destroy();
  folders.remove();
}
