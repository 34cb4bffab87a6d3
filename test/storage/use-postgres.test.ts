import type pg from 'pg';
import { describe, expect, inject, it } from 'vitest';
import { onPostgresDatabase } from '../server/harness-postgres.js';
import { postgresUrl } from './postgres-cluster.js';
import { usePostgres } from './use-postgres.js';

// The databases usePostgres() gives test files in the run's one cluster: empty, their own, and
// gone (connections included) once their block is done, so files running at once never meet.

const postgres = usePostgres();

/** The names of the cluster's databases, as PostgreSQL lists them. */
async function databaseNames(): Promise<string[]> {
  const { rows } = await postgres.pool().query<{ datname: string }>('SELECT datname FROM pg_database');
  return rows.map((row) => row.datname);
}

const schemasOf = (url: string) =>
  onPostgresDatabase(url, async (client) => {
    const { rows } = await client.query<{ name: string }>(
      `SELECT schema_name AS name FROM information_schema.schemata WHERE schema_name = 'settee'`,
    );
    return rows.map((row) => row.name);
  });

describe('usePostgres', () => {
  it("gives an empty database of the file's own, not the run's template with Settee's schema", async () => {
    const { rows } = await postgres.pool().query<{ name: string }>('SELECT current_database() AS name');
    expect(rows).toEqual([{ name: postgres.database }]);
    expect(postgres.database).not.toBe(inject('postgres').template);
    expect(await schemasOf(postgres.url)).toEqual([]);
  });

  it('makes another empty database on demand, apart from the first', async () => {
    const name = await postgres.another();
    expect(name).not.toBe(postgres.database);
    await onPostgresDatabase(postgres.url, (client) => client.query('CREATE TABLE mine (n int)'));
    const tables = await onPostgresDatabase(postgresUrl(postgres, name), async (client) => {
      const { rows } = await client.query(
        `SELECT 1 FROM information_schema.tables WHERE table_name = 'mine'`,
      );
      return rows.length;
    });
    expect(tables).toBe(0);
  });

  const made: string[] = [];
  let poolOfBlock: pg.Pool | undefined;
  describe("a describe block's own", () => {
    const block = usePostgres();
    it('is a database the file has beside its own', async () => {
      made.push(block.database, await block.another());
      poolOfBlock = block.pool();
      await poolOfBlock.query('SELECT 1'); // a connection held open when the block ends
      expect(made).not.toContain(postgres.database);
      expect(await databaseNames()).toEqual(expect.arrayContaining(made));
    });
  });

  it('are dropped once the block is done, its pools ended first', async () => {
    expect(made).toHaveLength(2);
    expect(poolOfBlock?.ended).toBe(true);
    const names = await databaseNames();
    expect(names).toContain(postgres.database);
    for (const name of made) expect(names).not.toContain(name);
  });
});
