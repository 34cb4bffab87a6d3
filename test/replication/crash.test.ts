/**
 * Crash: a process replicating from a server into a local SQLite file is killed with SIGKILL in
 * the middle; restarted, it resumes from its checkpoint (not from zero, re-reading at most the
 * batch it wrote but had not checkpointed) and ends with the target equal to the source.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Seq } from '../../src/core/api.js';
import { Database } from '../../src/database/database.js';
import { RemoteDatabase } from '../../src/remote/index.js';
import { type CheckpointDoc, compareLogs, replicationId } from '../../src/replication/index.js';
import { diffPeerStates, fixtureDocs, peerState } from '../faults/peer-state.js';
import { ADMIN, startServer, type TestServer } from '../server/harness.js';

const CHILD = path.join(import.meta.dirname, 'crash-child.ts');
const DOCS = 3000;
const BATCH = 100;
/**
 * The child to be killed waits this long before each checkpoint write to its target, so that a
 * kill right after a batch was written lands before that batch is checkpointed: the worst case.
 */
const CHECKPOINT_DELAY_MS = 150;
/** The child is killed as soon as it reports this many writes (of 30 batches). */
const KILL_AFTER_WRITES = 5;

let server: TestServer;
let dir: string;

beforeAll(async () => {
  server = await startServer();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'settee-crash-'));
  const source = sourceDb();
  await source.ensureExists();
  const docs = fixtureDocs(DOCS, 'crash');
  for (let i = 0; i < docs.length; i += 500)
    await source.bulkDocs(docs.slice(i, i + 500), { newEdits: false });
});

afterAll(async () => {
  await server?.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

function sourceDb(): RemoteDatabase {
  return new RemoteDatabase(`${server.url}/crash-source`, {
    auth: { username: ADMIN.name, password: ADMIN.password },
  });
}

interface Run {
  lines: string[];
  signal: NodeJS.Signals | null;
  code: number | null;
}

/**
 * Runs the child to the end, or, with `killAfter`, kills it with SIGKILL once it reported that
 * many writes (and then slows its checkpoints down, so the kill lands before the next one).
 */
function run(target: string, killAfter?: number): Promise<Run> {
  const url = new URL(`${server.url}/crash-source`);
  url.username = ADMIN.name;
  url.password = ADMIN.password;
  const args = [
    '--import',
    'tsx',
    CHILD,
    url.href,
    target,
    String(BATCH),
    String(killAfter ? CHECKPOINT_DELAY_MS : 0),
  ];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines: string[] = [];
  let buffered = '';
  let writes = 0;
  child.stdout.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    const complete = buffered.split('\n');
    buffered = complete.pop()!;
    for (const line of complete) {
      lines.push(line);
      if (line.startsWith('written ') && ++writes === killAfter) child.kill('SIGKILL');
    }
  });
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ lines, code, signal }));
  });
}

function field(lines: string[], tag: string): unknown {
  const line = lines.find((l) => l.startsWith(`${tag} `));
  if (!line) throw new Error(`no "${tag}" line in ${JSON.stringify(lines)}`);
  return JSON.parse(line.slice(tag.length + 1));
}

describe('a replication killed with SIGKILL', () => {
  it('resumes from its checkpoint when restarted, and completes', async () => {
    const file = path.join(dir, 'target.sqlite');
    const killed = await run(file, KILL_AFTER_WRITES);
    expect(killed.signal).toBe('SIGKILL');
    expect(field(killed.lines, 'since')).toBe(0);
    expect(killed.lines.some((line) => line.startsWith('done '))).toBe(false);

    // What the killed process left behind: a checkpoint on both sides, part of the documents.
    const source = sourceDb();
    const { update_seq: sourceSeq } = await source.info();
    const target = await Database.open(file);
    const id = await replicationId(source, target);
    const sourceLog = (await source.getLocal(id)) as CheckpointDoc | undefined;
    const targetLog = (await target.getLocal(id)) as CheckpointDoc | undefined;
    expect(sourceLog && targetLog).toBeTruthy();
    const resumeAt = compareLogs(sourceLog!, targetLog!);
    expect(resumeAt).toBeGreaterThan(0);
    // Killed in the middle: the checkpoint is short of the source's end.
    expect(Number(resumeAt)).toBeLessThan(Number(sourceSeq));
    const held = new Set(
      (await target.changes({ style: 'all_docs' })).results.flatMap((row) =>
        row.changes.map((change) => `${row.id}\n${change.rev}`),
      ),
    );
    await target.close();

    const resumed = await run(file);
    expect(resumed.code).toBe(0);
    // It resumed where the checkpoints on both sides agree, not from zero.
    expect(field(resumed.lines, 'since')).toBe(resumeAt);
    const result = field(resumed.lines, 'done') as {
      status: string;
      docs_read: number;
      docs_written: number;
      rows: number;
    };
    expect(result.status).toBe('complete');

    // It read exactly the changes after the checkpoint, of which one batch was already written:
    // the one killed before its checkpoint.
    const after = await changesSince(source, resumeAt);
    expect(result.rows).toBe(after.length);
    const reread = after.filter((row) => row.changes.every((change) => held.has(`${row.id}\n${change.rev}`)));
    expect(reread.length).toBeGreaterThan(0);
    expect(reread.length).toBeLessThanOrEqual(BATCH);
    // What the first run wrote was not fetched again; the rest was, once.
    const sourceState = await peerState(source);
    const leaves = [...sourceState.values()].reduce((sum, doc) => sum + doc.leaves.length, 0);
    expect(result.docs_written).toBe(leaves - held.size);
    expect(result.docs_read).toBe(leaves - held.size);

    const final = await Database.open(file);
    try {
      expect(diffPeerStates(sourceState, await peerState(final))).toEqual([]);
    } finally {
      await final.close();
    }
  });
});

async function changesSince(source: RemoteDatabase, since: Seq) {
  const rows = [];
  for (;;) {
    const page = await source.changes({ since, style: 'all_docs', limit: 1000 });
    if (page.results.length === 0) return rows;
    rows.push(...page.results);
    since = page.last_seq;
  }
}
