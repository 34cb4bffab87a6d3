import { spawn } from 'node:child_process';

/**
 * Runs a TypeScript script in a child process and hands each line it prints to `onLine`, with a
 * function that kills the child with SIGKILL; resolves once the child died of that signal, and
 * rejects if it ended any other way (a writer that stops early proves nothing).
 */
export function runUntilKilled(
  script: string,
  args: readonly string[],
  onLine: (line: string, kill: () => void) => void,
): Promise<void> {
  const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const kill = () => child.kill('SIGKILL');
  let buffered = '';
  return new Promise<void>((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (signal === 'SIGKILL') resolve();
      else reject(new Error(`the child exited early with ${code ?? signal}`));
    });
    child.stdout.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      // Lines already read when the kill was sent still count: the child printed them.
      for (const line of lines) onLine(line, kill);
    });
  });
}

/** The revisions of a document fetched with `revs: true`, newest first (`3-c`, `2-b`, …). */
export function revisionHistory(doc: { _revisions?: { start: number; ids: string[] } }): string[] {
  const { start, ids } = doc._revisions!;
  return ids.map((hash, i) => `${start - i}-${hash}`);
}
