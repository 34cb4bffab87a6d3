/**
 * What one pull and one run of local writes cost, per 100 documents: IndexedDB transactions (by
 * mode and stores) and requests (by store and method) counted in the page, HTTP requests counted
 * in the page (`fetch`) and on the server (its request log, with the time it spent on each
 * endpoint), and the CPU time of the server and of each Chromium process. Counting wraps the
 * page's IndexedDB and `fetch`, which costs CPU of its own: `--plain` counts nothing and gives the
 * CPU and wall times alone. The benchmark's figures are `run.ts`'s.
 *
 *   node --import tsx bench/browser/census.ts --n 2000 --contenders settee,pouchdb-indexeddb
 *   node --import tsx bench/browser/census.ts --n 3000 --plain --runs writes
 *   node --import tsx bench/browser/census.ts --n 5000 --plain --runs writes,ceilings
 *
 * `ceilings` measures the same documents put into IndexedDB with no database above it (strict
 * durability) and through Settee's storage alone, revisions computed beforehand (see `rawWrites`):
 * what the writes' CPU would be with none of the database layer's work.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { Page as PwPage } from 'playwright-core';
import { Dataset, progress, TempFolders } from '../lib.js';
import { RequestLog } from '../replication/measure.js';
import { remote, seed } from '../replication/settee.js';
import { ADMIN, cpuMsOf, runBenchmark, resolveSettee, ServerProcess, statFields } from '../server/servers.js';
import type { CeilingWay, Contender, Span } from './page.js';
import { launchChromium, localBatches, servePage } from './setup.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** Figures are per this many documents; local writes are `bulkDocs` of this many. */
const BATCH = 100;
const { values: args } = parseArgs({
  options: {
    n: { type: 'string', default: '2000' },
    /** Count nothing in the page (CPU figures without the counting's own cost). */
    plain: { type: 'boolean', default: false },
    contenders: { type: 'string', default: 'settee,pouchdb-indexeddb' },
    /** Which runs to measure: `pull`, `writes`, `ceilings` (an A/B of one of them runs faster alone). */
    runs: { type: 'string', default: 'pull,writes' },
  },
});
const N = Number(args.n);
const RUNS = new Set(args.runs.split(','));

/** Wraps IndexedDB's and fetch's calls in the page, counting them by kind (`__census.take()`). */
const INSTRUMENT = `(() => {
  const counts = {};
  const bump = (key) => { counts[key] = (counts[key] ?? 0) + 1; };
  const wrap = (proto, name, label) => {
    const original = proto[name];
    proto[name] = function (...args) { bump(label(this, args)); return original.apply(this, args); };
  };
  wrap(IDBDatabase.prototype, 'transaction', (db, [stores, mode]) =>
    'idb transaction ' + (mode ?? 'readonly') + ' [' + [].concat(stores).join(',') + ']');
  for (const method of ['get', 'getKey', 'getAll', 'getAllKeys', 'count', 'openCursor', 'put', 'add', 'delete']) {
    wrap(IDBObjectStore.prototype, method, (store) => 'idb ' + store.name + '.' + method);
    if (method in IDBIndex.prototype)
      wrap(IDBIndex.prototype, method, (index) => 'idb ' + index.objectStore.name + '/' + index.name + '.' + method);
  }
  wrap(IDBCursor.prototype, 'continue', (cursor) => 'idb cursor.continue');
  const fetch = globalThis.fetch;
  globalThis.fetch = function (input, init) {
    const url = new URL(typeof input === 'string' ? input : input.url, location.href);
    const method = init?.method ?? (typeof input === 'string' ? 'GET' : input.method);
    bump('http ' + method + ' ' + url.pathname.replace(/^\\/[^/]+/, '/db').replace(/_local\\/.*/, '_local/…'));
    return fetch.call(this, input, init);
  };
  globalThis.__census = { take() { const taken = { ...counts }; for (const key in counts) delete counts[key]; return taken; } };
})();`;

const folders = new TempFolders();
await runBenchmark(folders, main);

