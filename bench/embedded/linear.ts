/**
 * Linear databases beside tree databases (docs/linear-history.md), on two workloads:
 * - hot: one document updated 100,000 times;
 * - many: 10,000 documents updated 100 times each (every document once per round).
 * For each: the write rate, the bytes on disk once closed, then the cost of replicating the
 * database to an empty peer of the same mode on a Settee server — requests, bytes both ways,
 * time — counted by a small proxy in front of the server.
 *
 *   node --expose-gc --import tsx bench/embedded/linear.ts [--hot 100000] [--docs 10000] [--edits 100]
 *
 * Writes use `durability: 'normal'` (no fsync per commit): what is compared is the write path
 * itself, which a synced commit would hide behind the disk. The tree's and the linear database's
 * writes take turns, a thousand at a time, so that the load of this shared machine weighs on both. Goals: linear ≥ 2× the tree's write
 * rate on the hot document, and at most half its size.
 */
import http from 'node:http';
import { parseArgs } from 'node:util';
import { Database, type RevisionsMode } from '../../src/database/database.js';
import '../../src/storage/sqlite/open.js';
import { replicate } from '../../src/replication/index.js';
import { SetteeServer } from '../../src/server/app.js';
import { fmt, gc, machine, perSecond, progress, sizeOnDisk, TempFolders } from '../lib.js';

const { values: args } = parseArgs({
  options: {
    hot: { type: 'string', default: '100000' },
    docs: { type: 'string', default: '10000' },
    edits: { type: 'string', default: '100' },
  },
});
const HOT = Number(args.hot);
const DOCS = Number(args.docs);
const EDITS = Number(args.edits);
const MODES: RevisionsMode[] = ['tree', 'linear'];
const ADMIN = { username: 'bench', password: 'bench-password' };
const TEXT = 'offline first document database sync replication '.repeat(4);

interface Figures {
  writesPerSecond: number;
  bytes: number;
  replication: { requests: number; sentBytes: number; receivedBytes: number; ms: number };
}

/**
 * One database's writes of a workload: `rounds` edits of each of `count` documents, one committed
 * put each, every document once per round, run a chunk at a time (see `workload`).
 */
class Writes {
  private readonly revs: (string | undefined)[];
  private done = 0;
  /** The time spent writing so far. */
  ms = 0;

  constructor(
    readonly db: Database,
    private readonly count: number,
    private readonly total: number,
  ) {
    this.revs = new Array<string | undefined>(count);
  }

  get finished(): boolean {
    return this.done >= this.total;
  }

  /** The next `n` writes (fewer at the end), timed. */
  async next(n: number): Promise<void> {
    const start = performance.now();
    for (const end = Math.min(this.total, this.done + n); this.done < end; this.done++) {
      const i = this.done % this.count;
      const doc = {
        _id: `doc-${String(i).padStart(6, '0')}`,
        round: Math.floor(this.done / this.count),
        text: TEXT,
      };
      const rev = this.revs[i];
      this.revs[i] = (await this.db.put(rev === undefined ? doc : { ...doc, _rev: rev })).rev;
    }
    this.ms += performance.now() - start;
  }
}

