/** Peak RSS of a streaming read, measured in a child process per read (see scan-child.ts). */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const CHILD = fileURLToPath(new URL('./scan-child.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export type Engine = 'settee' | 'raw' | 'pouchdb';
export type ScanMode = 'changes' | 'alldocs';

export interface ScanResult {
  engine: Engine;
  mode: ScanMode;
  limit: number;
  passes: number;
  rows: number;
  ms: number;
  maxRssMB: number;
}

/**
 * Reads the first `limit` documents (`passes` times over) in a fresh process, and reports its
 * peak RSS. The database must be closed: Settee and PouchDB hold their files exclusively.
 */
export function scanInChild(
  engine: Engine,
  path: string,
  mode: ScanMode,
  limit: number,
  passes = 1,
): Promise<ScanResult> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', CHILD, path, mode, String(limit), engine, String(passes)],
      { cwd: ROOT, maxBuffer: 1 << 20 },
      (error, stdout, stderr) => {
        if (error) {
          reject(new Error(`scan child ${engine} ${mode} ${limit} failed: ${error.message}\n${stderr}`));
          return;
        }
        const result = JSON.parse(stdout.trim().split('\n').pop()!) as ScanResult;
        if (result.rows !== limit * passes) {
          reject(
            new Error(`scan child ${engine} ${mode} read ${result.rows} rows, wanted ${limit * passes}`),
          );
          return;
        }
        resolve(result);
      },
    );
  });
}
