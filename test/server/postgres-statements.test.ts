import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { usePostgres } from '../storage/use-postgres.js';
import { startServer, type TestServer } from './harness.js';

// What one request costs a server on PostgreSQL, in statements (each a round trip): the work a
// server does per request is what grows when a load is spread over more servers, each with its
// own caches (bench/server/scale-out.ts). Counted with the `pg` driver's own Client, given to the
// pool as its client class: every statement the server sends passes through `query`.

const postgres = usePostgres();
let statements = 0;

/** pg's Client, counting the statements it is asked to send. */
class CountingClient extends pg.Client {
  constructor(config?: string | pg.ClientConfig) {
    super(config);
    const send = this.query.bind(this) as (...args: unknown[]) => unknown;
    Object.assign(this, {
      query: (...args: unknown[]) => {
        statements++;
        return send(...args);
      },
    });
  }
}

let reader: TestServer;
let writer: TestServer;
let readerPool: pg.Pool;

beforeAll(async () => {
  readerPool = postgres.pool({ Client: CountingClient, max: 10 });
  reader = await startServer({ postgres: readerPool });
  writer = await startServer({ postgres: postgres.pool() });
});

afterAll(async () => {
  await reader?.stop();
  await writer?.stop();
});

/** Statements the reader's pool sends while `work` runs (nothing else uses that pool meanwhile). */
async function statementsOf(work: () => Promise<void>): Promise<number> {
  const before = statements;
  await work();
  return statements - before;
}

describe('statements per request on PostgreSQL', () => {
  it("reads a replicator's batch of _bulk_get in one slice, trees another server wrote included", async () => {
    const docs = Array.from({ length: 100 }, (_, i) => ({ _id: `doc-${String(i).padStart(3, '0')}`, n: i }));
    expect((await writer.fetch('/shop', { method: 'PUT' })).status).toBe(201);
    const written = await writer.fetch('/shop/_bulk_docs', {
      method: 'POST',
      body: JSON.stringify({ docs }),
    });
    const revs = (await written.json()) as { id: string; rev: string }[];
    // The reader opens the database first: its opening reads are not the request's.
    expect((await reader.fetch('/shop')).status).toBe(200);

    // As PouchDB's replicator asks (revs, latest), for documents whose trees the reader never saw:
    // before, slices of 16 cost 7 × (summaries, trees, bodies) = 21 statements, and one more
    // that checks the database still exists.
    let body: { results: { id: string; docs: { ok?: { _id: string; _revisions: unknown } }[] }[] } = {
      results: [],
    };
    const count = await statementsOf(async () => {
      const response = await reader.fetch('/shop/_bulk_get?revs=true&latest=true', {
        method: 'POST',
        body: JSON.stringify({ docs: revs.map(({ id, rev }) => ({ id, rev })) }),
      });
      expect(response.status).toBe(200);
      body = (await response.json()) as typeof body;
    });
    expect(body.results.map((result) => result.docs[0]?.ok?._id)).toEqual(docs.map((doc) => doc._id));
    expect(body.results[0]!.docs[0]!.ok!._revisions).toEqual({ start: 1, ids: [revs[0]!.rev.slice(2)] });
    expect(count).toBeLessThanOrEqual(4);
  });
});
