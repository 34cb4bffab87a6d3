/**
 * What the authentication benchmark (bench/server/auth.ts) measures: PouchDB replication against
 * a Settee server as one identity or another, `Auth.authenticate` in-process, and `GET /{db}`
 * over loopback with keep-alive.
 */
import { mkdirSync } from 'node:fs';
import { Pool } from 'undici';
import { SetteeServer } from '../../src/server/app.js';
import { DEFAULT_ITERATIONS } from '../../src/server/auth/index.js';
import { gc, median, progress } from '../lib.js';
import { closeQuietly, type Pouch, PouchDB, RequestCounter, remoteDb } from './pouch.js';
import { measured, type PhaseFigures, replicate } from './phases.js';
import type { ServerProcess } from './servers.js';

/** A name and password, as PouchDB's `auth` option takes them. */
export interface Credentials {
  username: string;
  password: string;
}

/** The `Authorization` header of Basic auth with these credentials. */
export function basicHeader({ username, password }: Credentials): string {
  return `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
}

/** A request as the server admin; throws unless the answer is 2xx. */
export async function asAdmin(
  url: string,
  admin: Credentials,
  method: string,
  path: string,
  body?: unknown,
): Promise<unknown> {
  const response = await fetch(url + path, {
    method,
    headers: { authorization: basicHeader(admin), 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path} answered ${response.status} ${text.slice(0, 300)}`);
  return JSON.parse(text) as unknown;
}

// ---------------------------------------------------------------------------------------------
// PouchDB replication

export interface RoundFigures {
  push: PhaseFigures;
  pull: PhaseFigures;
}

/**
 * One round of one identity: push the loaded source into `db` (empty, on the server), then pull
 * `db` into a new PouchDB at `sinkPath`. `auth` undefined is no credentials at all.
 */
export async function replicationRound(
  server: ServerProcess,
  source: Pouch,
  db: string,
  auth: Credentials | undefined,
  n: number,
  sinkPath: string,
): Promise<RoundFigures> {
  const counter = new RequestCounter();
  const remote = remoteDb(server.url, db, counter, auth);
  const sink = new PouchDB(sinkPath);
  try {
    const push = await measured(server, counter, n, () => replicate(source, remote, n, `push to ${db}`));
    const pull = await measured(server, counter, n, () => replicate(remote, sink, n, `pull from ${db}`));
    return { push, pull };
  } finally {
    await closeQuietly(remote);
    await sink.destroy().catch(() => closeQuietly(sink));
  }
}

// ---------------------------------------------------------------------------------------------
// Auth.authenticate in-process

export interface AuthCallFigures {
  /** Microseconds per `authenticate` call, after the first (median of three timed runs). */
  micros: { basicUser: number; basicAdmin: number; cookie: number; anonymous: number };
  /** Milliseconds of each user's first, uncached Basic verification. */
  firstVerificationMs: number[];
  iterations: number;
}

/** Median µs per call of `calls` sequential awaited calls, after a tenth as many to warm up. */
async function microsPerCall(calls: number, call: () => Promise<unknown>): Promise<number> {
  for (let i = 0; i < calls / 10; i++) await call();
  const runs: number[] = [];
  for (let run = 0; run < 3; run++) {
    gc();
    const start = performance.now();
    for (let i = 0; i < calls; i++) await call();
    runs.push(((performance.now() - start) * 1000) / calls);
  }
  return median(runs);
}

/**
 * A Settee server in this process with CouchDB's 600,000 PBKDF2 iterations, users created over
 * HTTP, and `services.auth.authenticate` called directly: what authentication costs each request.
 */
export async function authInProcess(
  dataDir: string,
  admin: Credentials,
  calls: number,
  firstUsers: number,
): Promise<AuthCallFigures> {
  mkdirSync(dataDir, { recursive: true });
  const server = await SetteeServer.create({
    dataDir,
    admin: `${admin.username}:${admin.password}`,
    port: 0,
    host: '127.0.0.1',
  });
  try {
    const url = await server.listen();
    const { auth } = server.services;
    const address = '127.0.0.1';
    const users: Credentials[] = [];
    for (let i = 0; i < firstUsers; i++) {
      const user = { username: `user-${i}`, password: `password-${i}` };
      await asAdmin(url, admin, 'PUT', `/_users/org.couchdb.user:${user.username}`, {
        name: user.username,
        type: 'user',
        roles: ['bench'],
        password: user.password,
      });
      users.push(user);
    }
    const firstVerificationMs: number[] = [];
    for (const user of users) {
      const start = performance.now();
      await auth.authenticate({ authorization: basicHeader(user), address });
      firstVerificationMs.push(performance.now() - start);
    }
    progress(`first verifications: ${firstVerificationMs.map((ms) => ms.toFixed(0)).join(', ')} ms`);
    const member = { authorization: basicHeader(users[0]!), address };
    const adminCredentials = { authorization: basicHeader(admin), address };
    const { setCookie } = await auth.login(users[0]!.username, users[0]!.password, address);
    const cookie = { cookie: setCookie.split(';')[0]!, address };
    const check = async (credentials: Parameters<typeof auth.authenticate>[0], expected: string | null) => {
      const { userCtx } = await auth.authenticate(credentials);
      if (userCtx.name !== expected) throw new Error(`authenticated as ${userCtx.name}, not ${expected}`);
    };
    await check(member, users[0]!.username);
    await check(adminCredentials, admin.username);
    await check(cookie, users[0]!.username);
    await check({ address }, null);
    const micros = {
      basicUser: await microsPerCall(calls, () => auth.authenticate(member)),
      basicAdmin: await microsPerCall(calls, () => auth.authenticate(adminCredentials)),
      cookie: await microsPerCall(calls, () => auth.authenticate(cookie)),
      anonymous: await microsPerCall(calls, () => auth.authenticate({ address })),
    };
    return { micros, firstVerificationMs, iterations: DEFAULT_ITERATIONS };
  } finally {
    await server.close();
  }
}

// ---------------------------------------------------------------------------------------------
// GET /{db} over loopback

export interface RateFigures {
  requests: number;
  perSecond: number;
  /** The server's CPU per request, in µs. */
  serverCpuMicros: number;
}

/**
 * `count` GET requests of `path`, `concurrency` in flight over as many keep-alive connections,
 * each answered 200 and read to the end (after a fifth as many, untimed, to warm up).
 */
export async function requestRate(
  server: ServerProcess,
  path: string,
  authorization: string | undefined,
  count: number,
  concurrency: number,
): Promise<RateFigures> {
  const pool = new Pool(server.url, { connections: concurrency, pipelining: 1 });
  const headers = authorization ? { authorization } : {};
  const send = async () => {
    const { statusCode, body } = await pool.request({ method: 'GET', path, headers });
    await body.text();
    if (statusCode !== 200) throw new Error(`GET ${path} answered ${statusCode}`);
  };
  try {
    // Open every connection and warm the server (JIT, caches) before the clock starts.
    let warm = 0;
    const warmUp = Math.max(concurrency * 4, Math.floor(count / 5));
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (warm++ < warmUp) await send();
      }),
    );
    gc();
    let next = 0;
    const cpu = server.cpuMs();
    const start = performance.now();
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next++ < count) await send();
      }),
    );
    const ms = performance.now() - start;
    return {
      requests: count,
      perSecond: (count * 1000) / ms,
      serverCpuMicros: ((server.cpuMs() - cpu) * 1000) / count,
    };
  } finally {
    await pool.close();
  }
}
