/**
 * Where a deployment's CPU goes, by kind of thread and process: a snapshot of counters read from
 * /proc (CPU milliseconds, context switches) whose difference over a phase says which part grew.
 * Settee's main thread (JavaScript) is told from its other threads (V8's compiling and collecting
 * garbage, libuv's hashing and file work), PostgreSQL's processes by role (the
 * backends serving connections; the background writers, checkpointer and autovacuum, whose work
 * follows the clock rather than the documents; and the ended processes the postmaster reaped).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { statFields, statFieldsAt, ticksToMs } from './servers.js';

/** Counter name → value; a phase's figures are the difference of two snapshots. */
export type Counters = Record<string, number>;

function add(counters: Counters, key: string, value: number): void {
  counters[key] = (counters[key] ?? 0) + value;
}

/** The difference `after - before`, key by key. */
export function countersDelta(before: Counters, after: Counters): Counters {
  const delta: Counters = {};
  for (const key of new Set([...Object.keys(before), ...Object.keys(after)])) {
    delta[key] = (after[key] ?? 0) - (before[key] ?? 0);
  }
  return delta;
}

function readOr(path: string, fallback: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return fallback; // the thread or process ended meanwhile
  }
}

/** Context switches of one task (/proc/PID/task/TID/status). */
function switchesOf(statusPath: string): { voluntary: number; involuntary: number } {
  const status = readOr(statusPath, '');
  const field = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? 0);
  return { voluntary: field('voluntary_ctxt_switches'), involuntary: field('nonvoluntary_ctxt_switches') };
}

/** CPU (ms) and context switches of every thread of Settee server processes, by kind of thread. */
export function setteeCounters(pids: readonly number[]): Counters {
  const counters: Counters = {};
  for (const pid of pids) {
    let tids: string[] = [];
    try {
      tids = readdirSync(`/proc/${pid}/task`);
    } catch {
      continue;
    }
    for (const tid of tids.map(Number)) {
      const task = `/proc/${pid}/task/${tid}`;
      // Node names every thread after the program: the main thread (JavaScript) is the one whose
      // id is the process's; the others are V8's (compiling, collecting garbage) and libuv's.
      const kind = tid === pid ? 'main' : 'other threads';
      try {
        const [utime, stime] = statFieldsAt(`${task}/stat`, [14, 15]);
        add(counters, `settee ${kind} ms`, ticksToMs(utime! + stime!));
      } catch {
        continue;
      }
      const { voluntary, involuntary } = switchesOf(`${task}/status`);
      add(counters, 'settee voluntary switches', voluntary);
      add(counters, 'settee involuntary switches', involuntary);
    }
  }
  return counters;
}

/** A PostgreSQL child's role from its title (`postgres: user db [local] idle`, `postgres: walwriter`). */
function postgresRole(pid: number): string | undefined {
  const title = readOr(`/proc/${pid}/cmdline`, '').replaceAll('\0', ' ');
  if (title === '') return undefined; // it ended: the postmaster's cutime holds it
  if (title.includes('[local]') || title.includes('(')) return 'backends';
  if (title.includes('autovacuum worker')) return 'autovacuum workers';
  return 'background';
}

/** CPU (ms) and context switches of the postmaster, its children by role, and the children it reaped. */
export function postgresCounters(postmaster: number): Counters {
  const counters: Counters = {};
  const [utime, stime, cutime, cstime] = statFields(postmaster, [14, 15, 16, 17]);
  add(counters, 'postgres postmaster ms', ticksToMs(utime! + stime!));
  add(counters, 'postgres reaped ms', ticksToMs(cutime! + cstime!));
  for (const name of readdirSync('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid)) continue;
    try {
      const [parent, childUtime, childStime] = statFields(pid, [4, 14, 15]);
      if (parent !== postmaster) continue;
      const role = postgresRole(pid);
      if (!role) continue;
      add(counters, `postgres ${role} ms`, ticksToMs(childUtime! + childStime!));
      add(counters, `postgres ${role}`, 1);
      const { voluntary, involuntary } = switchesOf(`/proc/${pid}/status`);
      add(counters, 'postgres voluntary switches', voluntary);
      add(counters, 'postgres involuntary switches', involuntary);
    } catch {
      // It ended between the listing and the reading: the postmaster's cutime holds it.
    }
  }
  return counters;
}

/** Milliseconds and switches per document, counts of processes and connections as they are. */
export function countersText(counters: Counters, docs: number): string {
  const perDoc = (key: string) => key.endsWith(' ms') || key.endsWith(' switches');
  return Object.entries(counters)
    .filter(([, value]) => value !== 0)
    .map(([key, value]) => (perDoc(key) ? `${key}/doc ${(value / docs).toFixed(3)}` : `${key} ${value}`))
    .join(', ');
}
