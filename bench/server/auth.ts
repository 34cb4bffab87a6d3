/**
 * The authentication benchmark: what signing in costs a sync client and the server, with the
 * server admin as the ceiling in the same run (machines are noisy, so ratios are the figures).
 *
 *   node --expose-gc --import tsx bench/server/auth.ts                 # N = 5000, 4 rounds
 *   node --expose-gc --import tsx bench/server/auth.ts --n 1000 --rounds 2 --requests 5000
 *   … --settee src          # the server from the sources through tsx (or dist, or a built cli/main.js: see servers.ts)
 *
 * 1. PouchDB (Node, leveldb) pushes N ~1 KB documents to a new database of one Settee server (a
 *    child process started as `npm start` does, with CouchDB's 600,000 PBKDF2 iterations) and
 *    pulls them back, as a member with Basic auth and as the server admin, alternating which goes
 *    first, `--rounds` times after a warm-up round. Target: the member within 10% of the admin's
 *    docs/s.
 * 2. `Auth.authenticate` in-process: µs per call after the first for a cached Basic user, a cached
 *    admin, an `AuthSession` cookie and anonymous; and the first (uncached) verification.
 * 3. `GET /{db}` requests/s over loopback (undici, keep-alive): Basic member vs admin on a
 *    members-only database vs anonymous on a public one, with the server's CPU per request.
 *
 * Prints the tables and targets; writes the same figures to bench-results/auth.json.
 */
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  Dataset,
  fmt,
  machine,
  median,
  positiveOption,
  progress,
  TempFolders,
  writeResults,
} from '../lib.js';
import {
  asAdmin,
  type AuthCallFigures,
  authInProcess,
  basicHeader,
  type Credentials,
  type RateFigures,
  replicationRound,
  requestRate,
  type RoundFigures,
} from './auth-measures.js';
import { loadPouch } from './phases.js';
import { PouchDB } from './pouch.js';
import { grid, notesAndTargets, ratioOf, ratioText, type Target, wholeRun } from './report.js';
import { ADMIN, runBenchmark, ServerProcess, type SetteeEntry, setteeAsStarted } from './servers.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

const { values: args } = parseArgs({
  options: {
    n: { type: 'string', default: '5000' },
    // Even, so that each identity goes first as often as the other.
    rounds: { type: 'string', default: '4' },
    calls: { type: 'string', default: '20000' },
    'first-users': { type: 'string', default: '3' },
    requests: { type: 'string', default: '20000' },
    concurrency: { type: 'string', default: '8' },
    settee: { type: 'string', default: 'auto' },
    out: { type: 'string', default: join(ROOT, 'bench-results', 'auth.json') },
  },
});
const N = positiveOption(args, 'n');
const ROUNDS = positiveOption(args, 'rounds');
const CALLS = positiveOption(args, 'calls');
const FIRST_USERS = positiveOption(args, 'first-users');
const REQUESTS = positiveOption(args, 'requests');
const CONCURRENCY = positiveOption(args, 'concurrency');

const MEMBER: Credentials = { username: 'bench-member', password: 'member-password' };
const IDENTITIES = ['member', 'admin'] as const;
type Identity = (typeof IDENTITIES)[number];
const CREDENTIALS: Record<Identity, Credentials> = { member: MEMBER, admin: ADMIN };
const LABELS: Record<Identity, string> = { member: 'member (Basic)', admin: 'server admin (Basic)' };

interface ServerFigures {
  /** The member's first request: the server verifies the password (PBKDF2) once. */
  firstRequestMs: number;
  rounds: { round: number; order: Identity[]; figures: Record<Identity, RoundFigures> }[];
  rates: { round: number; figures: Record<RateCase, RateFigures> }[];
  load: [number, number];
}

type RateCase = 'member' | 'admin' | 'anonymous';
const RATE_CASES: readonly RateCase[] = ['member', 'admin', 'anonymous'];
const RATE_LABELS: Record<RateCase, string> = {
  member: 'member, Basic, members-only db',
  admin: 'server admin, Basic, same db',
  anonymous: 'anonymous, public db',
};

const folders = new TempFolders();
await runBenchmark(folders, main);

