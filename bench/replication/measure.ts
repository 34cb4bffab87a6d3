/**
 * Timing one replication phase: wall time, the server's CPU (from /proc, its own process), this
 * process's CPU, the HTTP requests the client sent (per endpoint), and memory on both sides
 * sampled while it runs (peak, and growth from early to late in the phase: flat or not).
 */
import { gc } from '../lib.js';
import { endpointOf, type FetchLike } from '../server/pouch.js';
import type { ServerProcess } from '../server/servers.js';
import type { SentRequest } from '../../src/remote/index.js';

/** Anything that counts requests: PouchDB's RequestCounter or Settee's RequestLog. */
export interface Counting {
  count: number;
  snapshot(): Map<string, number>;
  since(before: Map<string, number>): Record<string, number>;
}

/**
 * Counts the requests a RemoteDatabase sends, through its `onRequest` (its own transport stays:
 * a wrapped `fetch` would measure fetch instead).
 */
export class RequestLog implements Counting {
  count = 0;
  readonly byEndpoint = new Map<string, number>();
  readonly onRequest = ({ method, url }: SentRequest): void => {
    this.count++;
    const key = `${method} ${endpointOf(url)}`;
    this.byEndpoint.set(key, (this.byEndpoint.get(key) ?? 0) + 1);
  };

  snapshot(): Map<string, number> {
    return new Map(this.byEndpoint);
  }

  since(before: Map<string, number>): Record<string, number> {
    const entries = [...this.byEndpoint]
      .map(([key, count]) => [key, count - (before.get(key) ?? 0)] as const)
      .filter(([, count]) => count > 0)
      .sort((a, b) => b[1] - a[1]);
    return Object.fromEntries(entries);
  }
}

export type { FetchLike };

export interface MemoryFigures {
  /** Highest RSS seen during the phase, MB. */
  peakMB: number;
}

/** Figures of one timed phase. */
export interface PhaseFigures {
  docs: number;
  ms: number;
  docsPerSec: number;
  serverCpuMsPerDoc: number;
  serverSysMsPerDoc: number;
  /** This process's CPU (the replicator and the local database) per document. */
  clientCpuMsPerDoc: number;
  requests: number;
  requestsPerDoc: number;
  endpoints: Record<string, number>;
  client: MemoryFigures;
  server: MemoryFigures;
}

interface Sample {
  t: number;
  client: number;
  server: number;
}

const SAMPLE_MS = 100;

/** Runs `run` (which replicates `docs` documents) and measures it. */
export async function measured(
  server: ServerProcess,
  counter: Counting,
  docs: number,
  run: () => Promise<void>,
): Promise<PhaseFigures> {
  gc();
  const samples: Sample[] = [];
  const sample = () => {
    try {
      samples.push({
        t: performance.now(),
        client: process.memoryUsage.rss() / 2 ** 20,
        server: server.memory().rssMB,
      });
    } catch {
      // the server is gone: the phase fails on its own
    }
  };
  const cpu = server.cpu();
  const requests = counter.count;
  const endpoints = counter.snapshot();
  const client = process.cpuUsage();
  const start = performance.now();
  sample();
  const timer = setInterval(sample, SAMPLE_MS);
  try {
    await run();
  } finally {
    clearInterval(timer);
  }
  const ms = performance.now() - start;
  sample();
  const clientUsage = process.cpuUsage(client);
  const cpuAfter = server.cpu();
  const serverSysMs = cpuAfter.systemMs - cpu.systemMs;
  const serverCpuMs = cpuAfter.userMs - cpu.userMs + serverSysMs;
  const sent = counter.count - requests;
  return {
    docs,
    ms,
    docsPerSec: (docs * 1000) / ms,
    serverCpuMsPerDoc: serverCpuMs / docs,
    serverSysMsPerDoc: serverSysMs / docs,
    clientCpuMsPerDoc: (clientUsage.user + clientUsage.system) / 1000 / docs,
    requests: sent,
    requestsPerDoc: sent / docs,
    endpoints: counter.since(endpoints),
    client: { peakMB: Math.max(...samples.map((s) => s.client)) },
    server: { peakMB: Math.max(...samples.map((s) => s.server)) },
  };
}

export function describe(what: string, f: PhaseFigures): string {
  return (
    `${what}: ${f.docs} docs in ${(f.ms / 1000).toFixed(1)} s = ${Math.round(f.docsPerSec)} docs/s, ` +
    `server ${f.serverCpuMsPerDoc.toFixed(3)} ms CPU/doc (${f.serverSysMsPerDoc.toFixed(3)} system), ` +
    `client ${f.clientCpuMsPerDoc.toFixed(3)} ms CPU/doc, ${f.requests} requests ` +
    `(${f.requestsPerDoc.toFixed(3)}/doc) ${JSON.stringify(f.endpoints)}; RSS peak client ` +
    `${f.client.peakMB.toFixed(0)} MB, server ${f.server.peakMB.toFixed(0)} MB`
  );
}

/** A generous bound for replicating `docs` documents (even at 500 docs/s). */
export function boundFor(docs: number): number {
  return 60_000 + docs * 2;
}
