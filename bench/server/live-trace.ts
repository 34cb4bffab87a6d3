/**
 * Where the time of one live write goes: PouchDB A —live sync→ server ←live sync— PouchDB B, as
 * in the benchmark's live phase, printing for a few writes every HTTP request both clients send
 * (when it starts, when its JSON body has arrived) and when B's changes feed sees the write.
 * The server's own time per request is in its log (`--server-log`, a JSON line per request with
 * `ms`); the rest of each gap is the clients.
 *
 *   node --import tsx bench/server/live-trace.ts [--server settee|pouchdb-server] [--writes 8]
 *     [--shown 3] [--server-log /tmp/settee.log]
 */
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Dataset, TempFolders } from '../lib.js';
import { type FetchLike, PouchDB } from './pouch.js';
import { killAllStarted, type ServerKind, ServerProcess, setteeAsStarted } from './servers.js';
import { now, percentile, sleep, waitFor } from './util.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const { values: args } = parseArgs({
  options: {
    server: { type: 'string', default: 'settee' },
    writes: { type: 'string', default: '8' },
    shown: { type: 'string', default: '3' },
    'server-log': { type: 'string' },
  },
});
const KIND = args.server as ServerKind;
const WRITES = Number(args.writes);
const SHOWN = Number(args.shown);

let t0 = now();
const events: { at: number; text: string }[] = [];
const note = (text: string, at = now() - t0) => events.push({ at, text });

/** A fetch that notes when each request starts and when its JSON body has been read. */
function tracing(side: string): FetchLike {
  return async (url, init) => {
    const what = `${side} ${init?.method ?? 'GET'} ${new URL(url).pathname.split('/').slice(2).join('/') || '(db)'}`;
    note(`${what} sent`);
    const response = (await PouchDB.fetch(url, init)) as { json: () => Promise<unknown> };
    const json = response.json.bind(response);
    response.json = async () => {
      const body = await json();
      note(`${what} answered`);
      return body;
    };
    return response;
  };
}

const folders = new TempFolders();
try {
  const server = await ServerProcess.start(KIND, {
    root: ROOT,
    dir: folders.path('server'),
    settee: setteeAsStarted(ROOT, 'auto'),
    ...(args['server-log'] ? { logFile: args['server-log'] } : {}),
  });
  const auth = server.auth ? { auth: server.auth } : {};
  const remoteA = new PouchDB(`${server.url}/live`, { fetch: tracing('A'), ...auth });
  const remoteB = new PouchDB(`${server.url}/live`, { fetch: tracing('B'), ...auth });
  const a = new PouchDB(folders.path('a'));
  const b = new PouchDB(folders.path('b'));
  await remoteA.info();
  const arrivals = new Map<string, number>();
  const feed = b.changes({ live: true, since: 'now', include_docs: true });
  feed.on('change', (change) => {
    const t = change.doc?.t;
    if (typeof t !== 'number') return;
    arrivals.set(change.id, now() - t);
    note(`B's changes feed sees ${change.id}`);
  });
  const syncs = [a.sync(remoteA, { live: true, retry: true }), b.sync(remoteB, { live: true, retry: true })];
  const data = new Dataset(WRITES + 1);
  await a.put({ _id: 'warm-up', t: now(), ...data.body(0) });
  await waitFor(() => arrivals.has('warm-up'), 30_000);
  await sleep(1000);
  for (let i = 0; i < WRITES; i++) {
    events.length = 0;
    t0 = now();
    await a.put({ _id: `w${i}`, t: now(), ...data.body(i) });
    note('A wrote the document locally');
    await sleep(400);
    if (i < SHOWN) {
      console.log(`--- write ${i} (ms since the put began)`);
      for (const { at, text } of events.sort((x, y) => x.at - y.at))
        console.log(`${at.toFixed(1).padStart(7)}  ${text}`);
    }
  }
  const latencies = [...arrivals].filter(([id]) => id !== 'warm-up').map(([, ms]) => ms);
  console.log(
    `${KIND}: ${latencies.length}/${WRITES} arrived; p50 ${percentile(latencies, 50).toFixed(1)} ms, ` +
      `p95 ${percentile(latencies, 95).toFixed(1)} ms, max ${percentile(latencies, 100).toFixed(1)} ms`,
  );
  feed.cancel();
  for (const sync of syncs) sync.cancel();
  await sleep(200);
  await server.stop();
} finally {
  killAllStarted();
  folders.remove();
}