async function main(): Promise<void> {
  const began = performance.now();
  const settee = setteeAsStarted(ROOT, args.settee);
  const server = await againstServer(settee);
  progress(`in-process Auth.authenticate, ${CALLS} calls per case`);
  const calls = await authInProcess(folders.path('in-process'), ADMIN, CALLS, FIRST_USERS);
  const totalSeconds = (performance.now() - began) / 1000;
  const { text, json } = render(server, calls, settee.description, totalSeconds);
  console.log(text);
  writeResults(args.out, json);
  progress(`wrote ${args.out}`);
}

/** A new database with `MEMBER` as its only member. */
async function membersOnlyDb(url: string, name: string): Promise<void> {
  await asAdmin(url, ADMIN, 'PUT', `/${name}`);
  await asAdmin(url, ADMIN, 'PUT', `/${name}/_security`, {
    admins: { names: [], roles: [] },
    members: { names: [MEMBER.username], roles: [] },
  });
}

/** Replication rounds and request rates against one Settee server in a child process. */
async function againstServer(settee: SetteeEntry): Promise<ServerFigures> {
  const dir = folders.path('server');
  progress('starting Settee');
  const server = await ServerProcess.start('settee', { root: ROOT, dir, settee });
  const load: [number, number] = [loadavg()[0]!, 0];
  try {
    const { url } = server;
    await asAdmin(url, ADMIN, 'PUT', `/_users/org.couchdb.user:${MEMBER.username}`, {
      name: MEMBER.username,
      type: 'user',
      roles: [],
      password: MEMBER.password,
    });
    await membersOnlyDb(url, 'rate');
    const start = performance.now();
    await getOk(url, '/rate', basicHeader(MEMBER));
    const firstRequestMs = performance.now() - start;
    progress(`the member's first request took ${firstRequestMs.toFixed(0)} ms (password verification)`);

    const source = new PouchDB(folders.path('source'));
    progress(`loading ${N} documents into the source PouchDB`);
    await loadPouch(source, new Dataset(N), 0, N);
    const rounds: ServerFigures['rounds'] = [];
    try {
      // Round -1 warms the server (JIT, SQLite page cache) for both identities and is not counted.
      for (let round = -1; round < ROUNDS; round++) {
        const order = round % 2 === 0 ? [...IDENTITIES] : [...IDENTITIES].reverse();
        const figures = {} as Record<Identity, RoundFigures>;
        for (const who of order) {
          const db = `push-${who}-${round + 1}`;
          await membersOnlyDb(url, db);
          figures[who] = await replicationRound(server, source, db, CREDENTIALS[who], N, folders.path(db));
          progress(`${round < 0 ? 'warm-up' : `round ${round + 1}`} ${who}: ${describe(figures[who])}`);
        }
        if (round >= 0) rounds.push({ round, order, figures });
      }
    } finally {
      await source.destroy();
    }

    await asAdmin(url, ADMIN, 'PUT', '/public');
    await asAdmin(url, ADMIN, 'PUT', '/public/_security', {});
    const rates: ServerFigures['rates'] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const figures = {} as Record<RateCase, RateFigures>;
      for (const which of rotate(RATE_CASES, round)) {
        figures[which] = await rate(server, which);
        progress(
          `GET round ${round + 1} ${which}: ${Math.round(figures[which].perSecond)} requests/s, ` +
            `server ${figures[which].serverCpuMicros.toFixed(0)} µs CPU/request`,
        );
      }
      rates.push({ round, figures });
    }
    load[1] = loadavg()[0]!;
    return { firstRequestMs, rounds, rates, load };
  } catch (error) {
    progress(`the run failed; the server's last lines:\n${server.lastLines()}`);
    throw error;
  } finally {
    await server.stop();
  }
}

/** One GET with these credentials, which must answer 200. */
async function getOk(url: string, path: string, authorization: string): Promise<void> {
  const response = await fetch(url + path, { headers: { authorization } });
  await response.arrayBuffer();
  if (response.status !== 200) throw new Error(`GET ${path} answered ${response.status}`);
}