async function main(): Promise<void> {
  const data = new Dataset(N);
  const pages = await servePage(ROOT, true);
  const server = await ServerProcess.start('settee', {
    root: ROOT,
    dir: folders.path('server'),
    settee: resolveSettee(ROOT, 'auto'),
    corsOrigins: [pages.origin],
  });
  const browser = await launchChromium();
  try {
    if (RUNS.has('pull')) await seed(remote(server, 'source', new RequestLog()), data, 0, N, 500);
    const page = await browser.newPage();
    if (!args.plain) await page.addInitScript(INSTRUMENT);
    await page.goto(pages.origin);
    const batches = localBatches(data, N, BATCH);
    type Page = { SetteeBench: typeof import('./page.js') };
    if (RUNS.has('ceilings')) {
      await page.evaluate((b) => (globalThis as unknown as Page).SetteeBench.stage(b), batches);
      for (const way of ['objects, strict', "Settee's storage"] as const satisfies CeilingWay[])
        await measure(page, server, `ceiling: ${way}`, () =>
          page.evaluate((a) => (globalThis as unknown as Page).SetteeBench.rawWrites(...a), [
            `census-ceiling-${way.replace(/\W+/g, '-')}`,
            way,
          ] as const),
        );
    }
    for (const contender of args.contenders.split(',') as Contender[]) {
      if (RUNS.has('pull'))
        await measure(page, server, `${contender} pull`, () =>
          page.evaluate((a) => (globalThis as unknown as Page).SetteeBench.pull(...a), [
            contender,
            `${server.url}/source`,
            ADMIN,
            `census-pull-${contender}`,
            N,
          ] as const),
        );
      if (!RUNS.has('writes')) continue;
      await page.evaluate((b) => (globalThis as unknown as Page).SetteeBench.stage(b), batches);
      await measure(page, server, `${contender} writes`, () =>
        page.evaluate((a) => (globalThis as unknown as Page).SetteeBench.writeLocally(...a), [
          contender,
          `census-write-${contender}`,
        ] as const),
      );
    }
  } finally {
    await browser.close();
    await server.stop();
    await new Promise((resolve) => pages.server.close(resolve));
  }
}

/** Runs `work`, then prints what it cost: requests counted in the page and on the server, CPU. */
async function measure(page: PwPage, server: ServerProcess, what: string, work: () => Promise<Span>) {
  const take = () =>
    page.evaluate(
      () =>
        (globalThis as unknown as { __census?: { take(): Record<string, number> } }).__census?.take() ?? {},
    );
  await take();
  const timings = server.timings.length;
  const cpu = cpuByProcess(server.pid);
  const span = await work();
  const after = cpuByProcess(server.pid);
  const wall = { 'wall time': `${((span.end - span.start) / (N / BATCH)).toFixed(1)} ms` };
  print(what, await take(), {
    ...wall,
    ...serverTimes(server.timings.slice(timings)),
    ...cpuSince(cpu, after),
  });
}

/**
 * CPU milliseconds used so far by the server and by this process's descendants (Chromium's
 * processes, by their --type: renderer, gpu-process, utility — network, storage —, browser).
 */
function cpuByProcess(serverPid: number): Map<string, number> {
  const parents = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid)) continue;
    try {
      parents.set(pid, statFields(pid, [4])[0]!);
    } catch {
      // gone meanwhile
    }
  }
  const ours = (pid: number): boolean => {
    for (let at = parents.get(pid); at !== undefined && at > 1; at = parents.get(at))
      if (at === process.pid) return true;
    return false;
  };
  const cpu = new Map<string, number>([['server', cpuMsOf(serverPid)]]);
  for (const pid of parents.keys()) {
    if (pid === serverPid || !ours(pid)) continue;
    try {
      const command = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (!command.includes('chromium')) continue;
      const type = /--type=([\w-]+)/.exec(command)?.[1] ?? 'browser';
      const service = /--utility-sub-type=([\w.]+)/.exec(command)?.[1];
      const key = `chromium ${type}${service ? ` ${service}` : ''}`;
      cpu.set(key, (cpu.get(key) ?? 0) + cpuMsOf(pid));
    } catch {
      // gone meanwhile
    }
  }
  return cpu;
}

function cpuSince(before: Map<string, number>, after: Map<string, number>): Record<string, string> {
  return Object.fromEntries(
    [...after].map(([key, ms]) => [
      `cpu ${key}`,
      `${((ms - (before.get(key) ?? 0)) / (N / BATCH)).toFixed(1)} ms`,
    ]),
  );
}

/** Server milliseconds and requests by endpoint. */
function serverTimes(timings: { key: string; ms: number }[]): Record<string, string> {
  const by = new Map<string, { count: number; ms: number }>();
  for (const { key, ms } of timings) {
    const entry = by.get(key) ?? { count: 0, ms: 0 };
    entry.count++;
    entry.ms += ms;
    by.set(key, entry);
  }
  return Object.fromEntries(
    [...by].map(([key, { count, ms }]) => [
      key,
      `${(count / (N / BATCH)).toFixed(2)}/100 docs, ${(ms / count).toFixed(1)} ms each`,
    ]),
  );
}

function print(what: string, counts: Record<string, number>, server: Record<string, string>): void {
  const perBatch = Object.entries(counts)
    .sort((a, b) => b[1] - a[1])
    .map(([key, count]) => `  ${(count / (N / BATCH)).toFixed(2).padStart(8)}  ${key}`);
  const onServer = Object.entries(server).map(([key, text]) => `  ${key}: ${text}`);
  progress(`${what}, per ${BATCH} documents:\n${[...perBatch, ...onServer].join('\n')}`);
}
