import type pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { POOL_IDLE_MS, PostgresDatabases } from '../../src/server/stores/postgres.js';
import { usePostgres } from '../storage/use-postgres.js';

// The pool a server makes from a `postgres://` URL. pg's default closed a connection idle for
// 10 s, so a server between two bursts of requests opened new ones at the next: a PostgreSQL
// process forked, its catalog caches loaded and every statement prepared again, paid more often
// the more servers share a load (bench/server/scale-out.ts counted them: docs/scale-out.md).

const postgres = usePostgres();
let store: PostgresDatabases;

beforeAll(async () => {
  store = await PostgresDatabases.open(postgres.url);
});

afterEach(() => {
  vi.useRealTimers();
});

afterAll(async () => {
  await store?.close();
});

/** Takes `count` connections of the pool at once and tells the PostgreSQL process behind each. */
async function takeConnections(count: number): Promise<{ clients: pg.PoolClient[]; pids: number[] }> {
  const clients = await Promise.all(Array.from({ length: count }, () => store.pool.connect()));
  const pids = await Promise.all(
    clients.map(
      async (client) => (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid,
    ),
  );
  return { clients, pids };
}

describe("a server's own PostgreSQL pool", () => {
  it('keeps idle connections between bursts, and closes them once idle for POOL_IDLE_MS', async () => {
    const burst = await takeConnections(3);
    // The pool's idle timers start at release: from here on, the clock is the test's.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    for (const client of burst.clients) client.release();

    vi.advanceTimersByTime(60_000); // six times pg's default idle timeout
    expect(store.pool.totalCount).toBe(3);
    expect(store.pool.idleCount).toBe(3);

    // The next burst is served by the same PostgreSQL processes: none was forked again.
    vi.useRealTimers();
    const next = await takeConnections(3);
    expect(next.pids.sort()).toEqual(burst.pids.sort());

    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    for (const client of next.clients) client.release();
    vi.advanceTimersByTime(POOL_IDLE_MS + 1);
    expect(store.pool.totalCount).toBe(0);
  });
});