function rate(server: ServerProcess, which: RateCase): Promise<RateFigures> {
  switch (which) {
    case 'member':
      return requestRate(server, '/rate', basicHeader(MEMBER), REQUESTS, CONCURRENCY);
    case 'admin':
      return requestRate(server, '/rate', basicHeader(ADMIN), REQUESTS, CONCURRENCY);
    case 'anonymous':
      return requestRate(server, '/public', undefined, REQUESTS, CONCURRENCY);
  }
}

function rotate<T>(list: readonly T[], by: number): T[] {
  return list.map((_, i) => list[(i + by) % list.length]!);
}

function describe(figures: RoundFigures): string {
  const phase = (name: string, p: RoundFigures['push']) =>
    `${name} ${Math.round(p.docsPerSec)} docs/s, server ${p.serverCpuMsPerDoc.toFixed(3)} ms/doc, ${p.requests} requests`;
  return `${phase('push', figures.push)}; ${phase('pull', figures.pull)}`;
}

// ---------------------------------------------------------------------------------------------
// Report

type Phase = 'push' | 'pull';
type PhaseMetric = 'docsPerSec' | 'serverCpuMsPerDoc' | 'requests';

function medianOf(server: ServerFigures, who: Identity, phase: Phase, metric: PhaseMetric): number {
  return median(server.rounds.map((round) => round.figures[who][phase][metric]));
}

function replicationTable(server: ServerFigures): string {
  const metrics: [Phase, PhaseMetric, string, string][] = [
    ['push', 'docsPerSec', 'push: end to end', 'docs/s'],
    ['pull', 'docsPerSec', 'pull: end to end', 'docs/s'],
    ['push', 'serverCpuMsPerDoc', 'push: server CPU ↓', 'ms/doc'],
    ['pull', 'serverCpuMsPerDoc', 'pull: server CPU ↓', 'ms/doc'],
    ['push', 'requests', 'push: HTTP requests', 'requests'],
    ['pull', 'requests', 'pull: HTTP requests', 'requests'],
  ];
  const rows = metrics.map(([phase, metric, name, unit]) => {
    const member = medianOf(server, 'member', phase, metric);
    const admin = medianOf(server, 'admin', phase, metric);
    return [`  ${name}`, unit, fmt(member), fmt(admin), ratioText(ratioOf(member, admin))];
  });
  return grid(
    `PouchDB replication of N = ${N.toLocaleString('en-US')} ~1 KB documents, median of ${ROUNDS} rounds`,
    ['metric', 'unit', LABELS.member, LABELS.admin, 'member/admin'],
    rows,
  );
}

function authTable(calls: AuthCallFigures): string {
  const { micros } = calls;
  const rows = [
    ['  Basic, cached user', 'µs/call', fmt(micros.basicUser)],
    ['  Basic, cached server admin', 'µs/call', fmt(micros.basicAdmin)],
    ['  AuthSession cookie', 'µs/call', fmt(micros.cookie)],
    ['  anonymous', 'µs/call', fmt(micros.anonymous)],
    [
      `  first Basic verification (PBKDF2-SHA256, ${calls.iterations.toLocaleString('en-US')} iterations)`,
      'ms',
      fmt(median(calls.firstVerificationMs)),
    ],
  ];
  return grid(
    `Auth.authenticate in-process, ${CALLS.toLocaleString('en-US')} sequential calls per case (median of 3)`,
    ['case', 'unit', 'time'],
    rows,
  );
}

function medianRate(server: ServerFigures, which: RateCase, metric: 'perSecond' | 'serverCpuMicros'): number {
  return median(server.rates.map((round) => round.figures[which][metric]));
}

function rateTable(server: ServerFigures): string {
  const admin = medianRate(server, 'admin', 'perSecond');
  const rows = RATE_CASES.map((which) => {
    const perSecond = medianRate(server, which, 'perSecond');
    return [
      `  ${RATE_LABELS[which]}`,
      'requests/s',
      fmt(perSecond),
      fmt(medianRate(server, which, 'serverCpuMicros')),
      ratioText(ratioOf(perSecond, admin)),
    ];
  });
  return grid(
    `GET /{db} over loopback, undici keep-alive, ${CONCURRENCY} in flight, ` +
      `${REQUESTS.toLocaleString('en-US')} requests per case, median of ${ROUNDS} rounds`,
    ['identity', 'unit', 'rate', 'server CPU µs/request ↓', 'rate ÷ admin'],
    rows,
  );
}

