/**
 * The timed part of a live-sync run, whichever clients sync (PouchDB in phases.ts, Settee's
 * replicator in ../replication/settee.ts): a ~1 KB write on A every `intervalMs`, each timed from
 * the timestamp `t` it carries until B has it, with the requests and the server CPU it cost. The
 * caller sets up A, B and their syncs, reports arrivals in B, and tears everything down.
 */
import { type Body, type Dataset, gc, progress } from '../lib.js';
import type { RequestTally } from './requests.js';
import type { ServerProcess } from './servers.js';
import { now, percentile, sleep, waitFor, withTimeout } from './util.js';

export interface LiveFigures {
  writes: number;
  intervalMs: number;
  delivered: number;
  p50: number;
  p95: number;
  max: number;
  mean: number;
  /** HTTP requests both clients sent from the first write until the last arrival + settle. */
  requests: number;
  requestsPerWrite: number;
  /** Request lines the server logged in the same window (a cross-check). */
  serverLogged: number;
  /** Requests per `METHOD endpoint` in the same window. */
  endpoints: Record<string, number>;
  serverCpuMsPerWrite: number;
  /** Settee only: its own milliseconds per request (from its request log), by endpoint. */
  serverMs?: Record<string, { n: number; p50: number; p95: number; max: number }>;
  errors: string[];
}

/** When each written document reached B: milliseconds from the `t` it carries, by id. */
export class Arrivals {
  private readonly latencies = new Map<string, number>();

  /** B has document `id`, written at `t` (not counted: no numeric `t`, or seen before). */
  seen(id: string, t: unknown, at = now()): void {
    if (typeof t === 'number' && !this.latencies.has(id)) this.latencies.set(id, at - t);
  }

  has(id: string): boolean {
    return this.latencies.has(id);
  }

  /** Latencies of the documents whose id passes `wanted`. */
  of(wanted: (id: string) => boolean): number[] {
    return [...this.latencies].filter(([id]) => wanted(id)).map(([, ms]) => ms);
  }
}

/** A document written on A: a body of the data set, its id, and when it was written. */
export type LiveDoc = Body & { _id: string; t: number };

/** Both ends of a live run, as its caller set them up. */
export interface LiveEnds {
  /** Names the run in progress lines and errors. */
  label: string;
  /** Writes a document on A. */
  put(doc: LiveDoc): Promise<unknown>;
  /** Filled by the caller's listener on B. */
  arrivals: Arrivals;
  /** What went wrong on the way; the caller's listeners add theirs. */
  errors: string[];
  /** Counts the requests of both clients. */
  counter: RequestTally;
}

const ARRIVAL_TIMEOUT_MS = 30_000;
const SETTLE_MS = 250;

/** A warm-up write through the whole pipeline, then `writes` timed ones `intervalMs` apart. */
export async function timeLiveWrites(
  server: ServerProcess,
  data: Dataset,
  ends: LiveEnds,
  writes: number,
  intervalMs: number,
): Promise<LiveFigures> {
  const { label, arrivals, errors, counter } = ends;
  const prefix = `w-${intervalMs}-`;
  // The measured writes find the pipeline set up and idle.
  await ends.put({ _id: `${prefix}warm-up`, t: now(), ...data.body(0), n: -1 });
  if (!(await waitFor(() => arrivals.has(`${prefix}warm-up`), ARRIVAL_TIMEOUT_MS))) {
    throw new Error(`${label}: the warm-up write never reached B (${errors.join('; ')})`);
  }
  await sleep(1000);

  gc();
  const cpu = server.cpuMs();
  const requests = counter.count;
  const endpoints = counter.snapshot();
  const logged = server.requestLines;
  const timed = server.timings.length;
  await writeAtIntervals(data, ends, prefix, writes, intervalMs);
  const measuredIds = (id: string) => id.startsWith(prefix) && !id.endsWith('warm-up');
  await waitFor(() => arrivals.of(measuredIds).length >= writes, ARRIVAL_TIMEOUT_MS, 10);
  await sleep(SETTLE_MS);
  const sent = counter.count - requests;
  const serverCpuMs = server.cpuMs() - cpu;
  const serverLogged = server.requestLines - logged;

  const latencies = arrivals.of(measuredIds);
  if (latencies.length < writes) errors.push(`${writes - latencies.length} writes never reached B`);
  const figures: LiveFigures = {
    writes,
    intervalMs,
    delivered: latencies.length,
    p50: percentile(latencies, 50),
    p95: percentile(latencies, 95),
    max: percentile(latencies, 100),
    mean: latencies.reduce((sum, ms) => sum + ms, 0) / Math.max(1, latencies.length),
    requests: sent,
    requestsPerWrite: sent / writes,
    serverLogged,
    endpoints: counter.since(endpoints),
    serverCpuMsPerWrite: serverCpuMs / writes,
    ...(server.kind === 'settee' ? { serverMs: timingsByEndpoint(server.timings.slice(timed)) } : {}),
    errors,
  };
  progress(describeLive(label, figures));
  return figures;
}

/** The writes on A, each at its due time; waits until every one has been written. */
async function writeAtIntervals(
  data: Dataset,
  { put, errors }: LiveEnds,
  prefix: string,
  writes: number,
  intervalMs: number,
): Promise<void> {
  const start = performance.now();
  const puts: Promise<unknown>[] = [];
  for (let i = 0; i < writes; i++) {
    const wait = start + i * intervalMs - performance.now();
    if (wait > 0) await sleep(wait);
    // Not awaited: at 10 ms apart a slow local write must not push the next one back.
    const written = put({ _id: `${prefix}${String(i).padStart(5, '0')}`, t: now(), ...data.body(i), n: i });
    puts.push(written.catch((error: unknown) => errors.push(`put ${i}: ${String(error)}`)));
  }
  await withTimeout(Promise.all(puts), ARRIVAL_TIMEOUT_MS, 'the live writes on A');
}

function describeLive(label: string, figures: LiveFigures): string {
  return (
    `${label} live ${figures.intervalMs} ms: ${figures.delivered}/${figures.writes} delivered, ` +
    `p50 ${figures.p50.toFixed(1)} ms, p95 ${figures.p95.toFixed(1)} ms, max ${figures.max.toFixed(1)} ms, ` +
    `${figures.requestsPerWrite.toFixed(2)} requests/write (server logged ${figures.serverLogged}), ` +
    `server ${figures.serverCpuMsPerWrite.toFixed(2)} ms CPU/write ${JSON.stringify(figures.endpoints)}` +
    (figures.serverMs ? `; Settee's own ms per request ${JSON.stringify(figures.serverMs)}` : '')
  );
}

/** p50/p95/max of the logged milliseconds per endpoint (live feeds excluded: they wait by design). */
function timingsByEndpoint(
  timings: readonly { key: string; ms: number }[],
): Record<string, { n: number; p50: number; p95: number; max: number }> {
  const groups = new Map<string, number[]>();
  for (const { key, ms } of timings) {
    if (key.endsWith('_changes')) continue;
    const group = groups.get(key) ?? [];
    group.push(ms);
    groups.set(key, group);
  }
  return Object.fromEntries(
    [...groups].map(([key, values]) => [
      key,
      {
        n: values.length,
        p50: percentile(values, 50),
        p95: percentile(values, 95),
        max: percentile(values, 100),
      },
    ]),
  );
}
