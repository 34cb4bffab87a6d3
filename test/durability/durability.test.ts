import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Database } from '../../src/database/database.js';

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
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', CHILD, path, mode], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const acknowledged = new Map<string, string>();
  let buffered = '';
  let seen = 0;
  await new Promise<void>((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (signal === 'SIGKILL') resolve();
      else reject(new Error(`writer exited early with ${code ?? signal}`));
    });
    child.stdout!.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      for (const line of lines) {
        const [id, rev] = line.split(' ');
        if (!id || !rev) continue;
        acknowledged.set(id, rev);
        if (++seen === count) child.kill('SIGKILL');
      }
    });
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
        const history = doc._revisions!.ids.map((hash, i) => `${doc._revisions!.start - i}-${hash}`);
        expect(history).toContain(rev);
      }
      const info = await db.info();
      expect(info.doc_count).toBeGreaterThanOrEqual(acknowledged.size);
      await db.close();
    });
  }
});