function targets(server: ServerFigures): Target[] {
  return (['push', 'pull'] as const).map((phase) => {
    const member = medianOf(server, 'member', phase, 'docsPerSec');
    const admin = medianOf(server, 'admin', phase, 'docsPerSec');
    const ratio = member / admin;
    const perRound = server.rounds
      .map((round) =>
        ratioText(round.figures.member[phase].docsPerSec / round.figures.admin[phase].docsPerSec),
      )
      .join(', ');
    const cpu = [
      medianOf(server, 'member', phase, 'serverCpuMsPerDoc'),
      medianOf(server, 'admin', phase, 'serverCpuMsPerDoc'),
    ];
    return {
      name: `PouchDB ${phase} as a member with Basic auth within 10% of the server admin's docs/s`,
      pass: ratio >= 0.9,
      detail:
        `${Math.round(member)} vs ${Math.round(admin)} docs/s (${ratioText(ratio)}; rounds ${perRound}); ` +
        `server CPU ${cpu[0]!.toFixed(3)} vs ${cpu[1]!.toFixed(3)} ms/doc (${ratioText(cpu[0]! / cpu[1]!)})`,
    };
  });
}

function render(
  server: ServerFigures,
  calls: AuthCallFigures,
  settee: string,
  totalSeconds: number,
): { text: string; json: unknown } {
  const list = targets(server);
  const getCpu = medianRate(server, 'member', 'serverCpuMicros');
  const notes = [
    `Settee ran from ${settee} in a child process with CouchDB's 600,000 PBKDF2 iterations and its ` +
      'one-line-per-request log on; CPU is utime+stime from /proc/PID/stat (10 ms ticks).',
    `The member's first request to the server took ${server.firstRequestMs.toFixed(0)} ms (its password ` +
      'verified once); every later request is answered from the verification cache.',
    `A cached Basic check costs ${calls.micros.basicUser.toFixed(1)} µs in-process, ` +
      `${((calls.micros.basicUser / getCpu) * 100).toFixed(1)}% of the ${getCpu.toFixed(0)} µs of server ` +
      'CPU a whole GET /{db} takes.',
    'Member and admin push the same source PouchDB into a new members-only database each round and ' +
      'pull it into a new PouchDB; the order alternates each round, after an uncounted warm-up round.',
    `${wholeRun(totalSeconds)}; ` +
      `1-min load average ${server.load[0].toFixed(1)} at the start, ${server.load[1].toFixed(1)} at the end` +
      (Math.max(...server.load) > cpus().length
        ? ` — above ${cpus().length}: other work shared the machine, so rates are noisy; server CPU per document or request is the steadier figure.`
        : '.'),
  ];
  const text = [
    replicationTable(server),
    '',
    authTable(calls),
    '',
    rateTable(server),
    '',
    '↓ marks figures where lower is better.',
    '',
    ...notesAndTargets(notes, list),
  ].join('\n');
  const json = {
    meta: {
      ...machine(),
      settee,
      n: N,
      rounds: ROUNDS,
      calls: CALLS,
      requests: REQUESTS,
      concurrency: CONCURRENCY,
      totalSeconds,
    },
    replication: {
      median: Object.fromEntries(
        IDENTITIES.map((who) => [
          who,
          Object.fromEntries(
            (['push', 'pull'] as const).map((phase) => [
              phase,
              {
                docsPerSec: medianOf(server, who, phase, 'docsPerSec'),
                serverCpuMsPerDoc: medianOf(server, who, phase, 'serverCpuMsPerDoc'),
                requests: medianOf(server, who, phase, 'requests'),
              },
            ]),
          ),
        ]),
      ),
      rounds: server.rounds,
      memberFirstRequestMs: server.firstRequestMs,
    },
    authenticate: calls,
    getDb: {
      median: Object.fromEntries(
        RATE_CASES.map((which) => [
          which,
          {
            perSecond: medianRate(server, which, 'perSecond'),
            serverCpuMicros: medianRate(server, which, 'serverCpuMicros'),
          },
        ]),
      ),
      rounds: server.rates,
    },
    targets: list,
    notes,
  };
  return { text, json };
}