/** A proxy in front of the server that counts requests and bytes each way. */
async function countingProxy(target: URL) {
  const counts = { requests: 0, sentBytes: 0, receivedBytes: 0 };
  const proxy = http.createServer((request, response) => {
    counts.requests++;
    const upstream = http.request(
      {
        host: target.hostname,
        port: target.port,
        path: request.url,
        method: request.method,
        headers: request.headers,
      },
      (answer) => {
        response.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.on('data', (chunk: Buffer) => (counts.receivedBytes += chunk.length));
        answer.pipe(response);
      },
    );
    request.on('data', (chunk: Buffer) => (counts.sentBytes += chunk.length));
    request.pipe(upstream);
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  const { port } = proxy.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    counts,
    close: () => new Promise((resolve) => proxy.close(resolve)),
  };
}

async function replicationCost(source: Database, mode: RevisionsMode, folders: TempFolders) {
  const server = await SetteeServer.create({
    admin: `${ADMIN.username}:${ADMIN.password}`,
    dataDir: folders.path(`server-${mode}`),
    port: 0,
    host: '127.0.0.1',
  });
  const proxy = await countingProxy(new URL(await server.listen()));
  try {
    const auth = `Basic ${Buffer.from(`${ADMIN.username}:${ADMIN.password}`).toString('base64')}`;
    await fetch(`${proxy.url}/peer?revisions=${mode}`, { method: 'PUT', headers: { authorization: auth } });
    proxy.counts.requests = proxy.counts.sentBytes = proxy.counts.receivedBytes = 0;
    const start = performance.now();
    const result = await replicate(source, `${proxy.url}/peer`, { auth: ADMIN }).done;
    const ms = performance.now() - start;
    if (!result.ok) throw new Error(`the replication to the ${mode} peer failed`);
    return { ...proxy.counts, ms };
  } finally {
    await proxy.close();
    await server.close();
  }
}

function table(title: string, figures: Record<RevisionsMode, Figures>): string {
  const line = (label: string, pick: (f: Figures) => number, unit: string) => {
    const [tree, linear] = MODES.map((mode) => pick(figures[mode]));
    return `| ${label} | ${fmt(tree!)} ${unit} | ${fmt(linear!)} ${unit} | ${fmt(linear! / tree!)}× |`;
  };
  return [
    `### ${title}`,
    '| | tree | linear | linear ÷ tree |',
    '|---|---|---|---|',
    line('write rate', (f) => f.writesPerSecond, 'writes/s'),
    line('size on disk', (f) => f.bytes / 1024, 'KB'),
    line('replication: requests', (f) => f.replication.requests, ''),
    line('replication: bytes sent', (f) => f.replication.sentBytes / 1024, 'KB'),
    line('replication: bytes received', (f) => f.replication.receivedBytes / 1024, 'KB'),
    line('replication: time', (f) => f.replication.ms, 'ms'),
  ].join('\n');
}

/** Writes per chunk before the other database's turn. */
const CHUNK = 1000;

/**
 * The workload on a tree and a linear database, their writes interleaved a chunk at a time: on a
 * shared machine a change of load then weighs on both alike instead of on whichever ran then.
 * Then each one's size, and the cost of replicating it to an empty peer.
 */
async function workload(title: string, count: number, rounds: number, folders: TempFolders) {
  progress(title);
  const writes = await Promise.all(
    MODES.map(async (mode) => {
      const path = folders.path(`${mode}-${count}.sqlite`);
      const db = await Database.open(path, { revisions: mode, durability: 'normal' });
      return { mode, path, writes: new Writes(db, count, count * rounds) };
    }),
  );
  gc();
  while (writes.some(({ writes }) => !writes.finished))
    for (const each of writes) await each.writes.next(CHUNK);
  const figures = {} as Record<RevisionsMode, Figures>;
  for (const { mode, path, writes: done } of writes) {
    progress(`${mode}: ${count * rounds} writes in ${fmt(done.ms)} ms`);
    const replication = await replicationCost(done.db, mode, folders);
    await done.db.close();
    figures[mode] = {
      writesPerSecond: perSecond(count * rounds, done.ms),
      bytes: sizeOnDisk(path),
      replication,
    };
  }
  console.log(`${table(title, figures)}\n`);
  return figures;
}

const folders = new TempFolders();
try {
  console.log(`## Linear beside tree databases (${JSON.stringify(machine())})\n`);
  const hot = await workload(`one document updated ${HOT} times`, 1, HOT, folders);
  await workload(`${DOCS} documents updated ${EDITS} times each`, DOCS, EDITS, folders);
  const rate = hot.linear.writesPerSecond / hot.tree.writesPerSecond;
  const size = hot.linear.bytes / hot.tree.bytes;
  console.log(
    `Goal, hot document write rate ≥ 2× the tree's: ${fmt(rate)}× — ${rate >= 2 ? 'met' : 'NOT met'}`,
  );
  console.log(`Goal, hot document size ≤ ½ the tree's: ${fmt(size)}× — ${size <= 0.5 ? 'met' : 'NOT met'}`);
} finally {
  folders.remove();
}
