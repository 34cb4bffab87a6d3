import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Database } from '../../src/database/database.js';
import { revisionHistory, runUntilKilled } from './child.js';

const CHILD = join(import.meta.dirname, 'writer-child.ts');
const folders: string[] = [];

afterEach(() => {
  for (const folder of folders.splice(0)) rmSync(folder, { recursive: true, force: true });
});

/**
 * Starts a writer process, lets it acknowledge `count` writes, kills it with SIGKILL mid-stream
 * and returns the acknowledged `id → rev` (the last one per id).
 */
async function writeThenKill(
  path: string,
  mode: 'single' | 'bulk',
  count: number,
): Promise<Map<string, string>> {
  const acknowledged = new Map<string, string>();
  let seen = 0;
  await runUntilKilled(CHILD, [path, mode], (line, kill) => {
    const [id, rev] = line.split(' ');
    if (!id || !rev) return;
    acknowledged.set(id, rev);
    if (++seen === count) kill();
  });
  return acknowledged;
}

describe('durability', () => {
  for (const mode of ['single', 'bulk'] as const) {
    it(`keeps every acknowledged ${mode} write after the writer is killed with SIGKILL`, async () => {
      const folder = mkdtempSync(join(tmpdir(), 'settee-durability-'));
      folders.push(folder);
      const path = join(folder, 'db.sqlite');
      const acknowledged = await writeThenKill(path, mode, 400);
      expect(acknowledged.size).toBeGreaterThan(0);

      const db = await Database.open(path);
      for (const [id, rev] of acknowledged) {
        const doc = await db.get(id, { revs: true });
        // The writer may have committed more after its last acknowledged line, never less.
        expect(revisionHistory(doc)).toContain(rev);
      }
      const info = await db.info();
      expect(info.doc_count).toBeGreaterThanOrEqual(acknowledged.size);
      await db.close();
    });
  }
});
