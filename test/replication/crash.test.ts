/**
 * Crash: a process replicating from a server into a local SQLite file is killed with SIGKILL in
 * the middle; restarted, it resumes from its checkpoint and ends with the target equal to the
 * source. A replication checkpoints after a batch once `checkpoint_interval` is over since the
 * last checkpoint (docs/replication.md), so a crash re-reads at most the changes written since:
 * with an interval of 0 (a checkpoint after every batch), at most the one batch it wrote but had
 * not checkpointed; killed within its first interval, everything it wrote (it resumes from 0),
 * but `_revs_diff` keeps it from fetching any of that again.
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
function run(target: string, checkpointInterval: number, killAfter?: number): Promise<Run> {
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
    String(checkpointInterval),
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

/** A checkpoint interval no test run reaches: the killed run writes no checkpoint at all. */
const LONG_INTERVAL_MS = 600_000;

describe('a replication killed with SIGKILL', () => {
  it('checkpointing after every batch (interval 0), resumes from its checkpoint having re-read at most one batch', async () => {
    const { resumeAt, reread, sourceSeq } = await killAndResume('every-batch.sqlite', 0);
    // It resumed where the checkpoints on both sides agree, killed in the middle: not from zero,
    // short of the source's end.
    expect(resumeAt).toBeGreaterThan(0);
    expect(Number(resumeAt)).toBeLessThan(Number(sourceSeq));
    // Of the changes after the checkpoint, one batch was already written: the one killed before
    // its checkpoint.
    expect(reread).toBeGreaterThan(0);
    expect(reread).toBeLessThanOrEqual(BATCH);
  });

  it('killed within its first checkpoint interval, starts over and fetches nothing it wrote again', async () => {
    const { resumeAt, reread } = await killAndResume('first-interval.sqlite', LONG_INTERVAL_MS);
    expect(resumeAt).toBe(0);
    // It read again every change it had written (at least the batches written before the kill
    // landed): what the policy allows.
    expect(reread).toBeGreaterThanOrEqual(KILL_AFTER_WRITES * BATCH);
  });
});

/**
 * Kills a run after KILL_AFTER_WRITES batches, runs it again to the end, and checks what any
 * policy promises: it resumed where the checkpoints on both sides agree (or from 0 without
 * any), read every change after that once, fetched none of what the first run wrote again, and
 * the target equals the source.
 */
async function killAndResume(name: string, checkpointInterval: number) {
  const file = path.join(dir, name);
  const killed = await run(file, checkpointInterval, KILL_AFTER_WRITES);
  expect(killed.signal).toBe('SIGKILL');
  expect(field(killed.lines, 'since')).toBe(0);
  expect(killed.lines.some((line) => line.startsWith('done '))).toBe(false);

  // What the killed process left behind: its checkpoints, part of the documents.
  const source = sourceDb();
  const { update_seq: sourceSeq } = await source.info();
  const target = await Database.open(file);
  const id = await replicationId(source, target);
  const sourceLog = (await source.getLocal(id)) as CheckpointDoc | undefined;
  const targetLog = (await target.getLocal(id)) as CheckpointDoc | undefined;
  const resumeAt = sourceLog && targetLog ? compareLogs(sourceLog, targetLog) : 0;
  const held = new Set(
    (await target.changes({ style: 'all_docs' })).results.flatMap((row) =>
      row.changes.map((change) => `${row.id}\n${change.rev}`),
    ),
  );
  await target.close();

  const resumed = await run(file, checkpointInterval);
  expect(resumed.code).toBe(0);
  expect(field(resumed.lines, 'since')).toBe(resumeAt);
  const result = field(resumed.lines, 'done') as {
    status: string;
    docs_read: number;
    docs_written: number;
    rows: number;
  };
  expect(result.status).toBe('complete');

  // It read exactly the changes after where it resumed.
  const after = await changesSince(source, resumeAt);
  expect(result.rows).toBe(after.length);
  const reread = after.filter((row) => row.changes.every((change) => held.has(`${row.id}\n${change.rev}`)));
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
  return { resumeAt, reread: reread.length, sourceSeq };
}

async function changesSince(source: RemoteDatabase, since: Seq) {
  const rows = [];
  for (;;) {
    const page = await source.changes({ since, style: 'all_docs', limit: 1000 });
    if (page.results.length === 0) return rows;
    rows.push(...page.results);
    since = page.last_seq;
  }
}
